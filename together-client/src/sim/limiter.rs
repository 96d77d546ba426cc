//! The server's token buckets, on tokio's clock (so a paused test clock drives them).
//!
//! The request bucket is the one `retry-core`'s in-process test server uses: it holds `burst`
//! requests, starts full, refills `rate` requests per second, and a request takes one or gets
//! a 429. Or, as many real servers count (a counter per window that expires), a fixed window:
//! `rate x window` requests per window, all of them back when the next window starts. The
//! optional token bucket holds `limit` tokens and refills in one second. The optional credit
//! balance pays for admitted requests and, once spent, refuses everything.

use std::time::Duration;

use tokio::time::Instant;

/// A bucket of `capacity` units refilling `rate` units per second.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    level: f64,
    last: Instant,
    /// A fixed window instead of a steady refill: its length, and when the current one
    /// started.
    window: Option<(f64, Instant)>,
}

impl Bucket {
    fn full(rate: f64, capacity: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            capacity,
            level: capacity,
            last: now,
            window: None,
        }
    }

    /// Counts per fixed window of `window` seconds from `now`: `rate x window` a window.
    fn windowed(rate: f64, window: f64, now: Instant) -> Bucket {
        Bucket {
            window: Some((window, now)),
            ..Bucket::full(rate, window_count(rate, window), now)
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some((length, start)) = &mut self.window {
            let elapsed = now.saturating_duration_since(*start).as_secs_f64();
            if elapsed >= *length {
                *start += Duration::from_secs_f64((elapsed / *length).floor() * *length);
                self.level = self.capacity;
            }
            self.last = now;
            return;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Refills at the old rate until `now`, then refills at `rate` up to `capacity`, keeping
    /// what it holds (up to the new capacity).
    fn retarget(&mut self, now: Instant, rate: f64, capacity: f64) {
        self.refill(now);
        let capacity = match self.window {
            Some((length, _)) => window_count(rate, length),
            None => capacity,
        };
        (self.rate, self.capacity) = (rate, capacity);
        self.level = self.level.min(capacity);
    }

    /// Seconds until the current window ends, if the bucket counts per window.
    fn window_left(&self) -> Option<f64> {
        let (length, start) = self.window?;
        let elapsed = self.last.saturating_duration_since(start).as_secs_f64();
        Some((length - elapsed).max(0.0))
    }

    /// Seconds until the bucket holds `amount`.
    fn wait_for(&self, amount: f64) -> f64 {
        match self.window_left() {
            Some(left) if self.level < amount => left,
            Some(_) => 0.0,
            None => ((amount - self.level) / self.rate).max(0.0),
        }
    }

    fn level(&self) -> Level {
        Level {
            limit: self.capacity,
            rate: self.rate,
            remaining: self.level,
            // A window is full again when the next one starts.
            reset: self
                .window_left()
                .unwrap_or(((self.capacity - self.level) / self.rate).max(0.0)),
        }
    }
}

/// What a fixed window of `length` seconds admits at `rate` a second: at least one.
fn window_count(rate: f64, length: f64) -> f64 {
    (rate * length).floor().max(1.0)
}

/// A bucket's state as the `x-*limit-*` headers report it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Level {
    /// What the bucket holds when full.
    pub(crate) limit: f64,
    /// What it refills per second.
    pub(crate) rate: f64,
    /// What it holds now (after this request's take, if it was taken).
    pub(crate) remaining: f64,
    /// Seconds until it is full again.
    pub(crate) reset: f64,
}

/// Which limit a 429 is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Requests,
    Tokens,
    /// Out of credit: no wait cures it.
    Credit,
}

/// The limiter's answer to one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    /// `None`: admitted. `Some((limit, wait))`: refused, and the exact wait until it would not be.
    pub(crate) refused: Option<(Limit, Duration)>,
    /// The request bucket after the decision, if there is a request limit.
    pub(crate) requests: Option<Level>,
    /// The token bucket after the decision, if there is a token limit.
    pub(crate) tokens: Option<Level>,
    /// The per-minute request budget (60 times the rate), as per-minute headers report it.
    pub(crate) minute_requests: Option<Level>,
    /// The per-minute token budget, likewise.
    pub(crate) minute_tokens: Option<Level>,
}

/// The request bucket and the optional token bucket.
#[derive(Debug)]
pub(crate) struct Limiter {
    /// When the limiter started: the limit's steps are offsets from it.
    origin: Instant,
    /// Changes of the request rate still to come: (offset from `origin`, requests per
    /// second), in order.
    steps: std::collections::VecDeque<(Duration, f64)>,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    /// Per-minute budgets, charged with every admitted request and reported by per-minute
    /// header families; they never bind before the per-second buckets.
    minutes: [Option<Bucket>; 2],
    /// Requests the account can still pay for; `None`: unlimited.
    credits: Option<u64>,
}

impl Limiter {
    pub(crate) fn new(
        rate: Option<f64>,
        burst: u32,
        token_limit: Option<u64>,
        credits: Option<u64>,
    ) -> Limiter {
        let now = Instant::now();
        Limiter {
            origin: now,
            steps: std::collections::VecDeque::new(),
            credits,
            requests: rate.map(|rate| Bucket::full(rate, f64::from(burst), now)),
            tokens: token_limit.map(|limit| {
                let limit = limit as f64;
                Bucket::full(limit, limit, now)
            }),
            minutes: [
                rate.map(|rate| Bucket::full(rate, rate * 60.0, now)),
                token_limit.map(|limit| Bucket::full(limit as f64, limit as f64 * 60.0, now)),
            ],
        }
    }

    /// Changes the request limit; the bucket keeps its level (capped at the new burst).
    pub(crate) fn set_rate(&mut self, rate: Option<f64>, burst: u32) {
        let now = Instant::now();
        let moved = |old: Option<Bucket>, rate: f64, capacity: f64| match old {
            Some(mut bucket) => {
                bucket.retarget(now, rate, capacity);
                bucket
            }
            None => Bucket::full(rate, capacity, now),
        };
        self.requests = rate.map(|rate| moved(self.requests, rate, f64::from(burst)));
        // The per-minute budget reported alongside: 60 times the new rate.
        self.minutes[0] = rate.map(|rate| moved(self.minutes[0], rate, rate * 60.0));
    }

    /// Counts requests per fixed window of `window` instead (`rate x window` a window, the
    /// burst ignored), the first window starting now.
    pub(crate) fn fixed_window(&mut self, window: Duration) {
        let now = Instant::now();
        if let Some(bucket) = &mut self.requests {
            *bucket = Bucket::windowed(bucket.rate, window.as_secs_f64(), now);
        }
    }

    /// Moves the request rate at each offset from the start (the burst stays): a dynamic limit
    /// that steps, on the simulator's own clock.
    pub(crate) fn set_steps(&mut self, steps: &[(Duration, f64)]) {
        let mut steps = steps.to_vec();
        steps.sort_by_key(|(at, _)| *at);
        self.steps = steps.into();
    }

    /// Applies the steps whose time has come.
    fn step(&mut self, now: Instant) {
        while let Some(&(at, rate)) = self.steps.front() {
            if now.saturating_duration_since(self.origin) < at {
                break;
            }
            self.steps.pop_front();
            let when = self.origin + at;
            if let Some(bucket) = &mut self.requests {
                bucket.retarget(when, rate, bucket.capacity);
            }
            if let Some(bucket) = &mut self.minutes[0] {
                // The per-minute budget reported alongside: 60 times the new rate.
                bucket.retarget(when, rate, rate * 60.0);
            }
        }
    }

    /// Takes one request, `cost` tokens and a credit, or none of them: a request is admitted
    /// only when all can pay. Out of credit is refused first, and spends nothing.
    pub(crate) fn check(&mut self, cost: u64) -> Verdict {
        let now = Instant::now();
        self.step(now);
        let mut refused: Option<(Limit, f64)> = None;
        if self.credits == Some(0) {
            refused = Some((Limit::Credit, f64::INFINITY));
        }
        let mut refuse = |limit, wait: f64| {
            if refused.is_none_or(|(l, w)| l != Limit::Credit && wait > w) {
                refused = Some((limit, wait));
            }
        };
        if let Some(bucket) = &mut self.requests {
            bucket.refill(now);
            if bucket.level < 1.0 {
                refuse(Limit::Requests, bucket.wait_for(1.0));
            }
        }
        let cost = match &mut self.tokens {
            Some(bucket) => {
                bucket.refill(now);
                // A request larger than the bucket costs the whole bucket, or it could never pass.
                let cost = (cost as f64).min(bucket.capacity);
                if bucket.level < cost {
                    refuse(Limit::Tokens, bucket.wait_for(cost));
                }
                cost
            }
            None => 0.0,
        };
        if refused.is_none() {
            if let Some(bucket) = &mut self.requests {
                bucket.level -= 1.0;
            }
            if let Some(bucket) = &mut self.tokens {
                bucket.level -= cost;
            }
            if let Some(credits) = &mut self.credits {
                *credits -= 1;
            }
        }
        for (bucket, spent) in self.minutes.iter_mut().zip([1.0, cost]) {
            if let Some(bucket) = bucket {
                bucket.refill(now);
                if refused.is_none() {
                    bucket.level = (bucket.level - spent).max(0.0);
                }
            }
        }
        Verdict {
            refused: refused.map(|(limit, wait)| {
                // A refusal always has something to wait for, however little.
                let wait = Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX);
                (limit, wait.max(Duration::from_micros(1)))
            }),
            requests: self.requests.as_ref().map(Bucket::level),
            tokens: self.tokens.as_ref().map(Bucket::level),
            minute_requests: self.minutes[0].as_ref().map(Bucket::level),
            minute_tokens: self.minutes[1].as_ref().map(Bucket::level),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 50 a second, counted per one-second window: 50 at once, then nothing until the window
    /// ends, when all 50 are back; the headers count down to the window's end.
    #[tokio::test(start_paused = true)]
    async fn a_fixed_window_admits_its_count_then_waits_for_the_next() {
        let mut limiter = Limiter::new(Some(50.0), 5, None, None);
        limiter.fixed_window(Duration::from_secs(1));
        let admitted = (0..60)
            .filter(|_| limiter.check(0).refused.is_none())
            .count();
        assert_eq!(admitted, 50);
        tokio::time::advance(Duration::from_millis(400)).await;
        let verdict = limiter.check(0);
        let (_, wait) = verdict.refused.unwrap();
        assert_eq!(wait, Duration::from_millis(600));
        let level = verdict.requests.unwrap();
        assert_eq!((level.limit, level.remaining), (50.0, 0.0));
        assert!((level.reset - 0.6).abs() < 1e-9);
        tokio::time::advance(Duration::from_millis(600)).await;
        let verdict = limiter.check(0);
        assert!(verdict.refused.is_none());
        assert_eq!(verdict.requests.unwrap().remaining, 49.0);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill() {
        let mut limiter = Limiter::new(Some(50.0), 5, None, None);
        let admitted = (0..10)
            .filter(|_| limiter.check(0).refused.is_none())
            .count();
        assert_eq!(admitted, 5);
        let verdict = limiter.check(0);
        let (limit, wait) = verdict.refused.unwrap();
        assert_eq!(limit, Limit::Requests);
        assert_eq!(wait, Duration::from_millis(20));
        let level = verdict.requests.unwrap();
        assert_eq!((level.limit, level.remaining), (5.0, 0.0));
        assert!((level.reset - 0.1).abs() < 1e-9);
        tokio::time::advance(Duration::from_millis(20)).await;
        assert!(limiter.check(0).refused.is_none());
        assert!(limiter.check(0).refused.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn steps_move_the_rate_on_time() {
        let mut limiter = Limiter::new(Some(10.0), 1, None, None);
        limiter.set_steps(&[
            (Duration::from_secs(2), 100.0),
            (Duration::from_secs(1), 1.0),
        ]);
        assert!(limiter.check(0).refused.is_none());
        // 10/s until 1 s: the next request 100 ms later.
        assert_eq!(
            limiter.check(0).refused.unwrap().1,
            Duration::from_millis(100)
        );
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert!(limiter.check(0).refused.is_none());
        let verdict = limiter.check(0);
        assert_eq!(verdict.requests.unwrap().rate, 1.0);
        tokio::time::advance(Duration::from_millis(600)).await;
        // From 2 s, 100/s: 0.5 s at 1/s and 0.1 s at 100/s refill more than one.
        assert!(limiter.check(0).refused.is_none());
        assert_eq!(limiter.check(0).requests.unwrap().rate, 100.0);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_refuse_without_spending_a_request() {
        let mut limiter = Limiter::new(Some(10.0), 2, Some(100), None);
        assert!(limiter.check(80).refused.is_none());
        let verdict = limiter.check(80);
        let (limit, wait) = verdict.refused.unwrap();
        assert_eq!(limit, Limit::Tokens);
        assert_eq!(wait, Duration::from_millis(600));
        // The refused request took no request from the bucket.
        assert_eq!(verdict.requests.unwrap().remaining, 1.0);
        // Larger than the bucket: costs all of it once full.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.check(1_000).refused.is_none());
        assert_eq!(limiter.check(0).tokens.unwrap().remaining, 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_always_admits() {
        let mut limiter = Limiter::new(None, 1, None, None);
        for _ in 0..1_000 {
            let verdict = limiter.check(1_000_000);
            assert!(verdict.refused.is_none() && verdict.requests.is_none());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn credits_run_out_for_good() {
        let mut limiter = Limiter::new(Some(10.0), 1, None, Some(2));
        assert!(limiter.check(0).refused.is_none());
        // Rate limited: spends no credit.
        assert_eq!(limiter.check(0).refused.unwrap().0, Limit::Requests);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(limiter.check(0).refused.is_none());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(limiter.check(0).refused.unwrap().0, Limit::Credit);
    }
}
