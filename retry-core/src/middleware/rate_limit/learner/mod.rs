//! The learner: from what responses say to the pace requests go at.
//!
//! Two sources, one pace:
//! - [`aimd`]: the header-blind pace, learnt from 429s and successes alone. It works on any
//!   server, and is the floor: whatever the headers say, the learner does no worse than this.
//! - [`evidence`]: the rate-limit headers, each reading a hypothesis that is used only while
//!   what happens agrees with it. A trusted bucket reading sets the pace outright (and follows
//!   the limit as it moves, both ways, at once); the burst licence lets requests go back to
//!   back when the server reports room for them.
//!
//! # Why this is hand-written
//! governor's quotas are fixed when the limiter is built: a new rate means a new limiter and
//! the loss of its state, and there is no notion of a cooldown or of a rate that moves with
//! every response. The pace here changes on almost every response, so it is a few numbers
//! under the host's lock, read by the schedule.

mod aimd;
mod evidence;
mod window;

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::schedule::Admission;
use crate::middleware::hints::RateLimitHeaders;

pub(crate) use aimd::INITIAL_RATE;
use aimd::{Aimd, clamp};
use evidence::Evidence;
pub(crate) use evidence::one_back;
use window::WindowSign;

/// What a response said, as far as the pace is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server took the request (any status but 429, or a transport error).
    Taken,
    /// 429.
    RateLimited,
}

/// How many intervals of the pace everyone waits after a 429 without a usable hint.
const PAUSE_INTERVALS: f64 = 1.5;
/// The longest pause after a 429 without a usable hint (seconds).
const MAX_PAUSE: f64 = 1.0;
/// How many recent round trips the spread of round trips is measured over.
const RTT_WINDOW: usize = 16;

/// The learned pace of one host.
/// Clone and serde: a fleet keeps one learner in its shared store (`super::fleet`), and each
/// process paces by its copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Learner {
    aimd: Aimd,
    evidence: Evidence,
    epoch: u64,
    /// Recent round trips (seconds), for how much they vary.
    rtts: VecDeque<f64>,
    /// 429s at the current pace since the server last took a request. The first cuts the
    /// pace; the ones after it, with nothing taken in between, say the server refuses
    /// everything for now (a fixed window spent until it ends, an outage), not that the pace
    /// is twice too fast again: they double the pause instead, and cut only once the pause is
    /// the longest. (Halving per 429 took a pace of 60 down to 4 within one empty window of a
    /// 50-a-second fixed-window server.)
    #[serde(default)]
    refusals: u32,
    /// Whether the server's resets show a fixed window, and when it ends (see [`window`]).
    #[serde(default)]
    window: WindowSign,
}

impl Learner {
    /// A learner starting at `initial_rate`.
    ///
    /// A fleet has one (in its shared store: `super::fleet`), which reads every process's
    /// answers, each dated by its place among the fleet's admissions: what `remaining` counts
    /// is then what it predicts, and its readings are checked as a lone client's are. (Each
    /// process learning on its own, with predictions that other processes' requests could not
    /// fail, trusted a misread `limit` at once: 0.07-0.22 429s per request where the lone
    /// client draws 0.03.)
    pub(crate) fn new(initial_rate: f64) -> Self {
        Learner {
            aimd: Aimd::new(initial_rate),
            evidence: Evidence::default(),
            epoch: 0,
            rtts: VecDeque::with_capacity(RTT_WINDOW),
            refusals: 0,
            window: WindowSign::default(),
        }
    }

    /// Requests per second: the trusted bucket reading's, else the header-blind learner's.
    pub(crate) fn rate(&self) -> f64 {
        self.evidence
            .bucket_rate()
            .map_or_else(|| self.aimd.rate(), clamp)
    }

    /// Whether `reset` is known to mean the time until the bucket is full (so an empty bucket
    /// has a request back after `reset / limit`).
    pub(crate) fn reset_means_full(&self) -> bool {
        self.evidence.trusted()
    }

    /// When a spent fixed window ends, if after `now`: nothing goes before it.
    pub(crate) fn window_ends_after(&self, now: Duration) -> Option<Duration> {
        self.window.ends_after(now)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// How many requests may go back to back (1 until the headers report a bucket), when the
    /// headers report one: the burst the schedule may spend, and what `remaining` counts against.
    pub(crate) fn bucket(&self) -> Option<u32> {
        self.evidence
            .reports_bucket()
            .then(|| self.evidence.burst())
    }

    /// How long everyone pauses after a 429 that carried no usable hint.
    /// Long enough for the server's bucket to refill a request or two at the pace, no longer:
    /// a long stall would waste the capacity the learner is trying to find. Doubled for each
    /// further 429 with nothing taken since (see `refusals`), up to [`MAX_PAUSE`].
    pub(crate) fn pause(&self) -> Duration {
        let streak = f64::from(self.refusals.saturating_sub(1).min(16));
        Duration::from_secs_f64((PAUSE_INTERVALS / self.rate() * streak.exp2()).min(MAX_PAUSE))
    }

    /// Learns from one response, which came `now` (time since the host's origin); `waiting`:
    /// requests are queued behind the pace. Returns whether everyone should pause briefly: a
    /// 429 to a request sent at the current pace (which cuts it) or on the burst licence (which
    /// cuts that).
    pub(crate) fn observe(
        &mut self,
        now: Duration,
        sent: &Admission,
        outcome: Outcome,
        limits: &RateLimitHeaders,
        waiting: bool,
    ) -> bool {
        if self.rtts.len() == RTT_WINDOW {
            self.rtts.pop_front();
        }
        self.rtts
            .push_back(now.saturating_sub(sent.at).as_secs_f64());
        let spread = self.rtt_spread();
        let taken = outcome == Outcome::Taken;
        self.evidence.read(sent, limits, !taken, spread);
        if taken {
            self.window.taken();
        } else if self.window.refused(now, limits, spread).is_some() {
            self.evidence.refute();
        }
        if sent.early {
            self.evidence.burst_outcome(taken);
        }
        self.aimd.record(now, taken);
        let current = sent.epoch == self.epoch;
        let trusted = self.evidence.bucket_rate();
        if let Some(rate) = trusted {
            self.aimd.follow(rate, now);
        }
        match outcome {
            // A request the burst licence let go ahead of the pace: the licence was wrong (it is
            // cut above), not the pace. Everyone pauses, so the server's bucket refills a
            // little. (Ending slow start here too was measured worse on the family.)
            Outcome::RateLimited if sent.early => true,
            // In slow start, a 429 to a request sent at an earlier step is news of the current
            // one too: the pace has only climbed since, further over the limit.
            Outcome::RateLimited if current || self.aimd.starting() => {
                // Refused even after the longest pause: the pace is wrong after all.
                let waited_longest = self.pause().as_secs_f64() >= MAX_PAUSE;
                if self.refusals == 0 || waited_longest {
                    if trusted.is_some_and(|rate| sent.rate <= rate * 1.01) {
                        self.evidence.contradicted();
                    }
                    if current {
                        self.aimd.decrease(sent.rate, now);
                    } else {
                        self.aimd.overshot(sent.rate, now);
                    }
                }
                self.refusals = self.refusals.saturating_add(1);
                self.epoch += 1;
                true
            }
            Outcome::RateLimited => false,
            Outcome::Taken => {
                self.refusals = 0;
                let spare = waiting && self.evidence.spare(limits);
                if self
                    .aimd
                    .taken(now, current, waiting, spare, self.rtt_mean())
                {
                    self.epoch += 1;
                }
                false
            }
        }
    }

    fn rtt_mean(&self) -> f64 {
        if self.rtts.is_empty() {
            return 0.0;
        }
        self.rtts.iter().sum::<f64>() / self.rtts.len() as f64
    }

    fn rtt_spread(&self) -> f64 {
        let (lo, hi) = self
            .rtts
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        if lo.is_finite() { hi - lo } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::aimd::admission;
    use super::*;

    /// A server that takes anything up to `limit(t)` req/s, with no burst and no round trip:
    /// the paces sent at, one per response.
    fn run(limit: impl Fn(f64) -> f64, responses: usize) -> Vec<(f64, f64)> {
        let mut learner = Learner::new(INITIAL_RATE);
        let none = RateLimitHeaders::default();
        let mut now = Duration::ZERO;
        let mut paces = Vec::new();
        for _ in 0..responses {
            let at = admission(learner.epoch(), learner.rate());
            now += Duration::from_secs_f64(1.0 / at.rate);
            let t = now.as_secs_f64();
            let outcome = if at.rate > limit(t) {
                Outcome::RateLimited
            } else {
                Outcome::Taken
            };
            learner.observe(now, &Admission { at: now, ..at }, outcome, &none, true);
            paces.push((t, at.rate));
        }
        paces
    }

    fn mean_after(paces: &[(f64, f64)], from: f64, to: f64) -> f64 {
        let window: Vec<f64> = paces
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, r)| *r)
            .collect();
        window.iter().sum::<f64>() / window.len() as f64
    }

    #[test]
    fn settles_near_the_server_rate() {
        for limit in [0.5, 3.0, 37.0, 400.0] {
            let paces = run(|_| limit, 3_000);
            let end = paces.last().unwrap().0;
            let rate = mean_after(&paces, end * 2.0 / 3.0, end + 1.0);
            assert!(
                rate > limit * 0.85 && rate <= limit * 1.05,
                "{limit}: {rate}"
            );
        }
    }

    #[test]
    fn follows_a_limit_that_steps_up_within_seconds() {
        // 20/s until 10 s, then 80/s: by 13 s the pace is past 60.
        let paces = run(|t| if t < 10.0 { 20.0 } else { 80.0 }, 2_000);
        let late = mean_after(&paces, 13.0, 15.0);
        assert!(late > 60.0, "{late}");
        // And down again within a second: 80 -> 20 is the first cut's measure.
        let paces = run(|t| if t < 10.0 { 80.0 } else { 20.0 }, 2_000);
        let after = mean_after(&paces, 11.0, 13.0);
        assert!(after < 22.0 && after > 14.0, "{after}");
    }

    #[test]
    fn a_429_to_a_request_sent_on_the_burst_licence_cuts_the_licence_not_the_pace() {
        let mut learner = Learner::new(INITIAL_RATE);
        let limits = RateLimitHeaders {
            limit: Some(50),
            remaining: Some(49),
            ..RateLimitHeaders::default()
        };
        let now = Duration::ZERO;
        let paced = admission(learner.epoch(), learner.rate());
        learner.observe(now, &paced, Outcome::Taken, &limits, true);
        assert_eq!(learner.bucket(), Some(evidence::FIRST_LICENCE));
        let early = Admission {
            early: true,
            ..admission(learner.epoch(), learner.rate())
        };
        // It asks for a pause, and the pace stays: the burst was wrong, not the pace.
        assert!(learner.observe(now, &early, Outcome::RateLimited, &limits, true));
        assert_eq!(learner.rate(), INITIAL_RATE);
        // This 429 still said 49 left: `remaining` counts something else; no burst at all.
        assert_eq!(learner.bucket(), None);
    }

    /// Slow start has climbed two steps since a request went; its 429 comes now (a long round
    /// trip, a bucket that absorbed the overshoot for a while). The current pace is further
    /// over: it falls to the step before the one refused, and slow start ends.
    #[test]
    fn a_429_from_an_earlier_slow_start_step_ends_it() {
        let mut learner = Learner::new(INITIAL_RATE);
        let none = RateLimitHeaders::default();
        let now = Duration::ZERO;
        let early = admission(learner.epoch(), learner.rate());
        let mut steps = 0;
        while steps < 2 {
            let at = admission(learner.epoch(), learner.rate());
            steps += usize::from(
                learner.observe(now, &at, Outcome::Taken, &none, true) || {
                    learner.epoch() > at.epoch
                },
            );
        }
        let climbed = learner.rate();
        assert!(climbed > early.rate * 2.0, "{climbed}");
        assert!(learner.observe(now, &early, Outcome::RateLimited, &none, true));
        let after = learner.rate();
        assert!(
            after < early.rate && after >= early.rate / 1.5 - 1e-9,
            "{after}"
        );
        // Slow start is over: successes no longer multiply the pace.
        for _ in 0..20 {
            let at = admission(learner.epoch(), learner.rate());
            learner.observe(now, &at, Outcome::Taken, &none, true);
        }
        assert!(learner.rate() < early.rate, "{}", learner.rate());
    }

    /// A fixed window spent until it ends: every request is refused for a while, whatever the
    /// pace. One cut, then the pause doubles per 429 (the pace stays), and only a 429 after the
    /// longest pause cuts again.
    #[test]
    fn a_run_of_429s_with_nothing_taken_lengthens_the_pause_not_the_cut() {
        let mut learner = Learner::new(60.0);
        let none = RateLimitHeaders::default();
        let now = Duration::ZERO;
        let refuse = |learner: &mut Learner| {
            let at = admission(learner.epoch(), learner.rate());
            assert!(learner.observe(now, &at, Outcome::RateLimited, &none, true));
            (learner.rate(), learner.pause())
        };
        let (cut, first) = refuse(&mut learner);
        assert!(cut < 60.0);
        let (rate, second) = refuse(&mut learner);
        assert_eq!((rate, second), (cut, first * 2));
        let mut pause = second;
        while pause.as_secs_f64() < MAX_PAUSE {
            let (rate, longer) = refuse(&mut learner);
            assert_eq!(rate, cut);
            assert!(longer > pause);
            pause = longer;
        }
        // Refused after the longest pause: the pace was wrong after all.
        let (rate, _) = refuse(&mut learner);
        assert!(rate < cut, "{rate} {cut}");
        // Something taken ends the run: the next 429 cuts and pauses as the first did.
        let at = admission(learner.epoch(), learner.rate());
        learner.observe(now, &at, Outcome::Taken, &none, true);
        let before = learner.rate();
        let (rate, pause) = refuse(&mut learner);
        assert!(rate < before);
        assert_eq!(pause, Duration::from_secs_f64(PAUSE_INTERVALS / rate));
    }

    #[test]
    fn stale_429s_do_not_cut_twice() {
        let mut learner = Learner::new(INITIAL_RATE);
        let none = RateLimitHeaders::default();
        let before = admission(learner.epoch(), learner.rate());
        let now = Duration::ZERO;
        assert!(learner.observe(now, &before, Outcome::RateLimited, &none, true));
        let cut = learner.rate();
        assert!(cut < INITIAL_RATE);
        assert!(!learner.observe(now, &before, Outcome::RateLimited, &none, true));
        assert_eq!(learner.rate(), cut);
    }
}
