//! The catalogue: every server of the family, by name, and the shapes they share.

use std::time::Duration;

use super::{Scenario, ScenarioKind};
use crate::sim::config::HintDialect;
use crate::sim::growth::LimitGrowth;
use crate::sim::headers::{LimitHeaders, LimitMeans, Meaning, RemainingMeans, ResetMeans};

/// Milliseconds, for a catalogue written in them.
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
            refusal_delay: (ms(0), ms(0)),
            generation: (ms(0), ms(0)),
            window: None,
            sliding: false,
            longer_log: None,
            fixed_minute: false,
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

    /// A steady limit counted per fixed window of `length`: its whole count at once when a
    /// window opens, then nothing until it ends.
    fn window(name: &'static str, headers: LimitHeaders, length: Duration) -> Self {
        Scenario {
            window: Some(length),
            ..Scenario::steady(name, headers, HintDialect::None)
        }
    }

    /// A sliding log of a second: 50 in any second, each place back when its request is a
    /// second old.
    fn log(name: &'static str, headers: LimitHeaders) -> Self {
        Scenario {
            sliding: true,
            ..Scenario::window(name, headers, ms(1_000))
        }
    }

    /// That log with a second one stacked behind it, 200 in any 10 s.
    fn two_logs(name: &'static str, headers: LimitHeaders) -> Self {
        Scenario {
            longer_log: Some((200, ms(10_000))),
            ..Scenario::log(name, headers)
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

    /// A steady limit whose server decides at the end of the round trip (see
    /// [`Scenario::inbound`]), its refusals held back by `refusal_delay` more (a range).
    fn decided_late(
        name: &'static str,
        headers: LimitHeaders,
        refusal_delay: (Duration, Duration),
    ) -> Self {
        Scenario {
            inbound: 1.0,
            refusal_delay,
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
            Scenario::decided_late("inbound-none", none, (ms(0), ms(0))),
            Scenario::decided_late("inbound-together", bucket, (ms(0), ms(0))),
            // And its 429s 25-60 ms late, as they came back from it (43 ms on average, its
            // successes in 17): news of an overshoot comes back later than the successes.
            Scenario::decided_late("slow-429-none", none, (ms(25), ms(60))),
            Scenario::decided_late("slow-429-together", bucket, (ms(25), ms(60))),
            Scenario::steady("retry-after-ms", none, HintDialect::RetryAfterMs),
            Scenario::steady("retry-after-secs", none, HintDialect::RetryAfterSecs),
            Scenario::steady("retry-after-date", none, HintDialect::RetryAfterDate),
            Scenario::steady("openai", LimitHeaders::OpenAi, HintDialect::None),
            // The same names reporting a quota of 3 000 per fixed minute (as gateways such as
            // Kong count one), never binding: `reset` the time until the minute ends, over
            // the same bucket. And Together's names meaning that quota.
            Scenario {
                fixed_minute: true,
                ..Scenario::steady(
                    "openai-fixed-minute",
                    LimitHeaders::OpenAi,
                    HintDialect::None,
                )
            },
            Scenario {
                fixed_minute: true,
                ..Scenario::steady("together-fixed-minute", minute, HintDialect::None)
            },
            // The IETF draft's structured fields over the same bucket, resets in whole seconds.
            Scenario::steady("ietf", LimitHeaders::Ietf, HintDialect::None),
            Scenario::steady(
                "anthropic",
                LimitHeaders::Anthropic,
                HintDialect::RetryAfterSecs,
            ),
            Scenario::window("window-together", bucket, ms(1_000)),
            Scenario::window("window-none", none, ms(1_000)),
            // A window of a second whose reset reads "1" until it ends.
            Scenario::window("window-whole-seconds", whole_seconds, ms(1_000)),
            // A longer window, as per-minute counts are: 100 requests per 25 s (4 a second),
            // its reset counting down tens of seconds; the last 100 go when the third opens,
            // within a call's default deadline of a minute.
            Scenario {
                rate: 4.0,
                ..Scenario::window("window-25s-together", bucket, ms(25_000))
            },
            Scenario {
                rate: 4.0,
                ..Scenario::window("window-25s-none", none, ms(25_000))
            },
            // A sliding log, as limiters on a sorted set of timestamps count: 50 in any
            // second, each place back when its request is a second old. Its reset names when
            // the log is whole again, or when its oldest leaves, or (GitHub's way) the first
            // in whole seconds.
            Scenario::log("log-together", bucket),
            Scenario::log("log-oldest", oldest),
            Scenario::log("log-whole-seconds", whole_seconds),
            Scenario::log("log-none", none),
            // That log under Together's names read as a rate: `limit` its count a second,
            // `reset` the next place (zero while it has one, else when its oldest leaves), so
            // no reset read on a success is as long as the log.
            Scenario::log("log-next-slot", rate),
            // Two logs stacked, 50 in any second and 200 in any 10 s: the longer binds after
            // four seconds' worth, its places back from the tenth second. The headers name
            // whichever has fewer left, its reset when its oldest leaves.
            Scenario::two_logs("log-two-oldest", oldest),
            Scenario::two_logs("log-two-none", none),
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
}
