//! reqwest middleware that retries and paces requests without ever stampeding a server
//! (feature `reqwest`, on by default).
//!
//! Two layers for a [`reqwest_middleware`] stack:
//!
//! ```
//! use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::default())       // outer: decides whether and when to try again
//!     .with(RateLimitMiddleware::default())   // inner: every attempt, retries included, waits its turn
//!     .build();
//! # let _ = client;
//! ```
//!
//! - [`RetryMiddleware`] retries what is worth retrying (429, 5xx but 501/505, 408, timeouts,
//!   dropped connections; `x-should-retry` first), obeys the server's delay hints, and gives up
//!   within the [`Policy`](crate::Policy)'s attempts and deadline. It drives the same
//!   [`Retrier`](crate::Retrier) as `#[retry]`, with the same events and metrics.
//! - [`RateLimitMiddleware`] paces requests per host at a rate it learns from the server
//!   (or one you set), and when any request gets a 429 it holds every request to that host
//!   until the hinted reset, then releases them one at a time, in order.
//!
//! # Why the retry layer goes outside
//! Middleware runs in the order it is added: the first `.with` wraps the rest. With retry
//! outside, each attempt (the first and every retry) passes through the limiter, so a retry
//! waits its turn like any other request, and the limiter sees every response and learns from
//! it. The limiter also tells the retry layer when it is already holding the host after a 429,
//! so the retry queues at once (ahead of the requests that came after it) instead of sleeping
//! on its own and then queueing again.
//!
//! The other way round, the limiter would admit a request once and the retry layer below it
//! would then retry on its own schedule, unpaced: the retries of a hundred tasks would reach the
//! server together, which is the stampede this module exists to prevent.
//!
//! # Using one alone
//! - [`RetryMiddleware`] alone: retries each request on its own, sleeping the server's hint
//!   (the whole of a `Retry-After: 1`) or the policy's jittered backoff. Enough for a client
//!   that sends one request at a time.
//! - [`RateLimitMiddleware`] alone: paces and holds requests, never retries; a 429 comes back
//!   to the caller (with every other request to that host held until the cooldown ends).
//!   Enough when something above already retries, such as a `#[retry]` function around the
//!   call; that retry then waits its turn in the limiter too.
//!
//! # Reading the headers yourself
//! [`delay_hint`], [`should_retry`] and [`RateLimitHeaders`] (Together's names, OpenAI's,
//! Anthropic's and the IETF draft's: see [`LimitFamily`]; [`go_duration`] for OpenAI's resets)
//! are the parsers both
//! layers use.
//! They never panic and never return a negative, infinite or garbage delay. A hint longer
//! than [`MAX_HINT`] (a day) ends the call at once; the limiter holds a host for at most
//! [`MAX_COOLDOWN`].
//!
//! # Final 429s
//! A 429 whose body says the quota or the credit is gone ([`QuotaExhausted`]: Together's
//! `credit_limit`, OpenAI's `insufficient_quota`) is returned at once by both layers: no
//! retry, no cooldown for the other requests. The body is read (at most 16 KiB, for at most
//! 2 s) and handed on intact.
//!
//! # Failing fast
//! [`CircuitBreakerMiddleware`] (off unless added, between the two) fails requests at once
//! with [`CircuitOpen`](crate::CircuitOpen) to a host that keeps failing, then lets one probe
//! decide when it is back. A [`RetryBudget`](crate::RetryBudget) in the retry layer's policy
//! caps retries at a share of recent requests, so that an outage does not multiply the load.
//!
//! # A retry loop of your own above the limiter
//! [`HeldByLimiter`] is how the limiter tells whoever retries above it that it already holds
//! the host after a 429: retry at once, and the limiter does the waiting.

mod attempts;
mod breaker;
mod exhausted;
mod headers;
mod hosts;
mod metrics;
mod rate_limit;
mod retry;

pub use self::metrics::LimiterWait;
pub use attempts::Attempts;
pub use breaker::CircuitBreakerMiddleware;
pub use exhausted::QuotaExhausted;
pub use headers::{
    LimitFamily, MAX_COOLDOWN, MAX_HINT, RateLimitHeaders, delay_hint, go_duration, should_retry,
};
pub use rate_limit::{
    CallDeadline, HeldByLimiter, MemoryLimit, RateLimitBuilder, RateLimitMiddleware, SharedLimit,
    WaitPastDeadline,
};
#[cfg(feature = "redis")]
pub use rate_limit::{RedisLimit, RedisUrlError};
pub use retry::RetryMiddleware;

/// `scheme://host:port`, the name of a host's keys in a fleet's store (in process,
/// [`hosts::PerHost`] compares a URL's parts without building it).
pub(crate) fn host_key(url: &reqwest::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}
