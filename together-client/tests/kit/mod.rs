//! The test kit: what more than one test binary of this package uses, defined once. Each
//! binary includes it with `#[path = "../kit/mod.rs"] mod kit;`.
#![allow(dead_code)]

pub mod client;
#[cfg(feature = "sim")]
pub mod sim;
