//! Fleets (issue 12): N processes on one limit, each with its own client and its own limiter,
//! on the paused clock.
//!
//! ```text
//! cargo run --release -p examples --example goodput -- --fleet
//! cargo run --release -p examples --example goodput -- --fleet --scenario together-bucket --n 4
//! cargo run --release -p examples --example goodput -- --fleet --scenario log-together --n 4
//! ```
//!
//! The table holds the cells of [`SCENARIOS`]; `--scenario` runs any scenario of the catalogue
//! as a fleet, and prints its cells without writing them.
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
//! a paused runtime of their own; every time reported is virtual either way. Each run seeds its
//! thread's `fastrand` generator with its seed, so a cell prints the same figures at any
//! `--jobs`.
//!
//! Here: the fleet's constants, how its processes are built ([`Member`]) and come and go
//! ([`Variant`]), and the benchmark ([`bench`]). One run and its seeds are in
//! [`run`](mod@run), the figures and the table in [`report`], `fleet.svg` in [`plot`].

use std::time::Duration;

use retry_core::middleware::{MemoryLimit, RateLimitMiddleware, RetryMiddleware};
use together_client::sim::{Scenario, Simulator};

use crate::report::{machine, write_markdown};
use crate::strategies::{Caller, Strategy, http};
use crate::workloads::Distribution;
use plot::plot;
use report::{Summary, table};
use run::run_seeds;

mod plot;
mod report;
mod run;

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
    // The table's scenarios, or those `--scenario` names from the whole catalogue (a partial
    // run prints its cells and writes nothing).
    let scenarios: Vec<Scenario> = if options.scenarios.is_empty() {
        SCENARIOS
            .iter()
            .map(|name| Scenario::named(name).expect("a scenario of the catalogue"))
            .collect()
    } else {
        (options.scenarios.iter())
            .map(|name| {
                Scenario::named(name).ok_or_else(|| format!("no scenario is named `{name}`"))
            })
            .collect::<Result<_, _>>()?
    };
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
