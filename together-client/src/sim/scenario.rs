//! [`Scenario`]: a family of servers to measure a client on, by name.
//!
//! One simulator is one guess at a real server. The catalogue here varies what a client can
//! get wrong: what the rate-limit headers mean (or whether there are any), whether they are
//! fresh, in what units (a minute's budget under Together's names, resets in whole seconds),
//! other providers' header names and units, how the server counts (a steadily
//! refilling bucket of one request to a second's worth, a fixed window, a sliding log, or two
//! logs stacked), limits that move while the client runs, token limits that bind before the
//! request limit, limits from one request every two seconds to 200 a second (a free tier's,
//! where slow start's first guess is 40 times too fast, and 64 callers queue for two
//! minutes), round trips from a few milliseconds to 800 ms (spent around the limiter's
//! decision, or all before it), and an LLM's answers, which take up to a second of generation
//! while its 429s come back at once. A client that is right on all of them is more likely to
//! be right on a server that is none of them.

use std::time::Duration;

use super::config::{HintDialect, SimulatorBuilder};
use super::growth::LimitGrowth;
use super::headers::LimitHeaders;
use super::latency::Latency;

mod catalogue;

/// What a scenario varies, for grouping results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScenarioKind {
    /// A steady limit, in one header family or hint dialect.
    Steady,
    /// A limit that moves while the client runs.
    Moving,
    /// A token limit that binds before the request limit.
    Tokens,
}

/// One server of the family: its limit, how it talks about it, and how long it takes.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A short name (`together-rate`, `step-50-20-80`...).
    pub name: &'static str,
    /// What it varies.
    pub kind: ScenarioKind,
    /// Requests per second at the start.
    pub rate: f64,
    /// Requests the bucket holds.
    pub burst: u32,
    /// Changes of the rate: (offset from the start, requests per second).
    pub steps: Vec<(Duration, f64)>,
    /// The rate-limit headers it sends.
    pub headers: LimitHeaders,
    /// The hint on its 429s.
    pub dialect: HintDialect,
    /// Its token limit (tokens per second, the bucket refilling in one second), if any.
    pub token_limit: Option<u64>,
    /// Its round trip: uniform in this range, drawn from the seed.
    pub latency: (Duration, Duration),
    /// The share of the round trip before the limiter decides (see
    /// [`SimulatorBuilder::inbound_share`]): one half but where a scenario says otherwise.
    pub inbound: f64,
    /// Extra time each refusal takes to come back (see
    /// [`SimulatorBuilder::refusal_delay`]): none but where a scenario says otherwise.
    pub refusal_delay: (Duration, Duration),
    /// The work an admitted request takes on top of the round trip (an LLM's generation):
    /// uniform in this range, drawn from the seed; a 429 skips it. See
    /// [`SimulatorBuilder::generation`].
    pub generation: (Duration, Duration),
    /// Requests counted per fixed window of this length (`rate x window` each) instead of a
    /// bucket of `burst` refilling steadily: see [`SimulatorBuilder::fixed_window`].
    pub window: Option<Duration>,
    /// The window slides: a log of the last `window`'s requests (see
    /// [`SimulatorBuilder::sliding_log`]) rather than a count per fixed window.
    pub sliding: bool,
    /// A second, longer sliding log behind the first (`window` with `sliding`): at most this
    /// many requests in any this long (see [`SimulatorBuilder::longer_log`]); the ideal
    /// counts it only behind a log.
    pub longer_log: Option<(u32, Duration)>,
    /// The per-minute figures count a fixed minute, a quota that never binds: see
    /// [`SimulatorBuilder::fixed_minute`].
    pub fixed_minute: bool,
    /// Refusals are 503s, not 429s, as nginx's `limit_req` answers: see
    /// [`SimulatorBuilder::refuse_with_503`].
    pub overloaded: bool,
    /// Models with request limits of their own, (name, requests per second), as Together
    /// limits each model apart (see [`SimulatorBuilder::model_limit`]); `rate` is every
    /// other model's. A run spreads its requests over them in proportion to their rates:
    /// see [`model_of`](Self::model_of).
    pub models: &'static [(&'static str, f64)],
    /// At most this many requests in their generation at once (see
    /// [`SimulatorBuilder::concurrency_limit`]), if the server limits that.
    pub concurrency: Option<u32>,
    /// The rate rises with the client's use and halves at load spikes (see
    /// [`SimulatorBuilder::limit_growth`]); the ideal is a client's that takes every request
    /// the bucket holds, and so raises the rate as fast as it can (without
    /// [`steps`](Self::steps), which the ideal does not count alongside).
    pub growth: Option<LimitGrowth>,
}

impl Scenario {
    /// A simulator builder for this server, its latency drawn from `seed`.
    pub fn builder(&self, seed: u64) -> SimulatorBuilder {
        let mut builder = SimulatorBuilder::default()
            .rate_per_second(self.rate)
            .burst(self.burst)
            .limit_headers(self.headers)
            .dialect(self.dialect)
            .limit_steps(self.steps.iter().copied())
            .latency(Latency::uniform(self.latency.0, self.latency.1))
            .inbound_share(self.inbound)
            .refusal_delay(Latency::uniform(self.refusal_delay.0, self.refusal_delay.1))
            .generation(Latency::uniform(self.generation.0, self.generation.1))
            .seed(seed);
        if let Some(tokens) = self.token_limit {
            builder = builder.token_limit(tokens);
        }
        match self.window {
            Some(window) if self.sliding => builder = builder.sliding_log(window),
            Some(window) => builder = builder.fixed_window(window),
            None => {}
        }
        if let Some((count, window)) = self.longer_log {
            builder = builder.longer_log(count, window);
        }
        if self.fixed_minute {
            builder = builder.fixed_minute();
        }
        for (model, rate) in self.models {
            builder = builder.model_limit(*model, *rate);
        }
        if let Some(limit) = self.concurrency {
            builder = builder.concurrency_limit(limit);
        }
        if let Some(rule) = &self.growth {
            builder = builder.limit_growth(rule.clone());
        }
        builder.refuse_with_503(self.overloaded)
    }

    /// The model that request `i` of a run names, if not the usual one: one of
    /// [`models`](Self::models), in proportion to its rate. The `i`-th multiple of the golden
    /// ratio picks it, so that the models interleave evenly from the first request on.
    pub fn model_of(&self, i: usize) -> Option<&'static str> {
        const GOLDEN: f64 = 0.618_033_988_749_895;
        let total = self.rate + self.models.iter().map(|(_, rate)| rate).sum::<f64>();
        let mut at = (i as f64 * GOLDEN).fract() * total - self.rate;
        for (model, rate) in self.models {
            if at < 0.0 {
                break;
            }
            at -= rate;
            if at < 0.0 {
                return Some(model);
            }
        }
        None
    }

    /// The least time, in seconds, in which any client could have `successes` requests of
    /// `tokens_each` tokens taken: the bucket's burst at once, then the rate as it moves (or
    /// a window's count at the start of each window: a sliding log's too, which a client
    /// that sends its whole count at once each window gets), or the token bucket (full at the
    /// start, refilling its size each second), whichever binds.
    /// Plus one mean round trip and one mean generation: the first request's way in, the
    /// last one's work and its answer's way out, which no client can save.
    /// Under a [`concurrency`](Self::concurrency) limit of `k`, every slot busy from the
    /// start: `successes / k` mean generations.
    /// With [`models`](Self::models) of their own, each model's requests (the first
    /// `successes` of a run, as [`model_of`](Self::model_of) spreads them) are timed at its
    /// own limit, and the slowest decides.
    pub fn ideal(&self, successes: usize, tokens_each: u64) -> f64 {
        let usual = (0..successes).filter(|&i| self.model_of(i).is_none());
        let by_models = (self.models.iter())
            .map(|(model, rate)| {
                let count = (0..successes).filter(|&i| self.model_of(i) == Some(model));
                let needed = (count.count() as f64 - f64::from(self.burst)).max(0.0);
                needed / rate
            })
            .fold(0.0, f64::max);
        let successes = usual.count();
        let needed = (successes as f64 - f64::from(self.burst)).max(0.0);
        let mut requests = 0.0;
        let (mut at, mut rate) = (0.0, self.rate);
        let mut steps = self.steps.clone();
        steps.sort_by_key(|(at, _)| *at);
        for (step, next) in steps {
            let step = step.as_secs_f64();
            if requests + (step - at) * rate >= needed {
                break;
            }
            requests += (step - at) * rate;
            (at, rate) = (step, next);
        }
        let mut by_requests = at + (needed - requests) / rate;
        if let Some(growth) = &self.growth {
            by_requests = growth.ideal(successes as f64, self.rate, f64::from(self.burst));
        }
        if let Some(window) = self.window {
            let window = window.as_secs_f64();
            let each = (self.rate * window).floor().max(1.0);
            by_requests = ((successes as f64 / each).ceil() - 1.0).max(0.0) * window;
            if let Some((count, longer)) = self.longer_log {
                let longer = (count.into(), longer.as_secs_f64());
                by_requests = stacked_logs(successes, [(each, window), longer]);
            }
        }
        let by_tokens = self.token_limit.map_or(0.0, |limit| {
            let limit = limit as f64;
            ((successes as f64 * tokens_each as f64 - limit) / limit).max(0.0)
        });
        let round_trip = (self.latency.0 + self.latency.1).as_secs_f64() / 2.0;
        let generation = (self.generation.0 + self.generation.1).as_secs_f64() / 2.0;
        let by_slots = self.concurrency.map_or(0.0, |k| {
            // The last generation is counted below, with the last answer's way out.
            (successes as f64 / f64::from(k) - 1.0).max(0.0) * generation
        });
        let work = by_requests.max(by_models).max(by_tokens).max(by_slots);
        work + round_trip + generation
    }
}

/// When the last of `successes` requests goes at the earliest, under logs of (count,
/// length in seconds) all at once: each request as soon as every log has a place.
fn stacked_logs(successes: usize, logs: [(f64, f64); 2]) -> f64 {
    let mut sent: Vec<f64> = Vec::with_capacity(successes);
    for i in 0..successes {
        let mut at = sent.last().copied().unwrap_or(0.0);
        for (count, length) in logs {
            let count = count as usize;
            if let Some(place) = i.checked_sub(count) {
                at = at.max(sent[place] + length);
            }
        }
        sent.push(at);
    }
    sent.last().copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ideal_follows_the_steps() {
        // A mean round trip of 16 ms on top of each.
        let rtt = 0.016;
        let steady = Scenario::named("together-bucket").unwrap();
        assert!((steady.ideal(300, 0) - 5.9 - rtt).abs() < 1e-9);
        // 5 at once, 2 s at 50 (100), 3 s at 20 (60), then 80/s for the other 135.
        let step = Scenario::named("step-50-20-80-none").unwrap();
        assert!((step.ideal(300, 0) - (5.0 + 135.0 / 80.0) - rtt).abs() < 1e-9);
        // 50 in each second's window: the 300th goes at the start of the sixth, at 5 s.
        let window = Scenario::named("window-none").unwrap();
        assert!((window.ideal(300, 0) - 5.0 - rtt).abs() < 1e-9);
        // 40 requests a second by tokens (200 / 5) bind before 100 by requests.
        let tokens = Scenario::named("tokens-none").unwrap();
        assert!((tokens.ideal(300, 5) - 6.5 - rtt).abs() < 1e-9);
        // An LLM's generation (0.2-1 s, 0.6 s on average) adds to the last answer.
        let llm = Scenario::named("llm-none").unwrap();
        assert!((llm.ideal(300, 0) - 5.9 - rtt - 0.6).abs() < 1e-9);
        // 8 at once, 0.375 s each on average: 300 take 37.5 generations.
        let slots = Scenario::named("concurrency-8-none").unwrap();
        assert!((slots.ideal(300, 0) - 37.5 * 0.375 - rtt).abs() < 1e-9);
        // 50 a second for four seconds spends 200 of 10 s; their places come back from the
        // tenth, 50 at 10 s and the last 50 at 11 s.
        let two = Scenario::named("log-two-none").unwrap();
        assert!((two.ideal(300, 0) - 11.0 - rtt).abs() < 1e-9);
        assert!((two.ideal(200, 0) - 3.0 - rtt).abs() < 1e-9);
        // A limit that grows every second a client uses it all: 3 at once, 30, 37.5, then
        // 46.875 until the halving at 2.5 s (93.9 by then), 23.4 to 3 s (105.6), 29.3 to 4 s
        // (134.9): the 110th admitted at 3.15 s. Round trips of 40 ms and generations of
        // 0.375 s on average.
        let grow = Scenario::named("grow-none").unwrap();
        let by_3 = 3.0 + 30.0 + 37.5 + 46.875 / 2.0 + 23.4375 / 2.0;
        let at = 3.0 + (110.0 - by_3) / 29.296875;
        assert!((grow.ideal(110, 0) - at - 0.04 - 0.375).abs() < 1e-9);
    }

    #[test]
    fn models_share_a_run_in_proportion_to_their_rates_from_the_start() {
        let two = Scenario::named("per-model-together").unwrap();
        let slow: Vec<bool> = (0..300)
            .map(|i| two.model_of(i) == Some("m-slow"))
            .collect();
        let count = slow.iter().filter(|&&s| s).count();
        // 20 of every 70 a second: 85.7 of 300.
        assert!((85..=86).contains(&count), "{count}");
        for ten in slow.chunks(10) {
            let n = ten.iter().filter(|&&s| s).count();
            assert!((2..=4).contains(&n), "evenly interleaved: {slow:?}");
        }
        // Each model's requests at its own limit; here the slow one decides.
        let rtt = 0.016;
        let ideal = ((count - 5) as f64 / 20.0).max((300 - count - 5) as f64 / 50.0);
        assert!((two.ideal(300, 0) - ideal - rtt).abs() < 1e-9);
        let one = Scenario::named("together-bucket").unwrap();
        assert!((0..300).all(|i| one.model_of(i).is_none()));
    }

    #[test]
    fn names_are_unique() {
        let all = Scenario::all();
        for (i, s) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|t| t.name != s.name), "{}", s.name);
        }
    }
}
