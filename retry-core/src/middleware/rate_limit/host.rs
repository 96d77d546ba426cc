//! The state one host's requests share: their queue, their schedule, what was learned of the
//! host's limits, and the cooldown a 429 starts for all of them.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use super::Config;
use super::adaptive::{Adaptive, Outcome};
use super::pacer::{Admission, Queue, Schedule};
use super::quota::{RequestQuota, TokenPace};
use crate::middleware::hints::{self, RateLimitHeaders};
use crate::middleware::hosts::PerHost;

/// Every host a limiter has seen.
pub(crate) type Hosts = PerHost<Arc<Host>>;

#[cfg(feature = "redis")]
pub(crate) use crate::middleware::host_key as key;

/// One host's shared state.
pub(crate) struct Host {
    /// Times in the schedule are durations since this instant.
    pub(crate) origin: Instant,
    state: Mutex<HostState>,
    /// A fixed request quota (lock-free; only the head of the queue asks it).
    pub(crate) quota: Option<RequestQuota>,
    /// Whether requests need a token estimate (a token quota was set or learned).
    tokens_configured: bool,
    configured_tokens: Option<(f64, f64)>,
    /// Shared with other processes (see `Config::fleet`): this process's own count of the
    /// server's bucket would be wrong, so the burst and `remaining` are left to Redis.
    fleet: bool,
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
    pub(crate) learner: Option<Adaptive>,
}

impl HostState {
    pub(crate) fn admission(&self, now: Duration) -> Admission {
        Admission {
            epoch: self.learner.as_ref().map_or(0, Adaptive::epoch),
            rate: self.learner.as_ref().map_or(f64::INFINITY, Adaptive::rate),
            seq: self.schedule.admitted(),
            at: now,
        }
    }
}

/// What the limiter did about a response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Verdict {
    /// The host is holding every request until a cooldown ends: a retry need not sleep on
    /// its own, the limiter will hold it until then.
    pub(crate) holding: bool,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    /// The cooldown this response started, from now (shared with a fleet through Redis).
    pub(crate) cooldown: Option<Duration>,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    /// The pace, when the server's rate-limit headers set it (shared with a fleet too).
    pub(crate) header_rate: Option<f64>,
}

/// What a limiter shared through Redis asks of a host's own pace.
#[cfg(feature = "redis")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// The learned pace (requests per second), if adaptive.
    pub(crate) rate: Option<f64>,
    /// The token pace and bucket size, if any.
    pub(crate) tokens: Option<(f64, f64)>,
}

impl Host {
    pub(crate) fn new(config: &Config) -> Self {
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
        let learner = config.adaptive.then(|| Adaptive::new(config.initial_rate));
        if let Some(learner) = &learner {
            schedule.set_pace(Some(learner.rate()), 1, Duration::ZERO);
        }
        Host {
            origin,
            state: Mutex::new(HostState {
                queue: Queue::default(),
                schedule,
                learner,
            }),
            quota,
            tokens_configured: configured_tokens.is_some(),
            configured_tokens,
            fleet: config.fleet,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HostState> {
        // The state stays consistent between statements; a panic elsewhere must not wedge
        // every request to the host.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether requests to this host are charged tokens.
    pub(crate) fn counts_tokens(&self) -> bool {
        self.tokens_configured || self.lock().schedule.tokens.is_some()
    }

    /// Learns from the answer to a request admitted as `sent`: `status` and `headers` are
    /// `None` for a transport error.
    pub(crate) fn observe(
        &self,
        sent: &Admission,
        status: Option<StatusCode>,
        headers: Option<&HeaderMap>,
    ) -> Verdict {
        let limits = headers
            .map(RateLimitHeaders::from_headers)
            .unwrap_or_default();
        let rate_limited = status == Some(StatusCode::TOO_MANY_REQUESTS);
        let now = self.origin.elapsed();
        let mut state = self.lock();

        // The shared cooldown: the hint of a 429, the reset of an empty bucket.
        let mut pause = None::<Duration>;
        if rate_limited {
            pause = headers
                .and_then(|h| hints::hint(h, self.fleet))
                .map(|h| h.lower_bound());
            if !self.fleet && pause.is_none() && limits.remaining != Some(0) {
                pause = limits.reset;
            }
        }
        if self.fleet && limits.remaining == Some(0) {
            // A fleet's `remaining` counts every process: this one cannot tell how much of
            // the refill the others will take, so the whole fleet waits for the full bucket
            // (the shared schedule gives back the slots this costs).
            pause = pause.max(limits.reset);
        }
        if limits.token_remaining == Some(0) {
            pause = pause.max(limits.token_reset.or(Some(Duration::from_secs(1))));
        }

        if let Some(learner) = &mut state.learner {
            let outcome = if rate_limited {
                Outcome::RateLimited
            } else {
                Outcome::Taken
            };
            if learner.observe(now, sent, outcome, &limits) {
                // A 429 at the current pace, with a hint too coarse to use or none, still
                // pauses everyone briefly. (Not the 429s to requests sent before the pace was
                // cut: a stream of those would hold the host for as long as they keep coming.)
                pause = pause.max(Some(learner.pause()));
            }
            let rate = learner.rate();
            let learned_tokens = learner.tokens();
            let bucket = learner.bucket().filter(|_| !self.fleet);
            state
                .schedule
                .set_pace(Some(rate), bucket.unwrap_or(1), now);
            if let (Some(limit), Some(remaining)) = (bucket, limits.remaining) {
                state.schedule.sync(limit.into(), remaining, sent);
            }
            if let Some((rate, capacity)) = learned_tokens {
                let (rate, capacity) = match self.configured_tokens {
                    Some((r, c)) => (rate.min(r), capacity.min(c)),
                    None => (rate, capacity),
                };
                match &mut state.schedule.tokens {
                    Some(pace) => pace.set(rate, capacity),
                    None => state.schedule.tokens = Some(TokenPace::new(rate, capacity)),
                }
            }
        }

        let mut until = pause.map(|p| now.saturating_add(p));
        if !self.fleet
            && limits.remaining == Some(0)
            && let Some(back) = one_back(&limits)
        {
            // An empty bucket: with its pace known, counted from when this request went and
            // behind the ones sent since (the server emptied it then, not when the answer came
            // back: from now, every answer would add a round trip to the pace); else from now.
            let paced = state.learner.as_ref().is_some_and(|l| l.bucket().is_some());
            let from = if paced {
                state.schedule.behind(sent)
            } else {
                now
            };
            until = until.max(Some(from.saturating_add(back)));
        }
        let pause = until
            .and_then(|u| u.checked_sub(now))
            .filter(|p| !p.is_zero());
        if let Some(until) = until {
            state.schedule.cool_down_until(until);
        }
        state.queue.wake_head();
        let learner = state.learner.as_ref();
        Verdict {
            holding: rate_limited && state.schedule.cooldown_until() > now,
            cooldown: pause,
            header_rate: learner
                .filter(|l| l.learned_from_headers())
                .map(Adaptive::rate),
        }
    }

    /// The pace and token budget, for a limiter shared through Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn plan(&self) -> Plan {
        let state = self.lock();
        Plan {
            rate: state.learner.as_ref().map(Adaptive::rate),
            tokens: state.schedule.tokens.as_ref().map(TokenPace::rate_capacity),
        }
    }

    /// The current pace (requests per second), if the host is paced.
    pub(crate) fn pace(&self) -> Option<f64> {
        self.lock().learner.as_ref().map(Adaptive::rate)
    }

    /// How many requests are waiting for their turn.
    pub(crate) fn waiting(&self) -> usize {
        self.lock().queue.len()
    }
}

/// How long until the server's bucket holds one request again, from headers that say it is
/// empty: `reset` is the time until it is full (Together's meaning), and it refills evenly, so
/// one request is back after `reset / limit` (exactly so for an empty bucket; the bucket holds
/// up to one more than the rounded-down `remaining` says, so never too early). The whole
/// `reset` when the size is unknown.
fn one_back(limits: &RateLimitHeaders) -> Option<Duration> {
    let reset = limits.reset?;
    Some(match limits.limit {
        Some(limit) if limit > 1 => reset / u32::try_from(limit).unwrap_or(u32::MAX),
        _ => reset,
    })
}
