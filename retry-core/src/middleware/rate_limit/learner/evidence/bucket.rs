//! The bucket reading: `limit` requests in a bucket with `remaining` left, full again in
//! `reset` (Together's documented meaning), read as a pace of `(limit - remaining) / reset`,
//! checked by its predictions of `remaining` and by the 429s at its pace (see the parent
//! module's overview).

use std::collections::VecDeque;
use std::time::Duration;

use super::super::keep_last;
use super::{CHECKS_TO_TRUST, CONTRADICTIONS_TO_REFUTE, Evidence, Reading};
use crate::middleware::headers::RateLimitHeaders;
use crate::middleware::rate_limit::schedule::Admission;

/// How many recent pace estimates the bucket reading's pace is the least of: `remaining` is
/// rounded down, which only ever makes an estimate too high (a bucket of 5 at 4.9 reads 4,
/// full in 0.1 of an interval: ten times the rate). A request taken from a full bucket leaves
/// exactly `limit - 1`, so that reading's estimate is exact (to the reset's last digit: 13 ms
/// for 12.5 reads 77 a second for 80), and the older ones go: after a limit rose, they held
/// the pace at the old one for 16 answers (0.8 s at 20 a second, from 20 to 80:
/// `step-50-20-80-bucket` 0.912 -> 0.978 of the ideal on our simulator; four processes
/// sharing one store, the code of a fleet on Redis, 0.919 -> 0.958).
pub(super) const WINDOW: usize = 16;
/// Below this, a reset in whole seconds is too coarse to measure a pace by (rounded up, "1"
/// may be 20 ms); from it, the rounding is within 10 %.
const ROUNDED_RESET: Duration = Duration::from_secs(10);
/// How far a reset in whole seconds may be from the time a refill takes: one second of
/// rounding, one of skew between the server's clock and ours.
const COARSE_RESET: Duration = Duration::from_secs(2);
/// The most the bucket reading's interval grows for the round trip's jitter, as a share of it.
/// Requests sent exactly at a bucket's rate reach it up to the jitter early; a bucket of one
/// (a free tier's) has no room to take an early one, so at exactly its rate every other
/// request drew a 429 and three of them refuted a true reading. The interval grows by the
/// jitter beyond the bucket's room, by 2 % at most: a jitter the bucket cannot absorb at any
/// pace this side of halving it (300 ms round trips on a bucket of 5 at 50 a second) costs
/// 429s rather than half the speed (on our simulator, `rtt-300-bucket`: 0.926 of the ideal,
/// 0.909 at 5 %).
pub(super) const JITTER_MARGIN: f64 = 0.02;
/// The share of its estimate the bucket reading keeps after each contradiction. An estimate a
/// little high (reset rounded to the millisecond: 2 / 0.996 s = 2.008 a second on a bucket of 2
/// at 2 a second) drains the bucket's room slowly and draws a 429 every ~60 requests at the
/// trusted pace; three of them refuted a true reading, and the blind learner's probe cost
/// 0.10 429s per request from there (sim `slow-together`). 1 % lower per 429 ends the drain at
/// the first; a wrong reading still draws its three quickly and is refuted.
pub(super) const CONTRADICTION_DISCOUNT: f64 = 0.99;

/// The share of a per-minute family's documented rate a reading's estimate must reach to be
/// trusted before its reset's end is known (see [`Evidence::end_known`]).
const DOCUMENTED_SHARE: f64 = 0.5;

/// A reading whose count came back this many times faster than its own estimate of the refill
/// refutes the bucket reading.
const FASTER: f64 = 4.0;

/// A per-minute family's documented refill: `limit / 60` a second (Anthropic's buckets
/// refill continuously up to `limit`).
fn documented_rate(limit: u64) -> f64 {
    limit as f64 / 60.0
}

/// A per-minute family's [documented refill](documented_rate), while its reset agrees with
/// it: refilling what was used at that rate takes about as long as the reset says, give or
/// take [`COARSE_RESET`]. (A daily limit would say "full in minutes" for one request used: it
/// fails this, and its long reset measures the real rate instead.) A hypothesis like any
/// other: checked before it is trusted.
fn per_minute_rate(limit: u64, remaining: u64, reset: Duration) -> Option<f64> {
    let rate = documented_rate(limit);
    let refill = limit.saturating_sub(remaining) as f64 / rate;
    ((refill - reset.as_secs_f64()).abs() <= COARSE_RESET.as_secs_f64()).then_some(rate)
}

/// How far apart two resets read from a full bucket may be and still be one bucket's
/// interval, as a share of the shorter (beyond [`RESET_RESOLUTION`]).
const EXACT_SPREAD: f64 = 0.25;
/// The resolution a reset is read to: a millisecond, one each way.
const RESET_RESOLUTION: Duration = Duration::from_millis(2);
/// How close together three readings must be to zigzag: a limit may move twice, as a step
/// down and back up does (50, 20, then 80 a second, 3 s apart: four processes sharing one
/// store read it so across the steps, once in 10 seeds), but not within a second.
const ZIGZAG_WITHIN: Duration = Duration::from_secs(1);

/// Whether `reset`, read from a full bucket on the answer to a request sent at `at`, zigzags
/// with the two read so before (each with when its request went), all within
/// [`ZIGZAG_WITHIN`]: up from one and down from the other (or down, then up), each by more
/// than rounding. A bucket read full has one request's interval to refill, whatever the
/// moment, so its exact readings agree; a limit that moves moves them one way. Readings that
/// swing back and forth are no bucket's: a count that never moves ("5 939 of 5 940", always)
/// beside a reset that is some other bucket's time to full read as paces of 28 to 100 a
/// second, one after another, each taken as exact; followed, they ended slow start at 28 a
/// second, on a server of 99 a second (0.64 of the ideal, 0.89 with the headers hidden:
/// server 137 of `goodput --sweep`, on our simulator; refuted so, 0.83).
fn zigzag(before: &VecDeque<(Duration, Duration)>, at: Duration, reset: Duration) -> bool {
    let (2, Some(&(since, first)), Some(&(_, last))) =
        (before.len(), before.front(), before.back())
    else {
        return false;
    };
    if at.saturating_sub(since) > ZIGZAG_WITHIN {
        return false;
    }
    // -1, 0 or 1: how `b` stands to `a`, beyond rounding.
    let step = |a: Duration, b: Duration| {
        let apart = a.abs_diff(b);
        let beyond =
            apart > RESET_RESOLUTION && apart.as_secs_f64() > EXACT_SPREAD * a.min(b).as_secs_f64();
        match (beyond, b > a) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => -1,
        }
    };
    step(first, last) * step(last, reset) < 0
}

impl Evidence {
    /// Reads the bucket reading's side of the answer to `sent`, whose headers named `limit`
    /// and `remaining` (`refused`: a 429), while it is not refuted: checks its prediction, and
    /// keeps the pace the reset gives.
    pub(super) fn read_bucket(
        &mut self,
        sent: &Admission,
        limits: &RateLimitHeaders,
        limit: u64,
        remaining: u64,
        refused: bool,
    ) {
        let came_back = self
            .bucket_estimate()
            .and_then(|pace| self.check(pace, limit, sent, remaining));
        let Some(reset) = limits.reset else {
            return;
        };
        // A reset rounded to whole seconds says nothing of the pace until it is long (2 used,
        // "full in 0.6 s" may be 2 used in 20 ms): the family's documented rate stands in for
        // it, when the reset does not contradict it. Where no rate is documented (Together's
        // names, the IETF draft's), such a reset gives no estimate at all: rounded up, it
        // only ever makes one too low, and a reading taken from a full bucket, which stands
        // alone, made "1 used, full in 1 s" a pace of 1 a second on a window of 50 a second
        // whose reset reads "1" (on our simulator, `window-whole-seconds`, once in 100 runs:
        // 0.020 of the ideal, trusted because nothing sent at that pace refutes it). A bucket
        // of one is spared: its reset is its interval itself, and rounding it up slows the
        // pace by less than one second a request.
        // (A Unix timestamp in whole seconds is as coarse, though the delay to it is not:
        // a log of the last second's requests naming when its oldest leaves, rounded up,
        // made "9 used, full in 1.4 s" a pace of 6 a second against its 50, trusted because
        // nothing sent that slowly refutes it: 0.44-0.57 of the ideal on a server written
        // apart from this project, 0.84-0.94 with its headers hidden.)
        let rounded = !limits.family.per_minute()
            && limit > 1
            && (reset.subsec_nanos() == 0 || limits.reset_whole_seconds)
            && reset < ROUNDED_RESET;
        let estimate = if rounded {
            None
        } else if limits.family.measures_rate(reset) {
            (remaining < limit && !reset.is_zero())
                .then(|| (limit - remaining) as f64 / reset.as_secs_f64())
        } else {
            per_minute_rate(limit, remaining, reset)
        };
        if let (Some(estimate), Some(came_back)) = (estimate, came_back)
            && came_back > FASTER * estimate
            && !self.per_minute
        {
            // The count came back far faster than this very reading's steady refill: it is
            // given back at once (a fixed window's end, a log's oldest leaving), and each
            // reading of it as a bucket's refill ("1 used, full in 0.9 s": one a second) is
            // wrong. (Taken as exact from a full bucket, a window of 65 a second read after its
            // end made a pace of 1.1 a second, which nothing sent that slowly refutes: 0.03 of
            // the ideal, 0.92 with the headers hidden, on a server of `goodput --sweep`.) Not
            // a per-minute family's budget, whose estimate is its documented rate: on two
            // servers of the sweep under Anthropic's names it was refuted in one seed of
            // three, for 0.107-0.117 429s per request at worst, not 0.047-0.050.
            self.refuted = true;
            return;
        }
        if let Some(estimate) = estimate {
            // Taken from a full bucket: exact (see `WINDOW`). A 429 takes nothing, so its
            // `limit - 1` (on a bucket of one) is a rounded-down fraction like any other.
            // (`remaining <= limit` here, or `Evidence::read` refuted the reading: no overflow, where
            // `remaining + 1` overflowed on a count of `u64::MAX`.)
            if !refused && limit - remaining == 1 {
                // Only where the reset is the estimate (a per-minute family's is its documented
                // rate), and in the order the requests went: an answer overtaken by a later
                // one may have been counted before a limit moved.
                let in_order = self.exact_resets.back().is_none_or(|&(at, _)| sent.at > at);
                if limits.family.measures_rate(reset) && in_order {
                    if zigzag(&self.exact_resets, sent.at, reset) {
                        self.refuted = true;
                        return;
                    }
                    keep_last(&mut self.exact_resets, (sent.at, reset), 2);
                }
                self.estimates.clear();
            }
            keep_last(&mut self.estimates, estimate, WINDOW);
        }
    }

    /// The bucket reading's prediction of this reading, from the last one. Returns the least
    /// the count can have refilled by since (requests per second), beyond the tolerance, if
    /// anything.
    fn check(&mut self, pace: f64, limit: u64, sent: &Admission, remaining: u64) -> Option<f64> {
        let Some(last) = Reading::replace(&mut self.last, sent, remaining) else {
            if self.per_minute {
                self.spans.broken();
            }
            return None;
        };
        let elapsed = sent.at.saturating_sub(last.at).as_secs_f64();
        let refill = pace * elapsed;
        let sent_since = (sent.seq - last.seq) as f64;
        let predicted = (last.remaining as f64 + refill).min(limit as f64) - sent_since;
        // Rounding (one each way), requests sent after this one that overtook it on the way
        // (at the pace they were really sent at, never the hypothesis's own), and a margin for
        // the estimate's own error.
        let sent_rate = if sent.rate.is_finite() {
            sent.rate
        } else {
            0.0
        };
        let overtaking = sent_rate.min(pace) * self.rtt_spread;
        if self.per_minute {
            // What the budget lost beyond this process's requests and the refill: others'.
            let unexplained = predicted - remaining as f64;
            self.spans
                .read(unexplained, elapsed, sent_since, overtaking);
        }
        let tolerance = 2.0 + 0.1 * limit as f64 + overtaking;
        if (remaining as f64) + tolerance < predicted {
            self.refuted = true;
        } else if refill >= 1.0 {
            self.checks += 1;
        }
        // (Without the margin for the estimate's error, which scales with `limit`: with it, a
        // count of 5 940 that never moves, whatever is sent, came back a few requests a
        // reading, under the margin of 594, and refuted nothing.)
        let came_back = remaining as f64 - (last.remaining as f64 - sent_since) - 2.0 - overtaking;
        (came_back > 0.0 && elapsed > 0.0).then(|| came_back / elapsed)
    }

    /// The least recent estimate of the bucket reading's pace, whether trusted or not.
    pub(in super::super) fn bucket_estimate(&self) -> Option<f64> {
        self.estimates.iter().copied().reduce(f64::min)
    }

    /// The bucket reading's pace (requests per second), while it is trusted, slowed for the
    /// round trip's jitter where the bucket cannot absorb it (see [`JITTER_MARGIN`]).
    pub(crate) fn bucket_rate(&self) -> Option<f64> {
        let rate = (!self.refuted && !self.tokens_bind && self.checks >= CHECKS_TO_TRUST)
            .then(|| self.bucket_estimate())
            .flatten()
            .filter(|&rate| self.end_known() || self.documented(rate))?;
        // How early a request may come and still be taken: the bucket's room beyond one.
        let tolerance = self.limit.unwrap_or(1).saturating_sub(1) as f64 / rate;
        let margin = (self.rtt_spread - tolerance).clamp(0.0, JITTER_MARGIN / rate);
        let discount = CONTRADICTION_DISCOUNT.powi(self.contradictions.min(16) as i32);
        Some(1.0 / (1.0 / (rate * discount) + margin))
    }

    /// Whether `rate` is about a per-minute family's [documented rate](documented_rate) (at
    /// least half of it): a budget's, whatever its reset names. (A fixed window's end read
    /// as a bucket's time to full makes a pace of what was spent over what is left of the
    /// window: "141 used, full in 58 s" under a budget of 20 a second. A budget's reading
    /// waiting for its end to be seen moving, as others do, a limit that moved from 32 to 80
    /// a second under OpenAI's names restarted the wait with each new `limit`: 0.93 -> 0.59
    /// of the ideal, on a server of `goodput --sweep`.)
    fn documented(&self, rate: f64) -> bool {
        self.per_minute
            && self
                .limit
                .is_some_and(|limit| rate >= DOCUMENTED_SHARE * documented_rate(limit))
    }

    /// The server's resets mean something else than the time a steady refill takes (a fixed
    /// window's end): the bucket reading is wrong for good, and so is the rate reading (a
    /// window's count is taken whole at once, not at a steady rate).
    pub(crate) fn refute(&mut self) {
        self.refuted = true;
        self.rate.refute();
    }

    /// A 429 to a request sent at or below the bucket reading's pace.
    pub(crate) fn contradicted(&mut self) {
        self.contradictions += 1;
        if self.contradictions >= CONTRADICTIONS_TO_REFUTE {
            self.refuted = true;
        }
    }

    /// 429s so far at the bucket reading's pace (see [`Self::contradicted`]).
    pub(in super::super) fn contradictions(&self) -> u32 {
        self.contradictions
    }
}
