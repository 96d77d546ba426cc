//! The builder's setters for how the simulator limits: the rate and the burst, what its
//! headers and hints say, limits that move, windows and logs, per-model and token limits,
//! 503s for refusals, a limit on requests in flight, credits. How it answers (latency,
//! generation, faults) is set in the parent module.

use std::time::Duration;

use super::{HintDialect, SimulatorBuilder};
use crate::sim::growth::LimitGrowth;
use crate::sim::headers::LimitHeaders;
#[cfg(doc)]
use crate::sim::headers::Meaning;

impl SimulatorBuilder {
    /// Requests per second the simulator accepts (default: no limit). Above it: 429 with type
    /// `dynamic_request_limited` and the [`dialect`](Self::dialect)'s hint.
    ///
    /// # Panics
    /// If `rate` is not finite and positive.
    pub fn rate_per_second(mut self, rate: f64) -> Self {
        assert!(
            rate.is_finite() && rate > 0.0,
            "rate_per_second must be finite and positive, got {rate}"
        );
        self.rate = Some(rate);
        self
    }

    /// Requests the bucket holds, i.e. how many may arrive at once (default: one second's
    /// worth of the rate, as Together measures limits per second; at least 1).
    ///
    /// # Panics
    /// If `burst` is 0.
    pub fn burst(mut self, burst: u32) -> Self {
        assert!(burst > 0, "burst must be at least 1");
        self.burst = Some(burst);
        self
    }

    /// How a 429 hints at the wait (default [`HintDialect::RateLimitHeaders`], as Together).
    pub fn dialect(mut self, dialect: HintDialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// A token limit per second, as Together's `x-tokenlimit-*`: a bucket of `tokens` that
    /// refills in one second, each request costing its prompt plus completion tokens (words,
    /// here; a request larger than the bucket costs the whole bucket). Over it: 429 with type
    /// `dynamic_token_limited`. While set, every response that reached the limiter carries
    /// `x-tokenlimit-limit` and `x-tokenlimit-remaining` (no reset header, as Together).
    pub fn token_limit(mut self, tokens: u64) -> Self {
        self.token_limit = Some(tokens.max(1));
        self
    }

    /// Also send each `x-ratelimit-*` / `x-tokenlimit-*` header as its `-dynamic` variant, with
    /// the same value (default off).
    pub fn dynamic_headers(mut self, on: bool) -> Self {
        self.dynamic_headers = on;
        self
    }

    /// Which rate-limit headers to send and what their values mean (default: Together's
    /// names read as [`Meaning::BUCKET`] with [`HintDialect::RateLimitHeaders`], none with the
    /// other dialects but `x-tokenlimit-*` under a token limit). Independent of the dialect's
    /// hint on a 429, so that any family can be paired with any hint.
    ///
    /// ```
    /// use together_client::sim::{HintDialect, LimitHeaders, Meaning, Simulator};
    ///
    /// // `x-ratelimit-limit` is the rate, `reset` the wait for the next slot; `Retry-After` on 429s.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .burst(5)
    ///     .limit_headers(LimitHeaders::Together(Meaning::RATE))
    ///     .dialect(HintDialect::RetryAfterSecs);
    /// # let _ = builder;
    /// ```
    pub fn limit_headers(mut self, family: LimitHeaders) -> Self {
        self.limit_headers = Some(family);
        self
    }

    /// Moves the request rate while it runs, on its own clock: at each offset from the start,
    /// the rate becomes the one given (the burst stays; the bucket keeps what it holds). A
    /// dynamic limit that steps down and up, as Together's do.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::Simulator;
    ///
    /// // 50/s, 20/s from 2 s, 80/s from 5 s.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .burst(5)
    ///     .limit_steps([(Duration::from_secs(2), 20.0), (Duration::from_secs(5), 80.0)]);
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If a rate is not finite and positive.
    pub fn limit_steps(mut self, steps: impl IntoIterator<Item = (Duration, f64)>) -> Self {
        for (at, rate) in steps {
            assert!(
                rate.is_finite() && rate > 0.0,
                "a step's rate must be finite and positive, got {rate}"
            );
            self.limit_steps.push((at, rate));
        }
        self
    }

    /// Lets the request rate rise with the client's use and halve at load spikes, by `rule`
    /// (see [`LimitGrowth`]): a dynamic limit that follows demand, as Together describes
    /// its own. What it becomes depends on the client: one that keeps under the rule's
    /// threshold never sees it rise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::{LimitGrowth, Simulator};
    ///
    /// // From 30/s, a quarter more each second the client used 80 % of it (up to 120/s),
    /// // halved at 2.5 s; a bucket of a tenth of a second's worth.
    /// let builder = Simulator::builder().rate_per_second(30.0).limit_growth(LimitGrowth {
    ///     threshold: 0.8,
    ///     factor: 1.25,
    ///     ceiling: 120.0,
    ///     floor: 10.0,
    ///     halvings: vec![Duration::from_millis(2_500)],
    ///     burst_seconds: Some(0.1),
    /// });
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If the threshold is not in (0, 1], the factor not finite and at least 1, or the floor
    /// and ceiling not finite, positive and in order.
    pub fn limit_growth(mut self, rule: LimitGrowth) -> Self {
        assert!(
            rule.threshold > 0.0 && rule.threshold <= 1.0,
            "a growth threshold is a share in (0, 1], got {}",
            rule.threshold
        );
        assert!(
            rule.factor.is_finite() && rule.factor >= 1.0,
            "a growth factor must be finite and at least 1, got {}",
            rule.factor
        );
        assert!(
            rule.ceiling.is_finite() && rule.floor > 0.0 && rule.floor <= rule.ceiling,
            "a growth floor and ceiling must be positive, finite and in order, got {} and {}",
            rule.floor,
            rule.ceiling
        );
        assert!(
            rule.burst_seconds.is_none_or(|s| s.is_finite() && s > 0.0),
            "a bucket of seconds must be finite and positive"
        );
        self.limit_growth = Some(rule);
        self
    }

    /// Counts the request limit per fixed window of `window`, as a counter that expires does,
    /// instead of a steadily refilling bucket: `rate x window` requests per window (at least
    /// one), all back when the next window starts; [`burst`](Self::burst) is ignored. The
    /// headers report the window: `limit` its count, `remaining` what is left of it, `reset`
    /// the time until it ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::Simulator;
    ///
    /// // 50 requests in each second, from the simulator's start.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .fixed_window(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If `window` is zero.
    pub fn fixed_window(mut self, window: Duration) -> Self {
        assert!(!window.is_zero(), "a fixed window must be longer than zero");
        self.window = Some(window);
        self.sliding = false;
        self
    }

    /// Counts the request limit in a log of the last `window` instead of a bucket, as
    /// limiters built on a sorted set of timestamps do: `rate x window` requests (at least
    /// one) in any `window`, each one's place back when it is `window` old; [`burst`](Self::burst)
    /// is ignored. The headers report the log: `limit` its count, `remaining` what is left of
    /// it, `reset` the time until its newest request leaves it (until it is whole again), or
    /// as [`ResetMeans`](crate::sim::ResetMeans) says.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::Simulator;
    ///
    /// // At most 50 requests in any second.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .sliding_log(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If `window` is zero.
    pub fn sliding_log(mut self, window: Duration) -> Self {
        assert!(!window.is_zero(), "a sliding log must be longer than zero");
        self.window = Some(window);
        self.sliding = true;
        self
    }

    /// Counts the per-minute request figures (the headers of OpenAI's names, or Together's
    /// names meaning a [per-minute budget](super::super::LimitMeans::PerMinute)) per fixed
    /// minute from the simulator's start, as gateways such as Kong count a quota: `limit` 60
    /// times the rate, `remaining` what is left of it this minute, `reset` the time until the
    /// minute ends. A quota, not a limit: only the request limit refuses, so the figures
    /// never bind (a run is shorter than a minute), and the time until the minute ends is no
    /// time to refill anything.
    ///
    /// ```
    /// use together_client::sim::{LimitHeaders, Simulator};
    ///
    /// // 50 a second, enforced per second; OpenAI's names report a quota of 3 000 a minute.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .limit_headers(LimitHeaders::OpenAi)
    ///     .fixed_minute();
    /// # let _ = builder;
    /// ```
    pub fn fixed_minute(mut self) -> Self {
        self.fixed_minute = true;
        self
    }

    /// Stacks a second sliding log on the request limit: at most `count` requests in any
    /// `window` as well, as APIs stack a sustained limit behind a short one (50 a second, and
    /// 200 per 10 s). A request needs room in both; the headers report whichever has fewer
    /// left, so their `limit` takes turns between the two counts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::Simulator;
    ///
    /// // At most 50 requests in any second, and 200 in any 10 s.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .sliding_log(Duration::from_secs(1))
    ///     .longer_log(200, Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If `count` or `window` is zero.
    pub fn longer_log(mut self, count: u32, window: Duration) -> Self {
        assert!(
            count > 0 && !window.is_zero(),
            "a longer log must count at least one request over a window longer than zero"
        );
        self.longer_log = Some((count, window));
        self
    }

    /// Gives the requests that name `model` a request limit of their own, `rate` a second,
    /// as Together limits each model apart: its own bucket (of the same
    /// [`burst`](Self::burst), or the same [fixed window](Self::fixed_window)), its own
    /// token limit of the same size, its own headers. The limit set by
    /// [`rate_per_second`](Self::rate_per_second), its [steps](Self::limit_steps) and
    /// [`Simulator::set_rate_limit`](super::Simulator::set_rate_limit) are the other models',
    /// and so are [`credits`](Self::credits): only their requests spend them.
    ///
    /// ```
    /// use together_client::sim::Simulator;
    ///
    /// // 50 a second for every model but `m-slow`, which has 20 a second of its own.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .burst(5)
    ///     .model_limit("m-slow", 20.0);
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    /// If `rate` is not finite and positive.
    pub fn model_limit(mut self, model: impl Into<String>, rate: f64) -> Self {
        assert!(
            rate.is_finite() && rate > 0.0,
            "a model's rate must be finite and positive, got {rate}"
        );
        self.model_limits.push((model.into(), rate));
        self
    }

    /// Refuses a request over the request or token limit with a 503 ("The server is overloaded
    /// or not ready yet.", no rate-limit header and no hint) instead of a 429 (default: no).
    /// That is what nginx's `limit_req` answers by default, and how Together reports trouble
    /// below an account's limits. The [stats](crate::sim::Stats) still count them as
    /// `rate_limited`: the limit refused them, whatever the status said.
    ///
    /// ```
    /// use together_client::sim::Simulator;
    ///
    /// // 50 a second, burst 5, refused as nginx's `limit_req` refuses.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(50.0)
    ///     .burst(5)
    ///     .refuse_with_503(true);
    /// # let _ = builder;
    /// ```
    pub fn refuse_with_503(mut self, on: bool) -> Self {
        self.overloaded_refusals = on;
        self
    }

    /// At most `n` requests in their [generation](Self::generation) at once (default: no
    /// such limit), as inference servers limit the requests they serve concurrently: one more
    /// is refused at once, with a 429 of type `concurrency_limited` and no hint (or a 503
    /// under [`refuse_with_503`](Self::refuse_with_503)), before it spends anything from the
    /// request or token limits. A slot is taken when the work starts and given back when it
    /// ends, before the answer's way back, so the server never counts more in flight than
    /// the client does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use together_client::sim::{Latency, Simulator};
    ///
    /// // 8 at once, each generating for 150-600 ms; no rate limit to speak of.
    /// let builder = Simulator::builder()
    ///     .rate_per_second(1000.0)
    ///     .concurrency_limit(8)
    ///     .generation(Latency::uniform(Duration::from_millis(150), Duration::from_millis(600)));
    /// # let _ = builder;
    /// ```
    pub fn concurrency_limit(mut self, n: u32) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }

    /// The account can pay for `n` admitted requests; every request after them gets a 429 of
    /// type `credit_limit`, which no wait cures (default: unlimited). `credits(0)` is an
    /// account out of credit from the start.
    pub fn credits(mut self, n: u64) -> Self {
        self.credits = Some(n);
        self
    }

    /// The effective burst: as set, or one second's worth of the rate.
    pub(crate) fn effective_burst(&self) -> u32 {
        self.burst.unwrap_or_else(|| {
            let rate = self.rate.unwrap_or(1.0).ceil();
            if rate >= f64::from(u32::MAX) {
                u32::MAX
            } else {
                (rate as u32).max(1)
            }
        })
    }
}
