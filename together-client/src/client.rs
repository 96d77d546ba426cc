//! [`Together`], the client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;
use reqwest_middleware::ClientWithMiddleware;
use retry_core::CircuitBreaker;
use retry_core::Policy;
use retry_core::middleware::RateLimitMiddleware;

use crate::alert::StreakAlert;
use crate::cache::ResponseCache;
use crate::usage::{ClientUsage, Ledger};

/// Together's API, unless `TOGETHER_BASE_URL` or [`TogetherBuilder::base_url`](crate::TogetherBuilder::base_url) says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.together.ai/v1";

/// The retry policy of a client unless [`TogetherBuilder::policy`](crate::TogetherBuilder::policy) sets one: 6 attempts,
/// exponential backoff from 500 ms with full jitter, capped at 10 s (the official SDKs cap at
/// 8–10 s), a 120 s deadline for the whole call. Server hints (`retry-after-ms`,
/// `Retry-After`, `x-ratelimit-reset`) replace the computed delay.
pub const DEFAULT_POLICY: Policy = Policy::exponential()
    .attempts(6)
    .initial(Duration::from_millis(500))
    .max_delay(Duration::from_secs(10))
    .deadline(Duration::from_secs(120));

/// A Together AI client: typed endpoints, typed errors, retries and rate limiting built in.
///
/// Cheap to clone (one `Arc`): clones share the HTTP connections, the rate limiter, the
/// rate-limit streak and the response cache. Its `Debug` never shows the API key.
///
/// ```no_run
/// use together_client::{ChatRequest, Together};
///
/// # async fn run() -> Result<(), together_client::Error> {
/// let client = Together::from_env()?;
/// let answer = client
///     .chat()
///     .create(ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo").user("Hello!"))
///     .await?;
/// println!("{} (requests left: {:?})", answer.text(), answer.rate_limits().requests.remaining);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Together {
    pub(crate) inner: Arc<Inner>,
}

/// The shared state of a client.
pub(crate) struct Inner {
    pub(crate) base_url: Url,
    /// `Bearer <key>`, marked sensitive (never shown by `http`'s `Debug`).
    pub(crate) auth: HeaderValue,
    /// The key itself, only to scrub it from what the server sends back.
    pub(crate) key: String,
    pub(crate) http: ClientWithMiddleware,
    pub(crate) limiter: Option<RateLimitMiddleware>,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) policy: Policy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) alert: StreakAlert,
    pub(crate) cache: Option<ResponseCache>,
    /// What the client used, per model ([`Together::usage`]).
    pub(crate) usage: Ledger,
}

impl fmt::Debug for Together {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Together")
            .field("base_url", &inner.base_url.as_str())
            .field("api_key", &"[redacted]")
            .field("policy", &inner.policy)
            .field("timeout", &inner.timeout)
            .field("rate_limiter", &inner.limiter.is_some())
            .field("circuit_breaker", &self.circuit_breaker())
            .field("alert", &inner.alert)
            .field("cache", &inner.cache)
            .finish()
    }
}

impl Together {
    /// What this client (and its clones) used since it was built, per model: requests sent,
    /// answered and rate-limited, tokens in and out, time waited on the rate limiter and on
    /// the wire, and the limits the server reported last.
    ///
    /// ```
    /// let client = together_client::Together::builder().api_key("k").build().unwrap();
    /// let usage = client.usage();
    /// assert_eq!(usage.total().requests, 0);
    /// assert!(usage.models.is_empty());
    /// ```
    pub fn usage(&self) -> ClientUsage {
        self.inner.usage.snapshot()
    }

    /// The base URL every endpoint is joined to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The retry policy of every call.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The rate limiter in the client's stack, unless the stack was brought with
    /// [`TogetherBuilder::http_client`](crate::TogetherBuilder::http_client): ask it for the learned pace or the queue's length.
    pub fn rate_limiter(&self) -> Option<&RateLimitMiddleware> {
        self.inner.limiter.as_ref()
    }

    /// The circuit breaker of the client's stack, if
    /// [`TogetherBuilder::circuit_breaker`](crate::TogetherBuilder::circuit_breaker) turned one on: ask it for its state.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.inner.breaker.as_ref()
    }

    /// The HTTP stack every request goes through.
    pub fn http_client(&self) -> &ClientWithMiddleware {
        &self.inner.http
    }

    /// How many rate-limited responses (429) in a row the client has seen; a success resets it.
    pub fn rate_limit_streak(&self) -> u32 {
        self.inner.alert.streak()
    }

    /// How many rate-limited responses (429) the client has seen in all, retried or not.
    pub fn rate_limited_total(&self) -> u64 {
        self.inner.alert.total()
    }
}
