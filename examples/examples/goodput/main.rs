//! Goodput under a rate limit: the same workload through every strategy, side by side.
//!
//! ```text
//! cargo run --release -p examples --example goodput
//! ```
//!
//! Starts `together-client`'s simulator in-process, on a tokio current-thread runtime whose
//! clock is paused (`start_paused(true)`): the simulator's token bucket, its latency and every
//! client's sleeps run on that virtual clock, which jumps ahead whenever the runtime is idle. A
//! run of 3 000 requests at 50 requests/s (a minute of virtual time) takes well under a second
//! of real time, and the times printed are virtual seconds, free of the machine's load. The
//! simulator and the sdk rule's jitter are seeded (backon's generator starts from a fixed
//! seed); reqwest-retry's jitter (from `rand`'s thread generator) and ours are not, so the
//! figures of those can move from one run to the next.
//!
//! Strategies, each on a fresh simulator and a fresh client:
//! - `naive`: plain reqwest, no retry.
//! - `reqwest-retry`: `RetryTransientMiddleware` with
//!   `ExponentialBackoff::builder().build_with_max_retries(5)`.
//! - `backon`: `ExponentialBuilder::default().with_jitter().with_max_times(5)`, retrying 408,
//!   429, 5xx and connection errors, with an `adjust` hook that takes `Retry-After` (seconds or
//!   HTTP date).
//! - `sdk-rule`: what the official Together/OpenAI SDKs do, by hand: 5 retries of 408, 409,
//!   429, 5xx and connection errors (`x-should-retry` first), the hint (`retry-after-ms`, then
//!   `Retry-After`) if 0 < h <= 60 s, else `min(0.5 * 2^n, 8) * (1 - 0.25 * rand)` seconds.
//! - `async-openai` 0.43 (built on reqwest 0.13) as it ships: its default retry layer (3
//!   retries of 429, 5xx and connection errors; `Retry-After` in whole seconds, else 100 ms
//!   doubling to 8 s).
//! - `ours-pair`: retry-core's `RetryMiddleware::default()` + `RateLimitMiddleware::default()`.
//! - `ours-client`: `together_client::Together` with its default policy, on a reqwest stack
//!   with `RateLimitMiddleware::default()`.
//!
//! For each workload and strategy: wall time (virtual), goodput, 429s per request, calls lost
//! (failed), prompts answered more than once, p50/p99 latency of a call. It prints the table,
//! rewrites the generated sections of `examples/BENCHMARKS.md` and draws
//! `examples/goodput.svg` (requests/s over time).
//!
//! # Goodput
//! goodput = ideal / wall, where ideal is the least time a perfect client needs for what this
//! one achieved:
//!
//! ```text
//! ideal = max(0, successes + faults charged - burst) / rate
//! ```
//!
//! - successes: the calls that returned a success (n - lost). A call given up on counts for
//!   nothing: a strategy that loses calls does not get a goodput above 1 for finishing early.
//! - faults charged: the attempts the simulator spent a token of its bucket on and then
//!   faulted (`Stats::overloaded + server_errors + dropped + broken_streams + stream_errors +
//!   completed_then_dropped`): the simulator draws faults only for requests its limiter has
//!   admitted, so even a perfect client pays a slot of the limit for each one it meets.
//! - burst and rate: the simulator's bucket; the first `burst` requests go at once, every other
//!   one waits for its token.
//!
//! Without faults and with no call lost this is `(n - burst) / rate`.
//!
//! With `--fleet` it runs the fleet benchmark instead (issue 12: N processes, each its own
//! client and limiter, on one simulator): see [`fleet`]. With `--sweep N`, N random servers
//! (the family's knobs drawn at random, ours with and without their headers): see [`sweep`].
//!
//! Modules: [`strategies`] (the peers and ours), [`workloads`] (the grid and one run),
//! [`report`] (verdicts, tables, BENCHMARKS.md), [`plot`] (the SVG), [`family`] (the server
//! family), [`fleet`] (fleets on one limit), [`sweep`] (random servers).

mod family;
mod fleet;
mod plot;
mod report;
mod strategies;
mod sweep;
mod workloads;

use std::fmt::Write as _;

use clap::Parser;
use together_client::sim::{HintDialect, Scenario};

use plot::plot;
use report::{FAMILY_BEGIN, FAMILY_END, MARK_BEGIN, MARK_END, machine, table, write_markdown};
use strategies::Strategy;
use workloads::{Distribution, grid, run};

/// Goodput under a rate limit, ours against the peers.
#[derive(Parser, Debug)]
struct Args {
    /// Run only the server family (skip the grid).
    #[arg(long)]
    family_only: bool,
    /// Run only the grid (skip the server family).
    #[arg(long, conflicts_with = "family_only")]
    grid_only: bool,
    /// Seeds per scenario of the family (and per cell of ours in the fleets).
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Only these scenarios of the family or the fleets (by name, any of the catalogue, even
    /// for the fleets; repeatable). Writes no file.
    #[arg(long)]
    scenario: Vec<String>,
    /// Only these strategies in the family or the fleets (by name; repeatable). Writes no file.
    #[arg(long)]
    strategy: Vec<String>,
    /// Run the fleets instead (issue 12): N processes on one simulator, each its own limiter.
    #[arg(long, conflicts_with_all = ["family_only", "grid_only"])]
    fleet: bool,
    /// Fleet sizes, in processes (repeatable; default 2, 4, 8 and 16). Writes no file.
    #[arg(long = "n", requires = "fleet")]
    sizes: Vec<usize>,
    /// Seeds per cell of the peers in the fleets (they cost several times ours to run).
    #[arg(long, default_value_t = fleet::PEER_SEEDS, requires = "fleet")]
    peer_seeds: u64,
    /// Run this many random servers instead (see `sweep`): the family's knobs drawn at random,
    /// ours with and without the headers on each; prints the servers where ours breaks.
    /// Writes no file
    #[arg(long, value_name = "SERVERS")]
    sweep: Option<u64>,
    /// The first random server's number (with `--sweep`: a flagged server again)
    #[arg(long, default_value_t = 0, requires = "sweep")]
    sweep_from: u64,
    /// Threads running the fleets' seeds side by side, each on its own paused runtime
    /// (default: the cores available).
    #[arg(long, requires = "fleet")]
    jobs: Option<usize>,
}

async fn bench_grid(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let real = std::time::Instant::now();
    let mut results = Vec::new();
    for w in grid() {
        let mut rows = Vec::new();
        for strategy in Strategy::ALL {
            let row = run(w, strategy).await;
            eprintln!(
                "{:<60} {:<14} wall {:>7.2} s goodput {:.3} 429/req {:.3} lost {} dup {}",
                w.label(),
                strategy.name(),
                row.wall,
                row.goodput,
                row.per_request_429,
                row.lost,
                row.duplicated
            );
            rows.push(row);
        }
        results.push((w, rows));
    }
    let real = real.elapsed().as_secs_f64();

    let plotted = &results[HintDialect::ALL
        .iter()
        .position(|d| *d == HintDialect::RateLimitHeaders)
        .expect("a dialect")];
    plot(&dir.join("goodput.svg"), &plotted.0, &plotted.1)?;

    let mut generated = String::new();
    let _ = writeln!(
        generated,
        "Machine: {}. The whole grid took {real:.1} s of real time; every time below is \
         virtual (tokio's paused clock).",
        machine()
    );
    let _ = writeln!(
        generated,
        "\n![requests/s over time, {}](goodput.svg)\n",
        plotted.0.label()
    );
    generated.push_str(&table(&results));
    println!("{generated}");
    write_markdown(dir, (MARK_BEGIN, MARK_END), &generated, "goodput.svg")?;
    Ok(())
}

async fn bench_family(
    dir: &std::path::Path,
    args: &Args,
) -> Result<(), Box<dyn std::error::Error>> {
    let real = std::time::Instant::now();
    let scenarios: Vec<Scenario> = Scenario::all()
        .into_iter()
        .filter(|s| args.scenario.is_empty() || args.scenario.iter().any(|n| n == s.name))
        .collect();
    let strategies: Vec<Strategy> = family::STRATEGIES
        .into_iter()
        .filter(|s| args.strategy.is_empty() || args.strategy.iter().any(|n| n == s.name()))
        .collect();
    let mut summaries = Vec::new();
    for scenario in &scenarios {
        for &strategy in &strategies {
            let mut runs = Vec::new();
            for seed in 0..args.seeds {
                // Seeded, the retries' jitter is the same from one run of the benchmark to the
                // next (as the fleet's and the sweep's runs are).
                fastrand::seed(seed);
                runs.push(family::run(scenario, seed, strategy).await);
            }
            let summary = family::Summary {
                scenario: scenario.clone(),
                strategy,
                runs,
            };
            eprintln!(
                "{:<28} {:<14} {} ({} runs)",
                scenario.name,
                strategy.name(),
                summary.runs.brief(),
                summary.runs.runs_losing(),
            );
            summaries.push(summary);
        }
    }
    let real = real.elapsed().as_secs_f64();
    let partial = !args.scenario.is_empty() || !args.strategy.is_empty();
    let mut generated = format!(
        "Machine: {}. The family took {real:.1} s of real time; goodput is against each \
         scenario's ideal (`Scenario::ideal`), times virtual.\n\n\
         ![goodput of every run](family.svg)\n\n",
        machine()
    );
    generated.push_str(&family::table(&summaries, args.seeds));
    println!("{generated}");
    if !partial {
        family::plot(&dir.join("family.svg"), &summaries)?;
        write_markdown(dir, (FAMILY_BEGIN, FAMILY_END), &generated, "family.svg")?;
    }
    Ok(())
}

async fn bench(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if !args.family_only {
        bench_grid(dir).await?;
    }
    if !args.grid_only {
        bench_family(dir, &args).await?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.fleet {
        // The fleets make their own paused runtimes, one per run and thread.
        let options = fleet::Options {
            scenarios: args.scenario,
            strategies: args.strategy,
            sizes: args.sizes,
            seeds: args.seeds,
            peer_seeds: args.peer_seeds,
            jobs: args
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        };
        return fleet::bench(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &options);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    if let Some(count) = args.sweep {
        runtime.block_on(sweep::bench(args.sweep_from, count));
        return Ok(());
    }
    runtime.block_on(bench(args))
}
