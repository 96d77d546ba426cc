//! Before each request: a process's turn at the fleet's schedule. One request per host and
//! process asks at a time (the head of the local queue, through the host's gate), reserves a
//! slot of the fleet's GCRA and sleeps until it (see the parent module's overview).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::schedule::Ask;
use super::{Fleet, HORIZON, HORIZON_MICROS};
use crate::middleware::rate_limit::Config;
use crate::middleware::rate_limit::host::Host;
use crate::middleware::rate_limit::learner::Learner;
use crate::middleware::rate_limit::schedule::Admission;

/// What the fleet said when it let a request go.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    /// Its place among the fleet's admissions.
    pub(super) seq: u64,
    /// The fleet learner's epoch and pace when its slot was reserved (not when this
    /// process's queue let it through, which may be several of the fleet's slots earlier): a
    /// 429 to it cuts the pace only if no cut came since.
    pub(super) epoch: u64,
    pub(super) rate: f64,
}

impl Sent {
    /// `admitted` (what this process's queue said), as the fleet sent it.
    pub(crate) fn admission(&self, admitted: &Admission) -> Admission {
        Admission {
            epoch: self.epoch,
            rate: self.rate,
            ..*admitted
        }
    }
}

/// One request waiting at a host's gate, counted in `FleetHost::at_gate` until dropped.
struct AtGate<'a>(&'a AtomicUsize);

impl<'a> AtGate<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        AtGate(count)
    }
}

impl Drop for AtGate<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A timer's granularity: tokio rounds every wake-up up to the next millisecond.
const TICK: Duration = Duration::from_millis(1);

/// How far ahead a request that has missed `missed` turns may reserve its slot: a request that
/// missed one reaches a tick further than the horizon, and asks a tick earlier. Without it, one
/// that asked a horizon ahead woke, rounded up, in the millisecond a process whose own queue had
/// just let its next request through asked too, and ties at the store went the same way every time:
/// on our simulator's paused clock, one process of four on `anthropic` took every slot for 3 s
/// while the others waited at the gate (1 seed of 40: each process's share 0.57 and 0.14-0.15 of
/// the fleet's, `|share * N - 1|` 1.26; 0.04-0.05 at worst with the tick). A slot kept for the
/// process that missed the most turns, written to the store, made the fleet as fair and cost 0.02
/// of the ideal on `anthropic`: its writes collided with the others'.
fn reach(missed: u64) -> Duration {
    if missed == 0 {
        HORIZON
    } else {
        HORIZON.saturating_add(TICK)
    }
}

impl Fleet {
    /// Whether requests of this process wait for the fleet's schedule.
    pub(crate) fn waiting(&self, host_key: &str) -> bool {
        self.host(host_key).at_gate.load(Ordering::Relaxed) > 0
    }

    /// Waits until the fleet's schedule lets a request of `cost` tokens go to `host`, after
    /// the in-process limiter admitted it. `None` at once when the store is unreachable.
    pub(crate) async fn admit(
        &self,
        host_key: &str,
        host: &Host,
        config: &Config,
        cost: u64,
    ) -> Option<Sent> {
        let fleet_host = self.host(host_key);
        // FIFO (tokio's mutex is fair): local requests ask in the order they were admitted.
        // Counted while they wait, also when the wait is dropped (a cancelled call, a retry's
        // deadline).
        let waiting = AtGate::enter(&fleet_host.at_gate);
        let turn = fleet_host.gate.lock().await;
        drop(waiting);
        let plan = host.plan();
        let ask = Ask {
            rate: plan.rate,
            fixed: config
                .requests
                .map(|(count, period)| f64::from(count) / period.as_secs_f64()),
            burst: config.burst,
            tokens: plan.tokens,
            cost,
        };
        let local = host.learner();
        let mut missed = 0;
        let sent = loop {
            let (state, reserved, now) = self
                .update(&fleet_host.key, &local, |state, now| {
                    // The fleet's pace, as it is now: not this process's copy, which may be
                    // a few responses old.
                    let ask = Ask {
                        rate: state.learner.as_ref().map(Learner::rate).or(ask.rate),
                        ..ask
                    };
                    let slot = state.schedule.reserve(now, &ask, reach(missed))?;
                    let sent = Sent {
                        seq: slot.seq,
                        epoch: state.learner.as_ref().map_or(0, Learner::epoch),
                        rate: ask.rate.unwrap_or(f64::INFINITY),
                    };
                    Ok::<_, Duration>((sent, slot.at))
                })
                .await?;
            fleet_host.sync_clock(now, host.origin.elapsed());
            if let Some(learner) = state.learner {
                host.adopt(learner);
            }
            match reserved {
                Ok((sent, at)) => {
                    tokio::time::sleep(at.saturating_sub(now)).await;
                    break sent;
                }
                // Not yet: ask again just before the turn comes. The processes waiting for
                // one slot must not all ask at once, and the first to ask gets it: each asks
                // at a random point of the first quarter of the horizon, a quarter earlier for
                // each turn it has already missed, so one that waited long goes soon. (Finer
                // steps, ordering the waiting strictly by turns missed, measured less fair.)
                // And a tick earlier than that, as far as its reach goes (see `reach`).
                Err(at) => {
                    let step = HORIZON_MICROS / 4;
                    let early = fastrand::u64(0..=step).saturating_add(missed.saturating_mul(step));
                    missed += 1;
                    let early =
                        (Duration::from_micros(early).saturating_add(TICK)).min(reach(missed));
                    tokio::time::sleep(at.saturating_sub(now).saturating_sub(early)).await;
                }
            }
        };
        drop(turn);
        Some(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryLimit;
    use super::*;

    /// A request dropped while it waits at the gate (a cancelled call, a retry past its
    /// deadline) is no longer counted as waiting: the learner must not probe for a demand
    /// that is gone.
    #[tokio::test(start_paused = true)]
    async fn a_wait_dropped_at_the_gate_is_not_counted() {
        let fleet = Fleet::new(MemoryLimit::new().into());
        let url = reqwest::Url::parse("http://api.test/").unwrap();
        let config = Config::default();
        let host = Host::new(&config, &url, None);
        let key = "http://api.test:80";
        let fleet_host = fleet.host(key);
        let held = fleet_host.gate.lock().await;
        {
            let mut waiting = std::pin::pin!(fleet.admit(key, &host, &config, 1));
            let polled = poll_once(waiting.as_mut()).await;
            assert!(polled.is_none(), "it waits behind the held gate");
            assert!(fleet.waiting(key));
        }
        assert!(!fleet.waiting(key), "dropped, no longer waiting");
        drop(held);
        assert!(fleet.admit(key, &host, &config, 1).await.is_some());
        assert!(!fleet.waiting(key));
    }

    /// A request that has missed a turn and one whose queue has just let it through ask at
    /// the same moment, a horizon and half a tick before the slot (one woke there, rounded
    /// up, as the other's queue let it go): the slot is the one that missed a turn's,
    /// whichever the store hears first.
    #[test]
    fn a_request_that_missed_a_turn_reaches_further() {
        use super::super::schedule::FleetSchedule;
        let ask = Ask {
            rate: Some(50.0),
            burst: 1,
            cost: 1,
            ..Ask::default()
        };
        let mut schedule = FleetSchedule::default();
        let first = schedule.reserve(Duration::ZERO, &ask, HORIZON).unwrap();
        let slot = first.at + Duration::from_millis(20);
        let now = slot - HORIZON - TICK / 2;
        let mut fresh_first = schedule;
        assert!(fresh_first.reserve(now, &ask, reach(0)).is_err());
        assert_eq!(fresh_first.reserve(now, &ask, reach(1)).unwrap().at, slot);
        assert!(schedule.reserve(now, &ask, reach(1)).is_ok());
        assert!(schedule.reserve(now, &ask, reach(0)).is_err());
    }

    /// Polls `future` once: its output if it was ready.
    async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let mut future = Some(future);
        std::future::poll_fn(move |cx| {
            let ready = future.take().map(|f| f.poll(cx));
            std::task::Poll::Ready(match ready {
                Some(std::task::Poll::Ready(out)) => Some(out),
                _ => None,
            })
        })
        .await
    }
}
