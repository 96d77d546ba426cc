//! Fixed quotas: requests per second or minute (governor's GCRA) and tokens per minute.
//!
//! # Why governor here, and only here
//! A fixed request quota is exactly what `governor` does well: a lock-free GCRA cell that
//! answers "may one more go now, or when?". We use only that answer (`check`). Its own waiting
//! (`until_ready`) is not used: every waiter sleeps on its own and they race when the cell
//! frees up, so the order is not FIFO and a waiter can lose the race again and again; it
//! sleeps on `futures-timer`, not on tokio's clock (paused-time tests could not drive it); and
//! it knows nothing of a cooldown. The FIFO queue in [`queue`](super::queue) does the waiting:
//! only the head of the queue asks governor, on a clock that reads tokio's time.
//!
//! The token quota is our own (a cell of the one [`Gcra`](super::gcra)): a request costs many
//! tokens, and governor's `check_n` refuses any cost above the bucket's size, so a one-second
//! bucket would refuse a large prompt outright and a one-minute bucket would let a whole
//! minute's tokens go at once. A weighted GCRA has neither problem: a request waits until the
//! bucket holds its cost (or is full, for one larger than the bucket), goes, and any debt it
//! leaves delays the next.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use super::gcra::{Gcra, secs};

/// governor's clock, reading tokio's (so `tokio::time::pause` applies): time since `origin`.
#[derive(Clone, Copy, Debug)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A fixed number of requests per period, for one host.
pub(crate) struct RequestQuota {
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
}

impl RequestQuota {
    /// `count` requests per `period`, at most `burst` at once. Zeros are taken as 1.
    pub(crate) fn new(count: u32, period: Duration, burst: u32, origin: Instant) -> Self {
        let one = NonZeroU32::MIN;
        let count = NonZeroU32::new(count).unwrap_or(one);
        let burst = NonZeroU32::new(burst).unwrap_or(one);
        let per_cell = (period / count.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(per_cell)
            .unwrap_or_else(|| Quota::per_second(count))
            .allow_burst(burst);
        RequestQuota {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock { origin }),
        }
    }

    /// Takes a slot now, or says when (as time since `origin`) the next one frees up.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.earliest_possible())
    }
}

/// The token quota: `rate` tokens per second, `capacity` at once, as a cell of the one
/// [`Gcra`] with each request priced at its tokens' worth of time. The fleet prices its token
/// budget with it too, so both charge tokens alike.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenPace {
    /// Seconds one token is worth.
    per_token: f64,
    /// What the cell holds: `capacity` tokens' worth of time.
    limit: Duration,
    /// The schedule of tokens spent.
    cell: Gcra,
}

impl TokenPace {
    /// `rate` tokens per second, `capacity` tokens at once (both at least 1).
    pub(crate) fn new(rate: f64, capacity: f64) -> Self {
        let mut pace = TokenPace {
            per_token: 1.0,
            limit: Duration::ZERO,
            cell: Gcra::default(),
        };
        pace.set(rate, capacity);
        pace
    }

    /// The same pace stepping from a theoretical arrival time kept elsewhere (the fleet's
    /// store).
    pub(crate) fn resumed(self, tat: Duration) -> Self {
        TokenPace {
            cell: Gcra::at(tat),
            ..self
        }
    }

    /// Changes the rate and capacity, keeping the debt already run up.
    pub(crate) fn set(&mut self, rate: f64, capacity: f64) {
        let rate = if rate.is_finite() {
            rate.max(1e-3)
        } else {
            1e9
        };
        let capacity = if capacity.is_finite() {
            capacity.max(1.0)
        } else {
            1e9
        };
        self.per_token = 1.0 / rate;
        self.limit = secs(capacity * self.per_token);
    }

    /// The rate (tokens per second) and capacity (tokens) it was set to.
    pub(crate) fn rate_capacity(&self) -> (f64, f64) {
        (
            1.0 / self.per_token,
            self.limit.as_secs_f64() / self.per_token,
        )
    }

    /// When the bucket is back to full if nothing more is sent: what the fleet stores.
    pub(crate) fn tat(&self) -> Duration {
        self.cell.tat()
    }

    /// The earliest time a request of `cost` tokens may go: when the bucket holds `cost`, or
    /// is full for a request larger than the bucket (which then leaves a debt behind).
    pub(crate) fn earliest(&self, cost: u64) -> Duration {
        self.cell.earliest(self.price(cost), self.limit)
    }

    /// Charges `cost` tokens at `now`. No grace: a bucket that sat idle is full, no fuller.
    pub(crate) fn charge(&mut self, now: Duration, cost: u64) {
        self.cell.charge(now, self.price(cost), Duration::ZERO);
    }

    /// `cost` tokens' worth of time.
    fn price(&self, cost: u64) -> Duration {
        secs(cost as f64 * self.per_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn governor_on_tokio_time() {
        let origin = Instant::now();
        let quota = RequestQuota::new(10, Duration::from_secs(1), 1, origin);
        assert!(quota.take().is_ok());
        let next = quota.take().unwrap_err();
        assert_eq!(next, Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(quota.take().is_ok());
    }

    #[test]
    fn a_large_cost_goes_once_then_delays_the_rest() {
        let mut pace = TokenPace::new(100.0, 100.0);
        assert_eq!(pace.earliest(1_000), Duration::ZERO);
        pace.charge(Duration::ZERO, 1_000);
        // Full again at 10 s; 50 tokens are there half a second earlier.
        assert_eq!(pace.earliest(1_000), Duration::from_secs(10));
        assert_eq!(pace.earliest(50), Duration::from_millis(9_500));
        pace.charge(Duration::from_secs(10), u64::MAX);
        assert!(pace.earliest(1) > Duration::from_secs(1_000_000));
    }
}
