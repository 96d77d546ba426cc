//! When the next request to a host may go: the learned pace (a cell of the one
//! [`Gcra`](super::gcra), each request priced one interval, the burst tolerance its limit),
//! a shared cooldown and the token budget. Pure: times are durations since the host's
//! origin, passed in, so it is tested without a clock.
//!
//! ```text
//! at = max(tat - (burst - 1) * interval,   // the learned pace (virtual scheduling, GCRA)
//!          cooldown_until,                 // set by a 429 or an empty bucket
//!          tokens.tat - (tokens.capacity - cost),  // the token budget, if any
//!          sends[len - count] + length + margin)   // a sliding log's bound, if confirmed
//! ```
//!
//! where `burst` is 1 until the server's headers earn a burst licence, and each answer's
//! `remaining` moves `tat` later when the server has less left than the schedule assumed
//! ([`Schedule::sync`]).

use std::collections::VecDeque;
use std::time::Duration;

use super::gcra::{Gcra, secs};
use super::quota::TokenPace;

/// When the next request may go. Times are durations since the host's origin.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    /// Time between requests at the current pace; `None` for no pace.
    interval: Option<Duration>,
    /// How many may go back to back when the schedule has fallen behind real time.
    burst: u32,
    /// The pace's schedule: when the next request is due.
    pace: Gcra,
    /// Nobody goes before this.
    cooldown_until: Duration,
    /// The token budget, if any.
    pub(crate) tokens: Option<TokenPace>,
    /// Requests admitted so far: with an answer's [`Admission::seq`], how many went after it.
    admitted: u64,
    /// A sliding log's bound (see `learner::log`): at most `count` admissions in any
    /// `length`, each place waiting `margin` more.
    log: Option<LogBound>,
    /// The latest admissions' times (up to [`SENDS_KEPT`], or a bound's count if more),
    /// kept with or without a bound: the log counts the requests sent before it was
    /// confirmed too.
    sends: VecDeque<Duration>,
}

/// How many admissions' times the schedule keeps for a sliding log's bound, at least: the
/// longest log read as one counts up to this many (`learner::log`). 8 KiB per host.
const SENDS_KEPT: usize = 512;

/// A sliding log's bound on admissions: at most `count` in any `length`, each place waiting
/// `margin` more (the way to the server varies).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LogBound {
    pub(crate) count: u32,
    pub(crate) length: Duration,
    pub(crate) margin: Duration,
    /// The server read the log whole (nothing of this client's in it but that request) on
    /// a request sent then: nothing sent before it counts.
    pub(crate) since: Duration,
}

/// How late a head may be admitted (timer granularity, scheduling) without the schedule
/// losing that time: up to this much (or a quarter of the interval, if less: [`Gcra::charge`]),
/// the next slot is counted from where this one should have been, not from when it was taken.
/// Also how far ahead of the pace a request must go to count as early (on the burst licence).
const GRACE: Duration = Duration::from_millis(2);

impl Schedule {
    pub(crate) const fn new() -> Self {
        Schedule {
            interval: None,
            burst: 1,
            pace: Gcra::at(Duration::ZERO),
            cooldown_until: Duration::ZERO,
            tokens: None,
            admitted: 0,
            log: None,
            sends: VecDeque::new(),
        }
    }

    /// Bounds admissions by a sliding log (`None` lifts the bound). Every admission counts,
    /// the ones made before the bound too: the server's log holds them. (Counting from the
    /// bound alone, the log confirmed while a second's worth was in it or in flight let its
    /// whole count go at once: 21 429s in 10 ms, half a run's, on a server written apart
    /// from this project.)
    pub(crate) fn set_log(&mut self, log: Option<LogBound>) {
        self.log = log;
    }

    /// A request admitted `at` was refused (a 429): it took no place in a log, and the
    /// bound does not count it. (Counted, the 429s of the first second held the log's
    /// bound a second longer: 0.94 -> 0.84 of the ideal on a log read in whole seconds, on
    /// our simulator.)
    pub(crate) fn refused(&mut self, at: Duration) {
        let i = self.sends.partition_point(|&t| t < at);
        if self.sends.get(i) == Some(&at) {
            self.sends.remove(i);
        }
    }

    /// Sets the pace: `rate` requests per second (`None`: no pace), `burst` at once.
    /// The requests already scheduled ahead of `now` keep their number: at a new pace they
    /// stand for that many intervals of it (a first request sent at a slow initial pace must
    /// not hold back the burst that a faster, learned one allows).
    pub(crate) fn set_pace(&mut self, rate: Option<f64>, burst: u32, now: Duration) {
        let interval = rate.map(|r| secs(1.0 / r.max(1e-6)));
        if let (Some(old), Some(new)) = (self.interval, interval) {
            self.pace.rescale(now, old, new);
        }
        let burst = burst.max(1);
        if let Some(interval) = interval
            && burst < self.burst
        {
            // A smaller burst (a licence withdrawn) leaves no debt for the requests its larger
            // tolerance let go early: those were answered, or will be; the next waits a pace.
            self.pace
                .forgive_beyond(now, interval.saturating_mul(burst));
        }
        self.interval = interval;
        self.burst = burst;
    }

    /// Aligns the schedule with the server's own count, from the answer to the request
    /// admitted as `sent`: the server's bucket holds `limit` and had `remaining` left (rounded
    /// down: at least that many) when it took that request. The requests admitted after it are
    /// taken as spent too (the server may not have counted them yet). The count is dated from
    /// when `sent` went, not from when its answer came: the requests sent from now on reach
    /// the server as late as `sent` did, so the round trip cancels out, where dating it from
    /// the answer would add a round trip to every wait.
    ///
    /// It only ever holds requests back: the schedule itself, with the burst tolerance at
    /// `limit`, spends what the bucket holds; the count corrects it when the server has less
    /// (another client spends from the same bucket, a retry the schedule did not see). It
    /// cannot give credit: it knows how many requests went since `sent`, not when, so it
    /// cannot tell the refill a full bucket wasted while they were spread out.
    pub(crate) fn sync(&mut self, limit: u64, remaining: u64, sent: &Admission) {
        let Some(interval) = self.interval else {
            return;
        };
        let used = limit
            .saturating_sub(remaining)
            .saturating_add(self.after(sent));
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        let server = sent.at.saturating_add(interval.saturating_mul(used));
        self.pace.hold_until(server);
    }

    /// When the `count`-th latest admission at or before `at` went, among those not refused
    /// (taken, or still unanswered), if the schedule kept that many.
    pub(crate) fn standing(&self, count: u64, at: Duration) -> Option<Duration> {
        let upto = self.sends.partition_point(|&t| t <= at);
        let count = usize::try_from(count).ok().filter(|&count| count > 0)?;
        upto.checked_sub(count).map(|i| self.sends[i])
    }

    /// How many requests were admitted after `sent`.
    fn after(&self, sent: &Admission) -> u64 {
        self.admitted.saturating_sub(sent.seq.saturating_add(1))
    }

    /// When `sent` went, plus one interval for each request admitted since: where the server's
    /// count of an answer to `sent` stands once those are spent.
    pub(crate) fn behind(&self, sent: &Admission) -> Duration {
        let after = u32::try_from(self.after(sent)).unwrap_or(u32::MAX);
        let step = self.interval.unwrap_or_default();
        sent.at.saturating_add(step.saturating_mul(after))
    }

    /// How many requests were admitted so far.
    pub(crate) fn admitted(&self) -> u64 {
        self.admitted
    }

    /// Holds every request until `until` (or later, if a cooldown is already longer).
    pub(crate) fn cool_down_until(&mut self, until: Duration) {
        self.cooldown_until = self.cooldown_until.max(until);
    }

    /// Whether a cooldown holds every request at `now`.
    pub(crate) fn cooling(&self, now: Duration) -> bool {
        self.cooldown_until > now
    }

    /// The earliest time a request of `cost` tokens may go.
    pub(crate) fn earliest(&self, cost: u64) -> Duration {
        let mut at = self.cooldown_until;
        if let Some(interval) = self.interval {
            at = at.max(
                self.pace
                    .earliest(interval, interval.saturating_mul(self.burst)),
            );
        }
        if let Some(tokens) = &self.tokens {
            at = at.max(tokens.earliest(cost));
        }
        if let Some(log) = &self.log {
            // The place of the `count`-th latest admission comes back `length` after it went.
            let count = usize::try_from(log.count).unwrap_or(usize::MAX);
            if let Some(oldest) = self.sends.len().checked_sub(count).map(|i| self.sends[i])
                && oldest >= log.since
            {
                at = at.max(oldest + log.length + log.margin);
            }
        }
        at
    }

    /// Admits a request of `cost` tokens at `now`; returns whether it went ahead of the pace
    /// (on the burst licence).
    pub(crate) fn commit(&mut self, now: Duration, cost: u64) -> bool {
        let early = self.interval.is_some() && now.saturating_add(GRACE) < self.pace.tat();
        if let Some(interval) = self.interval {
            // A head that woke a little late (timer granularity) keeps the schedule; one that
            // went after a pause or a quiet spell starts it again from now.
            self.pace.charge(now, interval, GRACE);
        }
        if let Some(tokens) = &mut self.tokens {
            tokens.charge(now, cost);
        }
        self.admitted += 1;
        let kept = self.log.as_ref().map_or(SENDS_KEPT, |log| {
            SENDS_KEPT.max(usize::try_from(log.count).unwrap_or(usize::MAX))
        });
        self.sends.push_back(now);
        while self.sends.len() > kept {
            self.sends.pop_front();
        }
        early
    }
}

/// What the limiter knew when it let a request go; the learner reads it back with the response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admission {
    /// The learner's epoch: responses to requests sent before a change of pace do not count
    /// against the new pace.
    pub(crate) epoch: u64,
    /// The pace the request went at (requests per second; infinite when unpaced).
    pub(crate) rate: f64,
    /// Its place among the host's admissions (0 for the first).
    pub(crate) seq: u64,
    /// When it went (time since the host's origin).
    pub(crate) at: Duration,
    /// Whether it went ahead of the pace, on the burst licence.
    pub(crate) early: bool,
    /// How many of the host's requests were in flight when it went, itself included (this
    /// process's own count).
    pub(crate) in_flight: u32,
    /// How many of the host's requests had gone when its answer came (0 until then): the
    /// most of this process's the server can have counted by then, those sent after it and
    /// answered first among them.
    pub(crate) sent_by_answer: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Admits `n` requests, each as early as `schedule` allows: when each went.
    fn admit_as_early_as_allowed(schedule: &mut Schedule, n: usize) -> Vec<Duration> {
        let mut went = Vec::new();
        for _ in 0..n {
            let at = schedule.earliest(1);
            went.push(at);
            schedule.commit(at, 1);
        }
        went
    }

    #[test]
    fn the_requests_standing_are_the_admitted_less_the_refused() {
        let mut schedule = Schedule::new();
        for at in [0, 10, 20, 30] {
            schedule.commit(at * MS, 1);
        }
        // The 2nd latest up to 25 ms went at 10 ms; with the one at 10 ms refused, at 0.
        assert_eq!(schedule.standing(2, 25 * MS), Some(10 * MS));
        schedule.refused(10 * MS);
        assert_eq!(schedule.standing(2, 25 * MS), Some(Duration::ZERO));
        assert_eq!(schedule.standing(3, 25 * MS), None, "only two went by then");
        assert_eq!(schedule.standing(0, 25 * MS), None);
    }

    /// A sliding log's bound of 3 a second, each place waiting 5 ms more; nothing sent
    /// before `since` counts.
    fn three_a_second(since: Duration) -> LogBound {
        LogBound {
            count: 3,
            length: 1_000 * MS,
            margin: 5 * MS,
            since,
        }
    }

    #[test]
    fn paced_one_interval_apart_after_the_burst() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(10.0), 3, Duration::ZERO);
        let went = admit_as_early_as_allowed(&mut schedule, 5);
        // Three at once (the last two ahead of the pace), then one every 100 ms.
        assert_eq!(
            went,
            [
                Duration::ZERO,
                Duration::ZERO,
                Duration::ZERO,
                100 * MS,
                200 * MS
            ]
        );
    }

    #[test]
    fn a_smaller_burst_leaves_no_debt() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(10.0), 8, Duration::ZERO);
        for _ in 0..8 {
            assert!(schedule.commit(Duration::ZERO, 1) || schedule.admitted() == 1);
        }
        // Eight intervals of debt; the licence withdrawn: the next waits one interval, not 800 ms.
        schedule.set_pace(Some(10.0), 1, Duration::ZERO);
        assert_eq!(schedule.earliest(1), 100 * MS);
    }

    #[test]
    fn sync_only_holds_back() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(10.0), 4, Duration::ZERO);
        let sent = Admission {
            epoch: 0,
            rate: 10.0,
            seq: 0,
            at: Duration::ZERO,
            early: false,
            in_flight: 1,
            sent_by_answer: 0,
        };
        schedule.commit(Duration::ZERO, 1);
        // By the schedule three more of the burst of 4 may go at once.
        assert_eq!(schedule.earliest(1), Duration::ZERO);
        // The server says none of 4 left after the first (someone else spent them): the next
        // waits for one to come back, an interval after the first went.
        schedule.sync(4, 0, &sent);
        assert_eq!(schedule.earliest(1), 100 * MS);
        let before = schedule.earliest(1);
        // A fuller bucket than the schedule thinks gives no credit.
        schedule.sync(4, 4, &sent);
        assert_eq!(schedule.earliest(1), before);
    }

    #[test]
    fn a_log_bound_sends_no_more_than_its_count_in_any_length() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(50.0), 50, Duration::ZERO);
        schedule.set_log(Some(three_a_second(Duration::ZERO)));
        let went = admit_as_early_as_allowed(&mut schedule, 5);
        // Three at once (the pace's burst allows 50), then each a length after the one whose
        // place it takes.
        assert_eq!(
            went,
            [
                Duration::ZERO,
                Duration::ZERO,
                Duration::ZERO,
                1_005 * MS,
                1_005 * MS
            ]
        );
        schedule.set_log(None);
        assert!(schedule.earliest(1) < 1_005 * MS, "lifted");
    }

    #[test]
    fn a_log_bound_counts_what_went_before_it_but_429s() {
        // Two went, 10 ms apart, before the log was confirmed; `refused` of them drew a 429.
        let after = |refused: Option<Duration>| {
            let mut schedule = Schedule::new();
            schedule.set_pace(Some(100.0), 1, Duration::ZERO);
            assert_eq!(
                admit_as_early_as_allowed(&mut schedule, 2),
                [Duration::ZERO, 10 * MS]
            );
            if let Some(at) = refused {
                schedule.refused(at);
            }
            schedule.set_log(Some(three_a_second(Duration::ZERO)));
            admit_as_early_as_allowed(&mut schedule, 3)
        };
        // One place is left; the next waits for the first's to come back.
        assert_eq!(after(None)[..2], [20 * MS, 1_005 * MS]);
        // A refused request took no place: two are left.
        assert_eq!(after(Some(10 * MS)), [20 * MS, 30 * MS, 1_005 * MS]);
    }

    #[test]
    fn a_log_bound_counts_nothing_sent_before_the_log_read_whole() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(100.0), 1, Duration::ZERO);
        admit_as_early_as_allowed(&mut schedule, 3);
        schedule.set_log(Some(three_a_second(Duration::ZERO)));
        assert_eq!(schedule.earliest(1), 1_005 * MS, "spent by the three");
        // The server read its log whole on the second: the first is not in it.
        schedule.set_log(Some(three_a_second(10 * MS)));
        assert_eq!(schedule.earliest(1), 30 * MS, "the pace's");
    }

    #[test]
    fn a_cooldown_holds_everything() {
        let mut schedule = Schedule::new();
        schedule.set_pace(Some(1000.0), 1, Duration::ZERO);
        schedule.cool_down_until(500 * MS);
        schedule.cool_down_until(200 * MS);
        assert_eq!(schedule.earliest(1), 500 * MS);
    }
}
