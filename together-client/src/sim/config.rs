//! What a simulator is: [`SimulatorBuilder`] and [`HintDialect`]. The setters for how it
//! answers (latency, generation, faults, the port) are here, those for how it limits in
//! [`limits`]; its faults are in `super::faults`, its times in `super::latency`.

use std::io;
use std::time::Duration;

use super::Simulator;
use super::faults::{Fault, Trigger};
use super::growth::LimitGrowth;
use super::headers::LimitHeaders;
use super::latency::Latency;

/// How the simulator tells a client it is going too fast, besides the 429 itself.
///
/// The same five dialects, with the same values, as the in-process server that
/// `retry-core`'s middleware was tuned against. `wait` below is the exact time until the
/// request bucket holds one request again (or the token bucket holds the request's tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HintDialect {
    /// A bare 429: no hint header at all.
    None,
    /// `retry-after-ms: ceil(wait in ms)` on a 429 (at least 1).
    RetryAfterMs,
    /// `Retry-After: N` on a 429, whole seconds rounded up, at least 1 (a 20 ms wait says `1`).
    RetryAfterSecs,
    /// `Retry-After: <HTTP date>` on a 429: the wall-clock instant `now + wait` rounded up to
    /// the next whole second, so the date is never earlier than the true wait.
    RetryAfterDate,
    /// No hint on a 429, but Together's `x-ratelimit-limit` (the bucket's size, the burst),
    /// `x-ratelimit-remaining` (whole requests left after this one, rounded down) and
    /// `x-ratelimit-reset` (seconds until the bucket is full again, 3 decimals) on every
    /// response that reached the limiter (successes, 429s, faults; not 401s). What Together
    /// does, hence the default.
    #[default]
    RateLimitHeaders,
}

impl HintDialect {
    /// Every dialect, for tests that run the same scenario in each.
    pub const ALL: [HintDialect; 5] = [
        HintDialect::None,
        HintDialect::RetryAfterMs,
        HintDialect::RetryAfterSecs,
        HintDialect::RetryAfterDate,
        HintDialect::RateLimitHeaders,
    ];
}

/// Builds a [`Simulator`]: see [`Simulator::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.start().await`"]
pub struct SimulatorBuilder {
    pub(crate) api_key: String,
    pub(crate) rate: Option<f64>,
    pub(crate) burst: Option<u32>,
    pub(crate) dialect: HintDialect,
    pub(crate) token_limit: Option<u64>,
    pub(crate) dynamic_headers: bool,
    pub(crate) limit_headers: Option<LimitHeaders>,
    pub(crate) limit_steps: Vec<(Duration, f64)>,
    /// The request rate rises with use (see `limit_growth`).
    pub(crate) limit_growth: Option<LimitGrowth>,
    pub(crate) window: Option<Duration>,
    /// The window slides: a log of its requests (see `sliding_log`).
    pub(crate) sliding: bool,
    /// A second, longer log of every model's requests (see `longer_log`).
    pub(crate) longer_log: Option<(u32, Duration)>,
    /// The per-minute figures count a fixed minute (see `fixed_minute`).
    pub(crate) fixed_minute: bool,
    pub(crate) model_limits: Vec<(String, f64)>,
    pub(crate) overloaded_refusals: bool,
    /// At most this many requests in their generation at once (see `concurrency_limit`).
    pub(crate) concurrency: Option<u32>,
    pub(crate) credits: Option<u64>,
    pub(crate) latency: Latency,
    /// The share of the latency before the limiter decides (see `inbound_share`).
    pub(crate) inbound: f64,
    pub(crate) generation: Latency,
    /// Extra time a refusal over a limit takes (see `refusal_delay`).
    pub(crate) refusal_delay: Latency,
    pub(crate) chunk_delay: Duration,
    pub(crate) context_window: u64,
    pub(crate) faults: Vec<(Fault, Trigger)>,
    pub(crate) seed: u64,
    pub(crate) port: u16,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        SimulatorBuilder {
            api_key: "sim-key".to_owned(),
            rate: None,
            burst: None,
            dialect: HintDialect::default(),
            token_limit: None,
            dynamic_headers: false,
            limit_headers: None,
            limit_steps: Vec::new(),
            limit_growth: None,
            window: None,
            sliding: false,
            longer_log: None,
            fixed_minute: false,
            model_limits: Vec::new(),
            overloaded_refusals: false,
            concurrency: None,
            credits: None,
            latency: Latency::ZERO,
            inbound: 0.5,
            generation: Latency::ZERO,
            refusal_delay: Latency::ZERO,
            chunk_delay: Duration::ZERO,
            context_window: 32_768,
            faults: Vec::new(),
            seed: 0,
            port: 0,
        }
    }
}

impl SimulatorBuilder {
    /// The bearer key the simulator accepts (default `"sim-key"`). Any other key, or none,
    /// gets a 401 with Together's body (`code: "invalid_api_key"`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Time each answer takes (default none): a `Duration` or a [`Latency`].
    pub fn latency(mut self, latency: impl Into<Latency>) -> Self {
        self.latency = latency.into();
        self
    }

    /// The share of each request's [`latency`](Self::latency) on its way in, before the
    /// limiter decides (default one half; clamped to `0..=1`, one half if NaN). At 1 the whole
    /// of it passes first, as on a server that queues requests in front of its rate limiter
    /// (`examples/independent/server.py` sleeps, then takes): requests sent evenly reach the
    /// limiter as unevenly as their latencies vary, and the answer comes back at once. At 0
    /// the limiter decides on arrival and the answer takes the whole latency.
    ///
    /// ```
    /// use together_client::sim::SimulatorBuilder;
    /// use std::time::Duration;
    ///
    /// let builder = SimulatorBuilder::default()
    ///     .latency(Duration::from_millis(30))
    ///     .inbound_share(1.0);
    /// # let _ = builder;
    /// ```
    pub fn inbound_share(mut self, share: f64) -> Self {
        self.inbound = if share.is_nan() {
            0.5
        } else {
            share.clamp(0.0, 1.0)
        };
        self
    }

    /// Time the work of an admitted request takes (default none), after the limiter has
    /// counted it and before the rest of the [`latency`](Self::latency) (see
    /// [`inbound_share`](Self::inbound_share)): an LLM's generation. A refused request skips
    /// it, so a 429 comes back in the round trip alone (and the
    /// [`refusal_delay`](Self::refusal_delay), if any) while a success takes the round trip and
    /// the generation, as on a real LLM API.
    pub fn generation(mut self, generation: impl Into<Latency>) -> Self {
        self.generation = generation.into();
        self
    }

    /// Extra time a refusal over a limit (a 429, or the 503 of
    /// [`refuse_with_503`](Self::refuse_with_503)) takes before it is answered (default none),
    /// after the limiter decided: the news that a client went too fast comes back later than
    /// its successes do. (On `examples/independent/server.py`, a Python server, 429s came back
    /// in 43 ms on average against 17 ms for successes.)
    pub fn refusal_delay(mut self, delay: impl Into<Latency>) -> Self {
        self.refusal_delay = delay.into();
        self
    }

    /// Time between two chunks of a stream (default none).
    pub fn stream_chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// The models' context window in tokens (words here; default 32 768). A chat or
    /// completion whose prompt plus `max_tokens` exceeds it gets a 403, as on Together.
    pub fn context_window(mut self, tokens: u64) -> Self {
        self.context_window = tokens;
        self
    }

    /// Injects `fault` into each request it applies to with `probability`, drawn from the
    /// seeded generator (see [`seed`](Self::seed)). May be called several times.
    ///
    /// # Panics
    /// If `probability` is not within `0.0..=1.0`.
    pub fn fault(mut self, fault: Fault, probability: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&probability),
            "fault probability must be within 0..=1, got {probability}"
        );
        self.faults.push((fault, Trigger::Probability(probability)));
        self
    }

    /// Injects `fault` into the first `n` requests it applies to (in the order they reach the
    /// limiter): "the first 3 requests get a 503", deterministic.
    pub fn fault_times(mut self, fault: Fault, n: u64) -> Self {
        self.faults.push((fault, Trigger::Times(n)));
        self
    }

    /// The seed of the generator behind fault draws and uniform latency (default 0): the same
    /// seed and the same sequence of requests give the same faults.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The loopback port to listen on (default 0: any free port). To stand for a server that
    /// went down and came back: shut a simulator down, then start another on its
    /// [`addr`](Simulator::addr)'s port, where a client still sends.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds `127.0.0.1:PORT` (see [`port`](Self::port)) and starts serving on the current
    /// tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn start(self) -> io::Result<Simulator> {
        Simulator::launch(self).await
    }
}

mod limits;
