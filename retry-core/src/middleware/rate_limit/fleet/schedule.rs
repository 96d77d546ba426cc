//! The fleet's schedule: one GCRA (virtual scheduling, as in redis-cell) for every process of
//! a fleet, kept in the shared store and stepped here. The store only loads and swaps, so a
//! fleet in Redis and a fleet in memory run this same code, and it is tested without a store.
//!
//! The arithmetic is the in-process limiter's: the pace is a cell of the one
//! [`Gcra`](super::super::gcra) priced one interval a request, the tokens a [`TokenPace`].
//! What differs is kept here, as parameters: a larger grace (a store's round trip), and what
//! is kept (the last slot, not the cell's arrival time: see [`FleetSchedule::last`]), which is
//! the JSON the store holds, so processes of older versions share one schedule with newer.
//!
//! Times are durations on the store's clock (Redis's `TIME`, or a [`MemoryLimit`]'s own), so
//! the clocks of the processes do not matter.
//!
//! [`MemoryLimit`]: super::MemoryLimit

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::gcra::{Gcra, secs};
use super::super::quota::TokenPace;

/// Lateness (timers, the store's round trip) that does not cost the schedule a slot: a request
/// this close behind its slot keeps the schedule rather than start it again from now.
const GRACE: Duration = Duration::from_millis(4);

/// When the next request of the fleet may go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FleetSchedule {
    /// When the last slot was, on the schedule (not when its request went: a request a
    /// little late keeps the schedule), and the interval it was taken at. The next slot is
    /// an interval of the pace *then* after it: a pace cut applies to the very next slot.
    /// (The in-process pace keeps the cell's arrival time and rescales it instead: it knows
    /// each change of pace as it happens, where the fleet only sees the pace each asker brings.)
    last: Option<(Duration, Duration)>,
    /// The same for the token budget.
    token_tat: Option<Duration>,
    /// Nobody in the fleet goes before this (a 429 somewhere, an empty bucket).
    cooldown_until: Duration,
    /// Requests admitted so far, fleet-wide: what a reading of `remaining` is dated by.
    admitted: u64,
}

/// What a request asks of the fleet's schedule.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ask {
    /// The learned pace (requests per second), if any.
    pub(crate) rate: Option<f64>,
    /// A fixed quota (requests per second), if any.
    pub(crate) fixed: Option<f64>,
    /// How many requests of the pace may go back to back.
    pub(crate) burst: u32,
    /// The token pace and bucket size, if any.
    pub(crate) tokens: Option<(f64, f64)>,
    /// This request's tokens.
    pub(crate) cost: u64,
}

/// A slot reserved in the fleet's schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Slot {
    /// When the request may go (on the store's clock).
    pub(crate) at: Duration,
    /// Its place among the fleet's admissions.
    pub(crate) seq: u64,
}

impl FleetSchedule {
    /// Requests admitted so far, fleet-wide.
    pub(crate) fn admitted(&self) -> u64 {
        self.admitted
    }

    /// Reserves the next slot for a request asking `ask` at `now`, if it comes within
    /// `horizon`; otherwise reserves nothing and says when it comes.
    ///
    /// Nothing is reserved further ahead: a slot taken early would go at the pace and after
    /// the cooldown of when it was taken, and a 429 meanwhile (a cut pace, a cooldown) would
    /// not reach it. Slots given back would have to be given back exactly, which a schedule
    /// others keep taking from cannot do. So each process asks when its turn nears, and the
    /// one that asks first gets it.
    pub(crate) fn reserve(
        &mut self,
        now: Duration,
        ask: &Ask,
        horizon: Duration,
    ) -> Result<Slot, Duration> {
        let mut at = now.max(self.cooldown_until);

        // The fixed quota caps the learned pace.
        let rate = match (ask.rate, ask.fixed) {
            (Some(rate), Some(fixed)) => Some(rate.min(fixed)),
            (rate, fixed) => rate.or(fixed),
        }
        .filter(|r| *r > 0.0 && r.is_finite());
        let paced = rate.map(|rate| {
            let interval = secs(1.0 / rate);
            // The next slot is an interval of the pace asked now after the last one.
            let pace = Gcra::at(
                self.last
                    .map_or(now, |(last, _)| last.saturating_add(interval)),
            );
            let limit = interval.saturating_mul(ask.burst.max(1));
            at = at.max(pace.earliest(interval, limit));
            (interval, pace)
        });
        let cost = ask.cost.max(1);
        let tokens = ask.tokens.map(|(rate, capacity)| {
            let tokens = TokenPace::new(rate, capacity).resumed(self.token_tat.unwrap_or(now));
            at = at.max(tokens.earliest(cost));
            tokens
        });
        if at > now.saturating_add(horizon) {
            return Err(at);
        }

        if let Some((interval, mut pace)) = paced {
            // Close behind the schedule (a caller a little late): keep it. After a quiet spell
            // or a cooldown: start it again from the slot taken now.
            self.last = Some((pace.charge(at, interval, GRACE), interval));
        }
        if let Some(mut tokens) = tokens {
            tokens.charge(at, cost);
            self.token_tat = Some(tokens.tat());
        }
        let seq = self.admitted;
        self.admitted += 1;
        Ok(Slot { at, seq })
    }

    /// Holds every process until `until` (a cooldown only ever grows: a shorter hint seen
    /// later does not cut a longer one short).
    pub(crate) fn cool_down_until(&mut self, until: Duration) {
        self.cooldown_until = self.cooldown_until.max(until);
    }

    /// How long the cooldown still holds at `now`, if it does.
    #[cfg(test)]
    pub(crate) fn cooling(&self, now: Duration) -> Option<Duration> {
        Some(self.cooldown_until.saturating_sub(now)).filter(|d| !d.is_zero())
    }

    /// How long the state matters after `now`: until its last time has passed, and a second
    /// more (what the store keeps it for: no key outlives its use).
    pub(crate) fn lifetime(&self, now: Duration) -> Duration {
        let next = self
            .last
            .map(|(last, interval)| last.saturating_add(interval));
        let last = next
            .max(self.token_tat)
            .unwrap_or_default()
            .max(self.cooldown_until);
        last.saturating_sub(now)
            .saturating_add(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const NOW: Duration = Duration::ZERO;

    fn ask(rate: f64) -> Ask {
        Ask {
            rate: Some(rate),
            burst: 1,
            cost: 1,
            ..Ask::default()
        }
    }

    /// Reserves for requests asking at `now` with an unbounded horizon: when each may go.
    fn slots(schedule: &mut FleetSchedule, now: Duration, ask: &Ask, n: usize) -> Vec<Duration> {
        (0..n)
            .map(|_| schedule.reserve(now, ask, Duration::MAX).unwrap().at)
            .collect()
    }

    #[test]
    fn callers_get_slots_one_interval_apart() {
        let mut schedule = FleetSchedule::default();
        let now = Duration::from_secs(100);
        let went = slots(&mut schedule, now, &ask(10.0), 4);
        assert_eq!(went, [now, now + 100 * MS, now + 200 * MS, now + 300 * MS]);
    }

    #[test]
    fn nothing_is_reserved_beyond_the_horizon() {
        let mut schedule = FleetSchedule::default();
        let horizon = 5 * MS;
        let first = schedule.reserve(NOW, &ask(10.0), horizon).unwrap();
        assert_eq!((first.at, first.seq), (NOW, 0));
        // The next slot is 100 ms away: not reserved, only named, however often it is asked.
        for _ in 0..3 {
            assert_eq!(schedule.reserve(NOW, &ask(10.0), horizon), Err(100 * MS));
        }
        let next = schedule.reserve(96 * MS, &ask(10.0), horizon).unwrap();
        assert_eq!((next.at, next.seq), (100 * MS, 1));
        // A pace cut meanwhile applies to the very next slot.
        assert_eq!(
            schedule.reserve(150 * MS, &ask(5.0), horizon),
            Err(300 * MS)
        );
    }

    #[test]
    fn the_fixed_quota_caps_the_learned_pace_and_the_burst_goes_at_once() {
        let mut schedule = FleetSchedule::default();
        let capped = Ask {
            fixed: Some(5.0),
            burst: 3,
            ..ask(50.0)
        };
        let went = slots(&mut schedule, NOW, &capped, 5);
        assert_eq!(went, [NOW, NOW, NOW, 200 * MS, 400 * MS]);
    }

    #[test]
    fn a_cooldown_holds_everyone_and_only_grows() {
        let mut schedule = FleetSchedule::default();
        let now = Duration::from_secs(1);
        assert_eq!(slots(&mut schedule, now, &ask(10.0), 1), [now]);
        schedule.cool_down_until(now + 500 * MS);
        assert_eq!(schedule.cooling(now), Some(500 * MS));
        // A shorter cooldown seen later does not shorten it.
        schedule.cool_down_until(now + 100 * MS);
        assert_eq!(schedule.cooling(now + 400 * MS), Some(100 * MS));
        // After it, one at a time again at the pace, from its end.
        let went = slots(&mut schedule, now, &ask(10.0), 2);
        assert_eq!(went, [now + 500 * MS, now + 600 * MS]);
        assert_eq!(schedule.cooling(now + 500 * MS), None);
    }

    #[test]
    fn tokens_pace_large_requests_and_leave_a_debt() {
        let mut schedule = FleetSchedule::default();
        // 100 tokens a second, 100 at once; requests of 60 tokens.
        let big = Ask {
            tokens: Some((100.0, 100.0)),
            cost: 60,
            ..Ask::default()
        };
        let went = slots(&mut schedule, NOW, &big, 3);
        assert_eq!(went, [NOW, 200 * MS, 800 * MS]);
        // A request larger than the bucket waits for it to be full, then goes.
        let huge = Ask { cost: 500, ..big };
        assert_eq!(slots(&mut schedule, NOW, &huge, 1), [1_800 * MS]);
    }

    #[test]
    fn a_quiet_spell_restarts_the_schedule_and_the_lifetime_follows_it() {
        let mut schedule = FleetSchedule::default();
        slots(&mut schedule, NOW, &ask(10.0), 1);
        assert_eq!(schedule.lifetime(NOW), 1_100 * MS);
        let later = Duration::from_secs(60);
        let went = slots(&mut schedule, later, &ask(10.0), 2);
        assert_eq!(went, [later, later + 100 * MS]);
        assert_eq!(
            schedule.lifetime(later + 5_000 * MS),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn the_stored_form_stays_what_older_versions_wrote() {
        let mut schedule = FleetSchedule::default();
        let tokens = Ask {
            tokens: Some((100.0, 100.0)),
            cost: 60,
            ..ask(10.0)
        };
        slots(&mut schedule, Duration::from_secs(1), &tokens, 2);
        schedule.cool_down_until(Duration::from_secs(2));
        // The second waited for its tokens (1.2 s), past its pace's slot: the pace restarted.
        let stored = r#"{"last":[{"secs":1,"nanos":200000000},{"secs":0,"nanos":100000000}],"token_tat":{"secs":2,"nanos":200000000},"cooldown_until":{"secs":2,"nanos":0},"admitted":2}"#;
        assert_eq!(serde_json::to_string(&schedule).unwrap(), stored);
        assert_eq!(
            serde_json::from_str::<FleetSchedule>(stored).unwrap(),
            schedule
        );
    }

    #[test]
    fn no_ask_panics_or_overflows() {
        let mut schedule = FleetSchedule::default();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
            let wild = Ask {
                rate: Some(rate),
                fixed: Some(rate),
                burst: u32::MAX,
                tokens: Some((rate, rate)),
                cost: u64::MAX,
            };
            let at = match schedule.reserve(Duration::MAX / 2, &wild, Duration::MAX) {
                Ok(slot) => slot.at,
                Err(at) => at,
            };
            assert!(at >= Duration::MAX / 2);
            let _ = schedule.lifetime(Duration::ZERO);
        }
    }
}
