//! A fleet of real processes on one rate limit (issue 12): N copies of this binary, each with
//! its own client and its own limiter, against one simulator, with or without Redis.
//!
//! ```text
//! cargo run --release -p examples --example fleet -- --processes 4
//! cargo run --release -p examples --example fleet -- --processes 16 --runs 3 --redis redis://127.0.0.1:6399
//! ```
//!
//! The parent starts `together-client`'s simulator in-process on the real clock
//! (`127.0.0.1:0`; `--scenario`, a name of `Scenario::all()`, default `together-bucket`), then
//! spawns `--processes` children of itself (a hidden `--worker` mode). Each child sends
//! `--requests` chat completions from `--concurrency` tasks through
//! `RetryMiddleware::default()` + `RateLimitMiddleware::default()`, or with `--redis URL`
//! through a limiter shared in Redis (`build_shared(RedisLimit::new(url)?.prefix(..))`, a
//! prefix of its own per run), and prints one JSON line: its successes, its calls lost and its
//! wall time.
//!
//! The children all start at one instant the parent picks (they sleep until then), so the time
//! it takes to spawn 16 processes does not count; a limit that moves (`step-...`) moves from
//! that instant too. Reported per run, as the paused-clock fleets of the goodput example do:
//! goodput (`Scenario::ideal(successes of the fleet, 5 tokens each) / wall`, wall until the
//! last child's last answer), 429s per request (the simulator's counter), calls lost, and the
//! worst fairness `|share * N - 1|` (a child's share: its successes over its wall time, over
//! the sum of that for every child). With `--runs K`, each run on a fresh simulator, then the
//! median and the worst of each column.
//!
//! A local Redis to try it with:
//! `redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use retry_core::middleware::{RateLimitMiddleware, RedisLimit, RetryMiddleware};
use together_client::sim::Scenario;

/// What one request of the workload costs a token limit: a two-word prompt and a three-word
/// answer (`Echo: prompt N`), as in the goodput example.
const TOKENS_EACH: u64 = 5;
/// The model named in each request (the simulator accepts any).
const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";

/// N processes, each its own limiter, on one simulated rate limit.
#[derive(Parser, Debug)]
struct Args {
    /// Child processes (the fleet).
    #[arg(long, default_value_t = 4)]
    processes: usize,
    /// The simulated server: a name of `together_client::sim::Scenario::all()`.
    #[arg(long, default_value = "together-bucket")]
    scenario: String,
    /// Requests each process sends.
    #[arg(long, default_value_t = 150)]
    requests: usize,
    /// Tasks sending them in each process.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Share the limit through this Redis (`redis://host:port`); else each process on its own.
    #[arg(long)]
    redis: Option<String>,
    /// Runs, each on a fresh simulator; more than one prints the median and the worst.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// The simulator's seed (its round trips) in the first run; run k uses seed + k.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run as one process of the fleet (spawned by the parent).
    #[arg(long, hide = true)]
    worker: bool,
    #[arg(long, hide = true)]
    base_url: Option<String>,
    #[arg(long, hide = true)]
    key: Option<String>,
    /// This process's number in the fleet (its prompts are distinct from the others').
    #[arg(long, hide = true, default_value_t = 0)]
    index: usize,
    /// When to start, in milliseconds since the Unix epoch (one instant for the whole fleet).
    #[arg(long, hide = true, default_value_t = 0)]
    start_at_ms: u64,
    /// The Redis key prefix of this run.
    #[arg(long, hide = true)]
    prefix: Option<String>,
}

/// What a child prints: one line of JSON.
#[derive(Clone, Copy, Debug)]
struct Report {
    successes: usize,
    lost: usize,
    /// Seconds from the common start to its last answer.
    wall: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.worker {
        // One thread a process: 16 of them share 2 cores with the simulator, and 16 tasks
        // waiting on the network need no more.
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(worker(&args));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(parent(&args))
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time left until `at_ms` (milliseconds since the epoch), zero if it has passed.
fn until(at_ms: u64) -> Duration {
    (UNIX_EPOCH + Duration::from_millis(at_ms))
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// One process of the fleet: its own client and limiter, its requests, one JSON line.
async fn worker(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let base_url = args
        .base_url
        .as_deref()
        .ok_or("--worker needs --base-url")?;
    let key: Arc<str> = args.key.as_deref().ok_or("--worker needs --key")?.into();
    let limiter = match &args.redis {
        Some(url) => RateLimitMiddleware::builder().build_shared(
            RedisLimit::new(url)?.prefix(args.prefix.as_deref().unwrap_or("fleet-example")),
        ),
        None => RateLimitMiddleware::default(),
    };
    let client = Arc::new(
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RetryMiddleware::default())
            .with(limiter)
            .build(),
    );
    let url: Arc<str> = format!("{base_url}/chat/completions").into();
    tokio::time::sleep(until(args.start_at_ms)).await;
    // Measured from the common start, not from this process's: one that started late pays
    // for it, as a whole fleet would.
    let lateness = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_millis(args.start_at_ms))
        .unwrap_or(Duration::ZERO);
    let began = tokio::time::Instant::now() - lateness;
    let (requests, concurrency, index) = (args.requests, args.concurrency.max(1), args.index);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let (client, url, key) = (Arc::clone(&client), Arc::clone(&url), Arc::clone(&key));
        tasks.spawn(async move {
            let (mut successes, mut lost) = (0, 0);
            for j in (task..requests).step_by(concurrency) {
                let body = serde_json::json!({
                    "model": MODEL,
                    "messages": [{"role": "user", "content": format!("prompt {}", index * 1_000_000 + j)}],
                });
                let ok = match client.post(&*url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(r) => {
                        let _ = r.bytes().await;
                        false
                    }
                    Err(_) => false,
                };
                if ok {
                    successes += 1;
                } else {
                    lost += 1;
                }
            }
            (successes, lost)
        });
    }
    let (mut successes, mut lost) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (s, l) = done?;
        successes += s;
        lost += l;
    }
    let wall = began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"process": index, "successes": successes, "lost": lost, "wall": wall})
    );
    Ok(())
}

/// One run's figures, as the paused-clock fleets report them.
#[derive(Clone, Copy, Debug)]
struct Run {
    goodput: f64,
    per_request_429: f64,
    lost: usize,
    fairness: f64,
    wall: f64,
}

/// The worst `|share * N - 1|` (see [`examples::unfairness`]).
fn fairness(reports: &[Report]) -> f64 {
    examples::unfairness(reports.iter().map(|p| (p.successes, p.wall)))
}

fn parse_report(line: &str) -> Option<Report> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    Some(Report {
        successes: usize::try_from(v["successes"].as_u64()?).ok()?,
        lost: usize::try_from(v["lost"].as_u64()?).ok()?,
        wall: v["wall"].as_f64()?,
    })
}

/// One run: a fresh simulator, N children, their reports.
async fn run_once(
    args: &Args,
    scenario: &Scenario,
    run: usize,
) -> Result<Run, Box<dyn std::error::Error>> {
    // The steps of a moving limit are offsets from the simulator's start; the children start
    // later (spawning 16 takes a while), so the parent moves the limit itself from their start.
    let steady = Scenario {
        steps: Vec::new(),
        ..scenario.clone()
    };
    let sim = steady.builder(args.seed + run as u64).start().await?;
    let n = args.processes.max(1);
    // Time for every child to start and build its client: a rough 50 ms a process on 2 cores.
    let start = SystemTime::now() + Duration::from_millis(300 + 50 * n as u64);
    let start_at_ms = epoch_ms(start);
    let prefix = format!("fleet-{}-{start_at_ms}-{run}", std::process::id());
    let exe = std::env::current_exe()?;
    let mut children = Vec::with_capacity(n);
    for index in 0..n {
        let mut command = Command::new(&exe);
        command
            .arg("--worker")
            .args(["--base-url", &sim.base_url()])
            .args(["--key", sim.api_key()])
            .args(["--index", &index.to_string()])
            .args(["--requests", &args.requests.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args(["--start-at-ms", &start_at_ms.to_string()])
            .stdout(Stdio::piped());
        if let Some(url) = &args.redis {
            command.args(["--redis", url]).args(["--prefix", &prefix]);
        }
        let child = command.spawn()?;
        children.push(tokio::task::spawn_blocking(move || {
            child.wait_with_output()
        }));
    }
    let sim = Arc::new(sim);
    let mut steps = tokio::task::JoinSet::new();
    for &(at, next) in &scenario.steps {
        let (sim, delay, burst) = (Arc::clone(&sim), until(start_at_ms) + at, scenario.burst);
        steps.spawn(async move {
            tokio::time::sleep(delay).await;
            sim.set_rate_limit(Some(next), burst);
        });
    }
    let mut reports = Vec::with_capacity(n);
    for (index, child) in children.into_iter().enumerate() {
        let output = child.await??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report = stdout
            .lines()
            .rev()
            .find_map(parse_report)
            .ok_or_else(|| format!("process {index} printed no report ({})", output.status))?;
        reports.push(report);
    }
    // Steps past the end of the run are moot.
    steps.shutdown().await;
    let stats = sim.stats();
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    let successes: usize = reports.iter().map(|r| r.successes).sum();
    let requests = (n * args.requests) as f64;
    let wall = reports.iter().map(|r| r.wall).fold(0.0, f64::max);
    Ok(Run {
        goodput: if wall > 0.0 {
            scenario.ideal(successes, TOKENS_EACH) / wall
        } else {
            0.0
        },
        per_request_429: stats.rate_limited as f64 / requests,
        lost: reports.iter().map(|r| r.lost).sum(),
        fairness: fairness(&reports),
        wall,
    })
}

async fn parent(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::named(&args.scenario).ok_or_else(|| {
        let names: Vec<&str> = Scenario::all().iter().map(|s| s.name).collect();
        format!(
            "no scenario {:?}; they are {}",
            args.scenario,
            names.join(", ")
        )
    })?;
    let limiter = match &args.redis {
        Some(url) => format!("shared through Redis at {url}"),
        None => "each process on its own".to_owned(),
    };
    println!(
        "{} processes x {} requests ({} tasks each), {} ({}/s, burst {}), {limiter}",
        args.processes,
        args.requests,
        args.concurrency,
        scenario.name,
        scenario.rate,
        scenario.burst
    );
    println!("| run | wall (s) | goodput | 429s/req | lost | fairness (worst) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut runs = Vec::with_capacity(args.runs);
    for k in 0..args.runs.max(1) {
        let r = run_once(args, &scenario, k).await?;
        println!(
            "| {} | {:.2} | {:.3} | {:.3} | {} | {:.2} |",
            k + 1,
            r.wall,
            r.goodput,
            r.per_request_429,
            r.lost,
            r.fairness
        );
        runs.push(r);
    }
    if runs.len() > 1 {
        let sorted = |f: fn(&Run) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let median = |v: &[f64]| v[(v.len() - 1) / 2];
        let goodput = sorted(|r| r.goodput);
        let per_429 = sorted(|r| r.per_request_429);
        let fair = sorted(|r| r.fairness);
        let wall = sorted(|r| r.wall);
        let lost = sorted(|r| r.lost as f64);
        println!(
            "| median | {:.2} | {:.3} | {:.3} | {} | {:.2} |",
            median(&wall),
            median(&goodput),
            median(&per_429),
            median(&lost),
            median(&fair)
        );
        println!(
            "| worst | {:.2} | {:.3} | {:.3} | {} | {:.2} |",
            wall[wall.len() - 1],
            goodput[0],
            per_429[per_429.len() - 1],
            runs.iter().map(|r| r.lost).max().unwrap_or(0),
            fair[fair.len() - 1]
        );
    }
    Ok(())
}
