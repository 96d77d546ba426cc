//! One run of a fleet and its seeds: [`run`] starts the simulator and the processes of one
//! seed and measures them ([`Run`]); [`run_seeds`] runs the seeds of one cell on `--jobs`
//! threads, each on a [`paused`] runtime of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use retry_core::middleware::MemoryLimit;
use together_client::sim::Scenario;
use tokio::time::Instant;

use super::{Member, TASKS, Variant};
use crate::family::TOKENS_EACH;
use crate::strategies::MODEL;
use crate::workloads::Outcome;

/// What one process achieved.
pub(super) struct Process {
    successes: usize,
    lost: usize,
    /// From its start to its last answer, in seconds.
    wall: f64,
    /// When each success came back, in seconds from the fleet's start.
    pub(super) done_at: Vec<f64>,
}

/// One run of a fleet.
pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    /// The worst `|share * N - 1|` over the processes.
    pub(crate) fairness: f64,
    pub(super) processes: Vec<Process>,
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
pub(super) fn run_seeds(
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
                    // The per-process times are only for the plot.
                    let run = run_seeded(scenario, seed, member, n, variant).without_times();
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

/// [`run`] on a [`paused`] runtime of its own, on this thread, its generator seeded by `seed`:
/// the limiters draw from this thread's `fastrand` (a fleet's early asks, the store's
/// backoff), so a run's figures do not depend on what ran before it on the thread, nor on
/// `--jobs`.
pub(super) fn run_seeded(
    scenario: &Scenario,
    seed: u64,
    member: Member,
    n: usize,
    variant: Variant,
) -> Run {
    fastrand::seed(seed);
    paused().block_on(run(scenario, seed, member, n, variant))
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
