//! One rate limit for a fleet of limiters: the schedule, the cooldown and the learner kept in
//! a shared store (`RedisLimit` for processes, [`MemoryLimit`] for
//! limiters in one process), so N processes behave as one client with N times the concurrency.
//!
//! Each process keeps its in-process limiter (its FIFO queue, its copy of the pace, its
//! cooldown) and, on top of it:
//! - **before each request** it reserves a slot in the fleet's schedule ([`FleetSchedule`]: one
//!   GCRA, on the store's clock) and sleeps until it. Only one request per host and process
//!   holds a reservation at a time (the head of the local queue, in order), so the processes
//!   take turns and the schedule runs at most one slot per process ahead. A request that slept
//!   checks the fleet's cooldown before it goes: after a 429 elsewhere it waits it out, gives
//!   its slot back and takes a new one.
//! - **after each response** it applies what the response says to the fleet's one learner
//!   (the same [`Learner`] a lone process has, fed by every process's responses), and takes
//!   the result as its own copy: every process paces at the fleet's pace, and the shared
//!   schedule keeps the sum there. A cooldown the response starts holds the whole fleet.
//!
//! The store only loads a key and swaps it if unchanged ([`store`]); every decision is made
//! here, in Rust, so a fleet in Redis and one in memory (the paused-clock simulations) run the
//! same code. When the store fails, each process goes on with its own limiter (its copy of
//! the learner keeps learning) and rejoins when the store answers again: a request is never
//! failed, nor held for long, because the store is gone.

mod admit;
mod memory;
mod schedule;
mod store;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

pub(crate) use admit::Sent;
pub use memory::MemoryLimit;
use schedule::FleetSchedule;
#[cfg(feature = "redis")]
pub(crate) use store::Loaded;
pub(crate) use store::Store;

use super::host::{Host, Verdict};
use super::learner::Learner;
use super::schedule::Admission;
use crate::middleware::headers::RateLimitHeaders;

/// How long the fleet's learner is kept after its last update: a fleet idle for longer starts
/// again from the copy of whichever process sends first.
const LEARNER_TTL: Duration = Duration::from_secs(60);
/// How far ahead a process may reserve a slot of the fleet's schedule (see
/// [`FleetSchedule::reserve`]): about a round trip to the store and a timer's granularity. A
/// request that has missed a turn reaches a tick further (see `admit::reach`).
const HORIZON: Duration = Duration::from_micros(HORIZON_MICROS);
const HORIZON_MICROS: u64 = 4_000;

/// Where a fleet's shared limit lives: a [`MemoryLimit`], or a
/// `RedisLimit` (feature `redis`). Made with `From` / `into()`; given to
/// [`RateLimitBuilder::build_shared`](super::RateLimitBuilder::build_shared), which takes
/// either.
#[derive(Debug)]
pub struct SharedLimit {
    store: Store,
    prefix: String,
}

impl From<MemoryLimit> for SharedLimit {
    fn from(memory: MemoryLimit) -> Self {
        SharedLimit {
            store: Store::Memory(memory),
            prefix: "retry-core".to_owned(),
        }
    }
}

#[cfg(feature = "redis")]
impl From<super::RedisLimit> for SharedLimit {
    fn from(redis: super::RedisLimit) -> Self {
        let (store, prefix) = redis.into_store();
        SharedLimit {
            store: Store::Redis(Box::new(store)),
            prefix,
        }
    }
}

/// A limiter's link to its fleet, and what it keeps per host.
#[derive(Debug)]
pub(crate) struct Fleet {
    store: Store,
    prefix: String,
    hosts: Mutex<HashMap<String, Arc<FleetHost>>>,
}

/// One host's keys, the gate that lets one local request at a time ask the fleet, and the
/// store's clock as this process last read it.
#[derive(Debug)]
struct FleetHost {
    /// The key of the host's [`FleetState`].
    key: String,
    gate: tokio::sync::Mutex<()>,
    /// Requests of this process waiting at the gate (past the local queue).
    at_gate: AtomicUsize,
    /// (store's clock, host's clock) read at the same moment, to date a request on the
    /// store's clock. `None` until the store first answers.
    clock: Mutex<Option<(Duration, Duration)>>,
}

impl FleetHost {
    fn sync_clock(&self, store: Duration, local: Duration) {
        *self.clock.lock().unwrap_or_else(PoisonError::into_inner) = Some((store, local));
    }

    /// `local` (the host's clock) on the store's clock.
    fn to_store(&self, local: Duration) -> Option<Duration> {
        let (store_at, local_at) = (*self.clock.lock().unwrap_or_else(PoisonError::into_inner))?;
        Some(if local >= local_at {
            store_at.saturating_add(local - local_at)
        } else {
            store_at.saturating_sub(local_at - local)
        })
    }
}

impl Fleet {
    pub(crate) fn new(shared: SharedLimit) -> Self {
        Fleet {
            store: shared.store,
            prefix: shared.prefix,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the last call to the store succeeded (or none was made yet).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // read by `redis_online`
    pub(crate) fn online(&self) -> bool {
        self.store.online()
    }

    fn host(&self, host_key: &str) -> Arc<FleetHost> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        let prefix = &self.prefix;
        hosts
            .entry(host_key.to_owned())
            .or_insert_with(|| {
                // One hash tag per host: a Redis cluster keeps a host's keys in one slot.
                let key = |name: &str| format!("{prefix}:{{{host_key}}}:{name}");
                Arc::new(FleetHost {
                    key: key("fleet"),
                    gate: tokio::sync::Mutex::new(()),
                    at_gate: AtomicUsize::new(0),
                    clock: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Tells the fleet what the answer to a request admitted as `admitted` (and by the fleet
    /// as `sent`) says: the cooldown it started, and what the learner learns from it. The
    /// learner that comes back becomes this process's copy.
    ///
    /// `headers`: the response's (`None` for a transport error); `verdict`: what this
    /// process's limiter made of it (a 429 it holds is one the pace must learn from).
    pub(crate) async fn report(
        &self,
        host_key: &str,
        host: &Host,
        admitted: &Admission,
        sent: Sent,
        headers: Option<&HeaderMap>,
        verdict: &Verdict,
    ) {
        let fleet_host = self.host(host_key);
        let local = host.learner();
        let Some(at) = fleet_host.to_store(admitted.at) else {
            return;
        };
        let cooldown_from = fleet_host.to_store(host.origin.elapsed());
        let admitted = Admission {
            seq: sent.seq,
            at,
            ..sent.admission(admitted)
        };
        let limits = headers
            .map(RateLimitHeaders::from_headers)
            .unwrap_or_default();
        let outcome = verdict.outcome;
        let waiting = host.waiting() > 0 || self.waiting(host_key);
        let updated = self
            .update(&fleet_host.key, &local, |state, now| {
                if let (Some(pause), Some(from)) = (verdict.cooldown, cooldown_from) {
                    state.schedule.cool_down_until(from.saturating_add(pause));
                }
                // The fleet's requests are dated in one sequence: all of them are "this
                // process's" to the shared learner.
                let admitted = Admission {
                    sent_by_answer: state.schedule.admitted(),
                    ..admitted
                };
                if let Some(learner) = &mut state.learner
                    && learner.observe(now, &admitted, outcome, &limits, waiting)
                {
                    // A 429 at the fleet's current pace: the whole fleet pauses briefly, as one
                    // client would (the learner's measured cut counts on it).
                    let pause = learner.pause();
                    state.schedule.cool_down_until(now.saturating_add(pause));
                }
                Ok::<_, Infallible>(())
            })
            .await;
        if let Some((state, _, _)) = updated
            && let Some(learner) = state.learner
        {
            host.adopt(learner);
        }
    }

    /// Steps the host's fleet state (a fresh one, with this process's learner, if the fleet
    /// has none); `step` may decline and write nothing.
    async fn update<R, E>(
        &self,
        key: &str,
        local: &Option<Learner>,
        step: impl FnMut(&mut FleetState, Duration) -> Result<R, E>,
    ) -> Option<(FleetState, Result<R, E>, Duration)> {
        let fresh = || FleetState {
            schedule: FleetSchedule::default(),
            learner: local.clone(),
        };
        self.store
            .update(key, fresh, FleetState::lifetime, step)
            .await
    }
}

/// What a fleet shares per host, under one key so that a reservation reads the pace it is
/// made at and a response's lesson is one write.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FleetState {
    schedule: FleetSchedule,
    /// The fleet's learner (none for a limiter that is not adaptive).
    learner: Option<Learner>,
}

impl FleetState {
    /// How long the store keeps the state: while the schedule matters, and the learner a
    /// while longer (a fleet idle for longer starts again from the first process's copy).
    fn lifetime(&self, now: Duration) -> Duration {
        let schedule = self.schedule.lifetime(now);
        if self.learner.is_some() {
            schedule.max(LEARNER_TTL)
        } else {
            schedule
        }
    }
}
