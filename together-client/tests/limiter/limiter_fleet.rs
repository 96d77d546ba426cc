//! A fleet on the server family: N processes (each its own client, its own limiter, its own
//! workload) on one limit of the simulator, sharing one `MemoryLimit` (the same code as a
//! fleet on Redis: only the store differs) or nothing at all. The regression subset of
//! `cargo run --release -p examples --example goodput -- --fleet`, on the same server model.
//!
//! Goodput is the scenario's ideal for all the fleet's successes over the time until the last
//! process is done; a process's share is its own rate over the sum of the rates (1/N: fair).

use std::sync::Arc;
use std::time::Duration;

use crate::kit::sim::chat_target;
use retry_core::middleware::{MemoryLimit, RateLimitMiddleware, RetryMiddleware};
use together_client::sim::Scenario;
use tokio::time::Instant;

/// Requests for the whole fleet, each process sending its share from this many tasks.
const TOTAL: usize = 480;
const TASKS: usize = 16;
/// Few, for CI's time: the benchmark runs 20.
const SEEDS: u64 = 2;
/// `prompt {i}` and its answer `Echo: prompt {i}`: five tokens to the simulator.
const TOKENS_EACH: u64 = 5;

#[derive(Debug)]
struct FleetRun {
    goodput: f64,
    per_request_429: f64,
    lost: usize,
    /// The worst process's `|share * N - 1|`.
    unfairness: f64,
}

/// One process: `n` requests from [`TASKS`] tasks; (successes, seconds until done).
async fn process(
    limiter: RateLimitMiddleware,
    url: Arc<str>,
    key: Arc<str>,
    n: usize,
) -> (usize, f64) {
    let client = reqwest_middleware::ClientBuilder::new(crate::kit::untimed_http())
        .with(RetryMiddleware::default())
        .with(limiter)
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.spawn(async move {
            let mut ok = 0;
            for i in (task..n).step_by(TASKS) {
                let body = serde_json::json!({
                    "model": "m",
                    "messages": [{"role": "user", "content": format!("prompt {i}")}],
                });
                let sent = client
                    .post(&*url)
                    .bearer_auth(&*key)
                    .json(&body)
                    .send()
                    .await;
                ok += usize::from(sent.is_ok_and(|r| r.status().is_success()));
            }
            ok
        });
    }
    let ok = tasks.join_all().await.into_iter().sum();
    (ok, started.elapsed().as_secs_f64())
}

/// `n` processes sending `total` requests between them.
async fn run(scenario: &Scenario, seed: u64, n: usize, shared: bool, total: usize) -> FleetRun {
    // The runtime is one thread: seeding its generator makes the limiters' and the retries'
    // random draws (jitter, who asks first for a slot) the same on every run of the test.
    fastrand::seed(seed);
    let sim = scenario.builder(seed).start().await.unwrap();
    let (url, key) = chat_target(&sim);
    // A store answering in half a millisecond, as a Redis next to the processes would.
    let store = MemoryLimit::with_latency(Duration::from_micros(500));
    let started = Instant::now();
    let mut processes = tokio::task::JoinSet::new();
    for _ in 0..n {
        let limiter = if shared {
            RateLimitMiddleware::builder().build_shared(store.clone())
        } else {
            RateLimitMiddleware::default()
        };
        processes.spawn(process(limiter, url.clone(), key.clone(), total / n));
    }
    let done = processes.join_all().await;
    let wall = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    sim.shutdown().await;
    let ok: usize = done.iter().map(|(ok, _)| ok).sum();
    let rates: Vec<f64> = done.iter().map(|(ok, secs)| *ok as f64 / secs).collect();
    let sum: f64 = rates.iter().sum();
    FleetRun {
        goodput: scenario.ideal(ok, TOKENS_EACH) / wall,
        per_request_429: stats.rate_limited as f64 / total as f64,
        lost: total / n * n - ok,
        unfairness: rates
            .iter()
            .map(|r| (r / sum * n as f64 - 1.0).abs())
            .fold(0.0, f64::max),
    }
}

/// With a shared store, 4 and 16 processes run as one client: near the ideal, few 429s, no
/// call lost, each process near 1/N of the throughput, whatever the headers say.
#[tokio::test(start_paused = true)]
async fn a_shared_fleet_runs_as_one_client() {
    let mut misses = Vec::new();
    // together-rate: headers that mean something else than Together documents (the rate,
    // the next slot), which the fleet's learner must check before it trusts them.
    let cells = [
        ("together-bucket", &[(4, SEEDS), (16, 1)][..]),
        ("no-headers", &[(4, SEEDS), (16, 1)][..]),
        ("together-rate", &[(4, 1)][..]),
    ];
    for (name, sizes) in cells {
        let scenario = Scenario::named(name).unwrap();
        for &(n, seeds) in sizes {
            for seed in 0..seeds {
                let run = run(&scenario, seed, n, true, TOTAL).await;
                eprintln!("{name:<16} N={n:<2} seed {seed}: {run:?}");
                // A lone client draws ~0.03 429s per request without usable headers.
                let most_429 = if name == "together-bucket" {
                    0.02
                } else {
                    0.04
                };
                // 30 requests a process at N = 16: the order in which processes win the
                // slots they ask for at once is random, and shares measured over so few
                // requests spread to about 0.2 (the benchmark's larger runs: see BENCHMARKS.md).
                let most_unfair = if n == 16 { 0.3 } else { 0.2 };
                if run.lost > 0
                    || run.goodput < 0.95
                    || run.per_request_429 > most_429
                    || run.unfairness > most_unfair
                {
                    misses.push(format!("{name} N={n} seed {seed}: {run:?}"));
                }
            }
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

/// A shared fleet on a sliding log whose `reset` reads "until the log is empty": its 429s
/// name a whole log's wait, but the log gives its places back one by one. Waited out whole,
/// the fleet stood still a second after each 429 and ran at 0.49 of the ideal.
#[tokio::test(start_paused = true)]
async fn a_shared_fleet_waits_one_place_of_a_sliding_logs_whole_reset() {
    let scenario = Scenario::named("log-together").unwrap();
    let run = run(&scenario, 0, 4, true, TOTAL).await;
    eprintln!("log-together N=4 seed 0: {run:?}");
    assert_eq!(run.lost, 0, "{run:?}");
    assert!(run.goodput > 0.75, "{run:?}");
    assert!(run.per_request_429 < 0.08, "{run:?}");
}

/// Each process on its own, 16 of them on one limit with no headers to read, 150 requests
/// each (the benchmark's size: long enough for shares to drift apart). Paces that grew and
/// fell only in proportion to themselves drifted apart at random: the last process finished at
/// 2-3x the others, calls ran into their 60 s deadline. A pace crowded far under the share it
/// found first now climbs back by a fixed amount a second, as TCP flows converge. Seeds 0-4:
/// 0.83-0.92 of the ideal, 0 lost (without the floor: 0.48-0.57).
#[tokio::test(start_paused = true)]
async fn independent_processes_do_not_starve_one_another() {
    let scenario = Scenario::named("no-headers").unwrap();
    let run = run(&scenario, 0, 16, false, 16 * 150).await;
    eprintln!("no-headers N=16 independent: {run:?}");
    assert!(run.lost == 0 && run.goodput >= 0.75, "{run:?}");
}

/// Independent processes on a fixed window of a second under Together's names (50 a window),
/// 150 requests each. Each confirmed the window and sent its whole queue as it opened: the
/// first there took most of each window, the rest drew 429s, and a process refused at every
/// opening was cut to one request every 20 s (here, 4 processes: 0.99 of the ideal and 0.74
/// 429s per request; 16: 0.09 of the ideal, a call lost to its deadline). A window read
/// spent with few of its count this process's is shared: its count paces no one, the whole
/// window's spending steers the pace (`learner/window/share.rs`). Now 4 processes: 0.89 and
/// 0.08; 16: 0.81 and 0.20, none lost (the benchmark's 40 seeds: see BENCHMARKS.md).
#[tokio::test(start_paused = true)]
async fn independent_processes_share_a_fixed_window() {
    let scenario = Scenario::named("window-together").unwrap();
    let four = run(&scenario, 0, 4, false, 4 * 150).await;
    eprintln!("window-together N=4 independent: {four:?}");
    assert!(four.lost == 0 && four.goodput >= 0.8, "{four:?}");
    assert!(four.per_request_429 <= 0.15, "{four:?}");
    let sixteen = run(&scenario, 3, 16, false, 16 * 150).await;
    eprintln!("window-together N=16 independent: {sixteen:?}");
    assert!(sixteen.lost == 0 && sixteen.goodput >= 0.5, "{sixteen:?}");
    assert!(sixteen.per_request_429 <= 0.25, "{sixteen:?}");
}

/// Four independent processes on a per-minute budget (Anthropic's and OpenAI's header
/// families), which each sees spent as fast as it refills while they are at the limit
/// together: no process probes above its pace then, so none takes the others' share and
/// draws a round of 429s for all of them. Where a token limit binds first, the tokens left
/// say it (the request budget sits at its cap). And each sees from the first answers that
/// the budget loses more than it sent: the others' too, so the budget's rate is the fleet's,
/// not its own pace (`learner/crowd.rs`), and none bursts before its first answers have
/// shown whether others spend the budget (`learner/crowd/start.rs`), and each steers by what
/// the budget lost over the time a cut takes to show, not over its last sixteen answers.
/// Seeds 0-1, 429s per request: 0.003-0.005 on `anthropic` and `openai` (0.020-0.025 with
/// the sixteen answers; 0.055-0.060 with a burst from the first
/// answer; 0.085-0.103 with each process taking the budget's whole rate until three 429s
/// refuted it; 0.112-0.127 when a spell without a 429 started a probe whatever `remaining`
/// read); `tokens-openai` 0.070-0.080 (0.075-0.078 before a budget read full let a pace
/// climb to its rate; 0.057-0.068 with the burst, whose 60-seed median is higher: 0.068
/// against 0.058; 0.113-0.115 before the crowd was read, 0.128-0.130 with the request
/// budget alone).
/// Goodput is only a floor here: over 40 seeds at N = 4 a fleet of four on its own is at
/// 0.956-0.959 of the ideal median on `openai` and `anthropic`, 0.940-0.942 at the 5th
/// percentile and 0.933-0.942 at worst (`goodput --fleet --scenario openai --n 4 --strategy
/// ours-pair --seeds 40`, thirty-third session; 0.91 / 0.80-0.82 / 0.75-0.78 over 100 seeds
/// in the twenty-sixth), so one seed under 0.85 would be news.
#[tokio::test(start_paused = true)]
async fn independent_processes_on_one_budget_leave_it_to_refill_before_probing() {
    for (names, most) in [
        (&["anthropic", "openai"][..], 0.015),
        (&["tokens-openai"], 0.08),
    ] {
        let mut per_request_429 = Vec::new();
        for name in names {
            let scenario = Scenario::named(name).unwrap();
            for seed in 0..SEEDS {
                let run = run(&scenario, seed, 4, false, 4 * 150).await;
                eprintln!("{name} N=4 independent, seed {seed}: {run:?}");
                assert!(
                    run.lost == 0 && run.goodput >= 0.75,
                    "{name} {seed}: {run:?}"
                );
                per_request_429.push(run.per_request_429);
            }
        }
        let mean = per_request_429.iter().sum::<f64>() / per_request_429.len() as f64;
        assert!(mean <= most, "{names:?}: {per_request_429:?}");
    }
}

/// Two independent processes on a per-minute budget: the first answered often sees no one,
/// takes the budget's rate, and leaves the other a few requests a second, its reading refuted
/// by the 429s they drew together. Once the first is done, the budget reads full at every
/// answer: the one left climbs back to the rate in a second or two (`Evidence::unspent`),
/// where the blind increase took seconds from two requests a second. Mean goodput over seeds
/// 0-5: `anthropic` 0.808 -> 0.919, `openai` 0.862 -> 0.927 (the first also with the
/// steering reading a hold's worth of spending, which alone moved neither).
#[tokio::test(start_paused = true)]
async fn a_process_left_alone_on_an_unspent_budget_climbs_back() {
    for name in ["anthropic", "openai"] {
        let scenario = Scenario::named(name).unwrap();
        let mut goodput = Vec::new();
        for seed in 0..6 {
            let run = run(&scenario, seed, 2, false, 2 * 150).await;
            eprintln!("{name} N=2 independent, seed {seed}: {run:?}");
            assert_eq!(run.lost, 0, "{name} {seed}: {run:?}");
            goodput.push(run.goodput);
        }
        let mean = goodput.iter().sum::<f64>() / goodput.len() as f64;
        assert!(mean >= 0.89, "{name}: {goodput:?}");
    }
}

/// Four independent processes, where only the server's count, or its silence, can tell them
/// there is room: a limit risen from 20 to 80 a second (Together's bucket reading, which the
/// others' requests refute: a bucket that reads full is what is left of it), and a process
/// left alone at the fleet's tail (no headers: a spell without a 429, counted in intervals
/// of what the server served, not of the share it was crowded down to). Mean goodput: the
/// step over seeds 0-9 0.889 (0.848 before a bucket read at its most three times in a row
/// let a process left at a few requests a second climb to its rate, `Evidence::unspent`;
/// 0.822 before a full bucket grew the pace; 0.852 before a burst's 429 reading the count
/// spent ended slow start, which moves these chaotic runs about: over 80 seeds median
/// 0.853 -> 0.867, 5th percentile 0.761 -> 0.763, worst run 0.747 -> 0.691), no headers
/// over seeds 0-3 0.897 (0.806 before the quiet spell counted what was served).
#[tokio::test(start_paused = true)]
async fn independent_processes_find_the_room_the_others_leave() {
    for (name, least, seeds) in [("step-50-20-80-bucket", 0.87, 10), ("no-headers", 0.85, 4)] {
        let scenario = Scenario::named(name).unwrap();
        let mut goodput = Vec::new();
        for seed in 0..seeds {
            let run = run(&scenario, seed, 4, false, 4 * 150).await;
            eprintln!("{name} N=4 independent, seed {seed}: {run:?}");
            assert_eq!(run.lost, 0, "{name} {seed}: {run:?}");
            goodput.push(run.goodput);
        }
        let mean = goodput.iter().sum::<f64>() / goodput.len() as f64;
        eprintln!("{name}: mean {mean:.3}");
        assert!(mean >= least, "{name}: {goodput:?}");
    }
}
