//! The one GCRA (generic cell rate algorithm, in its virtual-scheduling form) that every
//! schedule of the limiter steps: the in-process pace and token budget ([`Schedule`],
//! [`TokenPace`]) and the fleet's pace and tokens (`FleetSchedule`, in `fleet/schedule.rs`).
//! Pure and clock-free: times are durations since an origin the caller keeps, so it is tested
//! without a clock.
//!
//! The cell is weighted: the caller prices a request in time (an interval of the pace, or its
//! tokens at the token rate) and says how much time's worth the cell holds (the burst, the
//! token bucket). So one cell serves requests and tokens, and the arithmetic is written once.
//!
//! ```text
//! earliest(increment, limit) = tat - (limit - increment)   // the cell holds the request
//! charge(now, increment, grace):
//!     slot = tat   if now <= tat + min(grace, increment / 4)   // a little late: keep it
//!            now   otherwise                                   // a quiet spell: restart
//!     tat  = slot + increment
//! ```
//!
//! What differs between the users is a parameter, not a copy: the grace (2 ms in process,
//! 4 ms for a fleet that also pays a store's round trip, none for tokens), and whether a
//! change of pace rescales what is already scheduled ([`Gcra::rescale`], in process) or
//! applies from the next slot (the fleet, which keeps its last slot rather than the cell).
//!
//! [`Schedule`]: super::schedule::Schedule
//! [`TokenPace`]: super::quota::TokenPace

use std::time::Duration;

/// A weighted virtual-scheduling cell: all it keeps is the theoretical arrival time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// When the cell is empty again if nothing more is charged (the theoretical arrival time
    /// of the next request): a request priced `increment` is on time from here on.
    tat: Duration,
}

impl Gcra {
    /// A cell whose theoretical arrival time is `tat`: what a user keeping its own state (the
    /// fleet's, in a store) steps the cell from.
    pub(crate) const fn at(tat: Duration) -> Self {
        Gcra { tat }
    }

    /// The theoretical arrival time, for users that keep it (or read how far ahead it runs).
    pub(crate) const fn tat(self) -> Duration {
        self.tat
    }

    /// The earliest time a request priced `increment` may go when the cell holds `limit`:
    /// when the cell has room for it. One priced above the limit (a prompt larger than the
    /// token bucket) waits for an empty cell rather than forever, and leaves a debt.
    pub(crate) fn earliest(self, increment: Duration, limit: Duration) -> Duration {
        self.tat.saturating_sub(limit.saturating_sub(increment))
    }

    /// Charges a request priced `increment` that goes at `now`; returns its slot on the
    /// schedule. One at most `grace` late (capped at a quarter of its increment) takes the slot
    /// it was due, so a timer's or a store's lateness does not cost the schedule that time;
    /// the cap keeps the grace from becoming a burst at a fast pace. One later than that
    /// (a quiet spell, a cooldown) starts the schedule again from `now`: an idle cell fills
    /// up only to its limit. A grace of zero is the textbook cell, `tat = max(tat, now) + i`.
    pub(crate) fn charge(
        &mut self,
        now: Duration,
        increment: Duration,
        grace: Duration,
    ) -> Duration {
        let late = now.saturating_sub(self.tat) > grace.min(increment / 4);
        let slot = if late { now } else { self.tat };
        self.tat = slot.saturating_add(increment);
        slot
    }

    /// Rescales what is scheduled ahead of `now` from requests priced `old` to requests priced
    /// `new`: the requests already ahead keep their number, and at a new pace stand for that
    /// many of its intervals (a first request sent at a slow initial pace must not hold back
    /// a faster, learned one).
    pub(crate) fn rescale(&mut self, now: Duration, old: Duration, new: Duration) {
        if old != new && self.tat > now {
            let ahead = (self.tat - now).as_secs_f64() / old.as_secs_f64();
            self.tat = now.saturating_add(secs(ahead * new.as_secs_f64()));
        }
    }

    /// Forgets any debt beyond `limit` ahead of `now`: when a tolerance shrinks, the requests
    /// its larger one let go early were answered (or will be), and must not hold back the next.
    pub(crate) fn forgive_beyond(&mut self, now: Duration, limit: Duration) {
        self.tat = self.tat.min(now.saturating_add(limit));
    }

    /// Holds the schedule until at least `tat`: the server says the cell is fuller than the
    /// schedule thought (someone else spends from it). Never gives credit.
    pub(crate) fn hold_until(&mut self, tat: Duration) {
        self.tat = self.tat.max(tat);
    }
}

/// Seconds as a duration, saturating: how every user prices a request in time (a cost of
/// `u64::MAX` tokens, a rate of nearly zero must not panic).
pub(crate) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const GRACE: Duration = Duration::from_millis(2);

    /// Charges `n` requests priced `increment` as soon as a cell holding `limit` lets them.
    fn run(cell: &mut Gcra, n: usize, increment: Duration, limit: Duration) -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let at = cell.earliest(increment, limit);
                cell.charge(at, increment, GRACE);
                at
            })
            .collect()
    }

    #[test]
    fn the_limit_goes_at_once_then_one_increment_apart() {
        let mut cell = Gcra::default();
        let went = run(&mut cell, 5, 100 * MS, 300 * MS);
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
    fn a_request_above_the_limit_waits_for_an_empty_cell_and_leaves_a_debt() {
        let mut cell = Gcra::default();
        cell.charge(Duration::ZERO, 10_000 * MS, Duration::ZERO);
        // Empty again at 10 s; half a second's worth of room half a second earlier.
        assert_eq!(cell.earliest(10_000 * MS, 1_000 * MS), 10_000 * MS);
        assert_eq!(cell.earliest(500 * MS, 1_000 * MS), 9_500 * MS);
        cell.charge(10_000 * MS, Duration::MAX, Duration::ZERO);
        assert_eq!(cell.tat(), Duration::MAX);
    }

    #[test]
    fn a_little_late_keeps_the_schedule_a_quiet_spell_restarts_it() {
        let mut cell = Gcra::at(100 * MS);
        // 1 ms late, within the grace: the slot it was due, the next an interval after it.
        assert_eq!(cell.charge(101 * MS, 100 * MS, GRACE), 100 * MS);
        assert_eq!(cell.tat(), 200 * MS);
        // 3 ms late, past the grace: from now.
        assert_eq!(cell.charge(203 * MS, 100 * MS, GRACE), 203 * MS);
        assert_eq!(cell.tat(), 303 * MS);
        // At a fast pace the grace is a quarter of the interval: 1 ms late of 4 is kept,
        // 2 ms is not.
        let mut fast = Gcra::at(10 * MS);
        assert_eq!(fast.charge(11 * MS, 4 * MS, GRACE), 10 * MS);
        assert_eq!(fast.charge(16 * MS, 4 * MS, GRACE), 16 * MS);
        // No grace (tokens): any lateness restarts, early keeps the debt.
        let mut tokens = Gcra::at(100 * MS);
        assert_eq!(
            tokens.charge(100 * MS + Duration::from_nanos(1), MS, Duration::ZERO),
            100 * MS + Duration::from_nanos(1)
        );
        assert_eq!(
            tokens.charge(Duration::ZERO, MS, Duration::ZERO),
            101 * MS + Duration::from_nanos(1)
        );
    }

    #[test]
    fn a_new_pace_keeps_the_number_scheduled_ahead() {
        let mut cell = Gcra::at(1_000 * MS);
        // Two intervals of 500 ms ahead of 0 become two of 100 ms.
        cell.rescale(Duration::ZERO, 500 * MS, 100 * MS);
        assert_eq!(cell.tat(), 200 * MS);
        // Nothing ahead: nothing to rescale.
        cell.rescale(300 * MS, 100 * MS, 1_000 * MS);
        assert_eq!(cell.tat(), 200 * MS);
    }

    #[test]
    fn debt_is_forgiven_only_beyond_the_limit_and_a_hold_gives_no_credit() {
        let mut cell = Gcra::at(800 * MS);
        cell.forgive_beyond(Duration::ZERO, 100 * MS);
        assert_eq!(cell.tat(), 100 * MS);
        cell.forgive_beyond(Duration::ZERO, 500 * MS);
        assert_eq!(cell.tat(), 100 * MS);
        cell.hold_until(50 * MS);
        assert_eq!(cell.tat(), 100 * MS);
        cell.hold_until(300 * MS);
        assert_eq!(cell.tat(), 300 * MS);
    }

    #[test]
    fn wild_prices_saturate() {
        let mut cell = Gcra::at(Duration::MAX);
        assert_eq!(cell.earliest(Duration::MAX, Duration::ZERO), Duration::MAX);
        cell.charge(Duration::MAX, Duration::MAX, Duration::MAX);
        cell.rescale(Duration::ZERO, Duration::ZERO, Duration::MAX);
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), Duration::MAX / 4);
        assert_eq!(secs(-1.0), Duration::ZERO);
    }
}
