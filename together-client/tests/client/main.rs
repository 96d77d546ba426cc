//! The typed client against wiremock and in-process servers: endpoints, errors, retries,
//! streaming, the cache, configuration, the streak alert, cancellation, the breaker and the
//! retry budget, the parsers' properties.
//!
//! `secrets` and `soak` are binaries of their own: one sets a global `tracing` subscriber that
//! captures every thread, the other a counting global allocator.

#[path = "../kit/mod.rs"]
mod kit;

mod alert;
mod breaker_budget;
mod cache;
#[cfg(feature = "sim")]
mod cancellation;
mod config;
mod endpoints;
mod errors;
mod proptest_parsers;
mod retries;
mod streaming;
