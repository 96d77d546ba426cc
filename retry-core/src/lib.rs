//! Bounded, rate-limit-aware retries.
//!
//! Annotate any fallible function, async or not, and get correct, bounded retries that know a
//! rate limit from a bug and obey the server's `Retry-After`:
//!
//! ```
//! use retry_core::retry;
//!
//! #[derive(Debug)]
//! struct Busy;
//! impl retry_core::Classify for Busy {
//!     fn class(&self) -> retry_core::Class {
//!         retry_core::Class::RateLimited
//!     }
//! }
//!
//! # static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
//! #[retry(backoff = "exponential", on = "rate_limit", initial = "10ms")]
//! async fn summarize(text: &str) -> Result<String, Busy> {
//!     // A real function would call an API here; this one is busy twice.
//!     if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 2 {
//!         return Err(Busy);
//!     }
//!     Ok(text.split('.').next().unwrap_or_default().to_owned())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(summarize("Retries. Done right.").await.unwrap(), "Retries");
//! # }
//! ```
//!
//! The pieces, in the order data flows through them:
//!
//! - [`Policy`]: how many attempts, which [`Backoff`] curve, which [`Jitter`], the cap, the
//!   deadline of the whole call and the timeout of one attempt. Bounded by default.
//! - [`Classify`]: asks an error what [`Class`] of failure it is (rate limited, overloaded,
//!   server error, timeout, connect, permanent) and whether the server gave a delay hint.
//!   [`RetryOn`] picks the classes to retry.
//! - [`RetryBudget`]: retries as a share of recent calls, shared by every call that names it,
//!   so that an outage does not multiply the load on a struggling server.
//! - [`CircuitBreaker`]: after repeated failures, fails calls at once ([`CircuitOpen`]) for a
//!   cool-off, then lets one probe decide whether the server is back.
//! - [`Retrier`]: the one state machine every front end drives. Given a [`Failure`], it
//!   returns a [`Decision`]: sleep this long, or give up (and why).
//! - Front ends: the [`retry`] attribute, the closure API [`retry_fn()`], and (feature
//!   `reqwest`) the reqwest middleware.
//! - Observability: every retry emits a `tracing` event (target `retry`) and bumps the
//!   `metrics` counter `retry_attempts_total`; giving up bumps `retry_giveups_total`; both are
//!   labelled by `function` and `class`. Hooks get a [`RetryDetails`].
//!
//! The error a retried call returns is the last error, unchanged: no wrapper, so `?` works.
//!
//! # Features
//! - `reqwest` (default): [`Classify`] for `reqwest::Error` and `reqwest_middleware::Error`.
//!   Also the [`middleware`] module: `RetryMiddleware` and `RateLimitMiddleware`, two layers for
//!   a `reqwest_middleware` client that retry and pace requests without stampeding a server.
//! - `anyhow`: [`Classify`] for `anyhow::Error`, by the first classifiable cause in its chain.

#![warn(missing_docs)]

mod backoff;
mod breaker;
mod budget;
mod class;
mod classify;
mod details;
mod jitter;
mod observe;
mod policy;
mod retrier;
mod retry_fn;
mod setters;
mod sleep;
mod window;

#[cfg(feature = "reqwest")]
pub mod middleware;

#[doc(hidden)]
pub mod __private;

pub use backoff::Backoff;
pub use breaker::{BreakerState, CircuitBreaker, CircuitBreakerBuilder, CircuitOpen, Permit};
pub use budget::RetryBudget;
pub use class::{Class, Classify, RetryOn};
pub use classify::classify_chain;
pub use details::RetryDetails;
pub use jitter::Jitter;
pub use policy::{Delays, Policy};
pub use retrier::{Clocked, Decision, Failure, GiveUpReason, Retrier};
pub use retry_fn::{RetryIf, retry_fn, retry_fn_named};

/// The error of an attempt that ran past its `attempt_timeout` (tokio's `Elapsed`).
///
/// Give your error type `impl From<retry_core::Elapsed>` to use
/// `#[retry(attempt_timeout = "...")]`; `std::io::Error` and `anyhow::Error` already have it.
pub use tokio::time::error::Elapsed;

pub use retry_macros::retry;
