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
//!   `remaining` left, full again in `reset`; see [`bucket`]): its pace is
//!   `(limit - remaining) / reset`. It is *trusted* only after its predictions came true:
//!   between two answers it predicts what `remaining` will read (what was left, plus the refill
//!   at that pace, less the requests sent since), and a reading well below the prediction
//!   refutes it for good. Three 429s to requests sent at or below its current pace refute it
//!   too (a limit that fell lowers the estimate first, so the requests sent at the old pace do
//!   not count); each of them lowers its pace by 1 %, for an estimate a little high (see
//!   [`CONTRADICTION_DISCOUNT`](bucket::CONTRADICTION_DISCOUNT)). Its pace is the least of the
//!   recent estimates (see [`WINDOW`]), unless one was read at a full bucket, which is exact
//!   (but for the reset's rounding) and stands alone; exact readings that swing back and forth
//!   are no bucket's, and refute it. While trusted, its pace is the pace, and follows the
//!   server's limit as it moves, both ways; slowed a little where the bucket has no room for
//!   the round trip's jitter (a bucket of one: every early arrival would be refused, see
//!   [`JITTER_MARGIN`](bucket::JITTER_MARGIN)). The instant its reset names moves on as the
//!   bucket is spent; one that stands still while the count is spent is a fixed window's end,
//!   and refutes it (`remaining` with it); a reset of seconds, which may name such an end, is
//!   not trusted until that instant has been seen to move (see [`end`]).
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
//!   until the first 429. Between two answers, the budget loses what this process sent
//!   less its refill at that rate: what it loses beyond, other clients of the same account
//!   spent, and once that is clear of rounding the reading is the whole fleet's rate, not
//!   this process's pace (see [`crowd`](super::crowd)).
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
use super::crowd::{Crowd, Spans};
use super::keep_last;
use room::PEAK_OVER;

use bucket::WINDOW;
use end::EndMark;
pub(crate) use licence::FIRST_LICENCE;
use rate::RateReading;

/// Predictions that must come true before the bucket reading is trusted.
const CHECKS_TO_TRUST: u32 = 3;
/// 429s at the bucket reading's pace (with no fall in its estimate) that refute it.
const CONTRADICTIONS_TO_REFUTE: u32 = 3;
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
    /// A 429 said `remaining >= 1`, or the reset named a fixed window's end (see [`end`]):
    /// `remaining` is not a bucket's count of what the server takes.
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
    /// The latest two readings taken from a full bucket: when the request each answered
    /// went, and its reset (see `bucket::zigzag`).
    #[serde(default)]
    exact_resets: VecDeque<(Duration, Duration)>,
    /// The reading the end its reset names is measured from (see [`end`]).
    #[serde(default)]
    end_mark: Option<EndMark>,
    /// The end a reset names has been seen to move on as a bucket's does (see [`end`]).
    #[serde(default)]
    end_moved: bool,
    /// The latest reset was [`end::LONG`] or longer: it may name a window's end.
    #[serde(default)]
    long_reset: bool,
    /// What a per-minute budget lost beyond this process's requests (see [`crowd`]). Not in
    /// a fleet's shared state: there every process's requests are dated in the fleet's one
    /// sequence, so none of them is unexplained, and the spans would add a kilobyte to what
    /// travels to the store and back at every answer.
    ///
    /// [`crowd`]: super::crowd
    #[serde(skip)]
    spans: Spans,
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
            exact_resets: VecDeque::new(),
            end_mark: None,
            end_moved: false,
            long_reset: false,
            recent_tokens: VecDeque::new(),
            licence: FIRST_LICENCE,
            licence_capped: false,
            taken_early: 0,
            rtt_spread: 0.0,
            rate: RateReading::default(),
            spans: Spans::default(),
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
        if let Some(reset) = limits.reset {
            self.long_reset = reset >= end::LONG;
            let used = limit.saturating_sub(remaining);
            let count = (used, limit);
            match EndMark::stands_still(&mut self.end_mark, sent.at, reset, count, self.rtt_spread)
            {
                Some(true) => {
                    // A fixed window's end, not a bucket's time to full (see [`end`]): the
                    // count says nothing of a bucket, nor of a pace spent as it refills.
                    self.remaining_lies = true;
                    self.refute();
                }
                Some(false) => self.end_moved = true,
                None => {}
            }
        }
        if !self.refuted {
            self.read_bucket(sent, limits, limit, remaining, refused);
        }
    }

    /// The most `remaining` has read over its last [`PEAK_OVER`] readings.
    pub(super) fn recent_peak(&self) -> Option<u64> {
        self.recent_remaining.iter().copied().max()
    }

    /// Whether other clients are seen spending the per-minute budget this process reads,
    /// while its reading stands (see [`crowd`](super::crowd)).
    pub(crate) fn sees_crowd(&self) -> bool {
        self.per_minute && !self.refuted && self.spans.seen()
    }

    /// What the others seen spending the budget spend, and this process, over the latest
    /// `window` (see [`Spans::crowd`]).
    pub(crate) fn crowd(&self, window: Duration) -> Option<Crowd> {
        self.sees_crowd()
            .then(|| self.spans.crowd(window))
            .flatten()
    }

    /// The latest `limit` the headers gave, whatever it means.
    pub(crate) fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether the end the reset names is known not to be a fixed window's: short, or seen to
    /// move on as a bucket's does (see [`end`]). Until then the bucket reading is not trusted:
    /// "141 used, full in 58 s" is 2.4 a second from a bucket, nothing from a window.
    pub(super) fn end_known(&self) -> bool {
        !self.long_reset || self.end_moved
    }

    /// Whether the server has named a limit or a count left.
    pub(crate) fn named(&self) -> bool {
        self.limit.is_some() || self.max_remaining.is_some()
    }

    /// Whether the bucket reading is trusted (its `reset` then means the time until full).
    #[cfg(test)]
    pub(crate) fn trusted(&self) -> bool {
        self.bucket_rate().is_some()
    }
}

mod bucket;
mod end;
mod licence;
mod rate;
mod room;
#[cfg(test)]
mod tests;
