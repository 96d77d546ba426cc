//! The limiter on the server family (`together_client::sim::Scenario`), over many seeds: the
//! regression subset of `cargo run --release -p examples --example goodput -- --family-only`.
//!
//! `RetryMiddleware::default()` + `RateLimitMiddleware::default()` on a plain reqwest client,
//! 300 requests from 64 tasks per run, on the paused clock (each seed draws the scenario's
//! round trips). The thresholds are the where the limiter meets them on every seed
//! here, and the measured worst with a small margin where it does not yet (said so below):
//! they catch a regression, they do not flatter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::kit::sim::chat_target;
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use together_client::sim::Scenario;
use tokio::time::Instant;

const N: usize = 300;
const TASKS: usize = 64;
const SEEDS: u64 = 10;
/// `prompt {i}` and its answer `Echo: prompt {i}`: five words, five tokens to the simulator.
const TOKENS_EACH: u64 = 5;

struct Run {
    goodput: f64,
    per_request_429: f64,
    lost: usize,
}

async fn run(scenario: &Scenario, seed: u64) -> Run {
    let sim = scenario.builder(seed).start().await.unwrap();
    let http = crate::kit::untimed_http();
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(RetryMiddleware::default())
        .with(RateLimitMiddleware::default())
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    let (url, key) = chat_target(&sim);
    let lost = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (client, url, key, lost) = (client.clone(), url.clone(), key.clone(), lost.clone());
        let scenario = scenario.clone();
        tasks.spawn(async move {
            for i in (task..N).step_by(TASKS) {
                let body = serde_json::json!({
                    "model": scenario.model_of(i).unwrap_or("m"),
                    "messages": [{"role": "user", "content": format!("prompt {i}")}],
                });
                let ok = match client
                    .post(&*url)
                    .bearer_auth(&*key)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(response) => response.status().is_success(),
                    Err(_) => false,
                };
                if !ok {
                    lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    sim.shutdown().await;
    let lost = lost.load(Ordering::Relaxed);
    Run {
        goodput: scenario.ideal(N - lost, TOKENS_EACH) / wall,
        per_request_429: stats.rate_limited as f64 / N as f64,
        lost,
    }
}

/// The runs of one scenario over every seed: (median goodput, worst goodput, worst 429s per
/// request, calls lost in all).
async fn distribution(name: &str) -> (f64, f64, f64, usize) {
    let scenario = Scenario::named(name).unwrap();
    let mut runs = Vec::new();
    for seed in 0..SEEDS {
        runs.push(run(&scenario, seed).await);
    }
    let mut goodput: Vec<f64> = runs.iter().map(|r| r.goodput).collect();
    goodput.sort_by(f64::total_cmp);
    let worst_429 = runs.iter().map(|r| r.per_request_429).fold(0.0, f64::max);
    let lost = runs.iter().map(|r| r.lost).sum();
    let median = goodput[goodput.len() / 2];
    eprintln!(
        "{name:<24} median {median:.3} worst {:.3} 429/req worst {worst_429:.3} lost {lost}",
        goodput[0]
    );
    (median, goodput[0], worst_429, lost)
}

/// (scenario, least median, least worst run, most 429s per request in any run).
const EXPECTED: [(&str, f64, f64, f64); 36] = [
    // Headers read as documented: trusted once their predictions hold.
    ("together-bucket", 0.98, 0.97, 0.02),
    // The same names meaning the rate and the next slot: refuted; `remaining` still counts,
    // and the refill measured from it settles the pace under the limit before 429s do (0.007
    // median, 0.017 worst over 20 seeds; 0.043 and 0.047 before the measure). The waits for
    // the next slot agree with any rate over `limit` too: they tell nothing, and slow start
    // does not stop at it.
    ("together-rate", 0.98, 0.97, 0.025),
    // The same at 200 a second with a bucket of 20: slow start ends on the measured refill,
    // before its overshoot draws 429s (none in 60 seeds; 0.05 median before the measure).
    ("fast-rate", 0.95, 0.93, 0.01),
    // `remaining` alone (no `limit`): no bucket reading, no burst, but the refill measured
    // from `remaining` (0.981 median, 0.010 / 0.013 429s per request over 20 seeds; 0.027 /
    // 0.037 when it was ignored).
    ("remaining-only", 0.97, 0.965, 0.025),
    // `remaining` always `limit - 1`: the first 429 that still says 49 left ends every use of
    // it, and a 429 to a request sent early blames the burst, not the pace.
    ("together-constant", 0.98, 0.97, 0.045),
    // OpenAI's names: per-minute figures enforced per second, a rate to check; bursts find
    // the bucket behind them, until the first 429.
    ("openai", 0.975, 0.97, 0.02),
    // The same over a bucket of a whole second: paced at exactly the rate, the bucket went
    // unused (0.840 median over 20 seeds; 0.994 with the bursts, 0.007 429s per request).
    ("burst-50-openai", 0.97, 0.95, 0.02),
    // OpenAI's names reporting a quota per fixed minute that never binds, its reset the time
    // until the minute ends: read as a bucket's time to full, what was used over what is
    // left of the minute made a pace of a few a second, trusted at once as per-minute figures
    // are (0.178 median over 20 seeds). The end a bucket's reset names moves on as it is
    // spent; this one stands still, and until it has been seen to move, a pace under half the
    // documented rate is not trusted (0.989 / 0.983 over 20 seeds, 0.030 429s per request at
    // worst).
    ("openai-fixed-minute", 0.97, 0.96, 0.035),
    // Anthropic's: the same with whole-second resets, where `limit / 60` stands in for the
    // rate a short reset cannot measure (0.010 429s per request at worst over these 10
    // seeds: 3 of 300; held to the 0.03 less a third, not to the measure itself).
    ("anthropic", 0.97, 0.965, 0.02),
    // The IETF draft's structured fields (`RateLimit`, `RateLimit-Policy`) over the bucket,
    // resets in whole seconds: read as Together's whole-second resets are (0.994 median,
    // 0.986 worst, 0.007 / 0.017 429s per request over 20 seeds; 0.979 and 0.027 / 0.037
    // with the headers hidden, as they were all unread before).
    ("ietf", 0.98, 0.98, 0.025),
    // Headers that are snapshots a quarter of a second old.
    ("together-stale", 0.97, 0.93, 0.04),
    // No headers at all: the header-blind learner. A probe's 429 near its start puts the
    // pace back at the start: 0.023 / 0.030 429s per request over 20 seeds (0.030 at worst
    // over these 10 too: 9 of 300), 0.027 / 0.037 before (11 of 300 in seed 0-9's worst run).
    ("no-headers", 0.97, 0.96, 0.034),
    // A counter per one-second window, no headers: its whole count at once, then nothing until
    // the window ends. Two runs of 429s after the same count read it (`silent_window`), and
    // from the third window on it is paced as a log of its count: 0.904 median, 0.885 worst,
    // 0.090 / 0.107 429s per request over 20 seeds, all in the first two windows (0.839, 0.795
    // and 0.207 / 0.330 before; 0.37 when each 429 of the empty window halved the pace).
    ("window-none", 0.89, 0.88, 0.12),
    // The same window with Together's names: `reset` counts down to the window's end. Two
    // 429s naming one instant refute the bucket reading (which took "1 used, full in 0.99 s"
    // for a pace of 1 a second) and hold everyone until then; the count back whole after it
    // confirms a window, paced as one from the next: its whole count when it opens, nothing
    // once read spent (0.992 median, 0.988 worst, 0.067 / 0.077 429s per request over 20
    // seeds, most of them in the first window; 0.867, 0.802 and 0.107 / 0.133 before).
    ("window-together", 0.98, 0.97, 0.1),
    // A window of 25 s (100 requests in each): the sign takes half a second of 429s to show
    // (a bucket refilling 4 a second would have one back in a quarter), then nothing goes
    // until the window ends (0.999 median and worst, 0.160 / 0.170 429s per request over 20
    // seeds; 0.882 and 0.27 / 0.36 with the headers hidden).
    ("window-25s-together", 0.99, 0.99, 0.2),
    // 50, then 20 from 2 s, then 80 from 5 s requests a second. The first reading of a full
    // bucket after the rise sets the pace (0.978 median, 0.975 worst over 20 seeds; 0.912
    // while the least of 16 estimates held it at 20 for 0.8 s).
    ("step-50-20-80-bucket", 0.965, 0.96, 0.02),
    // The same without headers: the quiet-spell probe finds the 80. (Median 0.863 over 20
    // seeds; the worst runs are below the 0.85.)
    ("step-50-20-80-none", 0.84, 0.78, 0.07),
    // A limit that wanders every second between 36 and 63, `limit` the rate of the second and
    // `reset` the time until full, 50-150 ms round trips (a server written apart from this
    // project has such a one): a burst's 429 reading the count spent ends slow start where it
    // is, and `limit` read as the rate holds the pace up and brings it down with it, and stops
    // slow start where the resets bear it out (0.967 / 0.962 over 20 seeds, 0.017 / 0.040
    // 429s per request; 0.966 / 0.947 and 0.047 / 0.067 when slow start doubled past it;
    // 0.958 / 0.940 and 0.060 / 0.087 before the rate reading; 0.043 / 0.060 with the
    // headers hidden).
    ("wander-rate-full", 0.94, 0.92, 0.05),
    // A sawtooth from 50 a second (25 from 1.5 s, 60 from 3 s, 25 from 4.5 s, 60 from 6 s),
    // `limit` the rate: read as one once 429s over it bear it out, it is the floor under the
    // pace, and the pace falls with it (0.996 / 0.993 over 20 seeds, 0.030 / 0.050 429s per
    // request; 0.962 / 0.951 and 0.040 / 0.057 before).
    ("sawtooth-rate", 0.98, 0.97, 0.05),
    // `limit` the bucket's size (30) and `reset` the wait for the next slot, on a server that
    // refills 50 a second: read as a rate, `limit` would hold the pace at 30. The reading
    // is refuted, and a floor besides, never a ceiling (0.993 / 0.987 over 20 seeds, 0.023
    // 429s per request at worst).
    ("bucket-next-slot", 0.97, 0.95, 0.03),
    // The steady limit of a server written apart from this project: `limit` the rate (50),
    // `remaining` the true count of a bucket of 5, `reset` until it is full, 50-150 ms round
    // trips. Slow start stops at the rate the resets bear out: doubling past it, it reached
    // 101 a second before the first 429 came back (0.973 / 0.959 over 20 seeds, 0.007 /
    // 0.020 429s per request; 0.975 / 0.953 and 0.033 / 0.063 before).
    ("rate-full-150ms", 0.96, 0.95, 0.03),
    // A limit that rises by a quarter after each second the client used 80 % of it, and
    // halves at two load spikes, a bucket of a tenth of a second's worth, no headers: 0.925
    // median, 0.909 worst over 20 seeds (the ideal is the greedy client's, which raises it
    // every second).
    ("grow-none", 0.92, 0.90, 0.05),
    // The same with the headers of a server written apart from this project (`limit` the
    // rate, `remaining` the true count, `reset` until full). Its bucket of two or three
    // measures no refill: `limit` read as the rate is the floor under the pace, and the limit
    // grows (0.937 / 0.853 over 20 seeds, 0.047 429s per request at worst; 0.809 / 0.367
    // before, against 0.925 / 0.909 with the headers hidden). With slow start stopped at the
    // rate the resets bear out, and those resets checks of it: over 60 seeds the median
    // 0.933 -> 0.945, the worst 0.421 -> 0.870; over these 10, 0.943 / 0.873.
    ("grow-rate-full", 0.92, 0.85, 0.06),
    // The same halved three times, down to 10 a second and a bucket of one. A bucket of one
    // reads 0 after every take at any pace under its refill: measured as the refill, that was
    // the client's own pace, and each probe was settled back to it (0.266 median over 20
    // seeds; 0.460 since a count that never moved measures nothing; 0.643 / 0.590 with the
    // rate reading, 0.619 / 0.597 over these 10, where the header-blind learner's are 0.644
    // / 0.351; with slow start stopped at the rate the resets bear out, 0.662 / 0.569 over
    // these 10, and over 60 seeds a mean of 0.663 where it was 0.638, the worst 0.332 ->
    // 0.534). Under the 0.85: the round trips' jitter refuses some requests to a
    // bucket of one at any pace near its rate, and the limit stays under its 80 % at times.
    // (These 10 seeds: 0.662 / 0.569 and 0.070 429s per request at worst, every run of six
    // alike: held with a margin of a few requests, not at the measure itself.)
    ("grow-spikes-rate-full", 0.59, 0.55, 0.08),
    // The same steps on an LLM API: answers take 0.2-1 s of generation, 429s come back at
    // once. The increase is slowed by how late a 429 comes, not a success: slowed by the
    // successes' second, the pace stayed at 20 after the step to 80 (0.55 median over 20
    // seeds; 0.78 now, 0.74 over these 10; still under the 0.85).
    ("llm-step-none", 0.70, 0.68, 0.05),
    // A server that serves 8 requests at once (150-600 ms each) and refuses a ninth, no
    // headers: once the 429s are seen to come only with more than 8 in flight, no more than 8
    // go (0.853 median, 0.823 worst, 0.030 / 0.033 429s per request over 20 seeds; paced as a
    // rate, 0.702 and 0.047 / 0.057). Probes for one more that keep finding 8 come less often:
    // 0.843 / 0.824 and 0.020 / 0.020 over 20 seeds and over these 10.
    ("concurrency-8-none", 0.82, 0.80, 0.025),
    // The same refusing with bare 503s (0.861 median, 0.822 worst, 0.043 / 0.057 refusals per
    // request over 20 seeds; 0.737 and 0.063 / 0.080 with its 503s unread. The 503s' retries
    // are the retry layer's, at random, so runs vary). With the probes backed off, 0.030 /
    // 0.050 over 20 seeds, 0.043 at worst over these 10.
    ("concurrency-8-503", 0.80, 0.75, 0.06),
    // The same with Together's headers reporting a rate of 1 000 a second that never binds:
    // the reading's pace is reached by doubling what the server served, so its refutation
    // costs a few 429s, not a flood (0.867 median, 0.838 worst, 0.070 / 0.097 429s per
    // request over 20 seeds; trusted at once, 0.874 / 0.819 and 0.370 / 0.487). Held to the
    // blind pace after its first 429, and with the probes for one more backed off: 0.891 /
    // 0.838 and 0.033 / 0.060 over 20 seeds, 0.047 at worst over these 10.
    ("concurrency-8-together", 0.84, 0.82, 0.07),
    // Together's own way below an account's limits: the 503s of a server out of capacity,
    // its headers reporting plenty left. Read as the pace's refusal, they make the reading a
    // ceiling over the blind pace and halve the burst licence (0.874 median, 0.842 worst,
    // 0.063 / 0.077 503s per request over 20 seeds; kept at the reading's pace, 0.820 /
    // 0.747 and 2.0 503s per request, 1 227 calls lost over the 20 runs). With the probes for
    // one more backed off, 0.053 / 0.067 over 20 seeds and over these 10.
    ("concurrency-8-503-together", 0.84, 0.80, 0.08),
    // A token limit that binds before the request limit, with Together's token headers.
    ("tokens-together", 0.97, 0.96, 0.05),
    // Two models, each limited apart (50 and 20 a second, Together's headers): paced per
    // model, 0.995 / 0.982 and 0.023 429s per request at worst over 20 seeds; paced as one
    // host, the worst run fell to 0.57.
    ("per-model-together", 0.98, 0.97, 0.035),
    // The bucket refusing with bare 503s, as nginx's `limit_req` does: each refuses the pace
    // (gently while lone: it may be a fault) until the cuts show the 503s faults (0.98
    // median, 0.82 worst, 0.050 / 0.17 refused per request over 300 seeds; their retries are
    // the retry layer's, which backs off at random, so runs vary). Counted as successes
    // before, they grew the pace without bound: on a server written apart from this project,
    // 244-266 of 300 calls unanswered, the batch stopped by its circuit breaker.
    ("refused-503", 0.88, 0.75, 0.2),
    // A sliding log of 50 in any second, its reset in whole seconds: read as a log (its count
    // is what the log leaves of this client's requests) and paced as one, 0.943 / 0.872 over
    // 20 seeds, 0.113 429s per request at worst (0.187 while the bound counted from the
    // log's confirmation, not the requests already in it); read as a bucket before, 0.70 /
    // 0.60, below the header-blind learner's 0.73.
    ("log-whole-seconds", 0.90, 0.85, 0.15),
    // The same log naming nothing: its 429s read as a window's (the same count before two
    // runs), whose bound is the log's own. 0.870 median, 0.713 worst, 0.097 / 0.117 429s per
    // request over 20 seeds (0.730, 0.668 and 0.200 / 0.273 before).
    ("log-none", 0.85, 0.70, 0.13),
    // A fixed window of a second whose reset reads "1" until it ends: read as a log that its
    // count read whole empties, 0.964 median over 20 seeds (worst 0.795; 0.897 over these
    // 10), 0.113 429s per request at worst (over 100 seeds: 0.749 and 0.167 at worst, the
    // runs where the log is never confirmed). Broken as a log when it opened, 0.80.
    ("window-whole-seconds", 0.93, 0.85, 0.15),
    // Two logs stacked, 50 a second and 200 per 10 s: once the longest pause has proved too
    // short, the spent count's reset holds everyone, and the short log, set aside while the
    // long one is named, paces again once named again (0.915 / 0.910 over 20 seeds, 0.097
    // 429s per request at worst; 0.915 / 0.898 and 0.097 over 100; cut each second instead,
    // 0.756; broken for good at the second limit, 0.914 / 0.884 and 0.103).
    ("log-two-oldest", 0.88, 0.85, 0.12),
];

#[tokio::test(start_paused = true)]
async fn the_pair_holds_on_the_server_family() {
    let mut misses = Vec::new();
    for (name, median_at_least, worst_at_least, most_429) in EXPECTED {
        let (median, worst, worst_429, lost) = distribution(name).await;
        if lost > 0 {
            misses.push(format!("{name}: {lost} calls lost"));
        }
        if median < median_at_least {
            misses.push(format!("{name}: median {median:.3} < {median_at_least}"));
        }
        if worst < worst_at_least {
            misses.push(format!("{name}: worst run {worst:.3} < {worst_at_least}"));
        }
        if worst_429 > most_429 {
            misses.push(format!("{name}: {worst_429:.3} 429s/request > {most_429}"));
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(start_paused = true)]
async fn reading_headers_is_never_worse_than_ignoring_them() {
    // Same bucket, same round trips; these servers' headers mean something else than the
    // documented reading (the rate and the next slot; a constant `remaining`), the last sends
    // none.
    let (blind, ..) = distribution("no-headers").await;
    for name in ["together-rate", "together-constant"] {
        let (misread, ..) = distribution(name).await;
        assert!(
            misread >= blind - 0.01,
            "{name}: {misread:.3} against {blind:.3}"
        );
    }
    // A bucket of a second's worth behind OpenAI's per-minute figures, against none.
    let (blind, ..) = distribution("burst-50-none").await;
    let (read, ..) = distribution("burst-50-openai").await;
    assert!(
        read >= blind - 0.01,
        "burst-50-openai: {read:.3} against {blind:.3}"
    );
    // Fixed windows, a sliding log and a growing limit under Together's names, against the
    // same with none.
    for (blind, read) in [
        // A quota per fixed minute under OpenAI's names, over the same bucket as no headers.
        ("no-headers", "openai-fixed-minute"),
        ("log-none", "log-whole-seconds"),
        ("log-two-none", "log-two-oldest"),
        ("window-none", "window-whole-seconds"),
        ("window-none", "window-together"),
        ("window-25s-none", "window-25s-together"),
        // A limit that grows with use, its `limit` the rate (0.809 against 0.925 before the
        // rate reading, median of 20 seeds).
        ("grow-none", "grow-rate-full"),
    ] {
        let (without, ..) = distribution(blind).await;
        let (with, ..) = distribution(read).await;
        assert!(
            with >= without - 0.01,
            "{read}: {with:.3} against {without:.3}"
        );
    }
}
