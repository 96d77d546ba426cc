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

use super::config::{HintDialect, Latency, SimulatorBuilder};
use super::growth::LimitGrowth;
use super::headers::{LimitHeaders, LimitMeans, Meaning, RemainingMeans, ResetMeans};

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

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Scenario {
    fn steady(name: &'static str, headers: LimitHeaders, dialect: HintDialect) -> Self {
        Scenario {
            name,
            kind: ScenarioKind::Steady,
            rate: 50.0,
            burst: 5,
            steps: Vec::new(),
            headers,
            dialect,
            token_limit: None,
            latency: (ms(2), ms(30)),
            inbound: 0.5,
            generation: (ms(0), ms(0)),
            window: None,
            sliding: false,
            longer_log: None,
            overloaded: false,
            models: &[],
            concurrency: None,
            growth: None,
        }
    }

    /// A server serving `k` requests at once, each 150-600 ms of generation, under a rate
    /// limit that never binds.
    fn serving(k: u32, name: &'static str, headers: LimitHeaders) -> Self {
        Scenario {
            rate: 1_000.0,
            burst: 1_000,
            generation: (ms(150), ms(600)),
            concurrency: Some(k),
            ..Scenario::steady(name, headers, HintDialect::None)
        }
    }

    /// A limit that grows with use, as Together describes its dynamic limits: from 30 a
    /// second, a quarter more after each second in which the client had 80 % of it admitted
    /// (up to 120), halved by load spikes at `halvings` (in ms; never under 10), a bucket of
    /// a tenth of a second's worth (one request at 10 a second); round trips of 20-60 ms and
    /// an LLM's generation of 150-600 ms. A client that keeps under 80 % of the limit holds
    /// it down: the ideal is that of one that never does.
    fn growing(name: &'static str, headers: LimitHeaders, halvings: &[u64]) -> Self {
        Scenario {
            kind: ScenarioKind::Moving,
            rate: 30.0,
            burst: 3,
            latency: (ms(20), ms(60)),
            generation: (ms(150), ms(600)),
            growth: Some(LimitGrowth {
                threshold: 0.8,
                factor: 1.25,
                ceiling: 120.0,
                floor: 10.0,
                halvings: halvings.iter().map(|&at| ms(at)).collect(),
                burst_seconds: Some(0.1),
            }),
            ..Scenario::steady(name, headers, HintDialect::None)
        }
    }

    /// The catalogue: every scenario, steady ones first.
    pub fn all() -> Vec<Scenario> {
        let bucket = LimitHeaders::Together(Meaning::BUCKET);
        let rate = LimitHeaders::Together(Meaning::RATE);
        let none = LimitHeaders::None;
        let stale = LimitHeaders::Together(Meaning {
            remaining: RemainingMeans::Stale(ms(250)),
            ..Meaning::BUCKET
        });
        let remaining_only = LimitHeaders::Together(Meaning {
            limit: LimitMeans::Absent,
            ..Meaning::RATE
        });
        let constant = LimitHeaders::Together(Meaning {
            remaining: RemainingMeans::Constant,
            ..Meaning::RATE
        });
        // Per-minute figures under Together's names, enforced per second.
        let minute = LimitHeaders::Together(Meaning {
            limit: LimitMeans::PerMinute,
            ..Meaning::BUCKET
        });
        // The reset in whole seconds, rounded up: a bucket refilled in 0.1 s reads "1".
        let whole_seconds = LimitHeaders::Together(Meaning {
            reset: ResetMeans::UntilFullWholeSeconds,
            ..Meaning::BUCKET
        });
        // A sliding log's reset: when the oldest request it counts leaves it.
        let oldest = LimitHeaders::Together(Meaning {
            reset: ResetMeans::OldestLeaves,
            ..Meaning::BUCKET
        });
        let step_50_20_80 = vec![(ms(2_000), 20.0), (ms(5_000), 80.0)];
        let drop_50_2 = vec![(ms(2_000), 2.0)];
        let sawtooth = vec![
            (ms(1_500), 25.0),
            (ms(3_000), 60.0),
            (ms(4_500), 25.0),
            (ms(6_000), 60.0),
        ];
        // Up or down by up to 10 a second, every second, between 20 and 80.
        let wander = [58.0, 49.0, 41.0, 47.0, 36.0, 44.0, 53.0, 61.0, 55.0, 63.0]
            .iter()
            .enumerate()
            .map(|(second, &rate)| (ms(1_000 * (second as u64 + 1)), rate))
            .collect::<Vec<_>>();
        let bucket_next_slot = LimitHeaders::Together(Meaning {
            reset: ResetMeans::NextSlot,
            ..Meaning::BUCKET
        });
        let rate_until_full = LimitHeaders::Together(Meaning {
            reset: ResetMeans::UntilFull,
            ..Meaning::RATE
        });
        vec![
            Scenario::steady("together-bucket", bucket, HintDialect::None),
            Scenario::steady("together-rate", rate, HintDialect::None),
            Scenario::steady(
                "together-rate-retry-after",
                rate,
                HintDialect::RetryAfterSecs,
            ),
            // `limit` the bucket's size and `reset` the wait for the next slot: read as a rate,
            // `limit` is 30 a second where the server refills 50, close enough that 429s to a
            // pace a little over the limit seem to bear it out.
            Scenario {
                burst: 30,
                ..Scenario::steady("bucket-next-slot", bucket_next_slot, HintDialect::None)
            },
            Scenario::steady("together-stale", stale, HintDialect::None),
            Scenario::steady("together-constant", constant, HintDialect::None),
            Scenario::steady("remaining-only", remaining_only, HintDialect::None),
            Scenario::steady("together-minute", minute, HintDialect::None),
            Scenario::steady("together-whole-seconds", whole_seconds, HintDialect::None),
            Scenario::steady("no-headers", none, HintDialect::None),
            // The whole round trip before the limiter decides, the answer at once, as on
            // `examples/independent/server.py`: requests sent evenly reach the bucket up to
            // 28 ms apart from where they were sent, twice the spread of the others'.
            Scenario {
                inbound: 1.0,
                ..Scenario::steady("inbound-none", none, HintDialect::None)
            },
            Scenario {
                inbound: 1.0,
                ..Scenario::steady("inbound-together", bucket, HintDialect::None)
            },
            Scenario::steady("retry-after-ms", none, HintDialect::RetryAfterMs),
            Scenario::steady("retry-after-secs", none, HintDialect::RetryAfterSecs),
            Scenario::steady("retry-after-date", none, HintDialect::RetryAfterDate),
            Scenario::steady("openai", LimitHeaders::OpenAi, HintDialect::None),
            // The IETF draft's structured fields over the same bucket, resets in whole seconds.
            Scenario::steady("ietf", LimitHeaders::Ietf, HintDialect::None),
            Scenario::steady(
                "anthropic",
                LimitHeaders::Anthropic,
                HintDialect::RetryAfterSecs,
            ),
            Scenario {
                window: Some(ms(1_000)),
                ..Scenario::steady("window-together", bucket, HintDialect::None)
            },
            Scenario {
                window: Some(ms(1_000)),
                ..Scenario::steady("window-none", none, HintDialect::None)
            },
            // A window of a second whose reset reads "1" until it ends.
            Scenario {
                window: Some(ms(1_000)),
                ..Scenario::steady("window-whole-seconds", whole_seconds, HintDialect::None)
            },
            // A longer window, as per-minute counts are: 100 requests per 25 s (4 a second),
            // its reset counting down tens of seconds; the last 100 go when the third opens,
            // within a call's default deadline of a minute.
            Scenario {
                window: Some(ms(25_000)),
                rate: 4.0,
                ..Scenario::steady("window-25s-together", bucket, HintDialect::None)
            },
            Scenario {
                window: Some(ms(25_000)),
                rate: 4.0,
                ..Scenario::steady("window-25s-none", none, HintDialect::None)
            },
            // A sliding log, as limiters on a sorted set of timestamps count: 50 in any
            // second, each place back when its request is a second old. Its reset names when
            // the log is whole again, or when its oldest leaves, or (GitHub's way) the first
            // in whole seconds.
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                ..Scenario::steady("log-together", bucket, HintDialect::None)
            },
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                ..Scenario::steady("log-oldest", oldest, HintDialect::None)
            },
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                ..Scenario::steady("log-whole-seconds", whole_seconds, HintDialect::None)
            },
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                ..Scenario::steady("log-none", none, HintDialect::None)
            },
            // Two logs stacked, 50 in any second and 200 in any 10 s: the longer binds after
            // four seconds' worth, its places back from the tenth second. The headers name
            // whichever has fewer left, its reset when its oldest leaves.
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                longer_log: Some((200, ms(10_000))),
                ..Scenario::steady("log-two-oldest", oldest, HintDialect::None)
            },
            Scenario {
                window: Some(ms(1_000)),
                sliding: true,
                longer_log: Some((200, ms(10_000))),
                ..Scenario::steady("log-two-none", none, HintDialect::None)
            },
            Scenario {
                latency: (ms(0), ms(300)),
                ..Scenario::steady("rtt-300-bucket", bucket, HintDialect::None)
            },
            Scenario {
                latency: (ms(0), ms(300)),
                ..Scenario::steady("rtt-300-none", none, HintDialect::None)
            },
            // The steady limit of a server written apart from this project: `limit` the rate,
            // `remaining` the bucket's true count, `reset` the time until it is full, round
            // trips of 50-150 ms.
            Scenario {
                latency: (ms(50), ms(150)),
                ..Scenario::steady("rate-full-150ms", rate_until_full, HintDialect::None)
            },
            Scenario {
                rate: 200.0,
                burst: 20,
                ..Scenario::steady("fast-rate", rate, HintDialect::None)
            },
            Scenario {
                rate: 2.0,
                burst: 2,
                ..Scenario::steady("slow-none", none, HintDialect::None)
            },
            Scenario {
                rate: 2.0,
                burst: 2,
                ..Scenario::steady("slow-together", bucket, HintDialect::None)
            },
            Scenario {
                rate: 0.5,
                burst: 1,
                ..Scenario::steady("free-tier-none", none, HintDialect::None)
            },
            Scenario {
                rate: 0.5,
                burst: 1,
                ..Scenario::steady("free-tier-together", bucket, HintDialect::None)
            },
            // A bucket of a whole second (as Anthropic's refill up to the minute's budget):
            // what a client that never bursts leaves unused is a sixth of the run.
            Scenario {
                burst: 50,
                ..Scenario::steady("burst-50-together", bucket, HintDialect::None)
            },
            Scenario {
                burst: 50,
                ..Scenario::steady("burst-50-none", none, HintDialect::None)
            },
            Scenario {
                burst: 50,
                ..Scenario::steady("burst-50-openai", LimitHeaders::OpenAi, HintDialect::None)
            },
            // Round trips of an LLM call that generates a little: what the client hears of
            // its pace comes half a second late.
            Scenario {
                latency: (ms(200), ms(800)),
                ..Scenario::steady("rtt-800-together", bucket, HintDialect::None)
            },
            Scenario {
                latency: (ms(200), ms(800)),
                ..Scenario::steady("rtt-800-none", none, HintDialect::None)
            },
            // An LLM API: the limiter counts a request when it comes, the answer takes the
            // generation too (0.2-1 s), a 429 comes back at once. The answers that tell the
            // pace is right come a second late; the news that it is too fast, quickly.
            Scenario {
                generation: (ms(200), ms(1_000)),
                ..Scenario::steady("llm-together", bucket, HintDialect::None)
            },
            Scenario {
                generation: (ms(200), ms(1_000)),
                ..Scenario::steady("llm-none", none, HintDialect::None)
            },
            // An inference server that serves 8 requests at once (150-600 ms each, about 21
            // a second) and refuses a ninth at once, whatever the rate: its limit is how
            // many are in flight, not how fast they go. Its rate limit (1 000 a second) never
            // binds; under Together's headers they report that limit, plenty left.
            Scenario::serving(8, "concurrency-8-none", none),
            Scenario::serving(8, "concurrency-8-together", bucket),
            // The same refusing with a bare 503, as a gateway in front of a busy backend does.
            Scenario {
                overloaded: true,
                ..Scenario::serving(8, "concurrency-8-503", none)
            },
            // Together's own way, as its docs say: below the rate limit, capacity trouble
            // comes back as 503, the headers reporting the limit with plenty left.
            Scenario {
                overloaded: true,
                ..Scenario::serving(8, "concurrency-8-503-together", bucket)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: step_50_20_80.clone(),
                ..Scenario::steady("step-50-20-80-bucket", bucket, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: step_50_20_80.clone(),
                ..Scenario::steady("step-50-20-80-none", none, HintDialect::None)
            },
            // The same steps on an LLM API, a second's generation behind each answer.
            Scenario {
                kind: ScenarioKind::Moving,
                steps: step_50_20_80,
                generation: (ms(200), ms(1_000)),
                ..Scenario::steady("llm-step-none", none, HintDialect::None)
            },
            // A dynamic limit cut 25-fold at 2 s (a provider shedding load) and kept there: what
            // a client learnt of the old one must not keep pushing against the new.
            Scenario {
                kind: ScenarioKind::Moving,
                steps: drop_50_2.clone(),
                ..Scenario::steady("drop-50-2-bucket", bucket, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: drop_50_2,
                ..Scenario::steady("drop-50-2-none", none, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: sawtooth.clone(),
                ..Scenario::steady("sawtooth-rate", rate, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: sawtooth,
                ..Scenario::steady("sawtooth-ms", none, HintDialect::RetryAfterMs)
            },
            // A limit that wanders every second, as Together's dynamic limits may: `limit`
            // the rate of the second, `remaining` the bucket's true count, `reset` the time
            // until it is full (the readings of a server written apart from this project),
            // round trips of 50-150 ms. With its headers and without.
            Scenario {
                kind: ScenarioKind::Moving,
                steps: wander.clone(),
                latency: (ms(50), ms(150)),
                ..Scenario::steady("wander-rate-full", rate_until_full, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: wander,
                latency: (ms(50), ms(150)),
                ..Scenario::steady("wander-none", none, HintDialect::None)
            },
            // A limit that rises with use (see `growing`): halved at 2.5 s and 4.5 s, or three
            // times a second apart down to 10 a second, a bucket of one. With the headers of a
            // server written apart from this project (`limit` the rate, `remaining` the
            // bucket's true count, `reset` the time until it is full) and without.
            Scenario::growing("grow-rate-full", rate_until_full, &[2_500, 4_500]),
            Scenario::growing("grow-none", none, &[2_500, 4_500]),
            Scenario::growing(
                "grow-spikes-rate-full",
                rate_until_full,
                &[1_500, 2_500, 3_500],
            ),
            Scenario::growing("grow-spikes-none", none, &[1_500, 2_500, 3_500]),
            // The bucket refusing with bare 503s (nginx's `limit_req`), steady and stepping:
            // nothing says it is a rate limit but that the 503s come when the pace is high.
            Scenario {
                overloaded: true,
                ..Scenario::steady("refused-503", none, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Moving,
                steps: vec![(ms(2_000), 20.0), (ms(5_000), 80.0)],
                overloaded: true,
                ..Scenario::steady("step-50-20-80-503", none, HintDialect::None)
            },
            // Two models, each limited apart as Together limits them: 50 a second for the
            // usual one, 20 for the other, each with its own bucket of 5 and its own headers.
            Scenario {
                models: &[("m-slow", 20.0)],
                ..Scenario::steady("per-model-together", bucket, HintDialect::None)
            },
            Scenario {
                models: &[("m-slow", 20.0)],
                ..Scenario::steady("per-model-none", none, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Tokens,
                rate: 100.0,
                burst: 10,
                token_limit: Some(200),
                ..Scenario::steady("tokens-together", bucket, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Tokens,
                rate: 100.0,
                burst: 10,
                token_limit: Some(200),
                ..Scenario::steady("tokens-none", none, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Tokens,
                rate: 100.0,
                burst: 10,
                token_limit: Some(200),
                ..Scenario::steady("tokens-openai", LimitHeaders::OpenAi, HintDialect::None)
            },
            Scenario {
                kind: ScenarioKind::Tokens,
                rate: 100.0,
                burst: 10,
                token_limit: Some(200),
                ..Scenario::steady(
                    "tokens-anthropic",
                    LimitHeaders::Anthropic,
                    HintDialect::RetryAfterSecs,
                )
            },
        ]
    }

    /// The scenario called `name`, if the catalogue has one.
    pub fn named(name: &str) -> Option<Scenario> {
        Scenario::all().into_iter().find(|s| s.name == name)
    }

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
