//! What a count the server reports says of the room above the pace: filling (spare), full,
//! or spent as fast as it refills (below its recent peak). See the parent module's overview.

use std::collections::VecDeque;

use crate::middleware::headers::RateLimitHeaders;

use super::Evidence;

/// How many recent readings of a count its recent peak is the most of (see
/// [`Evidence::below_peak`]).
pub(super) const PEAK_OVER: usize = 32;
/// How close to `limit` a count reads full whatever its recent peak: the request just
/// answered taken out of a full count. (A budget at its cap, one not spent at all, reads one
/// or two under it at random. Below its peak by one, a fleet on a token limit whose request
/// budget sat at its cap held its probes half the time: 0.04-0.08 less goodput, on our
/// simulator. Two was measured too: that fleet back where it was, but the fleets on
/// OpenAI's and Anthropic's families, whose budget sat within two of full, lost half the
/// gain.)
const FULL_WITHIN: u64 = 1;
/// A token count reads full within this share of its limit: one request's tokens, unknown
/// here, taken out of a full count. (Ten tokens measured alike on our simulator's fleets, at
/// five tokens a request.)
const TOKENS_FULL_WITHIN: f64 = 0.01;
/// Answers in a row that must read a budget full before the pace climbs on it
/// (see [`Evidence::unspent`]). Among sixteen processes the budget reads full now and then
/// while they spend it all: on one answer alone, their 429s rose from 0.085 to 0.123 per
/// request; on two, to 0.091; on three, none (median of 40 seeds, on our simulator).
const UNSPENT_RUN: usize = 3;

impl Evidence {
    /// Whether `remaining` says the server's bucket is filling (at least half the most it has
    /// read, and at least one): the pace is below the limit.
    pub(crate) fn spare(&self, limits: &RateLimitHeaders) -> bool {
        self.count(limits)
            .is_some_and(|(remaining, max)| remaining >= 1 && remaining * 2 >= max)
    }

    /// Whether `remaining` reads full (within [`FULL_WITHIN`] of the most it has read): the
    /// request just answered found the server's bucket full, none of it spent by the pace or
    /// by anyone else. Only on a bucket of three or more: a smaller one reads full at any pace
    /// under the limit, and cannot show a drain before it is empty.
    pub(crate) fn reads_full(&self, limits: &RateLimitHeaders) -> bool {
        self.count(limits).is_some_and(|(remaining, max)| {
            max > 2 * FULL_WITHIN && remaining.saturating_add(FULL_WITHIN) >= max
        })
    }

    /// `remaining` and the most it has read, while it counts what the server takes (see
    /// [`Evidence::counted_full`]).
    fn count(&self, limits: &RateLimitHeaders) -> Option<(u64, u64)> {
        Some((limits.remaining?, self.counted_full()?))
    }

    /// Whether the server's count reads below its peak over the last [`PEAK_OVER`] answers,
    /// and not full: it is being spent as fast as it refills, or faster, by this client or by
    /// others on the same key. A count that refills (a limit risen, others gone) reads at its
    /// peak; one that stays full reads full. Either count will do: `remaining` (per minute or
    /// per bucket; full within [`FULL_WITHIN`] of `limit`; not once a 429 has shown it does not
    /// count what the server refuses) or the tokens left (full within [`TOKENS_FULL_WITHIN`] of
    /// their limit), which bind first on a server whose token limit does.
    pub(crate) fn below_peak(&self, limits: &RateLimitHeaders) -> bool {
        let requests = !self.remaining_lies
            && below(
                limits.remaining,
                &self.recent_remaining,
                limits.limit.map(|limit| limit.saturating_sub(FULL_WITHIN)),
            );
        let tokens = below(
            limits.token_remaining,
            &self.recent_tokens,
            limits
                .token_limit
                .map(|limit| (limit as f64 * (1.0 - TOKENS_FULL_WITHIN)) as u64),
        );
        requests || tokens
    }

    /// Whether this answer reads a per-minute budget full: `remaining` within
    /// [`FULL_WITHIN`] of `limit`, and the tokens left, if reported, within
    /// [`TOKENS_FULL_WITHIN`] of theirs.
    pub(crate) fn budget_reads_full(limits: &RateLimitHeaders) -> bool {
        let requests = matches!((limits.remaining, limits.limit),
            (Some(remaining), Some(limit)) if within_full(remaining, limit));
        limits.family.per_minute() && requests && tokens_read_full(limits)
    }

    /// The rate a per-minute budget names, when its last [`UNSPENT_RUN`] answers read it
    /// full (`remaining` within [`FULL_WITHIN`] of `limit`, the tokens left, if reported,
    /// within [`TOKENS_FULL_WITHIN`] of theirs and at their recent peak) and `pace` is under
    /// that rate: no one spends the budget as fast as it refills, this process included, so
    /// there is room up to the rate. A per-minute budget full says nothing more: a lone
    /// client at the rate reads it full too (see [`Evidence::counted_full`]), so the rate,
    /// not spare room without end, is what the pace may climb to. A bucket's figures (not per
    /// minute) are read as [`Evidence::bucket_unspent`] says.
    pub(crate) fn unspent(&self, limits: &RateLimitHeaders, pace: f64) -> Option<f64> {
        if self.remaining_lies || self.below_peak(limits) {
            return None;
        }
        if !self.per_minute {
            return self.bucket_unspent(limits, pace);
        }
        let limit = limits.limit?;
        if !self.full_run(limits, |remaining| within_full(remaining, limit)) {
            return None;
        }
        if !tokens_read_full(limits) {
            return None;
        }
        self.bucket_estimate().filter(|&rate| pace < rate)
    }

    /// [`Evidence::unspent`] for a bucket that refills within a second or so (Together's
    /// figures): the rate it is read to refill at, when its last [`UNSPENT_RUN`] answers read
    /// it at the most it has ever read (a bucket of three or more) and `pace` is under that
    /// rate. Nothing but this process's own request was taken out of it each time: no one
    /// spends it as fast as it refills. (Within [`FULL_WITHIN`] of that, as a per-minute
    /// budget is read, a bucket of five at 50 a second, which refills in 100 ms, read full
    /// between others' requests: four processes on it drew 0.047 / 0.055 -> 0.050 / 0.065
    /// 429s per request, median / worst of 40 seeds, on our simulator; read at the most,
    /// 0.047 / 0.058; both measured before the climb's guard and cap in `super::super`'s
    /// `observe` and `trust`, with which it is 0.045 / 0.062.)
    fn bucket_unspent(&self, limits: &RateLimitHeaders, pace: f64) -> Option<f64> {
        let most = self.counted_full()?;
        if most <= 2 * FULL_WITHIN || !self.full_run(limits, |remaining| remaining >= most) {
            return None;
        }
        self.bucket_estimate().filter(|&rate| pace < rate)
    }

    /// Whether this answer's `remaining` and the last [`UNSPENT_RUN`] readings (this one
    /// among them) all read `full`.
    fn full_run(&self, limits: &RateLimitHeaders, full: impl Fn(u64) -> bool) -> bool {
        let run = self.recent_remaining.iter().rev().take(UNSPENT_RUN);
        limits.remaining.is_some_and(&full) && run.len() == UNSPENT_RUN && run.copied().all(full)
    }

    /// The most `remaining` has read, while `remaining` is known to count what the server
    /// takes: no 429 said there was room, and it is not a per-minute budget.
    pub(crate) fn counted_full(&self) -> Option<u64> {
        self.max_remaining
            .filter(|_| !self.remaining_lies && !self.per_minute)
    }
}

/// Whether a per-minute count reads full: within [`FULL_WITHIN`] of its `limit`.
fn within_full(remaining: u64, limit: u64) -> bool {
    remaining.saturating_add(FULL_WITHIN) >= limit
}

/// Whether the tokens left, if reported, read full: within [`TOKENS_FULL_WITHIN`] of their
/// limit (true where they are not reported).
fn tokens_read_full(limits: &RateLimitHeaders) -> bool {
    match (limits.token_remaining, limits.token_limit) {
        (Some(left), Some(limit)) => left as f64 >= limit as f64 * (1.0 - TOKENS_FULL_WITHIN),
        _ => true,
    }
}

/// Whether `reading` is below the peak of `window` and under `full` (when known).
fn below(reading: Option<u64>, window: &VecDeque<u64>, full: Option<u64>) -> bool {
    match (reading, window.iter().max()) {
        (Some(reading), Some(&peak)) => reading < peak && full.is_none_or(|full| reading < full),
        _ => false,
    }
}
