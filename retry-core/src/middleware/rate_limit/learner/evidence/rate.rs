//! The rate reading: `limit` is the server's rate, requests per second, whatever its bucket
//! holds (as on servers that send `x-ratelimit-limit: 50` for 50 a second out of a bucket of
//! 5, and on dynamic limits that report the rate they have grown or fallen to).
//!
//! The bucket reading cannot hold on such a server: `(limit - remaining) / reset` is a pace
//! tens of times too fast, and its first predictions refute it. What is left of the headers
//! then is `remaining`, whose refill the learner measures (see `super::super::refill`), but a
//! small bucket (one or two requests, a dynamic limit's at a low rate) reads the same count
//! after every take at any pace under its refill, and measures nothing: the pace was the blind
//! learner's, at 0.6-0.8 of a limit the headers named all along, and a limit that grows only
//! with use did not grow (`grow-rate-full`, on our simulator).
//!
//! So `limit` read as a rate is one more hypothesis:
//!
//! - **Predictions**, both ways: between two answers it predicts what `remaining` will read
//!   (what was left, plus `limit` a second of refill, less the requests sent since), over
//!   spans in which the bucket cannot have filled. A reading far above the prediction says
//!   the refill is faster than `limit`; far below, slower (a budget per minute under
//!   Together's names). Either refutes it for good. A prediction that came true is a check
//!   only when it foresaw more refill than its tolerance, which a count that does not refill
//!   steadily (a window, a log in its first length) would have failed.
//! - **429s**: one to a request sent over the rate, by up to [`OVER`] times, is a check that
//!   came true; one well under it ([`UNDER`]) is a strike, and the third refutes it; one at
//!   about the rate slows it by [`SLOWER`] (the round trips' jitter, a rate rounded up).
//! - **Trusted** after [`CHECKS_TO_TRUST`] checks, it is a floor under the blind pace, never
//!   the pace itself, and the pace falls with it when it falls (see `Learner::rate_floor`).
//!
//! Answers come back out of order, so the rate in force is the one the answer to the latest
//! request sent gives.

use serde::{Deserialize, Serialize};

use super::{CHECKS_TO_TRUST, CONTRADICTIONS_TO_REFUTE, Evidence, JITTER_MARGIN, Reading};
use crate::middleware::rate_limit::schedule::Admission;

/// A 429 to a request sent under this share of the rate reading's pace refutes it (at the
/// third): the server named a rate it does not keep.
const UNDER: f64 = 0.9;
/// Each 429 to a request sent at about the rate reading's pace slows it by this share...
const SLOWER: f64 = 0.05;
/// ...and each success speeds it up by this much of the rate, back to the whole of it.
/// A bucket of one cannot take a request that reaches it early, and the round trips' jitter
/// sends some early at any pace near the rate: at 0.92 of a limit of 10 a second with 20 ms
/// of jitter, one request in five was refused, on our simulator; the blind learner, at 0.82,
/// drew none. So the slack grows fast and shrinks slowly: a 429 in five hundred requests at
/// most where the rate itself draws them. (One in a hundred at 0.0005: three 429s in 17 s
/// at a rate of 50 with no jitter.)
const FASTER: f64 = 0.0001;
/// The rate reading is refuted once it is slowed by more than this: the rate it names is not
/// the one the server keeps.
const MAX_SLACK: f64 = 0.3;
/// A count that reads under this at its most lately is a bucket of three or less.
const SMALL_BUCKET: u64 = 3;
/// A 429 to a request sent over the rate reading's pace, by up to this factor, is a check
/// that came true: the limit is where the reading said.
const OVER: f64 = 2.0;

/// What the rate reading has shown: its checks, the 429s that contradicted it, whether it
/// is refuted, and the rate in force.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct RateReading {
    last: Option<Reading>,
    checks: u32,
    refuted: bool,
    /// 429s to requests sent well under the rate (see [`UNDER`]).
    strikes: u32,
    /// How much slower than the rate the pace is kept (see [`SLOWER`]).
    slack: f64,
    /// The rate, as the answer to the latest request sent says it (see [`Self::read`]), and
    /// that request's place in line.
    latest: Option<(u64, u64)>,
    /// The rate has fallen since it was last asked (see [`Evidence::rate_fell`]).
    fell: bool,
}

impl RateReading {
    /// Checks the answer to `sent` against the rate `limit`: its outcome (`refused`: a 429),
    /// and its reading of `remaining`, if any; `peak`: the most `remaining` has read lately
    /// (the bucket holds one more, at least); `spread`: how much round trips vary (seconds).
    pub(super) fn read(
        &mut self,
        sent: &Admission,
        refused: bool,
        remaining: Option<u64>,
        limit: u64,
        peak: u64,
        spread: f64,
    ) {
        // The rate in force is the one the answer to the latest request sent gives: answers
        // come back out of order (an LLM's success after its generation, a 429 at once), and
        // the one that came last may be seconds old. (Read from whichever came last, a dynamic
        // limit halved three times in two seconds swung the pace between 10 and 24 a second
        // with every answer, on our simulator.)
        if self.latest.is_none_or(|(seq, _)| seq <= sent.seq) {
            self.fell |= self.latest.is_some_and(|(_, before)| limit < before);
            self.latest = Some((sent.seq, limit));
        }
        if self.refuted || limit == 0 {
            return;
        }
        let rate = limit as f64;
        if refused {
            if !sent.early && sent.rate.is_finite() {
                if sent.rate < UNDER * rate * (1.0 - self.slack) {
                    // Before the reading is trusted, one is enough: whatever the rate, this
                    // client does not have it (processes sharing it: four on a limit of 50,
                    // each held up to 50 by the reading until three 429s under it, drew 0.078
                    // 429s per request at worst, not 0.053, on our simulator).
                    self.strikes += 1;
                    self.refuted |= !self.trusted() || self.strikes >= CONTRADICTIONS_TO_REFUTE;
                } else if sent.rate <= rate {
                    self.slack = 1.0 - (1.0 - self.slack) * (1.0 - SLOWER);
                    self.refuted |= self.slack > MAX_SLACK;
                } else if sent.rate <= OVER * rate {
                    self.checks += 1;
                }
            }
            return;
        }
        self.slack = (self.slack - FASTER).max(0.0);
        let Some(remaining) = remaining else {
            return;
        };
        let Some(last) = Reading::replace(&mut self.last, sent, remaining) else {
            return;
        };
        let elapsed = sent.at.saturating_sub(last.at).as_secs_f64();
        let refill = rate * elapsed;
        // The bucket may have filled in between: what it would have refilled beyond is lost,
        // and the reading says nothing of the rate. (`remaining` reads one under what the
        // bucket held, and is rounded down.)
        if last.remaining as f64 + refill >= peak as f64 {
            return;
        }
        let sent_since = (sent.seq - last.seq) as f64;
        let predicted = last.remaining as f64 + refill - sent_since;
        // Rounding (one each way) and the requests that overtook one another on the way, at
        // the pace they were really sent at.
        let sent_rate = if sent.rate.is_finite() {
            sent.rate.min(rate)
        } else {
            0.0
        };
        let tolerance = 2.0 + 0.1 * peak as f64 + sent_rate * spread;
        // A check that came true counts only if the refill it predicted is more than the
        // tolerance: a count that never refills (a fixed window within its length, a log
        // within its first) would have failed it. (Counted from one request's worth, three
        // readings 20 ms apart trusted a log of 50 a second as a steady 50 a second, which
        // then paced past the log's own reading: 0.934 -> 0.908 of the ideal, on our
        // simulator.)
        if (remaining as f64 - predicted).abs() > tolerance {
            self.refuted = true;
        } else if refill > tolerance {
            self.checks += 1;
        }
    }

    /// Refutes the reading for good.
    pub(super) fn refute(&mut self) {
        self.refuted = true;
    }

    /// Whether the reading is trusted.
    fn trusted(&self) -> bool {
        !self.refuted && self.checks >= CHECKS_TO_TRUST
    }
}

impl Evidence {
    /// Whether the rate the headers name has fallen since this was last asked.
    pub(crate) fn rate_fell(&mut self) -> bool {
        std::mem::take(&mut self.rate.fell)
    }

    /// Whether the bucket holds three requests or less, as far as `remaining` has read lately:
    /// too few for the refill measured from it to be more than the client's own pace (see
    /// `Learner::observe`).
    pub(crate) fn small_bucket(&self) -> bool {
        self.recent_peak().is_some_and(|peak| peak < SMALL_BUCKET)
    }

    /// The rate reading's pace (requests per second), while it is trusted: the latest
    /// `limit` a second, less its slack (see [`SLOWER`]), and slowed for the round trip's
    /// jitter where the bucket (one more than the most `remaining` has read lately) has no
    /// room for it, as the bucket reading's is.
    pub(crate) fn rate_reading(&self) -> Option<f64> {
        if !self.rate.trusted() || self.remaining_lies || self.per_minute || self.tokens_bind {
            return None;
        }
        let rate = self
            .rate
            .latest
            .map(|(_, limit)| limit)
            .filter(|&limit| limit > 0)? as f64;
        let peak = self.recent_peak().unwrap_or(0);
        let room = peak as f64 / rate;
        let margin = (self.rtt_spread - room).clamp(0.0, JITTER_MARGIN / rate);
        Some(1.0 / (1.0 / (rate * (1.0 - self.rate.slack)) + margin))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::super::reading;
    use super::*;

    fn sent(seq: u64, ms: u64, rate: f64) -> Admission {
        Admission {
            epoch: 0,
            rate,
            seq,
            at: Duration::from_millis(ms),
            early: false,
            in_flight: 1,
        }
    }

    /// A bucket of one refilling 10 a second, whose `limit` is that rate: `remaining` reads 0
    /// after every take and predicts nothing, but three 429s to a pace of 12 bear it out.
    #[test]
    fn a_rate_is_trusted_once_429s_over_it_bear_it_out() {
        let mut evidence = Evidence::default();
        for seq in 0..20 {
            evidence.read(&sent(seq, seq * 120, 8.0), &reading(10, 0, 100), false, 0.0);
        }
        assert_eq!(evidence.rate_reading(), None, "no check yet");
        for seq in 20..23 {
            evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
        }
        assert_eq!(evidence.rate_reading(), Some(10.0));
    }

    /// A budget of 3000 a minute under Together's names, read as 3000 a second: three 429s
    /// to a pace of 60 refute it.
    #[test]
    fn refusals_well_under_the_rate_refute_it() {
        let mut rate = RateReading::default();
        for seq in 0..3 {
            rate.read(&sent(seq, seq * 20, 60.0), true, None, 3000, 2999, 0.0);
        }
        assert!(rate.refuted);
    }

    /// Trusted, a 429 at about the rate (the round trips' jitter on a bucket of one) slows it
    /// by 5 %, and successes give it back slowly; slowed by more than 30 %, it is refuted.
    #[test]
    fn refusals_at_about_the_rate_slow_it() {
        let mut evidence = Evidence::default();
        for seq in 0..3 {
            evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
        }
        evidence.read(&sent(3, 300, 9.8), &reading(10, 0, 0), true, 0.0);
        let slowed = evidence.rate_reading().expect("trusted");
        assert!((slowed - 9.5).abs() < 1e-9, "{slowed}");
        for seq in 4..104 {
            evidence.read(&sent(seq, seq * 110, 9.0), &reading(10, 0, 100), false, 0.0);
        }
        let back = evidence.rate_reading().expect("trusted");
        assert!(back > slowed && back < 10.0, "{back}");
        for seq in 104..111 {
            evidence.read(&sent(seq, seq * 110, 9.0), &reading(10, 0, 0), true, 0.0);
        }
        assert_eq!(evidence.rate_reading(), None, "slowed by more than 30 %");
    }

    /// `limit` is a bucket of 30 read as a rate, where the server refills 50 a second: after
    /// a pause of 300 ms the count reads 15 more, not the 9 a rate of 30 would refill.
    #[test]
    fn a_count_that_refills_faster_than_the_rate_refutes_it() {
        let mut rate = RateReading::default();
        rate.read(&sent(0, 0, 50.0), false, Some(5), 30, 29, 0.0);
        rate.read(&sent(1, 300, 50.0), false, Some(19), 30, 29, 0.0);
        assert!(rate.refuted);
        // The same count refilling at 30 a second bears the rate out.
        let mut rate = RateReading::default();
        rate.read(&sent(0, 0, 50.0), false, Some(5), 30, 29, 0.0);
        rate.read(&sent(1, 300, 50.0), false, Some(13), 30, 29, 0.0);
        assert!(!rate.refuted && rate.checks == 1);
    }

    /// A count that reads one under its peak after a take predicts nothing: the bucket may
    /// have been full, and lost the refill beyond it.
    #[test]
    fn a_count_near_its_peak_predicts_nothing() {
        let mut rate = RateReading::default();
        rate.read(&sent(0, 0, 50.0), false, Some(28), 30, 29, 0.0);
        rate.read(&sent(1, 300, 50.0), false, Some(0), 30, 29, 0.0);
        assert!(!rate.refuted && rate.checks == 0);
    }

    /// Answers come back out of order: the rate in force is the one the latest request's
    /// answer gives, and a fall is told once.
    #[test]
    fn the_rate_in_force_is_the_latest_requests() {
        let mut evidence = Evidence::default();
        for seq in 0..3 {
            evidence.read(&sent(seq, seq * 30, 30.0), &reading(24, 0, 0), true, 0.0);
        }
        assert_eq!(evidence.rate_reading(), Some(24.0));
        evidence.read(&sent(5, 200, 20.0), &reading(12, 0, 0), true, 0.0);
        evidence.read(&sent(4, 150, 20.0), &reading(24, 0, 80), false, 0.0);
        assert!(evidence.rate_reading().is_some_and(|rate| rate < 12.5));
        assert!(evidence.rate_fell());
        assert!(!evidence.rate_fell(), "told once");
    }

    /// A fixed window's resets refute the bucket reading and the rate reading with it.
    #[test]
    fn a_window_refutes_it() {
        let mut evidence = Evidence::default();
        for seq in 0..3 {
            evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
        }
        assert!(evidence.rate_reading().is_some());
        evidence.refute();
        assert_eq!(evidence.rate_reading(), None);
    }
}
