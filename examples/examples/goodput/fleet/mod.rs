//! Fleets (issue 12): N processes on one limit, each with its own client and its own limiter,
//! on the paused clock.
//!
//! ```text
//! cargo run --release -p examples --example goodput -- --fleet
//! cargo run --release -p examples --example goodput -- --fleet --scenario together-bucket --n 4
//! ```
//!
//! One run: ONE simulator (a [`Scenario`] and a seed) and N "processes" in the same runtime.
//! A process is its own [`Caller`]: its own reqwest client (its own connection pool) and its
//! own limiter, so nothing passes between processes but the server's answers, as between the
//! pods of a deployment. Each sends [`REQUESTS`] requests from [`TASKS`] tasks (the issue's
//! batch: 150 lines at `--concurrency 16`), and all start together. The `join-leave` variant
//! (N = 4 and 16 only) starts the last process [`JOIN_AFTER`] late and gives the first half the
//! work, so the fleet grows by one and shrinks by one while it runs. With 2 processes that
//! would leave one process alone, then none, then the other: no fleet in between.
//!
//! Reported per run:
//! - goodput: `scenario.ideal(successes of the whole fleet, TOKENS_EACH) / wall`, wall until the
//!   last process finishes;
//! - 429s per request, from the simulator's counters;
//! - calls lost (given up on);
//! - fairness: each process's rate is its successes over its own wall time (from its start to
//!   its last answer), its share that rate over the sum of all of them; the worst
//!   `|share * N - 1|` of the fleet (0: every process got exactly 1/N; the issue's target is
//!   0.2). In `join-leave` the late and the short process see a different fleet for part of
//!   their life, so a perfectly fair limiter does not score 0 there.
//!
//! Strategies: `ours-pair` (each process `RetryMiddleware::default()` +
//! `RateLimitMiddleware::default()`, alone), `ours-shared` (the same, the processes sharing one
//! limit state: see [`shared_limiter`]), and the peers as in the family (backon, sdk-rule,
//! reqwest-retry), each process with its own client.
//!
//! Runs are independent, so `--jobs` threads (default: the cores available) each run seeds on
//! a paused runtime of their own; every time reported is virtual either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use retry_core::middleware::{MemoryLimit, RateLimitMiddleware, RetryMiddleware};
use together_client::sim::{Scenario, Simulator};
use tokio::time::Instant;

use crate::family::TOKENS_EACH;
use crate::report::{machine, write_markdown};
use crate::strategies::{Caller, MODEL, Strategy, http};
use crate::workloads::{Distribution, Outcome};
use plot::plot;
use report::{Summary, table};

mod plot;
mod report;

/// Requests each process sends, and the tasks it sends them from (the issue's batch of 150
/// lines at `--concurrency 16`).
pub(crate) const REQUESTS: usize = 150;
pub(crate) const TASKS: usize = 16;
/// When the late process of `join-leave` starts.
pub(crate) const JOIN_AFTER: Duration = Duration::from_secs(2);
/// Fleet sizes, unless `--n` says otherwise.
pub(crate) const SIZES: [usize; 4] = [2, 4, 8, 16];
/// The scenarios: Together's two header readings, no headers, the other providers' header
/// families, a moving limit and a token limit (the issue's "every header family"), and an LLM
/// API (successes after 0.2-1 s of generation, 429s at once).
pub(crate) const SCENARIOS: [&str; 8] = [
    "together-bucket",
    "together-rate",
    "no-headers",
    "llm-none",
    "openai",
    "anthropic",
    "step-50-20-80-bucket",
    "tokens-openai",
];
/// Seeds of the peers, unless `--peer-seeds` says otherwise: they retry into the limit, so a
/// run of theirs costs several times ours in real time, and their spread is not what the issue
/// asks about (see `bench`).
pub(crate) const PEER_SEEDS: u64 = 5;

pub(crate) const BEGIN: &str = "<!-- fleet:begin -->";
pub(crate) const END: &str = "<!-- fleet:end -->";

/// The plotted run: its scenario, fleet size and seed.
const PLOT: (&str, usize, u64) = ("together-bucket", 4, 0);
/// Bins of the plot, in seconds.
const BIN: f64 = 0.25;

/// How the processes of a fleet are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    /// Every process on its own: the family's strategy, one per process.
    Alone(Strategy),
    /// Our pair, the processes' limiters sharing one state ([`shared_limiter`]).
    Shared,
}

/// The strategies of the fleet, ours first.
pub(crate) const MEMBERS: [Member; 5] = [
    Member::Alone(Strategy::OursPair),
    Member::Shared,
    Member::Alone(Strategy::Backon),
    Member::Alone(Strategy::SdkRule),
    Member::Alone(Strategy::ReqwestRetry),
];

impl Member {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Member::Alone(s) => s.name(),
            Member::Shared => "ours-shared",
        }
    }

    pub(crate) fn ours(self) -> bool {
        match self {
            Member::Alone(s) => s.ours(),
            Member::Shared => true,
        }
    }

    /// The strategy `Caller::call` sends with: the shared pair is a middleware stack like
    /// the pair.
    fn strategy(self) -> Strategy {
        match self {
            Member::Alone(s) => s,
            Member::Shared => Strategy::OursPair,
        }
    }

    /// A new process's client.
    fn caller(self, sim: &Simulator, fleet: &MemoryLimit) -> Caller {
        match self {
            Member::Alone(s) => Caller::new(s, sim),
            Member::Shared => Caller::Stack(
                reqwest_middleware::ClientBuilder::new(http())
                    .with(RetryMiddleware::default())
                    .with(shared_limiter(fleet))
                    .build(),
            ),
        }
    }
}

/// One process's limiter in an `ours-shared` fleet: every process of a run builds its own
/// from one `MemoryLimit` (the store a fleet on Redis has, in memory, answering in 0.5 ms as
/// a Redis next to the processes would).
fn shared_limiter(fleet: &MemoryLimit) -> RateLimitMiddleware {
    RateLimitMiddleware::builder().build_shared(fleet.clone())
}

/// How the fleet's processes come and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// All start together with the same work.
    Together,
    /// The last starts [`JOIN_AFTER`] late, the first has half the work (and leaves early).
    JoinLeave,
}

impl Variant {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Together => "together",
            Variant::JoinLeave => "join-leave",
        }
    }

    /// Each process's start and number of requests.
    fn plan(self, n: usize) -> Vec<(Duration, usize)> {
        (0..n)
            .map(|p| match self {
                Variant::JoinLeave if p + 1 == n => (JOIN_AFTER, REQUESTS),
                Variant::JoinLeave if p == 0 => (Duration::ZERO, REQUESTS / 2),
                _ => (Duration::ZERO, REQUESTS),
            })
            .collect()
    }

    /// Whether the variant runs for `n` processes: `join-leave` at the issue's two sizes
    /// only (4 and 16), which keeps a full run near 5 minutes of real time on 2 cores.
    fn applies(self, n: usize) -> bool {
        self == Variant::Together || matches!(n, 4 | 16)
    }
}

/// What one process achieved.
struct Process {
    successes: usize,
    lost: usize,
    /// From its start to its last answer, in seconds.
    wall: f64,
    /// When each success came back, in seconds from the fleet's start.
    done_at: Vec<f64>,
}

/// One run of a fleet.
pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    /// The worst `|share * N - 1|` over the processes.
    pub(crate) fairness: f64,
    processes: Vec<Process>,
}

/// The worst `|share * N - 1|` (see [`examples::unfairness`]).
fn fairness(processes: &[Process]) -> f64 {
    examples::unfairness(processes.iter().map(|p| (p.successes, p.wall)))
}

/// One fleet of `n` processes of `member` on `scenario`'s server, drawn from `seed`.
pub(crate) async fn run(
    scenario: &Scenario,
    seed: u64,
    member: Member,
    n: usize,
    variant: Variant,
) -> Run {
    let sim = Arc::new(
        scenario
            .builder(seed)
            .start()
            .await
            .expect("the simulator starts"),
    );
    let url: Arc<str> = format!("{}/chat/completions", sim.base_url()).into();
    let key: Arc<str> = sim.api_key().into();
    let fleet = MemoryLimit::with_latency(Duration::from_micros(500));
    let plan = variant.plan(n);
    let requests: usize = plan.iter().map(|(_, r)| r).sum();
    let started = Instant::now();
    let mut processes = tokio::task::JoinSet::new();
    for (p, (delay, work)) in plan.into_iter().enumerate() {
        let (sim, fleet, url, key) = (Arc::clone(&sim), fleet.clone(), url.clone(), key.clone());
        processes.spawn(async move {
            tokio::time::sleep_until(started + delay).await;
            // Built when the process starts, as a late pod builds its client: a limiter
            // knows nothing before its first request anyway.
            let caller = Arc::new(member.caller(&sim, &fleet));
            drop(sim);
            let strategy = member.strategy();
            let began = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..TASKS {
                let (caller, url, key) = (Arc::clone(&caller), url.clone(), key.clone());
                tasks.spawn(async move {
                    let (mut done_at, mut lost) = (Vec::new(), 0);
                    for j in (task..work).step_by(TASKS) {
                        // Distinct prompts across the fleet (still two words: 5 tokens).
                        let i = p * 1_000_000 + j;
                        if caller.call(strategy, &url, &key, i, MODEL).await {
                            done_at.push(started.elapsed().as_secs_f64());
                        } else {
                            lost += 1;
                        }
                    }
                    (done_at, lost)
                });
            }
            let (mut done_at, mut lost) = (Vec::with_capacity(work), 0);
            while let Some(done) = tasks.join_next().await {
                let (d, l) = done.expect("a task panicked");
                done_at.extend(d);
                lost += l;
            }
            let process = Process {
                successes: done_at.len(),
                lost,
                wall: began.elapsed().as_secs_f64(),
                done_at,
            };
            (p, process)
        });
    }
    let mut done: Vec<(usize, Process)> = Vec::with_capacity(n);
    while let Some(process) = processes.join_next().await {
        done.push(process.expect("a process panicked"));
    }
    let wall = started.elapsed().as_secs_f64();
    done.sort_by_key(|(p, _)| *p);
    let processes: Vec<Process> = done.into_iter().map(|(_, p)| p).collect();
    let stats = sim.stats();
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    let successes: usize = processes.iter().map(|p| p.successes).sum();
    let ideal = scenario.ideal(successes, TOKENS_EACH);
    Run {
        outcome: Outcome {
            goodput: if wall > 0.0 { ideal / wall } else { 0.0 },
            per_request_429: stats.rate_limited as f64 / requests as f64,
            lost: processes.iter().map(|p| p.lost).sum(),
        },
        fairness: fairness(&processes),
        processes,
    }
}

/// Runs `seeds` seeds of one cell on `jobs` threads, each seed on a paused runtime of its own
/// (tokio's paused clock is per runtime, so the runs do not see each other's time).
fn run_seeds(
    scenario: &Scenario,
    member: Member,
    n: usize,
    variant: Variant,
    seeds: u64,
    jobs: usize,
) -> Vec<Run> {
    let next = AtomicU64::new(0);
    let runs = Mutex::new(Vec::with_capacity(seeds as usize));
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, seeds.max(1) as usize) {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds {
                        break;
                    }
                    let run = paused()
                        .block_on(run(scenario, seed, member, n, variant))
                        // The per-process times are only for the plot.
                        .without_times();
                    runs.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((seed, run));
                }
            });
        }
    });
    let mut runs = runs.into_inner().unwrap_or_else(PoisonError::into_inner);
    runs.sort_by_key(|(seed, _)| *seed);
    runs.into_iter().map(|(_, r)| r).collect()
}

impl Run {
    fn without_times(mut self) -> Run {
        for p in &mut self.processes {
            p.done_at = Vec::new();
        }
        self
    }
}

/// A current-thread runtime on the paused clock, as the rest of the benchmark runs on.
fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
}

/// What `--fleet` runs: the filters and the sizes from the command line.
pub(crate) struct Options {
    pub(crate) scenarios: Vec<String>,
    pub(crate) strategies: Vec<String>,
    pub(crate) sizes: Vec<usize>,
    pub(crate) seeds: u64,
    pub(crate) peer_seeds: u64,
    pub(crate) jobs: usize,
}

impl Options {
    /// Whether anything was filtered out: then the results are printed, not written.
    fn partial(&self) -> bool {
        !self.scenarios.is_empty() || !self.strategies.is_empty() || !self.sizes.is_empty()
    }
}

/// The fleet benchmark: every (scenario, N, variant, strategy) cell over the seeds; the table,
/// and unless filtered the section of BENCHMARKS.md and `fleet.svg`.
pub(crate) fn bench(
    dir: &std::path::Path,
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let real = std::time::Instant::now();
    let scenarios: Vec<Scenario> = SCENARIOS
        .iter()
        .filter(|name| options.scenarios.is_empty() || options.scenarios.iter().any(|n| n == *name))
        .map(|name| Scenario::named(name).expect("a scenario of the catalogue"))
        .collect();
    if scenarios.is_empty() {
        return Err(format!(
            "no fleet scenario matches; they are {}",
            SCENARIOS.join(", ")
        )
        .into());
    }
    let members: Vec<Member> = MEMBERS
        .into_iter()
        .filter(|m| {
            options.strategies.is_empty() || options.strategies.iter().any(|n| n == m.name())
        })
        .collect();
    let sizes: Vec<usize> = if options.sizes.is_empty() {
        SIZES.to_vec()
    } else {
        options.sizes.clone()
    };
    let mut summaries = Vec::new();
    for scenario in &scenarios {
        for variant in [Variant::Together, Variant::JoinLeave] {
            for &n in sizes.iter().filter(|&&n| variant.applies(n)) {
                for &member in &members {
                    // The peers retry into the limit: several times our attempts per run,
                    // and their failure (429s, lost calls) shows in a few seeds.
                    let seeds = if member.ours() {
                        options.seeds
                    } else {
                        options.peer_seeds
                    };
                    let runs = run_seeds(scenario, member, n, variant, seeds, options.jobs);
                    let s = Summary {
                        scenario: scenario.name,
                        n,
                        variant,
                        member,
                        runs,
                    };
                    eprintln!(
                        "{:<22} N={:<2} {:<10} {:<13} {} fair med {:.2} worst {:.2} ({:.0} s)",
                        s.scenario,
                        n,
                        variant.name(),
                        member.name(),
                        s.runs.brief(),
                        s.median_fairness(),
                        s.worst_fairness(),
                        real.elapsed().as_secs_f64(),
                    );
                    summaries.push(s);
                }
            }
        }
    }
    let real = real.elapsed().as_secs_f64();
    let mut generated = format!(
        "Machine: {}. The fleets took {real:.1} s of real time on {} threads; times virtual.\n\n\
         ![successes/s of the fleet over time](fleet.svg)\n\n",
        machine(),
        options.jobs
    );
    generated.push_str(&table(&summaries, options.seeds, options.peer_seeds));
    println!("{generated}");
    if !options.partial() {
        plot(&dir.join("fleet.svg"))?;
        write_markdown(dir, (BEGIN, END), &generated, "fleet.svg")?;
    }
    Ok(())
}
