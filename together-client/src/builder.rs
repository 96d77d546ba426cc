//! [`TogetherBuilder`]: how a [`Together`] client is set up, and the checks on its settings.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;
use reqwest_middleware::ClientWithMiddleware;
use retry_core::middleware::RateLimitMiddleware;
use retry_core::{CircuitBreaker, Policy, RetryBudget};

use crate::alert::{AlertCallback, DEFAULT_ALERT_AFTER, RateLimitAlert, StreakAlert};
use crate::cache::{CacheConfig, ResponseCache};
use crate::client::{DEFAULT_BASE_URL, DEFAULT_POLICY, Inner, Together};
use crate::error::Error;
use crate::setters::setters;
use crate::usage::Ledger;

/// Sets up a [`Together`] client; from [`Together::builder`] or [`TogetherBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// use retry_core::Policy;
/// use retry_core::middleware::RateLimitMiddleware;
/// use together_client::Together;
///
/// let client = Together::builder()
///     .api_key("my-key")
///     .policy(Policy::exponential().attempts(4))
///     .rate_limit(RateLimitMiddleware::per_second(10))
///     .timeout(Duration::from_secs(60))
///     .alert_after(3)
///     .on_rate_limit_streak(|alert| eprintln!("{} 429s in a row", alert.streak))
///     .build()
///     .unwrap();
/// assert!(!format!("{client:?}").contains("my-key"));
///
/// // Plain HTTP only to loopback, and never without a key:
/// assert!(Together::builder().api_key("k").base_url("http://example.com/v1").build().is_err());
/// assert!(Together::builder().api_key("k").base_url("http://127.0.0.1:8080/v1").build().is_ok());
/// assert!(Together::builder().build().is_err());
/// ```
#[derive(Clone, Default)]
pub struct TogetherBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    policy: Option<Policy>,
    rate_limit: Option<RateLimitMiddleware>,
    timeout: Option<Duration>,
    http_client: Option<ClientWithMiddleware>,
    alert_after: Option<u32>,
    on_alert: Option<AlertCallback>,
    cache: Option<CacheConfig>,
    shared_rate_limit: Option<String>,
    circuit_breaker: Option<CircuitBreaker>,
    retry_budget: Option<&'static RetryBudget>,
}

impl fmt::Debug for TogetherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TogetherBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("policy", &self.policy)
            .field("rate_limit", &self.rate_limit.is_some())
            .field("timeout", &self.timeout)
            .field("http_client", &self.http_client.is_some())
            .field("alert_after", &self.alert_after)
            .field("cache", &self.cache)
            .field("shared_rate_limit", &self.shared_rate_limit.is_some())
            .field("circuit_breaker", &self.circuit_breaker)
            .field("retry_budget", &self.retry_budget)
            .finish_non_exhaustive()
    }
}

impl TogetherBuilder {
    /// A builder with the key from `TOGETHER_API_KEY`, the base URL from `TOGETHER_BASE_URL`
    /// and the [shared rate limit](Self::shared_rate_limit)'s Redis URL from
    /// `TOGETHER_RATE_LIMIT_REDIS`, where set.
    #[must_use]
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        TogetherBuilder {
            api_key: var("TOGETHER_API_KEY"),
            base_url: var("TOGETHER_BASE_URL"),
            shared_rate_limit: var("TOGETHER_RATE_LIMIT_REDIS"),
            ..TogetherBuilder::default()
        }
    }

    setters! {
        /// The API key (required).
        into api_key: String;
        /// The base URL (default [`DEFAULT_BASE_URL`]). `https://`, or `http://` to a loopback
        /// host only (`127.0.0.0/8`, `::1`, `localhost`): a key must not cross a network in clear.
        into base_url: String;
        /// The retry policy of every call (default [`DEFAULT_POLICY`]): one budget per call, spent
        /// by the typed retry loop around each call. Its `attempt_timeout`, if set, bounds each
        /// attempt.
        some policy: Policy;
        /// The rate limiter of the client's stack (default: an adaptive
        /// [`RateLimitMiddleware`], which learns the pace from Together's headers and 429s).
        /// Share one limiter between clients to share one budget.
        some rate_limit: RateLimitMiddleware;
        /// Shares the rate limit with every process whose client uses the same Redis (or Valkey)
        /// at `url` (`redis://host:port`), as Together's limits are per organisation and model,
        /// not per process: the pace learned from Together's headers, a cooldown after any 429,
        /// and the [`rate_limit`](Self::rate_limit)'s quotas (or the default's) hold for the fleet.
        /// Keys are prefixed `together`. Also set by `TOGETHER_RATE_LIMIT_REDIS` in
        /// [`from_env`](Self::from_env). If Redis is unreachable, each process paces on its own
        /// (with one warning) until it is back. Needs the feature `redis`: without it,
        /// [`build`](Self::build) fails with [`Error::Config`].
        ///
        /// ```
        /// # #[cfg(feature = "redis")] {
        /// use together_client::Together;
        ///
        /// let client = Together::builder()
        ///     .api_key("my-key")
        ///     .shared_rate_limit("redis://127.0.0.1:6379")
        ///     .build()
        ///     .unwrap();
        /// assert_eq!(client.rate_limiter().unwrap().redis_online(), Some(true));
        /// assert!(Together::builder().api_key("k").shared_rate_limit("nope").build().is_err());
        /// # }
        /// ```
        into shared_rate_limit: String;
        /// Spends the retries of every call from `budget`, shared with every client and function
        /// that names it (off by default): past it, a failed call returns its error at once
        /// instead of retrying into an outage. The same as a [`policy`](Self::policy) with
        /// [`Policy::budget`].
        ///
        /// ```
        /// use retry_core::RetryBudget;
        /// use together_client::Together;
        ///
        /// static BUDGET: RetryBudget = RetryBudget::new().percent(10);
        ///
        /// let client = Together::builder().api_key("my-key").retry_budget(&BUDGET).build().unwrap();
        /// assert!(client.policy().get_budget().is_some());
        /// ```
        some retry_budget: &'static RetryBudget;
        /// Fails calls at once with [`Error::CircuitOpen`] after Together kept failing (5xx but
        /// 501/505, timeouts, dropped connections; never 429s or other 4xx), for the breaker's
        /// cool-off, then lets one probe find out whether it is back (off by default). Each attempt
        /// of a call asks the breaker, whatever the HTTP stack. Pass a [`CircuitBreaker`] (clones
        /// share one state, so clients can share one) or its builder; see it for the thresholds.
        ///
        /// ```
        /// use std::time::Duration;
        /// use retry_core::CircuitBreaker;
        /// use together_client::Together;
        ///
        /// let client = Together::builder()
        ///     .api_key("my-key")
        ///     .circuit_breaker(CircuitBreaker::builder().consecutive_failures(10).cool_off(Duration::from_secs(30)))
        ///     .build()
        ///     .unwrap();
        /// assert!(client.circuit_breaker().is_some());
        /// ```
        into circuit_breaker: CircuitBreaker;
        /// A timeout for each attempt of a plain request, from sending to the last byte of the
        /// answer (default: none; see also the policy's `attempt_timeout`). For a stream, it bounds
        /// each attempt up to the first chunk (the wait for the rate limiter's turn included), then
        /// the wait for each next chunk.
        some timeout: Duration;
        /// Bring your own stack: the client sends through `client` as it is, instead of building
        /// `reqwest` + [`RateLimitMiddleware`] ([`rate_limit`](Self::rate_limit) is then ignored).
        ///
        /// Do not put a `RetryMiddleware` in it: every typed call already retries with the
        /// client's [`policy`](Self::policy), and a second retry layer would multiply the
        /// attempts (up to `attempts²` requests per call).
        some http_client: ClientWithMiddleware;
        /// How many 429s in a row raise the rate-limit alert (default 5; `0` turns it off): one
        /// `tracing` warning and one call of [`on_rate_limit_streak`](Self::on_rate_limit_streak)'s
        /// callback per streak; a success ends the streak.
        some alert_after: u32;
        /// Turns on the response cache (off by default); see [`CacheConfig`].
        some cache: CacheConfig;
    }

    /// A callback for the rate-limit alert (see [`alert_after`](Self::alert_after)). It runs
    /// on the task that got the 429: keep it quick.
    #[must_use]
    pub fn on_rate_limit_streak(
        mut self,
        callback: impl Fn(&RateLimitAlert) + Send + Sync + 'static,
    ) -> Self {
        self.on_alert = Some(Arc::new(callback));
        self
    }

    /// The client. An [`Error::Config`] (never a panic) for a missing or unusable key, a URL
    /// that does not parse, is not `http(s)`, or is plain `http` to a host that is not
    /// loopback, or an HTTP stack that cannot be built.
    pub fn build(self) -> Result<Together, Error> {
        let key = self
            .api_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                Error::Config(
                    "no API key: set TOGETHER_API_KEY or call TogetherBuilder::api_key".into(),
                )
            })?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            Error::Config("the API key has characters that cannot go in an HTTP header".into())
        })?;
        auth.set_sensitive(true);
        let base_url = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;

        let (http, limiter) = match self.http_client {
            Some(client) => (client, None),
            None => {
                let client = reqwest::Client::builder()
                    .user_agent(concat!("together-client-rust/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
                let limiter = self.rate_limit.unwrap_or_default();
                let limiter = match self.shared_rate_limit.as_deref() {
                    Some(url) => shared(&limiter, url)?,
                    None => limiter,
                };
                let stack = reqwest_middleware::ClientBuilder::new(client)
                    .with(limiter.clone())
                    .build();
                (stack, Some(limiter))
            }
        };

        Ok(Together {
            inner: Arc::new(Inner {
                base_url,
                auth,
                key,
                http,
                limiter,
                breaker: self.circuit_breaker,
                policy: match self.retry_budget {
                    Some(budget) => self.policy.unwrap_or(DEFAULT_POLICY).budget(budget),
                    None => self.policy.unwrap_or(DEFAULT_POLICY),
                },
                timeout: self.timeout,
                alert: StreakAlert::new(
                    self.alert_after.unwrap_or(DEFAULT_ALERT_AFTER),
                    self.on_alert,
                ),
                cache: self.cache.map(ResponseCache::new),
                usage: Ledger::new(),
            }),
        })
    }
}

/// `limiter`'s settings, shared through the Redis at `url`.
#[cfg(feature = "redis")]
fn shared(limiter: &RateLimitMiddleware, url: &str) -> Result<RateLimitMiddleware, Error> {
    let redis = retry_core::middleware::RedisLimit::new(url)
        .map_err(|e| Error::Config(format!("shared rate limit: {e}")))?;
    Ok(limiter.to_shared(redis.prefix("together")))
}

#[cfg(not(feature = "redis"))]
fn shared(_: &RateLimitMiddleware, _: &str) -> Result<RateLimitMiddleware, Error> {
    Err(Error::Config(
        "a shared rate limit (TOGETHER_RATE_LIMIT_REDIS) needs together-client's feature `redis`"
            .into(),
    ))
}

/// Parses and checks a base URL; the result ends with `/`, so endpoints join below it.
fn parse_base_url(given: &str) -> Result<Url, Error> {
    // Every message quotes the URL without a password it might carry.
    let shown = without_credentials(given);
    let raw = shown.as_str();
    let mut url = Url::parse(given.trim())
        .map_err(|e| Error::Config(format!("the base URL `{raw}` does not parse: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "the base URL `{raw}` is plain http to a host that is not loopback: the API \
                 key would cross the network in clear; use https"
            )));
        }
        other => {
            return Err(Error::Config(format!(
                "the base URL `{raw}` has scheme `{other}`; use https"
            )));
        }
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::Config(format!("the base URL `{raw}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the base URL must not carry credentials".into(),
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `raw` with whatever stands before an `@` in its authority replaced, for error messages:
/// written by hand because a URL that does not parse must be shown too.
fn without_credentials(raw: &str) -> String {
    if let Some(scheme_end) = raw.find("://") {
        let rest = &raw[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{}://[redacted]@{}", &raw[..scheme_end], &rest[at + 1..]);
        }
    }
    raw.to_owned()
}

/// Whether the URL's host is loopback: `localhost`, `127.0.0.0/8`, `::1`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Together {
    /// A client for the key in `TOGETHER_API_KEY`, at `TOGETHER_BASE_URL` if set (else
    /// [`DEFAULT_BASE_URL`]), with the defaults. An [`Error::Config`] if the key is missing or
    /// the URL is bad.
    pub fn from_env() -> Result<Together, Error> {
        TogetherBuilder::from_env().build()
    }

    /// A builder with the defaults and no key.
    #[must_use]
    pub fn builder() -> TogetherBuilder {
        TogetherBuilder::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_the_base_url_never_quote_its_password() {
        for url in [
            "http://user:hunter2@example.com/v1",
            "ftp://user:hunter2@example.com/v1",
            "https://user:hunter2@exa mple.com/v1",
            "https://user:hunter2@example.com/v1",
        ] {
            let error = parse_base_url(url).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert_eq!(
            without_credentials("https://a:b@c.test/x@y"),
            "https://[redacted]@c.test/x@y"
        );
    }
}
