//! FIFO admission: who goes next, and waiting for the [`Schedule`] to say when.
//!
//! Every request to a host takes a place in one queue, ordered by its ticket (the order in
//! which requests first reached the limiter; a retry keeps its ticket, so it goes before
//! requests that arrived after it). Only the head of the queue looks at the clock: it asks the
//! schedule for the earliest time it may go, sleeps until then, asks the fixed request quota
//! (if any), and goes; the next in line becomes the head. So waiters leave in FIFO order, one
//! pace apart, never as a herd, whatever woke them.
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
use super::schedule::Admission;
#[cfg(doc)]
use super::schedule::Schedule;

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

/// Leaves the queue on drop unless admitted: what makes waiting cancellation-safe.
struct Place<'h> {
    host: &'h Host,
    key: Key,
    admitted: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            let mut state = self.host.lock();
            state.queue.remove(self.key);
            self.host.metrics.queue_depth(state.queue.len());
        }
    }
}

impl Host {
    /// Waits for this request's turn: FIFO by `ticket`, paced, after any cooldown, within the
    /// fixed quotas. `cost` is the request's estimated tokens.
    pub(crate) async fn admit(&self, ticket: u64, cost: u64) -> Admission {
        let key = {
            let mut state = self.lock();
            let key = state.queue.push(ticket);
            self.metrics.queue_depth(state.queue.len());
            key
        };
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
            if at <= now && !self.fleet && state.in_flight_room(now) == Some(0) {
                // As many in flight as the server serves at once: an answer (or a call
                // given up) wakes the head again.
                state.queue.park(key, cx.waker());
                return Poll::Pending;
            }
            if at <= now
                && let Some(quota) = &self.quota
                && let Err(later) = quota.take()
            {
                at = later;
            }
            if at <= now {
                let mut admission = state.admission(now);
                if !self.fleet && state.probes(now) {
                    state.probe = Some(admission.seq);
                }
                admission.early = state.schedule.commit(now, cost);
                state.in_flight += 1;
                state.queue.remove(key);
                self.metrics.queue_depth(state.queue.len());
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Config;
    use super::super::host::{Host, InFlight};

    fn host(adaptive: bool) -> Host {
        let config = Config {
            adaptive,
            ..Config::default()
        };
        let url = reqwest::Url::parse("http://127.0.0.1:9/").unwrap();
        Host::new(&config, &url, None)
    }

    #[tokio::test(start_paused = true)]
    async fn requests_count_in_flight_from_admission_until_their_guard_drops() {
        let host = host(false);
        let first = host.admit(0, 1).await;
        let guard = InFlight(&host, first.seq);
        let second = host.admit(1, 1).await;
        let other = InFlight(&host, second.seq);
        assert_eq!((first.in_flight, second.in_flight), (1, 2));
        assert_eq!(host.lock().in_flight, 2);
        drop(guard);
        drop(other);
        assert_eq!(host.lock().in_flight, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_limit_on_requests_in_flight_the_next_waits_for_an_answer() {
        let host = host(true);
        let now = host.origin.elapsed();
        host.lock()
            .learner
            .as_mut()
            .unwrap()
            .believe_in_flight_limit(2, now);
        let first = host.admit(0, 1).await;
        let _first = InFlight(&host, first.seq);
        let second = host.admit(1, 1).await;
        let second = (second, InFlight(&host, second.seq));
        // The pace alone (20 a second) would let a third go within 0.1 s.
        let third = tokio::time::timeout(Duration::from_secs(1), host.admit(2, 1)).await;
        assert!(third.is_err(), "a third went with two in flight");
        // Given up while it waited, it was never in flight, and left the queue.
        let in_flight = host.lock().in_flight;
        assert_eq!((in_flight, host.waiting()), (2, 0));
        // An answer frees a place.
        drop(second);
        let third = tokio::time::timeout(Duration::from_millis(100), host.admit(3, 1)).await;
        assert_eq!(third.map(|admitted| admitted.in_flight), Ok(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_goes_alone_whatever_else_is_in_flight() {
        let host = host(true);
        // Two requests in flight (an LLM's long generations) when a run of 429s begins.
        let (a, b) = (host.admit(0, 1).await, host.admit(1, 1).await);
        let _earlier = (InFlight(&host, a.seq), InFlight(&host, b.seq));
        host.lock().learner.as_mut().unwrap().refused_a_run();
        // The probe goes, though two are in flight...
        let probe = tokio::time::timeout(Duration::from_secs(1), host.admit(2, 1)).await;
        let probe = probe.expect("the probe waits for nothing in flight before it");
        let guard = InFlight(&host, probe.seq);
        // ...and the next waits for its answer, not for theirs.
        let next = tokio::time::timeout(Duration::from_secs(1), host.admit(3, 1)).await;
        assert!(next.is_err(), "a second went with the probe in flight");
        drop(guard);
        let next = tokio::time::timeout(Duration::from_millis(200), host.admit(4, 1)).await;
        assert!(next.is_ok(), "the probe answered, the next goes");
    }
}
