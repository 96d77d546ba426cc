//! Learning a host's sustainable pace from what its responses say.
//!
//! # Why this is hand-written
//! governor's quotas are fixed when the limiter is built: a new rate means a new limiter and
//! the loss of its state, and there is no notion of a cooldown or of a rate that moves with
//! every response. The pace here changes on almost every response, so it is a few numbers
//! under the host's lock, read by the FIFO pacer.
//!
//! # With rate-limit headers
//! Together documents `x-ratelimit-*` as a bucket that holds `limit` requests, has
//! `remaining` left, and is full again in `reset` seconds. A bucket that refills
//! `limit - remaining` requests in `reset` seconds refills at `(limit - remaining) / reset`
//! requests per second: that is the pace. `remaining` is rounded down, which can only make
//! that estimate too high (it is exact right after a full bucket lost one request), so the
//! pace is the least of the last [`HEADER_WINDOW`] estimates. `limit` is the burst the pacer
//! may spend ([`Adaptive::bucket`]); the pacer checks it against `remaining`, counting the
//! requests already on their way (see `Schedule::sync`). (`remaining: 0` also holds the host
//! until one request is back, `reset / limit`; see the host.) A 429 in
//! spite of the headers caps the pace as below. The same reading of `x-tokenlimit-*` gives a
//! token pace; without a token reset header the token bucket is taken to refill once a
//! second, as Together measures its limits per second.
//!
//! # Without headers: AIMD that measures how far over it was
//! - Slow start: until the first 429 the pace grows by [`SLOW_START`] after each short run of
//!   successes.
//! - Multiplicative decrease, by a measured factor. After a 429 everyone pauses for 1.5
//!   intervals, so the server's bucket (empty: it just said 429) refills `1.5 x` requests,
//!   where `x = server rate / pace`. Sending at the pace then drains it in `n = 1.5 x / (1 - x)`
//!   successes, so the `n` successes between two 429s measure `x = n / (n + 1.5)`. When the
//!   recent responses mix 429s and successes, the server is saturated and the successes come
//!   exactly at its rate, however long the round trip: that measure caps the estimate too. The
//!   pace falls to [`MARGIN`] of the estimate, by a factor within [[`MAX_CUT`], [`MIN_CUT`]]:
//!   far over the rate it lands near the server's rate in one step; just over it, it eases off
//!   by a few percent, and the server's bucket refills a little before the next probe.
//! - Additive increase: each success adds [`INCREASE`] requests per second to the pace, which
//!   is 3 % a second at any pace (a pace of `r` gets `r` successes a second). So the pace probes
//!   upwards, finds a limit the server raised (Together raises dynamic limits for steady
//!   traffic), and at the server's rate costs about one 429 every second or two. After a deep
//!   cut the pace climbs fast back to [`RECOVER_TO`] of where it was cut from, in case the cut
//!   overshot.
//!
//! Only 429s to requests sent at the current pace (the current epoch) cut it: the answers to
//! requests already in flight when the pace changed say nothing about the new one.
//!
//! Measured against a simulated token bucket of 50 requests/s with a burst of 5 (300 requests
//! from 64 tasks, `tests/middleware_convergence.rs`): 97-98 % of the server's rate with about
//! 2 % of requests answered 429 without headers, none with them.

use std::collections::VecDeque;
use std::time::Duration;

use super::super::hints::RateLimitHeaders;
use super::pacer::Admission;

/// The pace before anything is known: requests per second.
pub(crate) const INITIAL_RATE: f64 = 20.0;
/// The slowest pace the learner will fall to: one request every 20 s.
const MIN_RATE: f64 = 0.05;
/// The fastest pace it will climb to.
const MAX_RATE: f64 = 100_000.0;
/// The deepest cut one 429 makes.
pub(crate) const MAX_CUT: f64 = 0.5;
/// The gentlest cut one 429 makes.
pub(crate) const MIN_CUT: f64 = 0.95;
/// Requests per second added to the pace per success.
pub(crate) const INCREASE: f64 = 0.03;
/// The share of its estimate of the server's rate the pace falls to after a 429.
const MARGIN: f64 = 0.97;
/// The growth of the pace per run of successes, until the first 429.
const SLOW_START: f64 = 1.5;
/// After a deep cut the pace climbs fast back to this share of the pace it was cut from...
const RECOVER_TO: f64 = 0.9;
/// ...closing this share of the gap with each success.
const RECOVERY: f64 = 0.1;
/// How many intervals of the new pace everyone waits after a 429 without a usable hint.
const PAUSE_INTERVALS: f64 = 1.5;
/// How many recent header estimates the headers' pace is the least of.
const HEADER_WINDOW: usize = 16;
/// How many recent responses the delivered rate is measured over.
const WINDOW: usize = 64;

/// What a response said, as far as the pace is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server took the request (any status but 429, or a transport error).
    Taken,
    /// 429.
    RateLimited,
}

/// The learned pace of one host.
#[derive(Debug)]
pub(crate) struct Adaptive {
    rate: f64,
    slow_start: bool,
    epoch: u64,
    /// Successes to requests sent in the current epoch.
    run: u32,
    /// The pace the last cut was made from.
    cut_from: f64,
    /// The pace the rate-limit headers imply, when they are sent.
    from_headers: Option<f64>,
    /// The latest estimates it is the least of.
    header_estimates: VecDeque<f64>,
    /// The size of the server's request bucket, from `x-ratelimit-limit`.
    bucket: Option<u32>,
    /// The token pace (tokens per second) and bucket size the headers imply.
    tokens: Option<(f64, f64)>,
    /// The latest responses: when they came, whether they were taken.
    recent: VecDeque<(Duration, bool)>,
}

impl Adaptive {
    pub(crate) fn new(initial_rate: f64) -> Self {
        Adaptive {
            rate: clamp(initial_rate),
            slow_start: true,
            epoch: 0,
            run: 0,
            cut_from: 0.0,
            from_headers: None,
            header_estimates: VecDeque::with_capacity(HEADER_WINDOW),
            bucket: None,
            tokens: None,
            recent: VecDeque::with_capacity(WINDOW),
        }
    }

    /// Requests per second: the headers' pace when they give one, capped by what 429s taught.
    pub(crate) fn rate(&self) -> f64 {
        match self.from_headers {
            Some(headers) if self.slow_start => clamp(headers),
            Some(headers) => clamp(headers.min(self.rate)),
            None => self.rate,
        }
    }

    /// Whether the pace comes from the server's rate-limit headers (what a fleet shares).
    pub(crate) fn learned_from_headers(&self) -> bool {
        self.from_headers.is_some()
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// How many requests the server's bucket holds, if the headers said (with a pace): the
    /// burst the pacer may spend when the server reports it full.
    pub(crate) fn bucket(&self) -> Option<u32> {
        self.bucket
    }

    /// The learned token pace and bucket size, if the headers gave one.
    pub(crate) fn tokens(&self) -> Option<(f64, f64)> {
        self.tokens
    }

    /// How long everyone pauses after a 429 that carried no usable hint: long enough for the
    /// server's bucket to refill a request or two at the new pace, no longer (a long stall would
    /// waste the capacity the learner is trying to find).
    pub(crate) fn pause(&self) -> Duration {
        Duration::from_secs_f64((PAUSE_INTERVALS / self.rate()).min(1.0))
    }

    /// Learns from one response, which came `now` (time since the host's origin). Returns
    /// whether it cut the pace (a 429 to a request sent at the current pace).
    pub(crate) fn observe(
        &mut self,
        now: Duration,
        sent: &Admission,
        outcome: Outcome,
        limits: &RateLimitHeaders,
    ) -> bool {
        self.read_headers(limits);
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back((now, outcome == Outcome::Taken));
        let current = sent.epoch == self.epoch;
        match outcome {
            Outcome::RateLimited if current => {
                self.decrease(sent.rate);
                return true;
            }
            Outcome::RateLimited => {}
            Outcome::Taken if self.slow_start => {
                if current {
                    self.run += 1;
                    if self.run >= self.run_length() {
                        self.rate = clamp(self.rate * SLOW_START);
                        self.next_epoch();
                    }
                }
            }
            Outcome::Taken => {
                self.run += u32::from(current);
                // Far below where the last cut came from, close the gap fast: the cut may
                // have overshot (a deep cut on little evidence, a long round trip).
                let gap = (self.cut_from * RECOVER_TO - self.rate).max(0.0);
                self.rate = clamp(self.rate + INCREASE.max(gap * RECOVERY));
            }
        }
        false
    }

    fn read_headers(&mut self, limits: &RateLimitHeaders) {
        if let (Some(limit), Some(remaining), Some(reset)) =
            (limits.limit, limits.remaining, limits.reset)
            && remaining < limit
            && !reset.is_zero()
        {
            // `remaining` is a whole count of a bucket holding somewhere in
            // [remaining, remaining + 1): the estimate is exact when the bucket held a whole
            // number (as it does right after a full bucket lost one request) and too high
            // otherwise, never too low. So the pace is the least of the recent estimates.
            let estimate = (limit - remaining) as f64 / reset.as_secs_f64();
            if self.header_estimates.len() == HEADER_WINDOW {
                self.header_estimates.pop_front();
            }
            self.header_estimates.push_back(estimate);
            self.from_headers = self.header_estimates.iter().copied().reduce(f64::min);
            self.bucket = Some(u32::try_from(limit).unwrap_or(u32::MAX).max(1));
        }
        if let Some(limit) = limits.token_limit {
            let capacity = limit as f64;
            let rate = match (limits.token_remaining, limits.token_reset) {
                (Some(left), Some(reset)) if left < limit && !reset.is_zero() => {
                    (limit - left) as f64 / reset.as_secs_f64()
                }
                _ => capacity,
            };
            self.tokens = Some((rate.max(1.0), capacity.max(1.0)));
        }
    }

    /// Successes at one pace before slow start doubles it.
    fn run_length(&self) -> u32 {
        ((self.rate * 0.05) as u32).clamp(2, 64)
    }

    fn decrease(&mut self, sent_at: f64) {
        let sent_at = if sent_at.is_finite() {
            sent_at
        } else {
            self.rate()
        };
        self.slow_start = false;
        self.cut_from = sent_at;
        let n = f64::from(self.run);
        let mut target = sent_at * n / (n + PAUSE_INTERVALS);
        if let Some(delivered) = self.delivered() {
            target = target.min(delivered);
        }
        // A little under the estimate, so the server's bucket refills a few requests before
        // the additive increase brings the pace back up: a buffer that is not full wastes no
        // capacity, and it spaces the 429s out.
        target *= MARGIN;
        self.rate = clamp(target.clamp(sent_at * MAX_CUT, sent_at * MIN_CUT));
        self.next_epoch();
    }

    /// The rate the server took requests at since the first 429 of the recent window, if
    /// there were other 429s since: while a server is saturated, successes come exactly as fast
    /// as it allows, however long the round trip. `None` when the window says nothing about
    /// the limit.
    fn delivered(&self) -> Option<f64> {
        let first = self.recent.iter().position(|(_, taken)| !taken)?;
        let saturated = self.recent.range(first..);
        let rejected = saturated.clone().filter(|(_, taken)| !taken).count();
        let taken = saturated.len() - rejected;
        let (start, _) = self.recent[first];
        let (end, _) = *self.recent.back()?;
        let span = end.checked_sub(start)?.as_secs_f64();
        (rejected >= 2 && taken >= 4 && span > 0.0).then(|| taken as f64 / span)
    }

    fn next_epoch(&mut self) {
        self.epoch += 1;
        self.run = 0;
    }
}

fn clamp(rate: f64) -> f64 {
    if rate.is_nan() {
        return INITIAL_RATE;
    }
    rate.clamp(MIN_RATE, MAX_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(learner: &Adaptive) -> Admission {
        Admission {
            epoch: learner.epoch(),
            rate: learner.rate(),
            seq: 0,
            at: Duration::ZERO,
        }
    }

    /// A server that takes anything up to `limit` req/s, with no burst and no round trip:
    /// the average pace over the last third of `responses`.
    fn settle(limit: f64, responses: usize) -> f64 {
        let mut learner = Adaptive::new(INITIAL_RATE);
        let none = RateLimitHeaders::default();
        let mut now = Duration::ZERO;
        let mut late = Vec::new();
        for i in 0..responses {
            let at = sent(&learner);
            now += Duration::from_secs_f64(1.0 / at.rate);
            let outcome = if at.rate > limit {
                Outcome::RateLimited
            } else {
                Outcome::Taken
            };
            learner.observe(now, &at, outcome, &none);
            if i >= responses * 2 / 3 {
                late.push(at.rate);
            }
        }
        late.iter().sum::<f64>() / late.len() as f64
    }

    #[test]
    fn settles_near_the_server_rate() {
        for limit in [0.5, 3.0, 37.0, 400.0] {
            let rate = settle(limit, 3_000);
            assert!(
                rate > limit * 0.85 && rate <= limit * 1.05,
                "{limit}: {rate}"
            );
        }
    }

    #[test]
    fn headers_give_the_pace() {
        let mut learner = Adaptive::new(INITIAL_RATE);
        let limits = RateLimitHeaders {
            limit: Some(5),
            remaining: Some(3),
            reset: Some(Duration::from_millis(40)),
            ..RateLimitHeaders::default()
        };
        learner.observe(Duration::ZERO, &sent(&learner), Outcome::Taken, &limits);
        assert!((learner.rate() - 50.0).abs() < 1e-9);
        // A rounded-down `remaining` overestimates; the least estimate wins.
        let limits = RateLimitHeaders {
            remaining: Some(0),
            reset: Some(Duration::from_millis(90)),
            ..limits
        };
        learner.observe(Duration::ZERO, &sent(&learner), Outcome::Taken, &limits);
        assert!((learner.rate() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn stale_429s_do_not_cut_twice() {
        let mut learner = Adaptive::new(INITIAL_RATE);
        let none = RateLimitHeaders::default();
        let before = sent(&learner);
        assert!(learner.observe(Duration::ZERO, &before, Outcome::RateLimited, &none));
        let cut = learner.rate();
        assert!(cut < INITIAL_RATE);
        assert!(!learner.observe(Duration::ZERO, &before, Outcome::RateLimited, &none));
        assert_eq!(learner.rate(), cut);
    }
}
