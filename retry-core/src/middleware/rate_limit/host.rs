//! The state one host's requests share: their queue, their schedule, what was learned of the
//! host's limits, and the cooldown a 429 starts for all of them.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use super::Config;
use super::learner::{Learner, Outcome, one_back};
use super::queue::Queue;
use super::quota::{RequestQuota, TokenPace};
use super::schedule::{Admission, Schedule};
use crate::class::{Class, Classify};
use crate::middleware::headers::{self, MAX_COOLDOWN, RateLimitHeaders};
use crate::middleware::hosts::PerHost;
use crate::middleware::metrics::HostMetrics;

/// How far above the learned pace requests may go while a limit on requests in flight paces
/// them: enough for the limit to bind rather than the pace cut on its refusals before it was
/// read, little enough that a rate limit read as such a limit refutes it before it floods.
const SLOTS_PACE: f64 = 1.5;

/// Every host a limiter has seen.
pub(crate) type Hosts = PerHost<Arc<Host>>;

/// The name of a host's (and model's) keys in a fleet's store: `scheme://host:port`, then
/// `#model` for a model paced apart.
fn key(url: &reqwest::Url, model: Option<&str>) -> String {
    let host = crate::middleware::host_key(url);
    match model {
        Some(model) => format!("{host}#{model}"),
        None => host,
    }
}

/// One host's shared state.
pub(crate) struct Host {
    /// Times in the schedule are durations since this instant.
    pub(crate) origin: Instant,
    /// The name of its keys in a fleet's store (see [`key`]), made once.
    pub(crate) key: Box<str>,
    state: Mutex<HostState>,
    /// A fixed request quota (lock-free; only the head of the queue asks it).
    pub(crate) quota: Option<RequestQuota>,
    /// Whether requests need a token estimate (a token quota was set).
    tokens_configured: bool,
    /// Shared with other processes (see `Config::fleet`): this process's own count of the
    /// server's bucket would be wrong, so the burst and `remaining` are left to Redis (and
    /// its count of requests in flight is no limit's).
    pub(crate) fleet: bool,
    /// The host's metric handles.
    pub(crate) metrics: HostMetrics,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The part of a host's state behind its lock.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) queue: Queue,
    pub(crate) schedule: Schedule,
    pub(crate) learner: Option<Learner>,
    /// Requests admitted and not yet answered (see [`InFlight`]).
    pub(crate) in_flight: u32,
    /// The admission (its `seq`) that went alone while the learner probes, until its guard
    /// drops: nothing else goes meanwhile.
    pub(crate) probe: Option<u64>,
}

impl HostState {
    pub(crate) fn admission(&self, now: Duration) -> Admission {
        Admission {
            epoch: self.learner.as_ref().map_or(0, Learner::epoch),
            rate: self.learner.as_ref().map_or(f64::INFINITY, Learner::rate),
            seq: self.schedule.admitted(),
            at: now,
            early: false,
            in_flight: self.in_flight + 1,
            sent_by_answer: 0,
        }
    }

    /// How many more may be in flight now, if the learner believes in a limit on how many,
    /// or probes (one request alone, answered before the next goes: requests already in
    /// flight do not count, an LLM's generations among them).
    pub(crate) fn in_flight_room(&self, now: Duration) -> Option<u32> {
        if let Some(limit) = self.learner.as_ref()?.in_flight_limit(now) {
            return Some(limit.saturating_sub(self.in_flight));
        }
        self.probes(now).then_some(u32::from(self.probe.is_none()))
    }

    /// Whether the next admission goes alone, as the learner's probe: it probes, and no
    /// limit on requests in flight holds the queue instead (see `in_flight_room`).
    pub(crate) fn probes(&self, now: Duration) -> bool {
        self.learner
            .as_ref()
            .is_some_and(|l| l.in_flight_limit(now).is_none() && l.probing(now))
    }
}

/// A request admitted (its admission's `seq`) and not yet answered, counted in
/// [`HostState::in_flight`] until dropped (answered, failed, or its call given up).
pub(crate) struct InFlight<'h>(pub(crate) &'h Host, pub(crate) u64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.probe == Some(self.1) {
            state.probe = None;
        }
        // A place for the head, if it waits for one.
        state.queue.wake_head();
    }
}

/// What the limiter did about a response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Verdict {
    /// The response was a 429 and the limiter holds the call's place: a retry need not sleep
    /// on its own, the limiter paces it.
    pub(crate) holding: bool,
    /// The cooldown this response started, from now (shared with a fleet).
    pub(crate) cooldown: Option<Duration>,
    /// What the response said of the pace (a fleet's learner reads it too).
    pub(crate) outcome: Outcome,
}

/// What a limiter shared with a fleet asks of a host's own pace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// The learned pace (requests per second), if adaptive.
    pub(crate) rate: Option<f64>,
    /// The token pace and bucket size, if any.
    pub(crate) tokens: Option<(f64, f64)>,
}

impl Host {
    /// A host's state; `model` when each model on it is paced apart.
    pub(crate) fn new(config: &Config, url: &reqwest::Url, model: Option<&str>) -> Self {
        let origin = Instant::now();
        let quota = config
            .requests
            .map(|(count, period)| RequestQuota::new(count, period, config.burst, origin));
        let configured_tokens = config.tokens_per_minute.map(|tpm| {
            let rate = f64::from(tpm.max(1)) / 60.0;
            // One second's worth at once: what a server measuring per second would accept.
            (rate, rate.max(1.0))
        });
        let mut schedule = Schedule::new();
        schedule.tokens = configured_tokens.map(|(rate, cap)| TokenPace::new(rate, cap));
        let learner = config.adaptive.then(|| Learner::new(config.initial_rate));
        if let Some(learner) = &learner {
            schedule.set_pace(Some(learner.rate()), 1, Duration::ZERO);
        }
        Host {
            origin,
            key: key(url, model).into(),
            state: Mutex::new(HostState {
                queue: Queue::default(),
                schedule,
                learner,
                in_flight: 0,
                probe: None,
            }),
            quota,
            tokens_configured: configured_tokens.is_some(),
            fleet: config.fleet,
            metrics: HostMetrics::new(url, model),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HostState> {
        // The state stays consistent between statements; a panic elsewhere must not wedge
        // every request to the host.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether requests to this host are charged tokens.
    pub(crate) fn counts_tokens(&self) -> bool {
        self.tokens_configured
    }

    /// Learns from the answer to a request admitted as `sent`: `status` and `headers` are
    /// `None` for a transport error. `final_429`: a 429 no wait cures (the quota is spent, or
    /// its hint is past any cooldown), which says nothing of the pace and holds no one.
    /// `learn`: whether this process's learner learns from it (not when a fleet's learner
    /// does, in the shared store: see `super::fleet`).
    pub(crate) fn observe(
        &self,
        sent: &Admission,
        status: Option<StatusCode>,
        headers: Option<&HeaderMap>,
        final_429: bool,
        learn: bool,
    ) -> Verdict {
        let limits = headers
            .map(RateLimitHeaders::from_headers)
            .unwrap_or_default();
        let rate_limited = status == Some(StatusCode::TOO_MANY_REQUESTS) && !final_429;
        let outcome = if rate_limited {
            Outcome::RateLimited
        } else if status.is_some_and(|status| status.class() == Class::Overloaded) {
            // 503 and 529, as the retry layer classifies them.
            Outcome::Overloaded
        } else {
            Outcome::Taken
        };
        let now = self.origin.elapsed();
        let mut state = self.lock();
        let waiting = state.queue.len() > 0;
        if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            state.schedule.refused(sent.at);
        }

        // The shared cooldown: the hint of a 429 (a server's explicit word on when), and an
        // empty token bucket whose reset the server gives.
        let mut pause = None::<Duration>;
        if rate_limited {
            pause = headers
                .and_then(|h| headers::hint(h, self.fleet))
                .map(|h| h.lower_bound());
            if self.fleet
                && headers.is_some_and(|h| headers::hint(h, false).is_none())
                && let Some(wait) = state.learner.as_ref().and_then(|l| l.fleet_wait(&limits))
            {
                // A fleet reads a 429's `reset` as its hint: not always all of it.
                pause = pause.map(|p| p.min(wait));
            }
        }
        if limits.token_remaining == Some(0) {
            pause = pause.max(limits.token_reset);
        }

        let mut until = None::<Duration>;
        let in_flight = state.in_flight;
        let sent_by_answer = state.schedule.admitted();
        // A count read spent: when the latest of this process's requests it can hold (as
        // many as it counts, not refused) began, among those that can have reached the server
        // before this one: sent up to a spread of round trips after it (see
        // `Learner::count_spent`). Not in a fleet, whose count holds the others' requests too
        // and whose shared reading this process's alone would stretch.
        let spent_since = (limits.limit)
            .filter(|_| limits.remaining == Some(0) && !self.fleet)
            .and_then(|limit| {
                let spread = (state.learner.as_ref()).map_or(0.0, Learner::rtt_spread);
                let reached = sent.at.saturating_add(Duration::from_secs_f64(spread));
                state.schedule.standing(limit, reached)
            });
        if let Some(learner) = state.learner.as_mut().filter(|_| learn) {
            let mut seen = Admission {
                sent_by_answer,
                ..*sent
            };
            if outcome != Outcome::Taken {
                // Requests sent after this one may have reached the server before it (a
                // shorter way there): a refusal counts them too, as many as are in flight now.
                seen.in_flight = seen.in_flight.max(in_flight + 1);
            }
            if learner.observe(now, &seen, outcome, &limits, waiting) {
                // A 429 at the current pace, with a hint too coarse to use or none, still
                // pauses everyone briefly. (Not the 429s to requests sent before the pace was
                // cut: a stream of those would hold the host for as long as they keep coming.)
                pause = pause.max(Some(learner.pause()));
            }
            if let Some(oldest) = spent_since {
                learner.count_spent(sent.at, oldest, &limits);
            }
            let rate = learner.rate();
            let bucket = learner.bucket().filter(|_| !self.fleet);
            let burst = learner.burst().filter(|_| !self.fleet);
            // `reset` is the time until the bucket is full once the bucket reading is trusted;
            // on a bucket of one it is under every reading (until full, until the next slot,
            // until a window ends: nothing is taken before it), trusted or not.
            let full_reset = learner.reset_means_full() || limits.limit == Some(1);
            let window_ends = learner.window_ends_after(now);
            let named = learner.held_after(now);
            let log_room = learner.log_room_after(now).filter(|_| !self.fleet);
            // A fleet's processes each admit their own: no one of them can count the log.
            let log = learner.log_bound().filter(|_| !self.fleet);
            // Under a limit on requests in flight, that limit paces (each answer lets the next
            // go), under a pace half again the learned one, should a rate limit stand behind it.
            let slots = learner.in_flight_limit(now).is_some() && !self.fleet;
            let rate = if slots { rate * SLOTS_PACE } else { rate };
            state.schedule.set_pace(Some(rate), burst.unwrap_or(1), now);
            state.schedule.set_log(log);
            if let (Some(bucket), Some(remaining)) = (bucket, limits.remaining) {
                state.schedule.sync(bucket.into(), remaining, sent);
            }
            if self.fleet && full_reset && limits.remaining == Some(0) {
                // A fleet's `remaining` counts every process: this one cannot tell how much of
                // the refill the others will take, so the whole fleet waits for the full
                // bucket (the shared schedule gives back the slots this costs).
                pause = pause.max(limits.reset);
            }
            // A fixed window spent until an instant the server named twice, a sliding log
            // spent until its oldest request leaves it, or a count the longest pause did not
            // see back, until its reset: nobody goes before it.
            until = until.max(window_ends).max(log_room).max(named);
            if !self.fleet
                && full_reset
                && limits.remaining == Some(0)
                && let Some(back) = one_back(&limits)
            {
                // An empty bucket, read as trusted: one request is back `reset / limit` after
                // this one went, behind the ones sent since (the server emptied it then, not
                // when the answer came back: from now, every answer would add a round trip).
                until = Some(state.schedule.behind(sent).saturating_add(back));
            }
        }

        // No reading holds the host longer than a call's default deadline (a token reset "in
        // an hour" is a quota, not a pace: the calls that meet it end with its hint); nor does
        // an instant a reading names (a fixed window's end, a bucket of one's refill), however
        // far off: the next request then asks again.
        let pause = pause.map(|p| p.min(MAX_COOLDOWN));
        let until = until
            .max(pause.map(|p| now.saturating_add(p)))
            .map(|u| u.min(now.saturating_add(MAX_COOLDOWN)));
        let pause = until
            .and_then(|u| u.checked_sub(now))
            .filter(|p| !p.is_zero());
        let cooldown_started = pause.is_some() && !state.schedule.cooling(now);
        if let Some(until) = until {
            state.schedule.cool_down_until(until);
        }
        state.queue.wake_head();
        let learner = state.learner.as_ref();
        (self.metrics).answered(status, learner.map(Learner::rate), cooldown_started);
        Verdict {
            // Every 429 is held: the retry waits its turn here, at the pace just cut, behind
            // any cooldown, and keeps its place ahead of later requests. (Not a 503, even one
            // read as a refusal of the pace: the retry layer's attempts bound its retries, as
            // a policy's `attempts` promises for an outage.)
            holding: rate_limited,
            cooldown: pause,
            outcome,
        }
    }

    /// The pace and token budget, for a limiter shared with a fleet.
    pub(crate) fn plan(&self) -> Plan {
        let state = self.lock();
        Plan {
            rate: state.learner.as_ref().map(Learner::rate),
            tokens: state.schedule.tokens.as_ref().map(TokenPace::rate_capacity),
        }
    }

    /// A copy of the learner, if adaptive: what a fleet starts from when it has none.
    pub(crate) fn learner(&self) -> Option<Learner> {
        self.lock().learner.clone()
    }

    /// Takes the fleet's learner as this process's own, and paces by it.
    pub(crate) fn adopt(&self, learner: Learner) {
        let now = self.origin.elapsed();
        let mut state = self.lock();
        let rate = learner.rate();
        state.learner = Some(learner);
        // A fleet spends no burst: the shared schedule keeps the sum of the processes at the
        // pace, and this process's count of the server's bucket would be wrong.
        state.schedule.set_pace(Some(rate), 1, now);
        state.queue.wake_head();
    }

    /// The current pace (requests per second), if the host is paced.
    pub(crate) fn pace(&self) -> Option<f64> {
        self.lock().learner.as_ref().map(Learner::rate)
    }

    /// How many requests are waiting for their turn.
    pub(crate) fn waiting(&self) -> usize {
        self.lock().queue.len()
    }
}
