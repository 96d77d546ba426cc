//! The reqwest middleware (feature `reqwest`): `RetryMiddleware` against wiremock and failing
//! transports, `RateLimitMiddleware` on virtual time, the two together against rate-limited
//! servers, and the header parsers (bounds and property tests).
#![cfg(feature = "reqwest")]

#[path = "../support/mod.rs"]
mod support;

mod middleware_convergence;
mod middleware_fleet;
mod middleware_hints;
mod middleware_rate_limit;
mod middleware_retry;
mod middleware_transport;
mod proptest_parsers;
