//! The connection to Redis and what happens when it fails: a short timeout on every call, one
//! `warn` per outage, a pause before the next try, and the connection manager's reconnection.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

/// After a failed call, requests use the in-process limiter alone for this long before Redis
/// is tried again: an outage costs each request nothing, not one timeout each.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// A lazily made connection manager, and whether Redis is reachable.
pub(super) struct Link {
    client: redis::Client,
    timeout: Duration,
    /// Made on first use, inside the runtime (the manager spawns a task when made).
    manager: OnceLock<Option<ConnectionManager>>,
    online: AtomicBool,
    /// No call before this instant, after a failure.
    down_until: Mutex<Option<Instant>>,
    /// Where Redis is, for the log: host and port, never a password.
    pub(super) place: String,
}

impl Link {
    pub(super) fn new(client: redis::Client, timeout: Duration) -> Self {
        let place = client.get_connection_info().addr().to_string();
        Link {
            client,
            timeout,
            manager: OnceLock::new(),
            online: AtomicBool::new(true),
            down_until: Mutex::new(None),
            place,
        }
    }

    pub(super) fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// The manager, unless Redis failed a moment ago (or the manager could not be made).
    fn manager(&self) -> Option<ConnectionManager> {
        let down = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if down.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        drop(down);
        self.manager
            .get_or_init(|| {
                // Each connection attempt and each reply within the timeout; a few quick
                // reconnection attempts, then the next call starts another round.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
                    Ok(manager) => Some(manager),
                    Err(error) => {
                        tracing::warn!(
                            redis = %self.place,
                            %error,
                            "cannot set up the Redis connection; the rate limit is not shared"
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// Runs `call` on the connection within the timeout. `None` when Redis is down: the caller
    /// goes on with the in-process limiter alone.
    pub(super) async fn run<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let manager = self.manager()?;
        let error = match tokio::time::timeout(self.timeout, call(manager)).await {
            Ok(Ok(value)) => {
                if !self.online.swap(true, Ordering::Relaxed) {
                    tracing::info!(redis = %self.place, "Redis is back: the rate limit is shared again");
                }
                return Some(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + RETRY_AFTER);
        if self.online.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                redis = %self.place,
                %error,
                "Redis is unreachable: each process falls back to its own rate limiter until it is back"
            );
        }
        None
    }
}
