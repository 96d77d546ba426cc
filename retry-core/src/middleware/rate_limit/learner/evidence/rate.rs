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
//! - **Resets** that agree with it, every one so far: each names the time until a bucket of
//!   one more than `remaining`'s peak refills at that rate, or at most one interval of it
//!   (the wait for the next slot). A time until full long enough to tell is a check, and
//!   [`RESETS_TO_AGREE`] of them stop slow start at the rate rather than let it double past
//!   (see [`Evidence::start_ceiling`] and [`RateReading::read_reset`]).
//!
//! Answers come back out of order, so the rate in force is the one the answer to the latest
//! request sent gives.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bucket::JITTER_MARGIN;
use super::{CHECKS_TO_TRUST, CONTRADICTIONS_TO_REFUTE, Evidence, Reading};
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
/// Telling resets that agree with the rate reading, none disagreeing, before slow start stops
/// at it.
const RESETS_TO_AGREE: u32 = 2;
/// How far a reset may stray from what the rate reading predicts of it: the server's clock
/// and its rounding (seconds).
const RESET_SLACK: f64 = 0.005;

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
    /// The rate has ever risen (see [`Evidence::steady_rate`]).
    #[serde(default)]
    rose: bool,
    /// Answers whose `reset` agreed with the rate, telling (see [`Self::read_reset`]).
    #[serde(default)]
    resets_agreed: u32,
    /// An answer's `reset` disagreed with it.
    #[serde(default)]
    reset_disagreed: bool,
    /// How many of the checks were telling resets (see [`Self::read_reset`]).
    #[serde(default)]
    reset_checks: u32,
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
            self.rose |= self.latest.is_some_and(|(_, before)| limit > before);
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
                    // Trusted on resets alone, one is enough too: they tell the server's rate,
                    // not this client's share of it (four processes on one limit read the
                    // whole of it, and held to it as a floor, one of them drew 0.05 429s per
                    // request where 0.04 was usual, on a server written apart from this
                    // project).
                    let proven = self.checks - self.reset_checks >= CHECKS_TO_TRUST;
                    self.refuted |=
                        !(self.trusted() && proven) || self.strikes >= CONTRADICTIONS_TO_REFUTE;
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

    /// Reads a success's `reset` against the rate `limit`. It agrees when it is the time
    /// until a bucket of `peak + 1` refills from `remaining` at that rate (`remaining` is
    /// rounded down: up to one request's worth less), or at most one interval of it (the wait
    /// for the next slot), each within [`RESET_SLACK`]. (Both are read by the server at one
    /// instant: the round trips' jitter does not enter.) A reset in whole seconds, a window's
    /// or a log's, disagrees on its first telling answer, and from then on none counts.
    ///
    /// Only a telling agreement counts, toward the ceiling on slow start and as a check of
    /// the reading: a time until full that the next slot cannot explain, with more than
    /// [`RESET_SLACK`] twice over of refill in it beyond the rounding, which a count refilling
    /// at another rate would have named otherwise. A reset of a request's worth or less agrees
    /// with any rate over `limit` as well: counted, the first two answers of a bucket of 50
    /// refilling 500 a second (a few milliseconds to full, at slow start's pace) stopped slow
    /// start at 50, 0.996 -> 0.912 of the ideal on the grid's 500/s row; and a server of 1 000
    /// a second whose limit never binds names a next slot of 1 ms (trusted on such waits, its
    /// reading drew 0.35 429s per request from a server serving 8 at once, on our simulator's
    /// `concurrency-8-together`). Without the checks, slow start stopped at the rate drew none
    /// of the 429s over it that had borne it out, and once a dynamic limit fell to 10 a second
    /// no floor held the pace near it: 26 s, not 14.5, in three runs of four on a server
    /// written apart from this project (`examples/independent/dynamic`, its fourth seed).
    pub(super) fn read_reset(&mut self, remaining: u64, reset: Duration, limit: u64, peak: u64) {
        if limit == 0 {
            return;
        }
        let rate = limit as f64;
        let reset = reset.as_secs_f64();
        let missing = (peak + 1).saturating_sub(remaining) as f64;
        let until_full =
            (missing - 1.0).max(0.0) / rate - RESET_SLACK..=missing / rate + RESET_SLACK;
        let full_in_time = until_full.contains(&reset);
        let next_slot = reset <= 1.0 / rate + RESET_SLACK;
        if !(full_in_time || next_slot) {
            self.reset_disagreed = true;
            return;
        }
        let telling = !next_slot && (missing - 1.0) / rate > 2.0 * RESET_SLACK;
        if telling && !self.reset_disagreed {
            self.resets_agreed += 1;
            self.checks += 1;
            self.reset_checks += 1;
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

    /// Where slow start stops: the rate the headers name, while that reading stands, trusted
    /// or borne out by every reset so far (see [`RateReading::read_reset`]). Doubling past
    /// it on a server of 50 a second with 50-150 ms round trips, slow start reached 101 a
    /// second before the first 429 came back, and 0.033 429s per request followed at the
    /// median, 0.063 at worst (0.007 and 0.020 stopped there, over 20 seeds on our
    /// simulator's `rate-full-150ms`). A pace above it is not brought down: that is the
    /// blind learner's to find.
    pub(crate) fn start_ceiling(&self) -> Option<f64> {
        let rate = &self.rate;
        let borne_out = rate.resets_agreed >= RESETS_TO_AGREE && !rate.reset_disagreed;
        if rate.refuted || !(rate.trusted() || borne_out) {
            return None;
        }
        self.named_rate()
    }

    /// The rate in force (see [`RateReading::read`]), requests per second, unless what the
    /// headers say of requests cannot be read as a rate: a `remaining` that lies, figures per
    /// minute, a token limit that binds first.
    fn named_rate(&self) -> Option<f64> {
        if self.remaining_lies || self.per_minute || self.tokens_bind {
            return None;
        }
        let (_, limit) = self.rate.latest?;
        (limit > 0).then_some(limit as f64)
    }

    /// The rate the trusted rate reading names (requests per second), without its slack,
    /// while it has never risen: a limit that has not moved, which a pace past it finds only
    /// 429s on. (One that has risen may rise again with use, as Together's dynamic limits
    /// do, and a pace held to it would never show it the use.)
    pub(crate) fn steady_rate(&self) -> Option<f64> {
        (self.rate.trusted() && !self.rate.rose)
            .then(|| self.named_rate())
            .flatten()
    }

    /// The rate reading's pace (requests per second), while it is trusted: the latest
    /// `limit` a second, less its slack (see [`SLOWER`]), and slowed for the round trip's
    /// jitter where the bucket (one more than the most `remaining` has read lately) has no
    /// room for it, as the bucket reading's is.
    pub(crate) fn rate_reading(&self) -> Option<f64> {
        if !self.rate.trusted() {
            return None;
        }
        let rate = self.named_rate()?;
        let peak = self.recent_peak().unwrap_or(0);
        let room = peak as f64 / rate;
        let margin = (self.rtt_spread - room).clamp(0.0, JITTER_MARGIN / rate);
        Some(1.0 / (1.0 / (rate * (1.0 - self.rate.slack)) + margin))
    }
}

#[cfg(test)]
mod tests;
