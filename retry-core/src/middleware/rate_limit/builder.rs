//! How a limiter is set up: [`RateLimitBuilder`] and the [`Config`] every host's state is
//! made from.

use std::sync::Arc;
use std::time::Duration;

#[cfg(doc)]
use super::MemoryLimit;
use super::host::Hosts;
use super::{RateLimitMiddleware, Shared, SharedLimit, fleet, learner};

/// How a limiter is set up; every host gets its own state from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// A fixed request quota: `count` per `period`.
    pub(crate) requests: Option<(u32, Duration)>,
    /// How many requests of the fixed quota may go back to back.
    pub(crate) burst: u32,
    pub(crate) tokens_per_minute: Option<u32>,
    pub(crate) adaptive: bool,
    pub(crate) initial_rate: f64,
    /// Whether other processes spend from the same server bucket through Redis: the headers'
    /// `remaining` then counts their requests too, and the shared schedule, not this
    /// process's count, decides how much of the burst is left.
    pub(crate) fleet: bool,
    /// Whether each model a request body names is paced apart from the host's others.
    pub(crate) per_model: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            requests: None,
            burst: 1,
            tokens_per_minute: None,
            adaptive: true,
            initial_rate: learner::INITIAL_RATE,
            fleet: false,
            per_model: true,
        }
    }
}

/// Builds a [`RateLimitMiddleware`]; from [`RateLimitMiddleware::builder`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct RateLimitBuilder {
    pub(super) config: Config,
}

impl RateLimitBuilder {
    /// At most `n` requests a second to each host, evenly spaced (`0` is taken as 1).
    pub fn per_second(mut self, n: u32) -> Self {
        self.config.requests = Some((n.max(1), Duration::from_secs(1)));
        self
    }

    /// At most `n` requests a minute to each host, evenly spaced (`0` is taken as 1).
    pub fn per_minute(mut self, n: u32) -> Self {
        self.config.requests = Some((n.max(1), Duration::from_secs(60)));
        self
    }

    /// How many requests of the fixed quota may go back to back after a quiet spell
    /// (default 1: evenly spaced, the safe choice against a server that measures per second).
    pub fn burst(mut self, n: u32) -> Self {
        self.config.burst = n.max(1);
        self
    }

    /// At most `n` tokens a minute to each host, one second's worth at once.
    ///
    /// A request's cost is estimated before it is sent: a quarter of its body's length in
    /// bytes (about four bytes per token; JSON syntax included, erring on the side of waiting)
    /// plus the body's `max_tokens` or `max_completion_tokens` (the completion the server
    /// reserves). A streamed body costs 1. A request larger than one second's worth still
    /// goes, once the budget is full, and the requests after it wait for the debt to clear.
    pub fn tokens_per_minute(mut self, n: u32) -> Self {
        self.config.tokens_per_minute = Some(n.max(1));
        self
    }

    /// Whether to learn the pace from responses (default `true`). Without it, only the fixed
    /// quotas pace requests; a 429's hint still starts the shared cooldown.
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.config.adaptive = adaptive;
        self
    }

    /// The adaptive pace before anything is learned, in requests per second (default 20).
    /// Non-positive or NaN values are ignored.
    pub fn initial_rate(mut self, per_second: f64) -> Self {
        if per_second > 0.0 {
            self.config.initial_rate = per_second;
        }
        self
    }

    /// Whether each model is paced on its own (default `true`): a request whose JSON body
    /// names a top-level `"model"` shares its queue, pace, cooldown and quotas with the
    /// requests to the same host and model only, as Together, OpenAI and Anthropic limit
    /// each model apart (up to 64 models a host; the requests naming others share one state).
    /// `false` paces every request to a host as one, for a server whose one limit spans all
    /// its models.
    ///
    /// ```
    /// use retry_core::middleware::RateLimitMiddleware;
    ///
    /// // A gateway that counts every request against one limit, whatever the model:
    /// let limiter = RateLimitMiddleware::builder().per_model(false).build();
    /// # let _ = limiter;
    /// ```
    pub fn per_model(mut self, per_model: bool) -> Self {
        self.config.per_model = per_model;
        self
    }

    /// The limiter.
    pub fn build(self) -> RateLimitMiddleware {
        RateLimitMiddleware {
            shared: Arc::new(Shared {
                config: self.config,
                hosts: Hosts::default(),
                fleet: None,
            }),
        }
    }

    /// The limiter, with its limits shared by every limiter built with the same store: every
    /// process on the same Redis and prefix (`RedisLimit`, feature `redis`), or every
    /// limiter in this process built with a clone of one [`MemoryLimit`]. The fleet shares one
    /// schedule, one cooldown and one learner, so it behaves as one client; the quotas set
    /// here apply to the fleet as a whole (`per_second(50)`: 50 a second across all of them).
    pub fn build_shared(self, store: impl Into<SharedLimit>) -> RateLimitMiddleware {
        RateLimitMiddleware {
            shared: Arc::new(Shared {
                config: Config {
                    fleet: true,
                    ..self.config
                },
                hosts: Hosts::default(),
                fleet: Some(fleet::Fleet::new(store.into())),
            }),
        }
    }
}
