//! The fleet's store, reduced to two operations every backend offers atomically: load a key
//! (with the store's clock), and swap it if nobody changed it since. The state itself is
//! stepped in Rust ([`Store::update`]), so Redis and memory run the same code.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MemoryLimit;

/// How many times an update is tried when other processes keep changing the state between its
/// load and its swap (16 processes released by one cooldown all at once need up to 16).
const TRIES: u32 = 32;

/// A key's value, and the store's clock when it was read.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) value: Option<String>,
    pub(crate) now: Duration,
}

/// A fleet's store.
#[derive(Debug)]
pub(crate) enum Store {
    Memory(MemoryLimit),
    #[cfg(feature = "redis")]
    Redis(Box<super::super::redis::RedisStore>),
}

impl Store {
    /// Whether the last call to the store succeeded (or none was made yet).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // read by `redis_online`
    pub(crate) fn online(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.online(),
        }
    }

    /// `key`'s value, or `None` when the store is unreachable.
    pub(crate) async fn load(&self, key: &str) -> Option<Loaded> {
        match self {
            Store::Memory(memory) => Some(memory.load(key).await),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.load(key).await,
        }
    }

    /// Sets `key` to `new` for `ttl` if its value is still `old`: `Some(false)` if another
    /// process changed it, `None` when the store is unreachable.
    async fn swap(&self, key: &str, old: Option<&str>, new: String, ttl: Duration) -> Option<bool> {
        match self {
            Store::Memory(memory) => Some(memory.swap(key, old, new, ttl).await),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.swap(key, old, new, ttl).await,
        }
    }

    /// Applies `step` to the state under `key` (its default when there is none, or when it
    /// cannot be read), atomically with respect to every other process: loaded, stepped,
    /// swapped, and stepped again on the new state if another process got there first (after
    /// a short random pause, so that processes that collided do not collide again in step).
    /// `step` gets the state and the store's clock and returns what to hand back, or declines
    /// (`Err`): then nothing is written and the state is handed back as it was loaded. `ttl`
    /// says how long a new state is kept. `None` when the store is unreachable, or so
    /// contended that [`TRIES`] attempts all lost the race.
    pub(crate) async fn update<T, R, E>(
        &self,
        key: &str,
        fresh: impl Fn() -> T,
        ttl: impl Fn(&T, Duration) -> Duration,
        mut step: impl FnMut(&mut T, Duration) -> Result<R, E>,
    ) -> Option<(T, Result<R, E>, Duration)>
    where
        T: Serialize + DeserializeOwned,
    {
        for attempt in 0..TRIES {
            if attempt > 0 {
                // Up to 0.2 ms after the first collision, doubling to 6.4 ms.
                let ceiling = 200u64 << (attempt - 1).min(5);
                tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=ceiling))).await;
            }
            let loaded = self.load(key).await?;
            let mut state = loaded
                .value
                .as_deref()
                .and_then(|value| serde_json::from_str(value).ok())
                .unwrap_or_else(&fresh);
            let out = match step(&mut state, loaded.now) {
                Ok(out) => out,
                Err(declined) => return Some((state, Err(declined), loaded.now)),
            };
            let Ok(new) = serde_json::to_string(&state) else {
                return None;
            };
            let keep = ttl(&state, loaded.now);
            if self.swap(key, loaded.value.as_deref(), new, keep).await? {
                return Some((state, Ok(out), loaded.now));
            }
        }
        None
    }
}
