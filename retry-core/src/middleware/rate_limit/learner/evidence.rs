//! What the rate-limit headers say, read as hypotheses that are kept only while what happens
//! agrees with them.
//!
//! Servers use the same names for different things. `x-ratelimit-limit` is the bucket's size on
//! one server and its rate per second on another; `x-ratelimit-reset` is the time until the
//! bucket is full on one and the time until the next request on another; `remaining` can be a
//! cached snapshot, or constant. A reading taken as truth is then worse than none: a burst of
//! `limit` requests into a bucket of 5, a "pace" of thousands a second. So each use of a header
//! is a licence that evidence grants and withdraws:
//!
//! - **The bucket reading** (Together's documented meaning: `limit` requests in a bucket with
//!   `remaining` left, full again in `reset`): its pace is `(limit - remaining) / reset`. It is
//!   *trusted* only after its predictions came true: between two answers it predicts what
//!   `remaining` will read (what was left, plus the refill at that pace, less the requests sent
//!   since), and a reading well below the prediction refutes it for good. Three 429s to
//!   requests sent at or below its current pace refute it too (a limit that fell lowers the
//!   estimate first, so the requests sent at the old pace do not count); each of them lowers
//!   its pace by 1 %, for an estimate a little high (see [`CONTRADICTION_DISCOUNT`]). Its pace
//!   is the least of the recent estimates (see [`WINDOW`]), unless one was read at a full
//!   bucket, which is exact (but for the reset's rounding) and stands alone. While trusted,
//!   its pace is the pace, and follows the server's limit as it moves, both ways;
//!   slowed a little where the bucket has no room for the round trip's jitter (a bucket of
//!   one: every early arrival would be refused, see [`JITTER_MARGIN`]).
//! - **The rate reading** (`limit` the server's rate per second, whatever its bucket holds,
//!   as dynamic limits report it): checked by the same kind of predictions, both ways, and by
//!   429s, which come over the rate it names and not under it. Trusted, it is a floor under
//!   the blind pace, and the pace falls when it falls (see [`rate`]).
//! - **`remaining` itself**: a 429 whose own headers say `remaining >= 1` proves that
//!   `remaining` does not count what this server refuses (a cached counter, a constant, a
//!   per-minute budget enforced per second). Every use of it ends there: no burst, no bucket
//!   reading, no sign of spare room, no refill measure. Sent without `limit` (some gateways
//!   do), it still counts: spare room and the refill measure, never a bucket or a burst.
//! - **Per-minute figures** (OpenAI's, Anthropic's, enforced over shorter windows): the
//!   bucket reading's pace is checked as above, but they say nothing of spare room or of the
//!   bucket behind them, and a 429 with room left in the minute is what they are expected to
//!   do. The burst licence alone finds that bucket, growing half as fast (nothing caps it),
//!   until the first 429.
//! - **Spare room**: while `remaining` is at least half the most it has read, the server's
//!   bucket is filling, so the pace is below the limit: the learner may climb and probe at
//!   once rather than wait for a quiet spell. While it reads full (on a bucket of three or
//!   more), the pace grows as slow start does, until the count dips (see the learner).
//! - **The recent peak of a count**: while `remaining` counts, a reading below the most it has
//!   read over the last few dozen answers (and not one under `limit`: that is full) says the
//!   count is spent as fast as it refills: no room for a probe above the pace (see the
//!   learner), whoever spends it. The tokens left say the same where a token limit binds.
//! - **The burst licence**: how many requests may go back to back, ahead of the pace. At most
//!   one more than the largest `remaining` ever read (an accurate `remaining` never exceeds the
//!   bucket) and `limit` (a per-minute budget: one second's worth of it); it starts at
//!   [`FIRST_LICENCE`] and grows by one with every request it let go early that was taken
//!   (doubling per burst), and a 429 to such a request halves it and caps it there for good.
//!
//! The worst case is the header-blind learner, plus the few 429s it took to refute a reading.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::middleware::headers::RateLimitHeaders;

use super::super::schedule::Admission;
use super::keep_last;
use room::PEAK_OVER;

pub(crate) use licence::FIRST_LICENCE;
use rate::RateReading;

/// How many recent pace estimates the bucket reading's pace is the least of: `remaining` is
/// rounded down, which only ever makes an estimate too high (a bucket of 5 at 4.9 reads 4,
/// full in 0.1 of an interval: ten times the rate). A request taken from a full bucket leaves
/// exactly `limit - 1`, so that reading's estimate is exact (to the reset's last digit: 13 ms
/// for 12.5 reads 77 a second for 80), and the older ones go: after a limit rose, they held
/// the pace at the old one for 16 answers (0.8 s at 20 a second, from 20 to 80:
/// `step-50-20-80-bucket` 0.912 -> 0.978 of the ideal on our simulator; four processes
/// sharing one store, the code of a fleet on Redis, 0.919 -> 0.958).
const WINDOW: usize = 16;
/// Predictions that must come true before the bucket reading is trusted.
const CHECKS_TO_TRUST: u32 = 3;
/// 429s at the bucket reading's pace (with no fall in its estimate) that refute it.
const CONTRADICTIONS_TO_REFUTE: u32 = 3;
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
const JITTER_MARGIN: f64 = 0.02;
/// The share of its estimate the bucket reading keeps after each contradiction. An estimate a
/// little high (reset rounded to the millisecond: 2 / 0.996 s = 2.008 a second on a bucket of 2
/// at 2 a second) drains the bucket's room slowly and draws a 429 every ~60 requests at the
/// trusted pace; three of them refuted a true reading, and the blind learner's probe cost
/// 0.10 429s per request from there (sim `slow-together`). 1 % lower per 429 ends the drain at
/// the first; a wrong reading still draws its three quickly and is refuted.
const CONTRADICTION_DISCOUNT: f64 = 0.99;

/// A per-minute family's documented refill, `limit / 60` a second (Anthropic's buckets refill
/// continuously up to `limit`), while its reset agrees with it: refilling what was used at
/// that rate takes about as long as the reset says, give or take [`COARSE_RESET`]. (A daily
/// limit would say "full in minutes" for one request used: it fails this, and its long reset
/// measures the real rate instead.) A hypothesis like any other: checked before it is trusted.
fn per_minute_rate(limit: u64, remaining: u64, reset: Duration) -> Option<f64> {
    let rate = limit as f64 / 60.0;
    let refill = limit.saturating_sub(remaining) as f64 / rate;
    ((refill - reset.as_secs_f64()).abs() <= COARSE_RESET.as_secs_f64()).then_some(rate)
}

/// How much smaller a share of their limit the tokens left must be than the requests left
/// for the tokens to be what binds (see [`tokens_bind`]).
const TOKENS_BIND_GAP: f64 = 0.1;

/// Whether the tokens left are a smaller share of their limit, by [`TOKENS_BIND_GAP`], than
/// the requests left of theirs: the token count is spent further, so it is what binds, and the
/// request count's pace (and room for a burst) overshoots it. (Trusted regardless, OpenAI's
/// 10 000 requests a minute set a pace of 167 a second on a server whose 1 000 tokens a second
/// took 28: 23 429s in the first two seconds, on a server written apart from this project.)
fn tokens_bind(limits: &RateLimitHeaders) -> bool {
    let share = |left: Option<u64>, limit: Option<u64>| {
        let limit = limit.filter(|&limit| limit > 0)?;
        Some(left? as f64 / limit as f64)
    };
    match (
        share(limits.token_remaining, limits.token_limit),
        share(limits.remaining, limits.limit),
    ) {
        (Some(tokens), Some(requests)) => tokens + TOKENS_BIND_GAP < requests,
        _ => false,
    }
}

/// How long until the server's bucket holds one request again, from headers that say it is
/// empty: `reset` is the time until it is full (the bucket reading, once trusted), and it
/// refills evenly, so one request is back after `reset / limit` (exactly so for an empty
/// bucket; the bucket holds up to one more than the rounded-down `remaining` says, so never
/// too early). The whole `reset` when the size is unknown.
pub(crate) fn one_back(limits: &RateLimitHeaders) -> Option<Duration> {
    Some(one_back_of(limits.limit, limits.reset?))
}

/// [`one_back`] of a bucket of `limit` (if known) full in `reset`.
pub(crate) fn one_back_of(limit: Option<u64>, reset: Duration) -> Duration {
    match limit {
        Some(limit) if limit > 1 => reset / u32::try_from(limit).unwrap_or(u32::MAX),
        _ => reset,
    }
}

/// One reading of `remaining`, dated by when its request went.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Reading {
    at: Duration,
    seq: u64,
    remaining: u64,
}

impl Reading {
    /// Makes the reading of `remaining` in the answer to `sent` the latest in `last`, and
    /// returns the one before it if its request went earlier: answers that overtook one
    /// another predict nothing of each other.
    fn replace(last: &mut Option<Reading>, sent: &Admission, remaining: u64) -> Option<Reading> {
        let before = last.filter(|last| last.seq < sent.seq);
        *last = Some(Reading {
            at: sent.at,
            seq: sent.seq,
            remaining,
        });
        before
    }
}

/// What the headers have shown, and what they have been caught out on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Evidence {
    estimates: VecDeque<f64>,
    last: Option<Reading>,
    checks: u32,
    refuted: bool,
    contradictions: u32,
    /// A 429 said `remaining >= 1`: `remaining` is not the count of what the server takes.
    remaining_lies: bool,
    /// The figures are per minute (OpenAI's, Anthropic's), enforced over shorter windows: a
    /// rate to check, never a bucket to count or a sign of spare room.
    per_minute: bool,
    /// The latest answer read its tokens left as a smaller share of their limit than the
    /// requests left of theirs (see [`tokens_bind`]): the request count is not what binds.
    #[serde(default)]
    tokens_bind: bool,
    limit: Option<u64>,
    max_remaining: Option<u64>,
    /// The latest readings of `remaining`, for its recent peak.
    #[serde(default)]
    recent_remaining: VecDeque<u64>,
    /// The latest readings of the tokens left, for their recent peak.
    #[serde(default)]
    recent_tokens: VecDeque<u64>,
    licence: u32,
    licence_capped: bool,
    /// Requests the licence let go early that were taken.
    #[serde(default)]
    taken_early: u32,
    /// How much the round trip varies (seconds): requests sent after a reading may reach the
    /// server before it, and a prediction allows for them.
    rtt_spread: f64,
    /// `limit` read as a rate per second (see [`rate`]).
    #[serde(default)]
    rate: RateReading,
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence {
            estimates: VecDeque::with_capacity(WINDOW),
            last: None,
            checks: 0,
            refuted: false,
            contradictions: 0,
            remaining_lies: false,
            per_minute: false,
            tokens_bind: false,
            limit: None,
            max_remaining: None,
            recent_remaining: VecDeque::new(),
            recent_tokens: VecDeque::new(),
            licence: FIRST_LICENCE,
            licence_capped: false,
            taken_early: 0,
            rtt_spread: 0.0,
            rate: RateReading::default(),
        }
    }
}

impl Evidence {
    /// Reads the headers of the answer to `sent` (`refused`: a 429); `rtt_spread` is how much
    /// round trips vary.
    pub(crate) fn read(
        &mut self,
        sent: &Admission,
        limits: &RateLimitHeaders,
        refused: bool,
        rtt_spread: f64,
    ) {
        self.rtt_spread = rtt_spread;
        if let Some(tokens) = limits.token_remaining {
            keep_last(&mut self.recent_tokens, tokens, PEAK_OVER);
        }
        self.tokens_bind = tokens_bind(limits);
        let Some(remaining) = limits.remaining else {
            return;
        };
        self.per_minute = limits.family.per_minute();
        if refused && self.per_minute {
            // The window behind a per-minute budget is spent, and nothing says when it is
            // whole again: no more bursts. (Left to run on, bursts from fleets of 4 and 16
            // processes on one budget raised their 429s by a tenth, on our simulator.)
            self.licence = 1;
            self.licence_capped = true;
        }
        if refused && remaining >= 1 && !self.per_minute {
            self.remaining_lies = true;
            self.refuted = true;
        }
        self.max_remaining = self.max_remaining.max(Some(remaining));
        keep_last(&mut self.recent_remaining, remaining, PEAK_OVER);
        // Some servers send `remaining` alone: it still counts (and measures the refill, see
        // `super::refill`), but there is no bucket reading without `limit`.
        let Some(limit) = limits.limit else {
            return;
        };
        if remaining > limit || limit == 0 {
            // Not a bucket of `limit` with `remaining` left, whatever it is.
            self.refuted = true;
        }
        self.limit = Some(limit);
        if !self.remaining_lies && !self.per_minute {
            let peak = self.recent_peak().unwrap_or(remaining);
            let counted = (!refused).then_some(remaining);
            self.rate
                .read(sent, refused, counted, limit, peak, self.rtt_spread);
            if let (Some(remaining), Some(reset)) = (counted, limits.reset) {
                self.rate.read_reset(remaining, reset, limit, peak);
            }
        }
        if self.refuted {
            return;
        }
        let before = self.bucket_estimate();
        if let Some(pace) = before {
            self.check(pace, limit, sent, remaining);
        }
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
        if let Some(estimate) = estimate {
            // Taken from a full bucket: exact (see `WINDOW`). A 429 takes nothing, so its
            // `limit - 1` (on a bucket of one) is a rounded-down fraction like any other.
            // (`remaining <= limit` here, or the reading is refuted above: no overflow, where
            // `remaining + 1` overflowed on a count of `u64::MAX`.)
            if !refused && limit - remaining == 1 {
                self.estimates.clear();
            }
            keep_last(&mut self.estimates, estimate, WINDOW);
        }
    }

    /// The bucket reading's prediction of this reading, from the last one.
    fn check(&mut self, pace: f64, limit: u64, sent: &Admission, remaining: u64) {
        let Some(last) = Reading::replace(&mut self.last, sent, remaining) else {
            return;
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
        let tolerance = 2.0 + 0.1 * limit as f64 + sent_rate.min(pace) * self.rtt_spread;
        if (remaining as f64) + tolerance < predicted {
            self.refuted = true;
        } else if refill >= 1.0 {
            self.checks += 1;
        }
    }

    /// The least recent estimate of the bucket reading's pace, whether trusted or not.
    fn bucket_estimate(&self) -> Option<f64> {
        self.estimates.iter().copied().reduce(f64::min)
    }

    /// The bucket reading's pace (requests per second), while it is trusted, slowed for the
    /// round trip's jitter where the bucket cannot absorb it (see [`JITTER_MARGIN`]).
    pub(crate) fn bucket_rate(&self) -> Option<f64> {
        let rate = (!self.refuted && !self.tokens_bind && self.checks >= CHECKS_TO_TRUST)
            .then(|| self.bucket_estimate())
            .flatten()?;
        // How early a request may come and still be taken: the bucket's room beyond one.
        let tolerance = self.limit.unwrap_or(1).saturating_sub(1) as f64 / rate;
        let margin = (self.rtt_spread - tolerance).clamp(0.0, JITTER_MARGIN / rate);
        let discount = CONTRADICTION_DISCOUNT.powi(self.contradictions.min(16) as i32);
        Some(1.0 / (1.0 / (rate * discount) + margin))
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
    pub(super) fn contradictions(&self) -> u32 {
        self.contradictions
    }

    /// The most `remaining` has read over its last [`PEAK_OVER`] readings.
    fn recent_peak(&self) -> Option<u64> {
        self.recent_remaining.iter().copied().max()
    }

    /// The latest `limit` the headers gave, whatever it means.
    pub(crate) fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether the bucket reading is trusted (its `reset` then means the time until full).
    #[cfg(test)]
    pub(crate) fn trusted(&self) -> bool {
        self.bucket_rate().is_some()
    }
}

mod licence;
mod rate;
mod room;
#[cfg(test)]
mod tests;
