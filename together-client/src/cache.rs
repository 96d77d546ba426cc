//! The optional response cache: identical deterministic requests answered once, with
//! single-flight for identical concurrent ones (moka's `try_get_with`).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::error::Error;

/// How the client caches responses ([`TogetherBuilder::cache`](crate::TogetherBuilder::cache)).
/// Off unless set.
///
/// What is cached, when the cache is on:
/// - chat and completion requests with `temperature` exactly `0.0` (deterministic), or
///   opted in per request (`.cache(true)`), or every one with
///   [`all_requests(true)`](Self::all_requests); a request's `.cache(false)` opts out;
///   streamed requests never;
/// - embeddings and rerank requests (deterministic by nature);
/// - never the model list.
///
/// Identical requests (same endpoint, same JSON body) share one entry. Identical requests made
/// while the first is still in flight wait for its answer instead of sending their own
/// (single-flight); errors are not cached. A cached response keeps the
/// [`rate_limits`](crate::ChatResponse::rate_limits) of the response it came from.
///
/// ```
/// use std::time::Duration;
/// use together_client::{CacheConfig, Together};
///
/// let client = Together::builder()
///     .api_key("my-key")
///     .cache(CacheConfig::new().max_entries(500).ttl(Duration::from_secs(600)))
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheConfig {
    max_entries: u64,
    ttl: Duration,
    all_requests: bool,
}

impl Default for CacheConfig {
    /// 1,000 entries, 5 minutes.
    fn default() -> Self {
        CacheConfig::new()
    }
}

impl CacheConfig {
    /// 1,000 entries kept up to 5 minutes each; only deterministic requests.
    pub const fn new() -> Self {
        CacheConfig {
            max_entries: 1_000,
            ttl: Duration::from_secs(300),
            all_requests: false,
        }
    }

    /// At most `n` responses kept (least recently used go first).
    #[must_use]
    pub const fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// How long a response is kept after it was fetched.
    #[must_use]
    pub const fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Cache chat and completion requests whatever their temperature (unless a request opts
    /// out with `.cache(false)`).
    #[must_use]
    pub const fn all_requests(mut self, all: bool) -> Self {
        self.all_requests = all;
        self
    }

    // Getters are `get_*`: the plain names are the builder methods above (as `Policy`'s, and
    // `std::process::Command`'s `get_args` beside `arg`).

    /// The most responses kept.
    pub const fn get_max_entries(&self) -> u64 {
        self.max_entries
    }

    /// How long a response is kept.
    pub const fn get_ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether every chat and completion request is cached.
    pub const fn get_all_requests(&self) -> bool {
        self.all_requests
    }
}

/// A typed response, type-erased for the one cache every endpoint shares (the key names the
/// endpoint, so a key always holds the same type).
type Entry = Arc<dyn Any + Send + Sync>;

/// The cache itself.
#[derive(Clone)]
pub(crate) struct ResponseCache {
    config: CacheConfig,
    entries: Cache<String, Entry>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("config", &self.config)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl ResponseCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        ResponseCache {
            config,
            entries: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build(),
        }
    }

    /// Whether a request with this `temperature` and per-request choice is cached.
    pub(crate) fn wants(&self, temperature: Option<f64>, opt: Option<bool>) -> bool {
        opt.unwrap_or(self.config.all_requests || temperature == Some(0.0))
    }

    /// The cached answer to `key`, or `fetch`'s (stored if it succeeds); concurrent callers
    /// with one key share one `fetch`.
    pub(crate) async fn get_or_fetch<T, F>(&self, key: String, fetch: F) -> Result<T, Error>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, Error>>,
    {
        let entry = self
            .entries
            .try_get_with(key, async { fetch.await.map(|v| Arc::new(v) as Entry) })
            .await
            .map_err(|shared: Arc<Error>| (*shared).clone())?;
        entry
            .downcast_ref::<T>()
            .cloned()
            .ok_or_else(|| Error::Config("response cache: an entry of another type".into()))
    }
}
