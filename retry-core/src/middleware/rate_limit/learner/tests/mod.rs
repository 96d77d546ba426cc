//! The learner as a whole, one topic a file: the pace against model servers (`pace`), 429s
//! (`refusals`), 503s (`overload`), the headers' counts (`readings`). Here: the model
//! servers they share.

use super::aimd::admission;
use super::pause::{MAX_PAUSE, PAUSE_INTERVALS};
use super::*;
use crate::middleware::rate_limit::schedule::Admission;

mod overload;
mod pace;
mod readings;
mod refusals;

/// A server that takes anything up to `limit(t)` req/s, with no burst and no round trip:
/// the paces sent at, one per response.
fn run(limit: impl Fn(f64) -> f64, responses: usize) -> Vec<(f64, f64)> {
    run_refusing(limit, responses, Outcome::RateLimited, usize::MAX)
}

/// As [`run`], refusing with `refusal` (a 429, or a 503 as nginx's `limit_req` does), and
/// failing every `fault_every`-th answer with a 503 whatever the pace (a fault).
fn run_refusing(
    limit: impl Fn(f64) -> f64,
    responses: usize,
    refusal: Outcome,
    fault_every: usize,
) -> Vec<(f64, f64)> {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let mut now = Duration::ZERO;
    let mut paces = Vec::new();
    for i in 1..=responses {
        let at = admission(learner.epoch(), learner.rate());
        now += Duration::from_secs_f64(1.0 / at.rate);
        let t = now.as_secs_f64();
        let outcome = if at.rate > limit(t) {
            refusal
        } else if i % fault_every == 0 {
            Outcome::Overloaded
        } else {
            Outcome::Taken
        };
        learner.observe(now, &Admission { at: now, ..at }, outcome, &none, true);
        paces.push((t, at.rate));
    }
    paces
}

/// As [`run`], on an LLM API: a success comes back `taken_after` seconds after it went (the
/// generation), a 429 `refused_after`; the server counts a request when it goes.
fn run_slow_answers(
    limit: impl Fn(f64) -> f64,
    responses: usize,
    taken_after: f64,
    refused_after: f64,
) -> Vec<(f64, f64)> {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let mut now = 0.0;
    let mut paces = Vec::new();
    // (when it comes back, the request, its outcome), in the order they went.
    let mut pending: Vec<(f64, Admission, Outcome)> = Vec::new();
    for _ in 0..responses {
        now += 1.0 / learner.rate();
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        let due = pending.iter().take_while(|(at, ..)| *at <= now).count();
        for (at, sent, outcome) in pending.drain(..due) {
            let at = Duration::from_secs_f64(at);
            learner.observe(at, &sent, outcome, &none, true);
        }
        let sent = Admission {
            at: Duration::from_secs_f64(now),
            ..admission(learner.epoch(), learner.rate())
        };
        let (outcome, after) = if sent.rate > limit(now) {
            (Outcome::RateLimited, refused_after)
        } else {
            (Outcome::Taken, taken_after)
        };
        pending.push((now + after, sent, outcome));
        paces.push((now, sent.rate));
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

/// A server whose every answer reads a full bucket of 1 000 refilled at 1 000 a second (one
/// used, full in a millisecond: an exact reading), answering as the test says.
struct FullBucket {
    learner: Learner,
    seq: u64,
    now: Duration,
}

impl FullBucket {
    fn new() -> Self {
        let learner = Learner::new(INITIAL_RATE);
        FullBucket {
            learner,
            seq: 0,
            now: Duration::ZERO,
        }
    }

    /// `count` answers `gap_ms` apart with `outcome`; requests wait for the pace (demand is
    /// over it) unless they come 50 ms apart (demand of 20 a second).
    fn answer(&mut self, count: usize, gap_ms: u64, outcome: Outcome) {
        self.send(count, gap_ms, outcome, false);
    }

    /// As [`Self::answer`], to requests sent on the burst licence if `early`.
    fn send(&mut self, count: usize, gap_ms: u64, outcome: Outcome, early: bool) {
        for _ in 0..count {
            self.one(gap_ms, outcome, early, &reading(1_000, 999, 1));
        }
    }

    /// One 429 `gap_ms` after the last answer, with no headers (as a server that serves so
    /// many at once refuses one more).
    fn refuse_bare(&mut self, gap_ms: u64) {
        self.one(
            gap_ms,
            Outcome::RateLimited,
            false,
            &RateLimitHeaders::default(),
        );
    }

    fn one(&mut self, gap_ms: u64, outcome: Outcome, early: bool, limits: &RateLimitHeaders) {
        self.now += Duration::from_millis(gap_ms);
        let at = Admission {
            seq: self.seq,
            at: self.now,
            early,
            ..admission(self.learner.epoch(), self.learner.rate())
        };
        self.seq += 1;
        let waiting = gap_ms < 50;
        (self.learner).observe(self.now, &at, outcome, limits, waiting);
    }
}
