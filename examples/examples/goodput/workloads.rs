//! The grid of workloads, and one run of one strategy on one of them.

use std::borrow::Borrow;
use std::sync::Arc;

use together_client::sim::{Event, Fault, HintDialect, Simulator, Stats};
use tokio::time::Instant;

use crate::strategies::{Caller, MODEL, SEED, Strategy};

/// One row of the grid.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Workload {
    pub(crate) n: usize,
    pub(crate) tasks: usize,
    pub(crate) rate: f64,
    pub(crate) burst: u32,
    pub(crate) dialect: HintDialect,
    pub(crate) faults: bool,
}

impl Workload {
    /// The least time a perfect client needs for `successes` calls when the server also
    /// charged `charged` faulted attempts to its bucket: the bucket's `burst` at once, every
    /// other one at the rate.
    pub(crate) fn ideal(&self, successes: usize, charged: u64) -> f64 {
        let spent = successes as f64 + charged as f64 - f64::from(self.burst);
        spent.max(0.0) / self.rate
    }

    /// The ideal time of the whole workload, faults aside: `(n - burst) / rate`.
    pub(crate) fn nominal(&self) -> f64 {
        self.ideal(self.n, 0)
    }

    pub(crate) fn label(&self) -> String {
        let faults = if self.faults {
            ", 5% 503 + 1% drop"
        } else {
            ""
        };
        format!(
            "{} req, {} tasks, {}/s burst {}, {:?}{faults}",
            self.n, self.tasks, self.rate, self.burst, self.dialect
        )
    }
}

/// The figures of one strategy on one workload.
pub(crate) struct Row {
    pub(crate) strategy: Strategy,
    pub(crate) wall: f64,
    /// The ideal time of what it achieved ([`Workload::ideal`]).
    pub(crate) ideal: f64,
    /// Faulted attempts the server charged to its bucket.
    pub(crate) charged: u64,
    pub(crate) goodput: f64,
    pub(crate) per_request_429: f64,
    pub(crate) lost: usize,
    pub(crate) duplicated: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) log: Vec<Event>,
}

/// The attempts the simulator spent a bucket token on without a success: every injected
/// fault hits a request its limiter already admitted.
fn charged_faults(stats: &Stats) -> u64 {
    stats.overloaded
        + stats.server_errors
        + stats.dropped
        + stats.broken_streams
        + stats.stream_errors
        + stats.completed_then_dropped
}

/// What one run of the family or of a fleet reports, for [`Distribution`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) goodput: f64,
    pub(crate) per_request_429: f64,
    pub(crate) lost: usize,
}

/// The median, 5th percentile and worst of many runs of one cell (the family's and the
/// fleets' tables): the runs of a summary, `summary.runs.median()`.
pub(crate) trait Distribution {
    type Run: Borrow<Outcome>;

    fn runs(&self) -> &[Self::Run];

    fn sorted(&self, f: impl Fn(&Self::Run) -> f64) -> Vec<f64> {
        let mut v: Vec<f64> = self.runs().iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.runs().iter().map(Borrow::borrow)
    }

    fn median(&self) -> f64 {
        percentile(&self.sorted(|r| r.borrow().goodput), 0.5)
    }

    fn p5(&self) -> f64 {
        percentile(&self.sorted(|r| r.borrow().goodput), 0.05)
    }

    fn worst(&self) -> f64 {
        self.sorted(|r| r.borrow().goodput)
            .first()
            .copied()
            .unwrap_or(0.0)
    }

    fn median_429(&self) -> f64 {
        percentile(&self.sorted(|r| r.borrow().per_request_429), 0.5)
    }

    fn worst_429(&self) -> f64 {
        (self.sorted(|r| r.borrow().per_request_429).last().copied()).unwrap_or(0.0)
    }

    fn lost_worst(&self) -> usize {
        self.outcomes().map(|o| o.lost).max().unwrap_or(0)
    }

    fn lost_total(&self) -> usize {
        self.outcomes().map(|o| o.lost).sum()
    }

    /// The goodput and 429 columns of a table: median, p5 and worst goodput, median and worst
    /// 429s per request.
    fn cells(&self) -> String {
        format!(
            "{:.3} | {:.3} | {:.3} | {:.3} | {:.3}",
            self.median(),
            self.p5(),
            self.worst(),
            self.median_429(),
            self.worst_429()
        )
    }

    /// The distribution in a line of progress: goodput, 429s per request and calls lost.
    fn brief(&self) -> String {
        format!(
            "median {:.3} p5 {:.3} worst {:.3} 429/req med {:.3} worst {:.3} lost {}",
            self.median(),
            self.p5(),
            self.worst(),
            self.median_429(),
            self.worst_429(),
            self.lost_total()
        )
    }

    /// The targets every verdict checks, each one missed said: a median and a 5th
    /// percentile of goodput (0 checks nothing), the most 429s per request, no call lost.
    fn misses(&self, median: f64, p5: f64, max_429: f64) -> Vec<String> {
        let mut misses = Vec::new();
        if self.median() < median {
            misses.push(format!("median {:.3} < {median}", self.median()));
        }
        if self.p5() < p5 {
            misses.push(format!("p5 {:.3} < {p5}", self.p5()));
        }
        if self.worst_429() > max_429 {
            misses.push(format!("429/req {:.3} > {max_429}", self.worst_429()));
        }
        if self.lost_total() > 0 {
            misses.push(format!("{} lost", self.lost_total()));
        }
        misses
    }

    fn runs_losing(&self) -> usize {
        self.outcomes().filter(|o| o.lost > 0).count()
    }
}

impl<R: Borrow<Outcome>> Distribution for Vec<R> {
    type Run = R;

    fn runs(&self) -> &[R] {
        self
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) async fn run(w: Workload, strategy: Strategy) -> Row {
    let mut builder = Simulator::builder()
        .rate_per_second(w.rate)
        .burst(w.burst)
        .dialect(w.dialect)
        .seed(SEED);
    if w.faults {
        builder = builder
            .fault(Fault::Overloaded, 0.05)
            .fault(Fault::Drop, 0.01);
    }
    let sim = builder.start().await.expect("the simulator starts");
    let caller = Arc::new(Caller::new(strategy, &sim));
    let url: Arc<str> = format!("{}/chat/completions", sim.base_url()).into();
    let key: Arc<str> = sim.api_key().into();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..w.tasks {
        let (caller, url, key) = (Arc::clone(&caller), Arc::clone(&url), Arc::clone(&key));
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut lost = 0;
            for i in (task..w.n).step_by(w.tasks) {
                let t0 = Instant::now();
                let ok = caller.call(strategy, &url, &key, i, MODEL).await;
                latencies.push(t0.elapsed().as_secs_f64());
                lost += usize::from(!ok);
            }
            (latencies, lost)
        });
    }
    let mut latencies = Vec::with_capacity(w.n);
    let mut lost = 0;
    while let Some(done) = tasks.join_next().await {
        let (l, n) = done.expect("a task panicked");
        latencies.extend(l);
        lost += n;
    }
    let wall = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    sim.shutdown().await;
    latencies.sort_by(f64::total_cmp);
    let charged = charged_faults(&stats);
    let ideal = w.ideal(w.n - lost, charged);
    Row {
        strategy,
        wall,
        ideal,
        charged,
        // Nothing achieved in no time (`naive`'s burst-sized successes) is no goodput either.
        goodput: if wall > 0.0 { ideal / wall } else { 0.0 },
        per_request_429: stats.rate_limited as f64 / w.n as f64,
        lost,
        duplicated: stats.repeated_prompts().len(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        log: stats.log,
    }
}

/// The grid: the full dialect sweep on 300/64/50, then one dimension changed at a time.
pub(crate) fn grid() -> Vec<Workload> {
    let base = Workload {
        n: 300,
        tasks: 64,
        rate: 50.0,
        burst: 5,
        dialect: HintDialect::RateLimitHeaders,
        faults: false,
    };
    let mut rows: Vec<Workload> = HintDialect::ALL
        .into_iter()
        .map(|dialect| Workload { dialect, ..base })
        .collect();
    rows.extend([
        Workload { n: 3000, ..base },
        Workload { tasks: 512, ..base },
        Workload {
            n: 3000,
            tasks: 512,
            ..base
        },
        Workload {
            rate: 500.0,
            burst: 50,
            ..base
        },
        Workload {
            n: 3000,
            tasks: 512,
            rate: 500.0,
            burst: 50,
            ..base
        },
        Workload {
            faults: true,
            ..base
        },
        Workload {
            faults: true,
            dialect: HintDialect::RetryAfterMs,
            ..base
        },
        Workload {
            n: 3000,
            faults: true,
            ..base
        },
    ]);
    rows
}
