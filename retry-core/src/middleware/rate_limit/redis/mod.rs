//! [`RedisLimit`]: a fleet's shared store in Redis (feature `redis`), for processes.
//!
//! The fleet's logic lives in `super::fleet`; Redis only loads a key with its clock
//! (`load.lua`) and swaps it if unchanged (`swap.lua`). Keys are
//! `PREFIX:{scheme://host:port}:NAME`, each kept a second past its use (the learner: a minute).
//!
//! When Redis fails (an error, or no answer within the timeout), the process warns once for
//! the outage, goes on with its in-process limiter alone, and tries Redis again a moment later;
//! the connection manager reconnects meanwhile. A request is never failed, nor held for long,
//! because Redis is gone.

mod link;

use std::fmt;
use std::time::Duration;

use link::Link;

use super::fleet::Loaded;

/// Where a fleet's shared rate limit lives: a Redis (or Valkey) server, and a key prefix.
///
/// Give it to [`RateLimitBuilder::build_shared`](super::RateLimitBuilder::build_shared) (or
/// [`RateLimitMiddleware::to_shared`](super::RateLimitMiddleware::to_shared)): every process
/// whose limiter has the same server and prefix shares, per host, one schedule (the pace and the
/// token budget), one cooldown after a 429 and one learner, fed by every process's responses:
/// the fleet behaves as one client. Redis 5 or later (or any Valkey).
///
/// Nothing connects until the first request (inside the tokio runtime). If Redis is down or
/// slow (no answer within [`timeout`](Self::timeout), default 250 ms), each process logs one
/// `warn` for the outage and falls back to its in-process limiter until Redis answers again.
///
/// ```
/// use retry_core::middleware::{RateLimitMiddleware, RedisLimit};
///
/// # fn main() -> Result<(), retry_core::middleware::RedisUrlError> {
/// // 50 requests a second to each host, across every process that runs this.
/// let limiter = RateLimitMiddleware::builder()
///     .per_second(50)
///     .build_shared(RedisLimit::new("redis://127.0.0.1:6379")?.prefix("my-batch"));
/// assert!(RedisLimit::new("not a url").is_err());
/// # let _ = limiter;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisLimit {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address only: a URL may carry a password.
        f.debug_struct("RedisLimit")
            .field(
                "addr",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A Redis URL that [`RedisLimit::new`] cannot use.
#[derive(Clone, Debug)]
pub struct RedisUrlError {
    message: String,
}

impl fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unusable Redis URL: {}", self.message)
    }
}

impl std::error::Error for RedisUrlError {}

impl RedisLimit {
    /// The server at `url` (`redis://[:password@]host[:port][/db]`, or `redis+unix:///path`),
    /// with the prefix `retry-core` and a 250 ms timeout. Only parses: nothing connects yet.
    pub fn new(url: &str) -> Result<RedisLimit, RedisUrlError> {
        let client = redis::Client::open(url.trim()).map_err(|e| RedisUrlError {
            // The error may quote the URL, password included: keep only its kind.
            message: format!("{:?}", e.kind()),
        })?;
        Ok(RedisLimit {
            client,
            prefix: "retry-core".to_owned(),
            timeout: Duration::from_millis(250),
        })
    }

    /// The key prefix (default `retry-core`): limiters share a limit only with the same prefix,
    /// so two applications on one Redis can keep theirs apart.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call to Redis may take before the request goes on without it (default
    /// 250 ms; at least 1 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }
}

impl RedisLimit {
    /// The store and the key prefix.
    pub(super) fn into_store(self) -> (RedisStore, String) {
        (
            RedisStore {
                link: Link::new(self.client, self.timeout),
            },
            self.prefix,
        )
    }
}

/// A fleet's store in Redis: two scripts on a connection that fails softly.
pub(crate) struct RedisStore {
    link: Link,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.link.place)
            .finish_non_exhaustive()
    }
}

fn load_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(include_str!("load.lua")))
}

fn swap_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(include_str!("swap.lua")))
}

impl RedisStore {
    pub(crate) fn online(&self) -> bool {
        self.link.online()
    }

    /// `key`'s value and the server's clock (`TIME`); `None` when Redis is down.
    pub(crate) async fn load(&self, key: &str) -> Option<Loaded> {
        let (secs, micros, value) = self
            .link
            .run(|mut conn| async move {
                load_script()
                    .key(key)
                    .invoke_async::<(u64, u64, Option<String>)>(&mut conn)
                    .await
            })
            .await?;
        let now = Duration::from_secs(secs) + Duration::from_micros(micros);
        Some(Loaded { value, now })
    }

    /// Sets `key` to `new` for `ttl` if it still holds `old`; `None` when Redis is down.
    pub(crate) async fn swap(
        &self,
        key: &str,
        old: Option<&str>,
        new: String,
        ttl: Duration,
    ) -> Option<bool> {
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.link
            .run(|mut conn| async move {
                swap_script()
                    .key(key)
                    .arg(old.unwrap_or_default())
                    .arg(new)
                    .arg(ttl)
                    .invoke_async::<u8>(&mut conn)
                    .await
            })
            .await
            .map(|swapped| swapped == 1)
    }
}
