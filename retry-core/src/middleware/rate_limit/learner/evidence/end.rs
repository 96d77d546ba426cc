//! The end a reset names: a bucket's moves on as the bucket is spent, a fixed window's stands
//! still.
//!
//! Read as a bucket, `limit - remaining` used and full again in `reset` name the instant the bucket
//! is full: when the request went, plus the reset. (The server read its count a little later, but a
//! bucket's reset is what was used over its rate, whenever it is read: between two readings, the
//! instant moves on by the time between their requests plus what was spent meanwhile over the
//! rate.) Spend more of it and that instant moves on by at least the time between the two readings.
//! A fixed window's reset counts down to the window's end, whatever is spent: the instant stands
//! still, and the bucket reading's pace, `used / reset`, falls as the end nears and rises with what
//! is spent. A count spent while the instant it names stands still is a window's: the bucket
//! reading is refuted. (A fixed minute under OpenAI's names, "141 used, full in 58 s", read as 2.4
//! a second and trusted at once as per-minute figures are, paced 300 requests at 0.5-3 a second
//! with no 429 to refute it, where the server took 200 every 10 s: a server written by someone who
//! never read this code.)

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How far apart two readings must be (by when their requests went) to tell an end that moves
/// on from one that stands, beyond the slack.
const APART: Duration = Duration::from_secs(2);
/// How far the end may seem to stand still and still be a bucket's: a second of rounding for
/// each of two resets in whole seconds (besides the spread of the round trips).
const ROUNDING: Duration = Duration::from_secs(2);
/// A reset at least this long may be a window's end that no reading has yet told apart from a
/// bucket's time to full: the bucket reading waits for one that has (see
/// [`Evidence::end_known`](super::Evidence::end_known)). A shorter one is a window's that
/// ends before it could be told, and the count read whole again says so.
pub(super) const LONG: Duration = APART.saturating_add(ROUNDING);

/// One reading of the end a reset names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct EndMark {
    /// When its request went.
    at: Duration,
    /// When the count is full again, by its reset.
    end: Duration,
    /// How much of the count was spent...
    used: u64,
    /// ...of this `limit`.
    limit: u64,
}

impl EndMark {
    /// Reads the end `reset` names in the answer to a request sent `at`, `used` of `limit`
    /// spent, against `mark`, the reading it is measured from (replaced by this one once they
    /// are far enough apart, once the count has come back, or once `limit` has moved);
    /// `spread`: how much the round trips vary (seconds). Returns whether the end stood still
    /// while the count was spent (`Some(true)`) or moved on (`Some(false)`), once two readings
    /// far enough apart tell.
    pub(super) fn stands_still(
        mark: &mut Option<EndMark>,
        at: Duration,
        reset: Duration,
        (used, limit): (u64, u64),
        spread: f64,
    ) -> Option<bool> {
        let this = EndMark {
            at,
            end: at.saturating_add(reset),
            used,
            limit,
        };
        let Some(from) = *mark else {
            *mark = Some(this);
            return None;
        };
        if at < from.at {
            // Overtaken on the way: measured from a later reading, it says nothing.
            return None;
        }
        if used < from.used || limit != from.limit {
            // The count came back (a bucket refilling faster than it is spent, or a window
            // begun again), or the limit moved (a per-minute budget's with its rate: risen, it
            // brings a bucket's end nearer). Measure from here.
            *mark = Some(this);
            return None;
        }
        let slack = ROUNDING.saturating_add(Duration::from_secs_f64(spread.clamp(0.0, 60.0)));
        let elapsed = at - from.at;
        if elapsed < APART.saturating_add(slack) {
            return None;
        }
        *mark = Some(this);
        Some(this.end.saturating_add(slack) < from.end.saturating_add(elapsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    /// Readings every second of a count spent 20 a second: under a fixed window ending at 60
    /// s, the end stands still and is seen to by the fifth second; under a bucket refilling
    /// 20 a second (spent as fast: `used` steady, the end moving on with time) or one spent
    /// faster than it refills (the end moving on faster), never.
    #[test]
    fn a_window_s_end_stands_still_a_bucket_s_moves_on() {
        let run = |reading: &dyn Fn(f64) -> (Duration, u64)| {
            let mut mark = None;
            (0..30).map(f64::from).find(|&t| {
                let (reset, used) = reading(t);
                EndMark::stands_still(&mut mark, s(t), reset, (used, 1_200), 0.0) == Some(true)
            })
        };
        let window = |t: f64| (s((60.0 - t).ceil()), 20 * t as u64);
        assert_eq!(run(&window), Some(4.0));
        let steady = |_: f64| (s(1.0), 20);
        assert_eq!(run(&steady), None);
        let spent = |t: f64| (s(1.0 + t), 20 + 20 * t as u64);
        assert_eq!(run(&spent), None);
    }

    /// A count that comes back (a bucket refilling faster than it is spent, a window begun
    /// again) is measured from there; an answer overtaken on the way is no measure; round trips
    /// that vary by seconds widen the slack.
    #[test]
    fn a_count_come_back_or_an_overtaken_answer_starts_again() {
        let mut mark = None;
        let mut read = |at, reset, used, spread| {
            EndMark::stands_still(&mut mark, s(at), s(reset), (used, 1_200), spread)
        };
        assert_eq!(read(0.0, 60.0, 100, 0.0), None);
        assert_eq!(read(3.0, 57.0, 50, 0.0), None, "come back");
        assert_eq!(read(2.0, 50.0, 200, 0.0), None, "overtaken");
        assert_eq!(read(6.0, 54.0, 60, 3.0), None, "within the slack");
        assert_eq!(read(7.0, 53.0, 70, 0.0), Some(true));
        assert_eq!(read(11.0, 52.0, 80, 0.0), Some(false), "moved on");
    }
}
