//! The server's refill, measured from `remaining` alone.
//!
//! Whatever `limit` and `reset` mean on a server, an accurate `remaining` moves by what the
//! server refilled less what it took. Between two successes, `refill = remaining_now -
//! remaining_then + taken_between`, where `taken_between` is the requests sent between them
//! less those refused: over a span long enough for the rounding of `remaining` and the
//! reordering of requests on the way to matter little, that is the server's rate, as BBR
//! measures a path's delivery rate from what was acknowledged. With other clients on the same
//! limit it is the rate they leave to this one.
//!
//! A measure is a hypothesis like every reading of the headers: it is used only while the
//! recent ones agree (a steady refill measures the same over every span; a cached `remaining`
//! does not), and by the learner only when it is not far under the pace: a fixed window
//! refills nothing until it ends, so spans within it measure nothing. It measures nothing
//! while the bucket is full either: a full bucket refills nothing. Nor over a span where the
//! count did not move: a bucket of one reads 0 after every take at any pace under its refill,
//! and the span measures the pace. Measures older than a span ([`HORIZON`]) are
//! dropped, so a measure agreed on is of the last two seconds.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::schedule::Admission;
use super::keep_last;

/// How many readings are kept.
const READINGS: usize = 64;
/// How many refused requests are remembered (to subtract them from what was sent).
const REFUSED: usize = 64;
/// The longest span measured over.
const HORIZON: f64 = 2.0;
/// The shortest span measured over...
const MIN_SPAN: f64 = 0.05;
/// ...and at least this many round-trip spreads: requests overtake one another by up to one
/// spread at each end of the span.
const SPREADS: f64 = 3.0;
/// The fewest requests sent over a span: `remaining` is rounded, one request each way.
const MIN_SENT: u64 = 10;
/// How many recent measures must agree before one is used.
const AGREEING: usize = 4;
/// How many recent measures are kept.
const MEASURES: usize = 8;
/// How far apart the recent measures may be (the largest over the median, the median over
/// the smallest).
const AGREEMENT: f64 = 1.5;
/// How long a measure stays good without a new one.
const FRESH: Duration = Duration::from_secs(1);

/// One success's `remaining`, dated by when its request went (seconds since the host's
/// origin: kept small, as a fleet's learner travels to its store and back on every answer).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Reading(f64, u64, u64);

/// Recent readings of `remaining`, the requests refused among them, and what they measure.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Refill {
    readings: VecDeque<Reading>,
    refused: VecDeque<u64>,
    /// Recent measures, each with when its request went (seconds since the host's origin).
    measures: VecDeque<(f64, f64)>,
    /// The median of the recent measures while they agree, and when it was taken.
    agreed: Option<(f64, Duration)>,
}

impl Refill {
    /// A 429 to `sent`: it took nothing from the bucket.
    pub(crate) fn refused(&mut self, sent: &Admission) {
        keep_last(&mut self.refused, sent.seq, REFUSED);
    }

    /// A success to `sent` that read `remaining`, answered `now`; `full`: the most
    /// `remaining` has read (a reading there may have lost refill); `spread`: how much round
    /// trips vary (seconds).
    pub(crate) fn taken(
        &mut self,
        now: Duration,
        sent: &Admission,
        remaining: u64,
        full: u64,
        spread: f64,
    ) {
        let Some(measure) = self.measure(sent, remaining, full, spread) else {
            return;
        };
        // A measure older than the span any measure covers is of another moment: agreeing with
        // it now, after seconds in which nothing could be measured, took a pace from five
        // seconds before as the refill (a cut from 22 to 6 a second on a limit of 16, on our
        // simulator's `grow-spikes-rate-full`).
        let at = sent.at.as_secs_f64();
        self.measures.retain(|&(_, then)| at - then <= HORIZON);
        keep_last(&mut self.measures, (measure, at), MEASURES);
        // On the host's lock, once per answer: sorted on the stack.
        let mut kept = [0.0; MEASURES];
        let sorted = &mut kept[..self.measures.len()];
        for (slot, &(measure, _)) in sorted.iter_mut().zip(&self.measures) {
            *slot = measure;
        }
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let (least, most) = (sorted[0], sorted[sorted.len() - 1]);
        if sorted.len() >= AGREEING && most <= median * AGREEMENT && least * AGREEMENT >= median {
            self.agreed = Some((median, now));
        }
    }

    /// The server's refill (requests per second), while recent measures agree on it.
    pub(crate) fn rate(&self, now: Duration) -> Option<f64> {
        self.agreed
            .filter(|&(_, at)| now.saturating_sub(at) <= FRESH)
            .map(|(rate, _)| rate)
    }

    /// The refill measured from the oldest reading since the bucket was last full to this
    /// one, if that span is long enough.
    fn measure(&mut self, sent: &Admission, remaining: u64, full: u64, spread: f64) -> Option<f64> {
        let at = sent.at.as_secs_f64();
        // Answers that overtook one another: only the newest request's reading is kept.
        if self.readings.back().is_some_and(|last| last.1 >= sent.seq) {
            return None;
        }
        keep_last(
            &mut self.readings,
            Reading(at, sent.seq, remaining),
            READINGS,
        );
        while self
            .readings
            .front()
            .is_some_and(|first| at - first.0 > HORIZON)
        {
            self.readings.pop_front();
        }
        let Reading(from_at, from_seq, from_remaining) = *self
            .readings
            .iter()
            .rev()
            .take_while(|r| r.2 < full)
            .last()?;
        let span = at - from_at;
        let sent_between = sent.seq - from_seq;
        if span < MIN_SPAN.max(SPREADS * spread) || sent_between < MIN_SENT {
            return None;
        }
        // A count that did not move over the span measures the client's own pace, not the
        // refill: a bucket of one (a dynamic limit shrunk to a tenth of a second's worth)
        // reads 0 after every take at any pace under its refill, the refill it could not hold
        // lost, and a 429 now and then from the round trips' jitter does not make it
        // saturated. Taken as the refill, each probe was settled back to the pace it started
        // from, and fast recovery after a 429 stopped there (`grow-spikes-rate-full` 0.266 of
        // the ideal, 0.460 since, 0.658 with the headers hidden; no other server of the family
        // moved, on our simulator). A count saturated at 0 is measured by the successes
        // between the 429s instead (`Aimd::delivered`). (Asking for a move of two or more: 0.618
        // there, but the servers that report a rate read the measure less often, 0.007 / 0.017
        // -> 0.013 / 0.023 429s per request, and fleets of four reading Together's headers drew
        // 0.042 -> 0.053.)
        if from_remaining == remaining {
            return None;
        }
        let refused = self
            .refused
            .iter()
            .filter(|&&seq| seq > from_seq && seq <= sent.seq)
            .count() as u64;
        let taken = sent_between.saturating_sub(refused);
        let refill = remaining as f64 - from_remaining as f64 + taken as f64;
        Some(refill.max(0.0) / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u64, ms: u64) -> Admission {
        Admission {
            epoch: 0,
            rate: 60.0,
            seq,
            at: Duration::from_millis(ms),
            early: false,
            in_flight: 1,
            sent_by_answer: 0,
        }
    }

    /// A bucket of 5 refilling 50 a second, drained at 60 a second: `remaining` falls by one
    /// every 100 ms; what is measured is the refill, not the pace.
    #[test]
    fn measures_the_refill_of_a_bucket_being_drained() {
        let mut refill = Refill::default();
        for i in 0..=30u64 {
            let ms = i * 1000 / 60;
            let tokens = 5.0 + 50.0 * ms as f64 / 1000.0 - (i + 1) as f64;
            let at = sent(i, ms);
            refill.taken(at.at, &at, tokens.max(0.0) as u64, 5, 0.0);
        }
        let rate = refill.rate(Duration::from_millis(500)).expect("agreed");
        assert!((rate - 50.0).abs() < 5.0, "{rate}");
        // Gone stale: nothing new for more than a second.
        assert_eq!(refill.rate(Duration::from_millis(1_600)), None);
    }

    /// Refused requests took nothing: a bucket of 30 refilling 50 a second, sent 100 a
    /// second, every third refused (by another limit): it falls by half a request every 30 ms,
    /// and measures 50 a second, not the 83 the refused would add.
    #[test]
    fn refused_requests_are_not_counted_as_taken() {
        let mut refill = Refill::default();
        let mut level = 30.0;
        for i in 0..=60u64 {
            let at = sent(i, i * 10);
            level += 0.5;
            if i % 3 == 2 {
                refill.refused(&at);
            } else {
                level -= 1.0;
                refill.taken(at.at, &at, level as u64, 30, 0.0);
            }
        }
        let rate = refill.rate(Duration::from_millis(600)).expect("agreed");
        assert!((rate - 50.0).abs() < 4.0, "{rate}");
    }

    /// A full bucket refills nothing: no measure while it reads full.
    #[test]
    fn a_full_bucket_measures_nothing() {
        let mut refill = Refill::default();
        for i in 0..40u64 {
            let at = sent(i, i * 20);
            refill.taken(at.at, &at, 5, 5, 0.0);
        }
        assert_eq!(refill.rate(Duration::from_millis(800)), None);
    }

    /// A bucket of one refilling 10 a second, under a pace of 7: every take reads 0 left, as
    /// it would at or over the limit. The count never moves, 429s or not: no measure (it
    /// would be the pace, not the refill).
    #[test]
    fn a_count_that_never_moves_measures_nothing() {
        let mut refill = Refill::default();
        for i in 0..60u64 {
            let at = sent(i, i * 1000 / 7);
            if i % 5 == 0 {
                refill.refused(&at);
            } else {
                refill.taken(at.at, &at, 0, 2, 0.0);
            }
            assert_eq!(refill.rate(at.at), None, "{i}");
        }
    }

    /// A fixed window of 50 a second, counted down by a client sending 60 a second: nothing
    /// refills within the window, everything at its end. Spans within a window measure
    /// nothing (under a quarter of the pace, which the learner ignores); spans across its end
    /// measure about the window's rate. Never a figure in between that would cut the pace to
    /// a fraction of what the window allows.
    #[test]
    fn a_fixed_window_measures_nothing_or_its_rate() {
        let mut refill = Refill::default();
        let mut agreed = Vec::new();
        for i in 0..180u64 {
            let ms = i * 1000 / 60;
            let window_start = ms / 1000 * 1000;
            let used_in_window = (i - (window_start * 60).div_ceil(1000) + 1).min(50);
            let at = sent(i, ms);
            if used_in_window >= 50 {
                refill.refused(&at);
            } else {
                refill.taken(at.at, &at, 50 - used_in_window, 50, 0.0);
            }
            agreed.extend(refill.rate(at.at));
        }
        assert!(agreed.iter().any(|&rate| rate > 35.0), "{agreed:?}");
        assert!(
            agreed
                .iter()
                .all(|&rate| rate < 60.0 * 0.25 || (35.0..=75.0).contains(&rate)),
            "{agreed:?}"
        );
    }
}
