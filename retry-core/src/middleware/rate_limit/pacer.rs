//! FIFO, paced admission with a shared cooldown: who goes next, and when.
//!
//! Every request to a host takes a place in one queue, ordered by its ticket (the order in
//! which requests first reached the limiter; a retry keeps its ticket, so it goes before
//! requests that arrived after it). Only the head of the queue looks at the clock: it computes
//! the earliest time the schedule allows,
//!
//! ```text
//! at = max(tat - (burst - 1) * interval,   // the learned pace (virtual scheduling, GCRA)
//!          cooldown_until,                 // set by a 429 or `x-ratelimit-remaining: 0`
//!          tokens.tat - (tokens.capacity - cost))  // the token budget, if any
//! ```
//!
//! where `burst` is 1 until the server's headers give its bucket's size (`x-ratelimit-limit`),
//! and each answer's `remaining` moves `tat` later when the server has less left than the
//! schedule assumed ([`Schedule::sync`]). The head sleeps until then, asks the fixed request
//! quota (if any), and goes: `tat` moves on by one interval and the next in line becomes the
//! head. So waiters leave in FIFO order, one pace
//! apart, never as a herd, whatever woke them.
//!
//! Nothing is reserved before a request is admitted, which is what makes the queue
//! cancellation-safe: a dropped waiter leaves the queue (waking the next head if it was the
//! head) and no slot is lost. A change of pace or a new cooldown wakes the head, which plans
//! again, so a sleeping head never overshoots a cooldown that started after it went to sleep.

use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::host::Host;
use super::quota::{TokenPace, secs};

/// A place in the queue: the ticket, then a sequence number to tell equal tickets apart.
type Key = (u64, u64);

/// The requests waiting for a host, in admission order.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    waiting: BTreeMap<Key, Option<Waker>>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, ticket: u64) -> Key {
        self.seq += 1;
        let key = (ticket, self.seq);
        let old_head = self.waiting.keys().next().copied();
        self.waiting.insert(key, None);
        // A retry (an older ticket) jumps ahead: the old head must learn it no longer is.
        if old_head.is_some_and(|head| key < head) {
            self.wake_head_of(old_head);
        }
        key
    }

    fn remove(&mut self, key: Key) {
        let was_head = self.waiting.keys().next() == Some(&key);
        self.waiting.remove(&key);
        if was_head {
            self.wake_head();
        }
    }

    fn is_head(&self, key: Key) -> bool {
        self.waiting.keys().next() == Some(&key)
    }

    fn park(&mut self, key: Key, waker: &Waker) {
        if let Some(slot) = self.waiting.get_mut(&key) {
            match slot {
                Some(old) if old.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
    }

    /// Wakes the head, so it plans again (after a change of pace or cooldown).
    pub(crate) fn wake_head(&self) {
        self.wake_head_of(self.waiting.keys().next().copied());
    }

    fn wake_head_of(&self, head: Option<Key>) {
        if let Some(Some(waker)) = head.and_then(|key| self.waiting.get(&key)) {
            waker.wake_by_ref();
        }
    }

    /// How many requests are waiting.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// When the next request may go. Times are durations since the host's origin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    /// Time between requests at the current pace; `None` for no pace.
    interval: Option<Duration>,
    /// How many may go back to back when the schedule has fallen behind real time.
    burst: u32,
    /// The theoretical arrival time of the next request.
    tat: Duration,
    /// Nobody goes before this.
    cooldown_until: Duration,
    /// The token budget, if any.
    pub(crate) tokens: Option<TokenPace>,
    /// Requests admitted so far: with an answer's [`Admission::seq`], how many went after it.
    admitted: u64,
}

/// How late a head may be admitted (timer granularity, scheduling) without the schedule
/// losing that time: up to this much (or a quarter of the interval, if less), the next slot is
/// counted from where this one should have been, not from when it was taken.
const GRACE: Duration = Duration::from_millis(2);

impl Schedule {
    pub(crate) const fn new() -> Self {
        Schedule {
            interval: None,
            burst: 1,
            tat: Duration::ZERO,
            cooldown_until: Duration::ZERO,
            tokens: None,
            admitted: 0,
        }
    }

    /// Sets the pace: `rate` requests per second (`None`: no pace), `burst` at once.
    /// The requests already scheduled ahead of `now` keep their number: at a new pace they
    /// stand for that many intervals of it (a first request sent at a slow initial pace must
    /// not hold back the burst that a faster, learned one allows).
    pub(crate) fn set_pace(&mut self, rate: Option<f64>, burst: u32, now: Duration) {
        let interval = rate.map(|r| secs(1.0 / r.max(1e-6)));
        if let (Some(old), Some(new)) = (self.interval, interval)
            && old != new
            && self.tat > now
        {
            let ahead = (self.tat - now).as_secs_f64() / old.as_secs_f64();
            self.tat = now.saturating_add(secs(ahead * new.as_secs_f64()));
        }
        let burst = burst.max(1);
        if let Some(interval) = interval
            && burst < self.burst
        {
            // A smaller burst (a licence withdrawn) leaves no debt for the requests its larger
            // tolerance let go early: those were answered, or will be; the next waits a pace.
            self.tat = self
                .tat
                .min(now.saturating_add(interval.saturating_mul(burst)));
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
        self.tat = self.tat.max(server);
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

    fn earliest(&self, cost: u64) -> Duration {
        let mut at = self.cooldown_until;
        if let Some(interval) = self.interval {
            let tolerance = interval.saturating_mul(self.burst - 1);
            at = at.max(self.tat.saturating_sub(tolerance));
        }
        if let Some(tokens) = &self.tokens {
            at = at.max(tokens.earliest(cost));
        }
        at
    }

    /// Admits a request of `cost` tokens at `now`; returns whether it went ahead of the pace
    /// (on the burst licence).
    fn commit(&mut self, now: Duration, cost: u64) -> bool {
        let early = self.interval.is_some() && now.saturating_add(GRACE) < self.tat;
        if let Some(interval) = self.interval {
            // A head that woke a little late (timer granularity) keeps the schedule; one that
            // went after a pause or a quiet spell starts it again from now.
            let late = now.saturating_sub(self.tat) > GRACE.min(interval / 4);
            let from = if late { now } else { self.tat };
            self.tat = from.saturating_add(interval);
        }
        if let Some(tokens) = &mut self.tokens {
            tokens.charge(now, cost);
        }
        self.admitted += 1;
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
}

/// Leaves the queue on drop unless admitted: what makes waiting cancellation-safe.
struct Place<'h> {
    host: &'h Host,
    key: Key,
    admitted: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.host.lock().queue.remove(self.key);
        }
    }
}

impl Host {
    /// Waits for this request's turn: FIFO by `ticket`, paced, after any cooldown, within the
    /// fixed quotas. `cost` is the request's estimated tokens.
    pub(crate) async fn admit(&self, ticket: u64, cost: u64) -> Admission {
        let key = self.lock().queue.push(ticket);
        let mut place = Place {
            host: self,
            key,
            admitted: false,
        };
        let mut sleep = pin!(None::<Sleep>);
        poll_fn(|cx| {
            let mut state = self.lock();
            if !state.queue.is_head(key) {
                state.queue.park(key, cx.waker());
                return Poll::Pending;
            }
            let now = self.origin.elapsed();
            let mut at = state.schedule.earliest(cost);
            if at <= now
                && let Some(quota) = &self.quota
                && let Err(later) = quota.take()
            {
                at = later;
            }
            if at <= now {
                let mut admission = state.admission(now);
                admission.early = state.schedule.commit(now, cost);
                state.queue.remove(key);
                place.admitted = true;
                return Poll::Ready(admission);
            }
            state.queue.park(key, cx.waker());
            drop(state);
            let deadline = self
                .origin
                .checked_add(at)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
            match sleep.as_mut().as_pin_mut() {
                Some(timer) if timer.deadline() == deadline => {}
                Some(timer) => timer.reset(deadline),
                None => sleep.set(Some(tokio::time::sleep_until(deadline))),
            }
            if let Some(timer) = sleep.as_mut().as_pin_mut()
                && timer.poll(cx).is_ready()
            {
                // The time has come: plan again at once.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }
}
