//! A fixed window that names nothing in its headers, read from where its refusals fall. Read
//! on every server; used where no limit or count is named, or where the count, confirmed a
//! fixed window, broke it (and no trusted bucket nor confirmed log holds): see
//! `Learner::silent_reading`.
//!
//! The header-blind pace meets a fixed window as a run of 429s each time the window's count
//! is spent: everything is refused until the window ends, then its whole count is back at
//! once. The pause doubles over the run (see `super::pause`) and ends past the window's end;
//! the pace climbs again and spends the next window the same way (0.84 of the ideal with 0.21
//! 429s per request, median of 20 seeds on our simulator's `window-none`).
//!
//! What only a window does: a run of 429s that goes on after its pauses (a bucket gives a
//! request back within one of them), then the same number of requests taken before each such
//! run. Two runs in a row with the same count before them (at least [`FEWEST`]) are the
//! sign: the window's count is that number. A window ended within each run's gap, after its
//! last refusal and by the first request taken after it; so its length is at least the time
//! from the first gap's end to the second's start, and at most the time from the first's
//! start to the second's end. Servers set windows in whole seconds (per second, per
//! minute): the length read is the fewest whole seconds in that span, less the spread of
//! round trips (the way there varies), or the span's long end if it holds none. Read longer
//! than it is, a window costs the difference; read shorter, its first 429 shows it.
//!
//! Paced by it, a window is a sliding log's bound: at most its count in any of its lengths,
//! which keeps every fixed window within its count whatever its phase, and is a log's own
//! bound should the server be one. After a quarter of its length with nothing taken, the
//! next request goes alone, and the rest follow its answer: a second limit behind the window
//! then costs one 429, not a whole count. A 429 to a request sent under the bound refutes it;
//! the next reading needs three runs that agree, and a second refutation ends them for good.
//!
//! Measured on our simulator (20 seeds): `window-none` 0.839 / 0.795 of the ideal (median /
//! worst), 0.207 / 0.330 429s per request -> 0.904 / 0.885, 0.090 / 0.107, every 429 now in
//! the first two windows; `log-none` 0.730 / 0.668, 0.200 / 0.273 -> 0.870 / 0.713, 0.097 /
//! 0.117 (with `super::RUN_ALONE`). On a window written apart from this project (real clock,
//! 4 runs): 0.87-0.94 and 0.37-0.40 429s per request -> 0.92-0.93 and 0.12-0.15.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::window::SLACK;

/// Refusals a run needs, sent after the news of its first came back, to read as a window's
/// (a bucket's run ends once its pause lets a request back).
const HELD: u32 = 3;
/// The fewest requests a window's count can be read as: fewer is a slow bucket's refill.
const FEWEST: u32 = 4;
/// The longest window read: a longer one outlasts a call's deadline anyway.
const LONGEST: Duration = Duration::from_secs(60);
/// Refutations after which no window is read again.
const TO_GIVE_UP: u32 = 2;

/// What the refusals have shown of a window without headers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SilentWindow {
    /// Requests taken since the latest boundary seen (or since the start).
    taken: u32,
    /// The run of 429s now going on: nothing sent after its latest has been taken.
    run: Option<Run>,
    /// The latest boundaries seen, oldest first: as many as a reading needs.
    seen: VecDeque<Boundary>,
    /// The window read: paced by it until a 429 refutes it.
    reading: Option<Reading>,
    /// How many readings 429s have refuted.
    refuted: u32,
    /// When the latest request taken went.
    last_taken: Duration,
}

/// A run of 429s with nothing taken since its first.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Run {
    /// When its latest refused request went.
    last_sent: Duration,
    /// When the answer to its first came back.
    first_answered: Duration,
    /// Refusals of requests sent after that answer.
    held: u32,
}

/// Where a window ended: after `lo` (a refused request's sending) and by `hi` (a taken
/// one's), with `before` requests taken since the boundary before it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Boundary {
    lo: Duration,
    hi: Duration,
    before: u32,
}

/// A window read: `count` requests per `length`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Reading {
    count: u32,
    length: Duration,
    /// By when the window it was read at had surely opened: a 429 to a request sent later
    /// refutes it.
    opened: Duration,
}

impl SilentWindow {
    /// The window read, if any: its count and its length.
    pub(crate) fn reading(&self) -> Option<(u32, Duration)> {
        self.reading.map(|r| (r.count, r.length))
    }

    /// Whether the next request goes alone, its answer awaited before the rest: the window
    /// read, and nothing taken for a quarter of its length (the count spent, a window now
    /// opening). Should a second limit stand behind the window (200 per 10 s behind 50 a
    /// second), the window's whole count sent at once met it: 50 429s at once, on our
    /// simulator's `log-two-none`; the one request going first costs a round trip a window.
    pub(crate) fn probing(&self, now: Duration) -> bool {
        self.reading
            .is_some_and(|r| now.saturating_sub(self.last_taken) > r.length / 4)
    }

    /// A request sent at `sent_at` was taken; `rtt_spread`: how much round trips vary
    /// (seconds).
    pub(crate) fn taken(&mut self, sent_at: Duration, rtt_spread: f64) {
        self.last_taken = self.last_taken.max(sent_at);
        if let Some(run) = self.run {
            if sent_at <= run.last_sent {
                // Sent before a refusal of the run: the window it was counted in is the one
                // the run found spent.
                self.taken = self.taken.saturating_add(1);
                return;
            }
            self.run = None;
            if run.held >= HELD {
                self.seen_boundary(
                    Boundary {
                        lo: run.last_sent,
                        hi: sent_at,
                        before: self.taken,
                    },
                    rtt_spread,
                );
                self.taken = 1;
                return;
            }
        } else if let Some(last) = self.seen.back_mut().filter(|last| sent_at < last.lo) {
            // A late answer from before the latest boundary.
            last.before = last.before.saturating_add(1);
            return;
        }
        self.taken = self.taken.saturating_add(1);
    }

    /// A request sent at `sent_at` was refused with a 429 that came `now`.
    pub(crate) fn refused(&mut self, now: Duration, sent_at: Duration) {
        if self.seen.back().is_some_and(|last| sent_at <= last.hi) {
            // From before the window reopened: news of the run already read.
            return;
        }
        if self.reading.is_some_and(|r| sent_at > r.opened) {
            // Sent under the window's bound, and refused: not this window.
            self.reading = None;
            self.refuted = self.refuted.saturating_add(1);
            self.seen.clear();
        }
        match &mut self.run {
            None => {
                self.run = Some(Run {
                    last_sent: sent_at,
                    first_answered: now,
                    held: 0,
                });
            }
            Some(run) => {
                run.last_sent = run.last_sent.max(sent_at);
                if sent_at > run.first_answered {
                    run.held = run.held.saturating_add(1);
                }
            }
        }
    }

    /// A window ended: with the one before it (and after a refutation, the one before that
    /// too), the same count before each, at intervals that agree, reads a window.
    fn seen_boundary(&mut self, boundary: Boundary, rtt_spread: f64) {
        let needed = 2 + self.refuted as usize;
        while self.seen.len() >= needed {
            self.seen.pop_front();
        }
        self.seen.push_back(boundary);
        if self.reading.is_some() || self.refuted >= TO_GIVE_UP || self.seen.len() < needed {
            return;
        }
        let count = boundary.before;
        if count < FEWEST || self.seen.iter().any(|seen| seen.before != count) {
            return;
        }
        // Each pair of boundaries in a row bounds the length; every pair must agree.
        let (mut shortest, mut longest) = (Duration::ZERO, Duration::MAX);
        for (first, second) in self.seen.iter().zip(self.seen.iter().skip(1)) {
            shortest = shortest.max(second.lo.saturating_sub(first.hi));
            longest = longest.min(second.hi.saturating_sub(first.lo));
        }
        if shortest.is_zero() || shortest > longest || shortest > LONGEST {
            return;
        }
        // The server reads a request when it gets there, a way that varies by up to the
        // spread of round trips: the instants bound the window's ends only to within it.
        // (Without it, 7 ms over a second read a log of a second as a window of two, paced
        // at half its rate: 0.52 of the ideal, on our simulator's `log-none`.)
        let slack = Duration::from_secs_f64(rtt_spread.clamp(0.0, 1.0)) + SLACK;
        self.reading = Some(Reading {
            count,
            length: whole_seconds_within(shortest.saturating_sub(slack), longest).min(LONGEST),
            opened: boundary.hi,
        });
    }
}

/// The fewest whole seconds from `shortest` to `longest`, else `longest`.
fn whole_seconds_within(shortest: Duration, longest: Duration) -> Duration {
    let whole = Duration::from_secs(shortest.as_secs() + u64::from(shortest.subsec_nanos() > 0));
    if whole <= longest { whole } else { longest }
}

#[cfg(test)]
mod tests;
