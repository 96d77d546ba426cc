//! [`MemoryLimit`]: a fleet's shared store in this process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::store::Loaded;

/// Where a fleet's shared rate limit lives when its limiters are in one process: memory.
///
/// Every limiter built with a clone of one `MemoryLimit`
/// ([`RateLimitBuilder::build_shared`](super::super::RateLimitBuilder::build_shared)) shares
/// one limit with the others, exactly as the processes on one `RedisLimit`
/// do: the same code, only the store differs. It is for simulations and tests of a fleet (on
/// tokio's paused clock, where a real Redis cannot follow), with [`with_latency`](Self::with_latency) to
/// model the round trip to a real store. Within one real process, clone one limiter instead:
/// it costs no store at all.
///
/// ```
/// use retry_core::middleware::{MemoryLimit, RateLimitMiddleware};
///
/// // Four "processes", one limit: what one learns paces all four.
/// let store = MemoryLimit::new();
/// let fleet: Vec<RateLimitMiddleware> = (0..4)
///     .map(|_| RateLimitMiddleware::builder().build_shared(store.clone()))
///     .collect();
/// # let _ = fleet;
/// ```
#[derive(Clone)]
pub struct MemoryLimit {
    inner: Arc<Memory>,
}

struct Memory {
    /// The store's clock: every limiter of the fleet reads time from here.
    origin: Instant,
    /// Each key's value and when it expires (on the store's clock).
    entries: Mutex<HashMap<String, (String, Duration)>>,
    latency: Duration,
}

impl fmt::Debug for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLimit")
            .field("latency", &self.inner.latency)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryLimit {
    fn default() -> Self {
        MemoryLimit::new()
    }
}

impl MemoryLimit {
    /// An empty store, answering at once. Its clock is tokio's (paused in tests).
    pub fn new() -> Self {
        MemoryLimit::with_latency(Duration::ZERO)
    }

    /// An empty store each of whose operations takes `latency` (half before it reads or
    /// writes, half after), as a call to Redis does: the limiters of the fleet then race for
    /// the shared state as real processes do.
    pub fn with_latency(latency: Duration) -> Self {
        MemoryLimit {
            inner: Arc::new(Memory {
                origin: Instant::now(),
                entries: Mutex::new(HashMap::new()),
                latency,
            }),
        }
    }

    fn now(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    async fn delay(&self) {
        if !self.inner.latency.is_zero() {
            tokio::time::sleep(self.inner.latency / 2).await;
        }
    }

    pub(super) async fn load(&self, key: &str) -> Loaded {
        self.delay().await;
        let now = self.now();
        let value = {
            let entries = self
                .inner
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            entries
                .get(key)
                .filter(|(_, expires)| *expires > now)
                .map(|(value, _)| value.clone())
        };
        self.delay().await;
        Loaded { value, now }
    }

    pub(super) async fn swap(
        &self,
        key: &str,
        old: Option<&str>,
        new: String,
        ttl: Duration,
    ) -> bool {
        self.delay().await;
        let now = self.now();
        let swapped = {
            let mut entries = self
                .inner
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let current = entries
                .get(key)
                .filter(|(_, expires)| *expires > now)
                .map(|(value, _)| value.as_str());
            let swapped = current == old;
            if swapped {
                entries.insert(key.to_owned(), (new, now.saturating_add(ttl)));
            }
            swapped
        };
        self.delay().await;
        swapped
    }
}
