//! How far a bucket reading is trusted: a pace the headers claim is reached by doubling what
//! the server has served, then taken whole once proven (see [`Learner::prove`]), and held as
//! a ceiling over the blind pace once 503s have shown the server out of capacity under it.
//! A rate reading is only ever a floor under the blind pace (see [`Learner::rate_floor`]).

use super::Learner;
use crate::middleware::headers::RateLimitHeaders;

/// How far ahead of the fastest the server has served a bucket reading's pace may go, until
/// it is proven (see [`Learner::prove`]). Headers that report a rate of 1 000 a second that
/// never binds, on a server serving 8 requests at once, were trusted after three answers, at
/// 30 a second in slow start: the queue sent 64 at once, and the three 429s that refuted the
/// reading came among 60 (0.37 429s per request against 0.03 with the headers hidden; 0.07
/// with this cap, on our simulator's `concurrency-8-together`). Twice, as slow start doubles:
/// a limit that rose from 20 to 80 a second (`step-50-20-80-bucket`) is reached as fast.
const TRUST_AHEAD: f64 = 2.0;

impl Learner {
    /// The trusted bucket reading's pace, unless the count reads as a sliding log so far
    /// (see [`LogReading::plausible`](super::log::LogReading::plausible)). A log whose
    /// reset names when its oldest request leaves reads, as a bucket, "46 used, full in
    /// 0.18 s": a pace of 260 a second, which the bucket reading's predictions, loose on a
    /// count of 50, did not refute. Trusted before the log was confirmed, it paced at
    /// 260-900 a second: 38-54 429s in 3 of 15 runs on a server written apart from this
    /// project (10-14 in every run without it).
    ///
    /// Until it is proven (see [`Self::prove`]), the reading's pace is at most
    /// [`TRUST_AHEAD`] times the fastest the server has served, and never under the blind
    /// learner's: a pace the headers claim is reached by doubling, as slow start would, not
    /// in one jump. Once a 429 has come at its pace (a contradiction), it is at most the
    /// blind learner's until proven: on a server serving 8 requests at once, whose headers
    /// report a rate of 1 000 a second that never binds, the doubling went on to 46-51 a
    /// second between the 429s that refuted the reading, three of them at its pace and more
    /// in flight (0.070 / 0.093 -> 0.033 / 0.060 429s per request, median / worst of 20
    /// seeds, 0.875 -> 0.891 of the ideal, with the probes of `super::slots` backed off too;
    /// on our simulator's `concurrency-8-together`). No other server of the family moved; in
    /// fleets of four without a channel on Together's bucket, 0.961 / 0.927 -> 0.958 / 0.912
    /// of the ideal (median / p5 of 40 seeds) and 0.048 / 0.060 -> 0.047 / 0.055 429s per
    /// request.
    pub(super) fn bucket_rate(&self) -> Option<f64> {
        let rate = self
            .evidence
            .bucket_rate()
            .filter(|_| !self.log.plausible())?;
        if self.reading_is_a_ceiling() {
            return Some(rate.min(self.aimd.rate()));
        }
        if self.proven {
            return Some(rate);
        }
        if self.evidence.contradictions() > 0 {
            // A 429 at the reading's pace before the server has served half of it: the
            // reading runs no further ahead of the blind pace until then (see the doc).
            return Some(rate.min(self.aimd.rate()));
        }
        Some(rate.min(self.ahead_of_served()))
    }

    /// How far an unproven reading may take the pace: [`TRUST_AHEAD`] times the fastest the
    /// server has served, and never under the blind pace.
    fn ahead_of_served(&self) -> f64 {
        (self.aimd.fastest_served())
            .map_or(0.0, |fastest| TRUST_AHEAD * fastest)
            .max(self.aimd.rate())
    }

    /// How far the climb on a budget nobody spends (`Evidence::unspent`) may take the pace:
    /// to the `rate` its reading names, once proven (per-minute figures are proven at once);
    /// until then, as the trusted reading itself, to [`TRUST_AHEAD`] times the fastest the
    /// server has served, and never under the blind pace. (Taken to the reading at once,
    /// headers claiming 1 000 a second on a server that served 40 ran the blind pace to 157 a
    /// second before its first 429.)
    pub(super) fn unspent_ceiling(&self, rate: f64, limits: &RateLimitHeaders) -> f64 {
        if self.proven || limits.family.per_minute() {
            return rate;
        }
        rate.min(self.ahead_of_served())
    }

    /// The trusted rate reading's pace (see [`Evidence::rate_reading`]), as a floor under the
    /// blind pace: never the pace itself. A `limit` that is a bucket's size, read as a rate,
    /// is a floor too low to matter; taken as the pace, it held each of four processes sharing
    /// a limit to 5 a second, their share of a limit of 20 when the 429s seemed to bear it
    /// out, after the limit rose to 80 (0.30 of the ideal in one run of ten, on our
    /// simulator's `step-50-20-80-bucket`). It goes no further than the fastest the server
    /// has served: a process sharing a limit with others is served its share, and a floor of
    /// twice that ([`TRUST_AHEAD`], as the bucket reading has), for each of four on a limit
    /// of 50, drew 0.073 429s per request at worst in one run of 20, not 0.053 (and 0.880 of
    /// the ideal, not 0.912, on our simulator). Alone, the fastest it is served runs a little
    /// ahead of its pace, and the floor climbs to the rate within seconds. It is not held
    /// once 503s have shown the server out of capacity under it.
    ///
    /// [`Evidence::rate_reading`]: super::evidence::Evidence::rate_reading
    pub(super) fn rate_floor(&self) -> Option<f64> {
        let rate = (self.evidence.rate_reading()).filter(|_| !self.log.plausible())?;
        if self.capacity_bound {
            return None;
        }
        let reached = (self.aimd.fastest_served())
            .unwrap_or(0.0)
            .max(self.aimd.rate());
        Some(rate.min(reached))
    }

    /// Whether the bucket reading is only a ceiling over the blind pace, never the pace: 503s
    /// have shown the server out of capacity under it, or others spend the per-minute budget
    /// it reads, whose rate is then the fleet's (steered by the budget, see `super::crowd`).
    pub(super) fn reading_is_a_ceiling(&self) -> bool {
        self.capacity_bound || self.evidence.sees_crowd()
    }

    /// The bucket reading's pace is proven once the server has served half of it
    /// ([`TRUST_AHEAD`]), or if it is per minute (a documented rate, checked against its
    /// reset, that each of a fleet's processes, served a share of it, never sees half
    /// served: held to twice its own share, one of four on Anthropic's headers fell to 0.59
    /// of the ideal, on our simulator). From then on it is taken whole, and follows the limit
    /// as it moves. A process of a fleet on a bucket reading is held to twice what it is
    /// served until then, which keeps it from running ahead of the others: four processes on
    /// `together-bucket`, 0.935 -> 0.952 of the ideal (median of 20 seeds, on our simulator),
    /// 0.052 -> 0.042 429s per request.
    pub(super) fn prove(&mut self, limits: &RateLimitHeaders) {
        let Some(rate) = self.evidence.bucket_rate() else {
            return;
        };
        let served =
            (self.aimd.fastest_served()).is_some_and(|fastest| TRUST_AHEAD * fastest >= rate);
        self.proven |= served || limits.family.per_minute();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::aimd::admission;
    use super::super::{Learner, Outcome, reading};
    use crate::middleware::rate_limit::schedule::Admission;

    /// Answers a request sent at `rate` as `outcome`, with `limit` named as the rate.
    fn answer(learner: &mut Learner, seq: u64, ms: u64, rate: f64, outcome: Outcome, limit: u64) {
        let sent = Admission {
            seq,
            at: Duration::from_millis(ms),
            ..admission(learner.epoch(), rate)
        };
        let now = Duration::from_millis(ms + 30);
        learner.observe(now, &sent, outcome, &reading(limit, 0, 0), true);
    }

    /// A bucket of one refilling 10 a second, whose `limit` is that rate. Once three 429s over
    /// it bear the reading out, a cut below it is undone at the next answer; when the named
    /// rate falls to 5, the pace falls with it at once.
    #[test]
    fn a_trusted_rate_is_a_floor_that_falls_with_it() {
        let mut learner = Learner::new(8.0);
        let mut seq = 0;
        for _ in 0..30 {
            answer(&mut learner, seq, seq * 100, 8.0, Outcome::Taken, 10);
            seq += 1;
        }
        for _ in 0..3 {
            answer(&mut learner, seq, seq * 100, 13.0, Outcome::RateLimited, 10);
            seq += 1;
        }
        let floor = learner.rate_floor().expect("trusted");
        assert!((9.0..=10.0).contains(&floor), "{floor}");
        // (A 429 right after others, nothing taken between, lengthens the pause instead.)
        answer(&mut learner, seq, seq * 100, 9.5, Outcome::Taken, 10);
        seq += 1;
        answer(&mut learner, seq, seq * 100, 13.0, Outcome::RateLimited, 10);
        seq += 1;
        assert!(learner.rate() < floor, "the 429 cut under the floor");
        answer(&mut learner, seq, seq * 100, 9.5, Outcome::Taken, 10);
        seq += 1;
        assert!(learner.rate() >= floor, "{} under {floor}", learner.rate());
        answer(&mut learner, seq, seq * 100, 9.5, Outcome::Taken, 5);
        // (The success that told it adds its own small increase.)
        assert!(learner.rate() <= 5.1, "{}", learner.rate());
    }

    /// A bucket of one whose `limit` names its rate of 10 and never moves, refused at 10.5:
    /// while the 429 is recent, the pace climbs back no further than the rate (fast recovery
    /// aims at where it was refused); once the named rate has risen (9, then 10), a pace past
    /// it is the blind learner's again.
    #[test]
    fn a_429_past_a_rate_that_never_moved_holds_the_pace_to_it() {
        let climb = |first_limit: u64| {
            let mut learner = Learner::new(8.0);
            let mut seq = 0;
            for i in 0..30 {
                let limit = if i < 15 { first_limit } else { 10 };
                answer(&mut learner, seq, seq * 100, 8.0, Outcome::Taken, limit);
                seq += 1;
            }
            for _ in 0..3 {
                answer(&mut learner, seq, seq * 100, 13.0, Outcome::RateLimited, 10);
                seq += 1;
            }
            let at = seq * 100;
            learner.aimd.follow(10.5, Duration::from_millis(at));
            answer(&mut learner, seq, at, 10.5, Outcome::RateLimited, 10);
            seq += 1;
            // Half a second of successes, within the quiet spell after the 429.
            for i in 0..10 {
                answer(
                    &mut learner,
                    seq,
                    at + 100 + i * 50,
                    10.0,
                    Outcome::Taken,
                    10,
                );
                seq += 1;
            }
            learner.rate()
        };
        let steady = climb(10);
        assert!(steady <= 10.05, "{steady}");
        let risen = climb(9);
        assert!(risen > 10.1, "{risen}");
    }

    /// A `limit` that is a bucket's size, read as a rate, is never the pace: a blind pace
    /// over it stays where it is.
    #[test]
    fn a_rate_floor_never_holds_the_pace_down() {
        let mut learner = Learner::new(8.0);
        let mut seq = 0;
        for _ in 0..3 {
            answer(&mut learner, seq, seq * 20, 8.0, Outcome::RateLimited, 5);
            seq += 1;
        }
        assert!(learner.rate_floor().is_some());
        learner.aimd.follow(40.0, Duration::from_millis(seq * 20));
        for _ in 0..10 {
            answer(&mut learner, seq, seq * 20, 40.0, Outcome::Taken, 5);
            seq += 1;
        }
        assert!(learner.rate() >= 40.0, "{}", learner.rate());
    }
}
