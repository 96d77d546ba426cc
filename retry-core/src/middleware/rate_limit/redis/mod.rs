//! One rate limit for a whole fleet of processes (feature `redis`): [`RedisLimit`].
//!
//! Each process keeps its in-process limiter (its FIFO queue, its pace, its cooldown) and, on
//! top of it, asks Redis before each request: one Lua script per decision (`acquire.lua`), so
//! the decision is atomic across every client, on the Redis server's clock (`TIME`), so the
//! clients' clocks do not matter. The script reserves the next slot of the shared schedule and
//! answers how long to wait for it; the process sleeps that long. Only one request per host and
//! process holds a reservation at a time (the head of the local queue, in order), so the
//! processes of a fleet take turns, one slot each, and the schedule runs at most one slot per
//! process ahead. Before it goes, a request that had to wait checks the shared cooldown
//! (`cooldown.lua`): after a 429 elsewhere it waits out the cooldown, gives its unused slot
//! back and takes a new one. A request dropped while it waits loses its slot: a fleet errs on
//! the side of going slower.
//!
//! What a response teaches goes back (`report.lua`): a cooldown (429, `remaining: 0`) that
//! holds every process until the server's reset, and the pace learned from the
//! `x-ratelimit-*` headers. Keys are `PREFIX:{scheme://host:port}:NAME`, each with a TTL of a
//! second past its use (the learned pace: [`RATE_TTL`]).
//!
//! When Redis fails (an error, or no answer within the timeout), the process warns once for
//! the outage, goes on with its in-process limiter alone, and tries Redis again a moment later;
//! the connection manager reconnects meanwhile. A request is never failed, nor held for long,
//! because Redis is gone.

mod link;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use link::Link;

use super::Config;
use super::host::{Host, Verdict};

/// How long a pace learned from the headers is kept in Redis after it was last reported.
const RATE_TTL: Duration = Duration::from_secs(30);
/// A learned pace is reported again when it moved by more than this share...
const RATE_CHANGE: f64 = 0.01;
/// ...or when this much of its TTL has passed.
const RATE_REFRESH: Duration = Duration::from_secs(10);
/// The longest a request held by a cooldown sleeps before asking again: a cooldown that
/// vanished with a restarted Redis does not hold anyone for long.
const MAX_STEP: Duration = Duration::from_secs(1);
/// Lateness (timers, the round trip) that does not cost the shared schedule a slot.
const GRACE: Duration = Duration::from_millis(4);

/// Where a fleet's shared rate limit lives: a Redis (or Valkey) server, and a key prefix.
///
/// Give it to [`RateLimitBuilder::build_shared`](super::RateLimitBuilder::build_shared) (or
/// [`RateLimitMiddleware::to_shared`](super::RateLimitMiddleware::to_shared)): every process
/// whose limiter has the same server and prefix shares, per host, one request pace, one token
/// budget, one cooldown after a 429 and the pace learned from the server's headers. Redis 5 or
/// later (or any Valkey).
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

/// A limiter's link to Redis and what it keeps per host.
pub(crate) struct Remote {
    link: Link,
    prefix: String,
    hosts: Mutex<HashMap<String, Arc<RemoteHost>>>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("redis", &self.link.place)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// One host's keys, the gate that lets one local request at a time ask Redis, and the last
/// pace reported.
struct RemoteHost {
    keys: [String; 4],
    gate: tokio::sync::Mutex<()>,
    reported: Mutex<Option<(f64, tokio::time::Instant)>>,
}

const TAT: usize = 0;
const TOKEN_TAT: usize = 1;
const COOLDOWN: usize = 2;
const RATE: usize = 3;

fn acquire_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(include_str!("acquire.lua")))
}

fn cooldown_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(include_str!("cooldown.lua")))
}

fn report_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(include_str!("report.lua")))
}

impl Remote {
    pub(crate) fn new(limit: RedisLimit) -> Self {
        Remote {
            link: Link::new(limit.client, limit.timeout),
            prefix: limit.prefix,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the last call to Redis succeeded (or none was made yet).
    pub(crate) fn online(&self) -> bool {
        self.link.online()
    }

    fn host(&self, host_key: &str) -> Arc<RemoteHost> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        let prefix = &self.prefix;
        hosts
            .entry(host_key.to_owned())
            .or_insert_with(|| {
                // One hash tag per host: the keys of one script stay in one cluster slot.
                let key = |name: &str| format!("{prefix}:{{{host_key}}}:{name}");
                Arc::new(RemoteHost {
                    keys: [key("tat"), key("token-tat"), key("cooldown"), key("rate")],
                    gate: tokio::sync::Mutex::new(()),
                    reported: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits until the fleet's schedule lets a request of `cost` tokens go to `host`, after
    /// the in-process limiter admitted it. Returns at once when Redis is down.
    pub(crate) async fn admit(&self, host_key: &str, host: &Host, config: &Config, cost: u64) {
        let remote = self.host(host_key);
        // FIFO (tokio's mutex is fair): local requests ask in the order they were admitted.
        let _turn = remote.gate.lock().await;
        let fixed = config.requests.map_or(0.0, |(count, period)| {
            f64::from(count) / period.as_secs_f64()
        });
        let mut refund = false;
        loop {
            let plan = host.plan();
            let keys = &remote.keys;
            let wait = self
                .link
                .run(|mut conn| async move {
                    acquire_script()
                        .key(&keys[TAT])
                        .key(&keys[TOKEN_TAT])
                        .key(&keys[COOLDOWN])
                        .key(&keys[RATE])
                        .arg(plan.rate.unwrap_or(0.0))
                        .arg(fixed)
                        .arg(config.burst)
                        .arg(plan.tokens.map_or(0.0, |(rate, _)| rate))
                        .arg(plan.tokens.map_or(0.0, |(_, capacity)| capacity))
                        .arg(cost)
                        .arg(GRACE.as_micros() as u64)
                        .arg(u8::from(refund))
                        .invoke_async::<u64>(&mut conn)
                        .await
                })
                .await;
            // Redis is down: the in-process limiter's word stands.
            let Some(wait) = wait.filter(|&w| w > 0) else {
                return;
            };
            tokio::time::sleep(Duration::from_micros(wait)).await;
            // A 429 elsewhere while this one slept: it waits out the cooldown, gives its unused
            // slot back and takes a new one, behind the requests already waiting.
            let held = self
                .link
                .run(|mut conn| async move {
                    cooldown_script()
                        .key(&keys[COOLDOWN])
                        .invoke_async::<u64>(&mut conn)
                        .await
                })
                .await;
            match held.filter(|&h| h > 0) {
                Some(held) => {
                    tokio::time::sleep(Duration::from_micros(held).min(MAX_STEP)).await;
                    refund = true;
                }
                None => return,
            }
        }
    }

    /// Tells the fleet what a response taught: a cooldown it started, the pace learned from
    /// the headers (when it moved, or now and then so it does not expire).
    pub(crate) async fn report(&self, host_key: &str, verdict: &Verdict) {
        let remote = self.host(host_key);
        let now = tokio::time::Instant::now();
        let rate = verdict.header_rate.filter(|&rate| {
            let reported = remote
                .reported
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            reported.is_none_or(|(last, at)| {
                (rate - last).abs() > last * RATE_CHANGE || now.duration_since(at) > RATE_REFRESH
            })
        });
        let pause = verdict.cooldown.map_or(0, |p| p.as_micros() as u64);
        if pause == 0 && rate.is_none() {
            return;
        }
        let keys = &remote.keys;
        let done = self
            .link
            .run(|mut conn| async move {
                report_script()
                    .key(&keys[COOLDOWN])
                    .key(&keys[RATE])
                    .arg(pause)
                    .arg(rate.unwrap_or(0.0))
                    .arg(RATE_TTL.as_millis() as u64)
                    .invoke_async::<u8>(&mut conn)
                    .await
            })
            .await;
        if let (Some(_), Some(rate)) = (done, rate) {
            *remote
                .reported
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((rate, now));
        }
    }
}
