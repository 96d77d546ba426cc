//! [`LimitGrowth`]: a request limit that rises with the client's use and halves at load
//! spikes, as Together describes its dynamic limits ("limits grow with sustained usage").
//! Nobody outside Together knows the rule, so this is one guess, its numbers a scenario's.
//!
//! The rule: every second from the start, if the server admitted at least `threshold` of
//! the rate's worth in the second just ended, the rate rises by `factor` (up to `ceiling`);
//! at each of `halvings` (offsets from the start, load spikes that do not depend on the
//! client) it halves (down to `floor`). A client that paces itself just under the threshold
//! never sees the limit rise: what the limit becomes depends on the client.

use std::collections::VecDeque;
use std::time::Duration;

/// A request limit that grows with use: see [`SimulatorBuilder::limit_growth`].
///
/// [`SimulatorBuilder::limit_growth`]: super::SimulatorBuilder::limit_growth
#[derive(Clone, Debug, PartialEq)]
pub struct LimitGrowth {
    /// The share of a second's rate the server must have admitted in that second for the
    /// rate to rise (0.8: a client at 80 % of the limit or more).
    pub threshold: f64,
    /// What the rate is multiplied by when it rises (1.25).
    pub factor: f64,
    /// The highest the rate goes.
    pub ceiling: f64,
    /// The lowest a halving leaves it.
    pub floor: f64,
    /// When load spikes halve the rate: offsets from the start.
    pub halvings: Vec<Duration>,
    /// The bucket holds this many seconds of the current rate (at least one request), so
    /// that it shrinks and grows with the rate; `None`: the burst stays as built.
    pub burst_seconds: Option<f64>,
}

impl LimitGrowth {
    /// The bucket's size at `rate`, or `fixed` if it does not follow the rate.
    pub(crate) fn capacity(&self, rate: f64, fixed: f64) -> f64 {
        self.burst_seconds
            .map_or(fixed, |seconds| (rate * seconds).round().max(1.0))
    }

    /// The least time, in seconds, in which a client could have `successes` requests
    /// admitted from `rate` and a bucket of `burst` at the start: it takes every request as
    /// soon as there is one, so it meets the threshold every second (what it gets in a
    /// second is at least the rate it ends with) and the rate rises as fast as it can.
    pub(crate) fn ideal(&self, successes: f64, mut rate: f64, burst: f64) -> f64 {
        let needed = successes - self.capacity(rate, burst);
        if needed <= 0.0 {
            return 0.0;
        }
        let mut halvings: VecDeque<f64> = (self.sorted_halvings().into_iter())
            .map(|at| at.as_secs_f64())
            .collect();
        let (mut at, mut admitted, mut tick) = (0.0, 0.0, 1.0);
        loop {
            let next = halvings.front().copied().unwrap_or(f64::INFINITY).min(tick);
            if admitted + (next - at) * rate >= needed {
                return at + (needed - admitted) / rate;
            }
            admitted += (next - at) * rate;
            at = next;
            if halvings.front() == Some(&next) {
                halvings.pop_front();
                rate = self.halve(rate);
            } else {
                tick += 1.0;
                rate = self.rise(rate);
            }
        }
    }

    fn rise(&self, rate: f64) -> f64 {
        (rate * self.factor).min(self.ceiling).max(rate)
    }

    fn halve(&self, rate: f64) -> f64 {
        (rate / 2.0).max(self.floor).min(rate)
    }

    fn sorted_halvings(&self) -> VecDeque<Duration> {
        let mut halvings = self.halvings.clone();
        halvings.sort();
        halvings.into()
    }
}

/// A [`LimitGrowth`] as it runs: the next second's check, the halvings to come, and what the
/// server admitted since the last check.
#[derive(Debug)]
pub(crate) struct Growing {
    pub(crate) rule: LimitGrowth,
    next_tick: Duration,
    halvings: VecDeque<Duration>,
    admitted: u64,
}

impl Growing {
    pub(crate) fn new(rule: LimitGrowth) -> Growing {
        Growing {
            halvings: rule.sorted_halvings(),
            rule,
            next_tick: Duration::from_secs(1),
            admitted: 0,
        }
    }

    /// Counts one admitted request.
    pub(crate) fn admit(&mut self) {
        self.admitted += 1;
    }

    /// The next change at or before `elapsed` (time since the start), applied to `rate`:
    /// when it comes and the new rate, or `None` if none is due. A second's check that
    /// changes nothing still counts as one (its count starts again).
    pub(crate) fn next(&mut self, elapsed: Duration, rate: f64) -> Option<(Duration, f64)> {
        let halving = self.halvings.front().copied();
        if halving.is_some_and(|at| at < self.next_tick && at <= elapsed) {
            self.halvings.pop_front();
            return halving.map(|at| (at, self.rule.halve(rate)));
        }
        if self.next_tick > elapsed {
            return None;
        }
        let at = self.next_tick;
        self.next_tick += Duration::from_secs(1);
        let used = self.admitted as f64 >= self.rule.threshold * rate;
        self.admitted = 0;
        Some((at, if used { self.rule.rise(rate) } else { rate }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(halvings: &[u64]) -> LimitGrowth {
        LimitGrowth {
            threshold: 0.8,
            factor: 1.25,
            ceiling: 120.0,
            floor: 10.0,
            halvings: halvings
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            burst_seconds: Some(0.1),
        }
    }

    #[test]
    fn the_ideal_client_raises_the_rate_every_second() {
        // 3 at once, then 30, 37.5 and 46.875 a second: 117.375 by 3 s.
        let growth = rule(&[]);
        let at = growth.ideal(117.375, 30.0, 5.0);
        assert!((at - 3.0).abs() < 1e-9, "{at}");
        // Halved at 1.5 s: 37.5 for half a second, then 18.75, rising to 23.4375 at 2 s.
        let growth = rule(&[1_500]);
        let at = growth.ideal(3.0 + 30.0 + 18.75 + 9.375 + 23.4375, 30.0, 5.0);
        assert!((at - 3.0).abs() < 1e-9, "{at}");
        // Never past the ceiling; a burst that holds them all takes no time.
        let growth = LimitGrowth {
            ceiling: 40.0,
            ..rule(&[])
        };
        let at = growth.ideal(3.0 + 30.0 + 37.5 + 40.0 * 2.0, 30.0, 5.0);
        assert!((at - 4.0).abs() < 1e-9, "{at}");
        assert_eq!(growth.ideal(3.0, 30.0, 5.0), 0.0);
    }

    #[test]
    fn the_rate_rises_only_after_a_second_of_use_and_halves_on_time() {
        let mut growing = Growing::new(rule(&[2_500]));
        let secs = Duration::from_secs_f64;
        assert_eq!(growing.next(secs(0.9), 30.0), None);
        for _ in 0..24 {
            growing.admit();
        }
        // 24 of 30 is 80 %: it rises.
        assert_eq!(growing.next(secs(1.0), 30.0), Some((secs(1.0), 37.5)));
        assert_eq!(growing.next(secs(1.0), 37.5), None);
        for _ in 0..29 {
            growing.admit();
        }
        // 29 of 37.5 is not: the check counts, the rate stays. Then the halving at 2.5 s,
        // nothing admitted by the check at 3 s, and the floor.
        assert_eq!(growing.next(secs(3.2), 37.5), Some((secs(2.0), 37.5)));
        assert_eq!(growing.next(secs(3.2), 37.5), Some((secs(2.5), 18.75)));
        assert_eq!(growing.next(secs(3.2), 18.75), Some((secs(3.0), 18.75)));
        assert_eq!(growing.next(secs(3.2), 18.75), None);
        assert_eq!(rule(&[]).halve(12.0), 10.0);
        assert_eq!(rule(&[]).capacity(12.0, 5.0), 1.0);
        assert_eq!(rule(&[]).capacity(46.875, 5.0), 5.0);
    }

    /// The server's limiter under the rule: a second of use raises the rate and the bucket,
    /// a halving shrinks both, a second below the threshold holds them.
    #[tokio::test(start_paused = true)]
    async fn the_limiter_follows_the_rule() {
        use super::super::limiter::Limiter;
        let mut limiter = Limiter::new(Some(30.0), 5, None, None);
        limiter.grow(rule(&[1_500]));
        let level = limiter.check(0).requests.unwrap();
        assert_eq!((level.rate, level.limit, level.remaining), (30.0, 3.0, 2.0));
        // Every request the bucket holds, every 10 ms, for the rest of the first second.
        for _ in 0..99 {
            tokio::time::advance(Duration::from_millis(10)).await;
            while limiter.check(0).refused.is_none() {}
        }
        tokio::time::advance(Duration::from_millis(10)).await;
        let level = limiter.check(0).requests.unwrap();
        assert_eq!((level.rate, level.limit), (37.5, 4.0));
        tokio::time::advance(Duration::from_millis(500)).await;
        let level = limiter.check(0).requests.unwrap();
        assert_eq!((level.rate, level.limit), (18.75, 2.0));
        // Two requests in the second to 2 s are not 80 % of 18.75: the rate stays.
        tokio::time::advance(Duration::from_millis(600)).await;
        let level = limiter.check(0).requests.unwrap();
        assert_eq!((level.rate, level.limit), (18.75, 2.0));
    }
}
