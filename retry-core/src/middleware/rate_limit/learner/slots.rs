//! A limit on how many requests are in flight at once, told apart from a rate by where its
//! refusals (429s, or 503s) fall.
//!
//! Inference servers often serve `k` requests at once and refuse one more at once, however
//! slowly they come. Paced as a rate, such a server is underused: the requests in flight at a
//! steady pace vary with the generations' lengths, so no pace both keeps `k` busy and never
//! sends a `k + 1`-th (0.70 of the ideal with 0.05 429s per request on our simulator's 8 at
//! once, 150-600 ms each; 0.72 on a server written apart from this project).
//!
//! The reading: each answer is kept with how many of this host's requests were in flight when
//! it went, itself included; a refusal, with as many as are in flight when it comes back if
//! more (requests sent after it may have overtaken it on the way). This client's count is then
//! never below the server's: a request is counted from before it arrives until after its
//! answer leaves. Under a limit of `k`, no request sent with `k` or fewer in flight is refused,
//! and most of those sent with more are (a few go while an answer is on its way back). Under a
//! rate, refusals fall where a pace too fast puts them, and the moments a pace is too fast are
//! also the ones with the most in flight: that is the trap. So once [`FEWEST`] refusals are
//! kept, `k` is read as one less than the fewest in flight any of them went with, and believed
//! only if the answers sent with more than `k` are a thin tail of those kept (at most
//! [`TAIL`]), at least [`REFUSED_ABOVE`] of that tail was refused, and chance would rarely
//! put every refusal in it (the tail's share to the power of the refusals is under
//! [`CHANCE`]); over all the answers kept, or over the latest ones holding twice the refusals
//! (a rush of 429s at the start leaves a wide tail in the older ones). Refusals in slow start
//! (a pace doubling puts more in flight as it draws 429s), on a burst the headers licensed
//! (a bucket refuses its tail) and 429s that read the count spent (the count refused them) are
//! not read.
//!
//! While believed, no more than `k` are in flight (the host's queue waits for an answer), the
//! pace is half again the learned one and does not grow, a refusal of a request sent with more
//! than `k` is the limit's and leaves the pace alone, and every [`PROBE_EVERY`] without a
//! refusal one more may go, so a limit that rose is found: a probe refused with `n` in flight
//! reads `k` as `n - 1`, at the cost of one 429; a refusal at `k`, one fewer. A probe refused
//! at the same `k` doubles the wait before the next (twice at most: [`PROBE_BACKOFF`]). A
//! refusal with fewer than `k` in flight refutes it: the next reading starts afresh and needs
//! twice the refusals. 429s and 503s are read apart: a server refusing with one may still fail with the
//! other at any count, so only refusals of the kind that read the limit refute it.
//!
//! Measured on our simulator (20 seeds, 300 requests from 64 tasks): 8 at once, 150-600 ms
//! each, no headers, 0.70 -> 0.85 of the ideal and 0.047 -> 0.030 429s per request (refused
//! with 503s: 0.74 -> 0.86, 0.063 -> 0.043 refusals per request); on the 57 servers of the
//! family limited by rate (2 280 runs, with and without headers), a limit was read 7 times,
//! every row the same within run-to-run noise. With Together's headers reporting a rate of
//! 1 000 a second over the 8 at once, 0.74 -> 0.87 (0.85 with the headers hidden), but 0.37
//! 429s per request against 0.03: the headers' pace floods before the limit is read.
//! `examples/BENCHMARKS.md`.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Outcome, keep_last};

/// Answers kept: about twelve seconds' worth at 20 a second (a pace that keeps the requests in
/// flight under the limit most of the time draws a refusal only every second or two).
const KEPT: usize = 256;
/// Refusals kept before the limit is read.
const FEWEST: usize = 3;
/// How unlikely, under a rate, refusals all falling where the reading puts them must be.
const CHANCE: f64 = 0.01;
/// The most of the answers kept that may have gone with more than the limit in flight: under a
/// rate, the moments that draw 429s (a pace too fast) are the ones with the most in flight,
/// so a wide tail of them says nothing. Read on our simulator: 0.04-0.19 of them under a limit
/// of 8 in flight; 0.13-0.67 where round trips of up to 0.3-0.8 s, a wandering rate or a fast
/// one put the 429s of a rate in its busiest moments.
const TAIL: f64 = 0.2;
/// The least share of the answers sent with more than the limit in flight that were refused
/// (0.43-1.00 under a limit of 8 in flight on our simulator; 0.33-0.35 in the two rates read
/// with the narrowest tails).
const REFUSED_ABOVE: f64 = 0.4;
/// Below this, a limit on requests in flight is a rate's (a round trip's worth of a pace).
const SMALLEST: u32 = 2;
/// How long without a refusal before one more may be in flight.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How many times the wait before the first probe doubles, after probes in a row that were
/// refused at the limit believed. A server's limit on requests in flight seldom moves, and
/// each probe that finds it again costs a 429: one every 2 s was most of the 429s at 8 at once
/// (0.030 / 0.033 -> 0.020 / 0.020 429s per request, median / worst of 20 seeds, with 0.813 ->
/// 0.824 of the ideal at the 5th percentile; refused with 503s: 0.043 / 0.057 -> 0.030 /
/// 0.050; on our simulator's `concurrency-8-*`, no headers). The probes after the first
/// that was taken come every [`PROBE_EVERY`] again, so a limit that rose is climbed as fast.
const PROBE_BACKOFF: u32 = 2;

/// What the answers say of a limit on requests in flight.
#[derive(Clone, Debug, Default)]
pub(super) struct SlotReading {
    /// The latest answers: how many were in flight when each went, and what it was.
    answers: VecDeque<(u32, Outcome)>,
    /// The limit believed, since when (the latest refusal that read it), and the refusals
    /// that read it: only those refute it (a server refusing with 429s may still fail with a
    /// 503 at any count).
    limit: Option<(u32, Duration, Outcome)>,
    /// How many times a limit was refuted: each doubles the refusals the next must show.
    refuted: u32,
    /// Probes in a row (up to [`PROBE_BACKOFF`]) that found no more room than the limit
    /// believed: each doubles the wait before the next.
    probes_found_nothing: u32,
}

impl SlotReading {
    /// Reads an answer to a request sent with `in_flight` in flight (itself included).
    pub(super) fn read(&mut self, now: Duration, in_flight: u32, answer: Outcome) {
        keep_last(&mut self.answers, (in_flight, answer), KEPT);
        if answer == Outcome::Taken {
            // A success says little: the server may have had a place free that this client
            // still counts as taken (its answer on the way back).
            return;
        }
        match self.limit {
            // Refused with more in flight than the limit: a probe (at most one fewer than went
            // with it, and no fewer: the probes before it were taken), or a request sent
            // before the limit held. Few refusals come while a limit holds, so the ones kept
            // no longer tell it.
            Some((limit, _, kind)) if in_flight > limit => {
                let probed = self.limit(now).is_some_and(|probing| in_flight <= probing);
                if probed {
                    self.probes_found_nothing = if in_flight - 1 == limit {
                        (self.probes_found_nothing + 1).min(PROBE_BACKOFF)
                    } else {
                        0
                    };
                }
                let limit = if probed { in_flight - 1 } else { limit };
                self.limit = Some((limit, now, kind));
            }
            // A refusal of another kind than those that read the limit, at or under it: a
            // fault, say nothing.
            Some((_, _, kind)) if kind != answer => {}
            // Refused at the limit: one fewer (a refusal earlier, near a probe taken, may
            // have read it one too high).
            Some((limit, _, kind)) if in_flight == limit && limit > SMALLEST => {
                self.limit = Some((limit - 1, now, kind));
            }
            // Refused with fewer in flight than the limit: not that limit, and the refusals
            // that read it were a rate's; the next reading starts afresh, on more of them.
            Some(_) => {
                self.limit = None;
                self.probes_found_nothing = 0;
                self.refuted = self.refuted.saturating_add(1);
                self.answers.clear();
            }
            None => self.judge(now, answer),
        }
    }

    /// Reads the limit from the refusals of `kind` kept: over all the answers kept, or over the
    /// latest ones that hold just enough refusals (a rush of 429s at the start, say from a pace
    /// the headers set far too high, leaves a wide tail behind it for a long while).
    fn judge(&mut self, now: Duration, kind: Outcome) {
        let needed = FEWEST << self.refuted.min(4);
        // The latest answers are read on twice the refusals: they are fewer.
        let mut refusals = 0;
        let mut latest = None;
        for (at, (_, answer)) in self.answers.iter().enumerate().rev() {
            refusals += usize::from(*answer == kind);
            if refusals == 2 * needed {
                latest = Some(at);
                break;
            }
        }
        let limit = read(self.answers.iter(), kind, needed).or_else(|| {
            let start = latest?;
            read(self.answers.range(start..), kind, 2 * needed)
        });
        if let Some(limit) = limit {
            self.limit = Some((limit, now, kind));
        }
    }

    /// How many may be in flight now, if a limit is believed: one more once [`PROBE_EVERY`]
    /// has passed since the latest refusal (twice or four times that after probes that found
    /// nothing: see [`PROBE_BACKOFF`]), then one more every [`PROBE_EVERY`].
    pub(super) fn limit(&self, now: Duration) -> Option<u32> {
        let (limit, since, _) = self.limit?;
        let every = PROBE_EVERY.as_secs_f64();
        let first = every * f64::from(1u32 << self.probes_found_nothing);
        let elapsed = now.saturating_sub(since).as_secs_f64();
        let probes = if elapsed < first {
            0
        } else {
            1 + ((elapsed - first) / every) as u32
        };
        Some(limit.saturating_add(probes))
    }

    /// A reading that believes in a limit of `limit`, read at `now` from 429s.
    #[cfg(test)]
    pub(super) fn believing(limit: u32, now: Duration) -> Self {
        SlotReading {
            limit: Some((limit, now, Outcome::RateLimited)),
            ..SlotReading::default()
        }
    }

    /// Whether a limit on requests in flight is believed.
    pub(super) fn believed(&self) -> bool {
        self.limit.is_some()
    }

    /// Whether a refusal of a request sent with `in_flight` in flight is the limit's: above
    /// the limit believed before any probe.
    pub(super) fn explains(&self, in_flight: u32) -> bool {
        self.limit.is_some_and(|(limit, ..)| in_flight > limit)
    }
}

/// The limit `answers` show, if they show one: `needed` refusals of `kind` or more, all with
/// more than it in flight, in a thin tail of the answers (at most [`TAIL`]), at least
/// [`REFUSED_ABOVE`] of that tail refused, and chance unlikely to have put them all there.
fn read<'a>(
    answers: impl Iterator<Item = &'a (u32, Outcome)> + Clone,
    kind: Outcome,
    needed: usize,
) -> Option<u32> {
    let refused = answers.clone().filter(|(_, answer)| *answer == kind);
    let (count, fewest) = refused.fold((0, u32::MAX), |(count, fewest), (n, _)| {
        (count + 1, fewest.min(*n))
    });
    let limit = fewest.saturating_sub(1);
    if count < needed || limit < SMALLEST {
        return None;
    }
    let (total, above) = answers.fold((0, 0), |(total, above), (n, _)| {
        (total + 1, above + usize::from(*n > limit))
    });
    let share = above as f64 / f64::from(total);
    let chance = share.powi(i32::try_from(count).unwrap_or(i32::MAX));
    // Above the limit most are refused (a few go while an answer is on its way back); above
    // a rate's busiest moments, most are taken.
    let refused_above = count as f64 / above as f64;
    (chance < CHANCE && share <= TAIL && refused_above >= REFUSED_ABOVE).then_some(limit)
}

#[cfg(test)]
mod tests;
