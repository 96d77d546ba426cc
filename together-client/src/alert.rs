//! The rate-limit streak alert: N consecutive 429s log one warning and call the user's
//! callback once, until a success ends the streak.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::ApiError;

/// The streak length that raises the alert unless the builder says otherwise.
pub const DEFAULT_ALERT_AFTER: u32 = 5;

/// What the client tells the callback of
/// [`TogetherBuilder::on_rate_limit_streak`](crate::TogetherBuilder::on_rate_limit_streak)
/// when a streak of rate-limited responses reaches the threshold.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RateLimitAlert {
    /// How many responses in a row were 429s (the threshold).
    pub streak: u32,
    /// The 429 that completed the streak: its type, message, hint and the rate limits it
    /// reported.
    pub last: ApiError,
}

/// The callback of the streak alert.
pub(crate) type AlertCallback = Arc<dyn Fn(&RateLimitAlert) + Send + Sync>;

/// Counts consecutive 429s across every call of one client.
pub(crate) struct StreakAlert {
    /// The streak that raises the alert; 0 turns it off.
    threshold: u32,
    streak: AtomicU32,
    /// Every 429 the client has seen, for progress displays.
    total: AtomicU64,
    callback: Option<AlertCallback>,
}

impl fmt::Debug for StreakAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreakAlert")
            .field("threshold", &self.threshold)
            .field("streak", &self.streak.load(Ordering::Relaxed))
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl StreakAlert {
    pub(crate) fn new(threshold: u32, callback: Option<AlertCallback>) -> Self {
        StreakAlert {
            threshold,
            streak: AtomicU32::new(0),
            total: AtomicU64::new(0),
            callback,
        }
    }

    /// A successful response ends the streak.
    pub(crate) fn success(&self) {
        // A plain store would cost a write to a shared cache line on every success.
        if self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
        }
    }

    /// A 429: the streak grows, and the response that makes it reach the threshold raises
    /// the alert (exactly one response does, however many tasks share the client).
    pub(crate) fn rate_limited(&self, error: &ApiError) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let streak = self
            .streak
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if self.threshold == 0 || streak != self.threshold {
            return;
        }
        tracing::warn!(
            target: "together_client",
            streak,
            kind = error.kind.as_deref().unwrap_or("unknown"),
            remaining = ?error.rate_limits.effective().remaining,
            "{streak} rate-limited responses (429) in a row: the client is being paced to the \
             account's limit; consider a lower concurrency or a higher limit"
        );
        if let Some(callback) = &self.callback {
            callback(&RateLimitAlert {
                streak,
                last: error.clone(),
            });
        }
    }

    /// The current streak.
    pub(crate) fn streak(&self) -> u32 {
        self.streak.load(Ordering::Relaxed)
    }

    /// Every 429 seen so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
