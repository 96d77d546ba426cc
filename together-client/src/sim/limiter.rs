//! The server's token buckets, on tokio's clock (so a paused test clock drives them).
//!
//! The request bucket is the one `retry-core`'s in-process test server uses: it holds `burst`
//! requests, starts full, refills `rate` requests per second, and a request takes one or gets
//! a 429. Or, as many real servers count (a counter per window that expires), a fixed window:
//! `rate x window` requests per window, all of them back when the next window starts. Or a
//! sliding log (a sorted set of timestamps, as Redis-backed limiters keep): `rate x window`
//! requests in any `window`, each back when the one it replaces is `window` old, optionally
//! with a second, longer log behind it (a request needs room in both). The optional token
//! bucket holds `limit` tokens and refills in one second. The optional credit
//! balance pays for admitted requests and, once spent, refuses everything.

use std::time::Duration;

use tokio::time::Instant;

use super::bucket::{Bucket, Level};
use super::growth::{Growing, LimitGrowth};

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
    /// A second, longer sliding log behind `requests`: a request needs room in both.
    longer: Option<Bucket>,
    tokens: Option<Bucket>,
    /// Per-minute budgets, charged with every admitted request and reported by per-minute
    /// header families; they never bind before the per-second buckets.
    minutes: [Option<Bucket>; 2],
    /// Requests the account can still pay for; `None`: unlimited.
    credits: Option<u64>,
    /// A request rate that rises with use and halves at load spikes, if it moves so.
    growth: Option<Growing>,
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
            growth: None,
            requests: rate.map(|rate| Bucket::full(rate, f64::from(burst), now)),
            longer: None,
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
        let requests = self.requests.take();
        self.requests = rate.map(|rate| moved(requests, rate, f64::from(burst)));
        // The per-minute budget reported alongside: 60 times the new rate.
        let minute = self.minutes[0].take();
        self.minutes[0] = rate.map(|rate| moved(minute, rate, rate * 60.0));
    }

    /// Counts requests per fixed window of `window` instead (`rate x window` a window, the
    /// burst ignored), the first window starting now.
    pub(crate) fn fixed_window(&mut self, window: Duration) {
        let now = Instant::now();
        if let Some(bucket) = &mut self.requests {
            *bucket = Bucket::windowed(bucket.rate, window.as_secs_f64(), now);
        }
    }

    /// Counts requests in a log of the last `window` instead (`rate x window` in any
    /// `window`, the burst ignored).
    pub(crate) fn sliding_log(&mut self, window: Duration) {
        let now = Instant::now();
        if let Some(bucket) = &mut self.requests {
            *bucket = Bucket::sliding(bucket.rate, window.as_secs_f64(), now);
        }
    }

    /// Counts the per-minute request budget per fixed minute instead, from now: the requests
    /// admitted this minute out of 60 times the rate, back whole when the next one starts.
    pub(crate) fn fixed_minute(&mut self) {
        if let Some(budget) = &mut self.minutes[0] {
            *budget = Bucket::windowed(budget.rate, 60.0, Instant::now());
        }
    }

    /// Counts the requests of the last `window` in a second log too, at most `count` of them.
    pub(crate) fn longer_log(&mut self, count: u32, window: Duration) {
        let length = window.as_secs_f64();
        let mut log = Bucket::sliding(f64::from(count) / length, length, Instant::now());
        // Exactly `count`: its rate times its length may round to one less (2 per 29 ms).
        (log.capacity, log.level) = (f64::from(count), f64::from(count));
        self.longer = Some(log);
    }

    /// Moves the request rate at each offset from the start (the burst stays): a dynamic limit
    /// that steps, on the simulator's own clock.
    pub(crate) fn set_steps(&mut self, steps: &[(Duration, f64)]) {
        let mut steps = steps.to_vec();
        steps.sort_by_key(|(at, _)| *at);
        self.steps = steps.into();
    }

    /// Lets the request rate rise with use and halve at load spikes, by `rule`, from now; the
    /// bucket takes the size the rule gives the rate.
    pub(crate) fn grow(&mut self, rule: LimitGrowth) {
        if let Some(bucket) = &self.requests {
            let capacity = rule.capacity(bucket.rate, bucket.capacity);
            self.retarget(Instant::now(), bucket.rate, capacity);
        }
        self.growth = Some(Growing::new(rule));
    }

    /// Applies the steps whose time has come, then the rises and halvings, each in order (a
    /// limit both stepped and grown is not one the family has).
    fn step(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.origin);
        while let Some(&(at, rate)) = self.steps.front() {
            if elapsed < at {
                break;
            }
            self.steps.pop_front();
            let capacity = self.requests.as_ref().map_or(1.0, |bucket| bucket.capacity);
            self.retarget(self.origin + at, rate, capacity);
        }
        while let (Some(growing), Some(bucket)) = (&mut self.growth, &self.requests) {
            let Some((at, rate)) = growing.next(elapsed, bucket.rate) else {
                break;
            };
            let capacity = growing.rule.capacity(rate, bucket.capacity);
            self.retarget(self.origin + at, rate, capacity);
        }
    }

    /// The request bucket at `rate` and `capacity` from `when`, and the per-minute budget
    /// reported alongside at 60 times the rate.
    fn retarget(&mut self, when: Instant, rate: f64, capacity: f64) {
        if let Some(bucket) = &mut self.requests {
            bucket.retarget(when, rate, capacity);
        }
        if let Some(bucket) = &mut self.minutes[0] {
            bucket.retarget(when, rate, rate * 60.0);
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
        for bucket in [&mut self.requests, &mut self.longer].into_iter().flatten() {
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
            for bucket in [&mut self.requests, &mut self.longer].into_iter().flatten() {
                bucket.take(1.0);
            }
            if let Some(bucket) = &mut self.tokens {
                bucket.take(cost);
            }
            if let Some(credits) = &mut self.credits {
                *credits -= 1;
            }
            if let Some(growing) = &mut self.growth {
                growing.admit();
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
            // Whichever count has fewer left, as servers that stack limits report them.
            requests: match (&self.requests, &self.longer) {
                (Some(requests), Some(longer)) => {
                    let (short, long) = (requests.level(), longer.level());
                    Some(if long.remaining < short.remaining {
                        long
                    } else {
                        short
                    })
                }
                (requests, longer) => requests.as_ref().or(longer.as_ref()).map(Bucket::level),
            },
            tokens: self.tokens.as_ref().map(Bucket::level),
            minute_requests: self.minutes[0].as_ref().map(Bucket::level),
            minute_tokens: self.minutes[1].as_ref().map(Bucket::level),
        }
    }
}

#[cfg(test)]
mod tests;
