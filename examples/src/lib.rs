//! Runnable examples of `retry-core` and `together-client`: see `examples/` and run one with
//! `cargo run --example NAME`.
//!
//! This crate also compiles and runs the code blocks of the workspace's README as doctests.
#![doc = include_str!("../../README.md")]
