//! Runnable examples of `retry-core` and `together-client`: see `examples/` and run one with
//! `cargo run --example NAME`.
//!
//! This crate also compiles and runs the code blocks of the workspace's README as doctests.
#![doc = include_str!("../../README.md")]

/// The code blocks of `retry-core/README.md`, compiled and run as doctests.
#[doc = include_str!("../../retry-core/README.md")]
pub mod retry_core_readme {}
