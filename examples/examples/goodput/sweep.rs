//! Random servers (`--sweep N`): the family's knobs drawn at random, to find where the limiter
//! breaks on a server that is none of the named ones.
//!
//! Each server draws its rate (5-200 a second, log-uniform, held to half what 64 callers can
//! send through its round trips, so the limit binds), its bucket, its header family and
//! what Together's names mean on it (the limit a bucket, a rate, a minute's budget or absent;
//! the reset until full, until the next slot, in whole seconds; `remaining` accurate, stale or
//! constant), its 429s' hint, its round trip and how much of it comes before the limiter, an
//! LLM's generation or none, a fixed window or a sliding log now and then, and a step of its
//! rate now and then, all from the server's number. Each runs [`SEEDS`] seeds of `ours-pair`
//! and of `ours-blind` (the same pair, the rate-limit headers hidden) on the family's workload
//! (300 requests from 64 tasks). A server is flagged when ours loses a call, reads its
//! headers into a worse result than without them (goodput more than [`BELOW_BLIND`] under
//! the blind pair's, or 429s over twice the blind pair's and over [`MANY_429S`]), or reaches
//! under [`LOW`] of the ideal. Every flagged server is printed whole, with its number:
//! `--sweep-from <i> --sweep 1` runs it again.

use together_client::sim::{
    HintDialect, LimitHeaders, LimitMeans, Meaning, RemainingMeans, ResetMeans, Scenario,
    ScenarioKind,
};
use tokio::time::Duration;

use crate::family;
use crate::strategies::Strategy;
use crate::workloads::{Distribution, Outcome};

/// Seeds (round trips drawn) per server and strategy.
pub(crate) const SEEDS: u64 = 3;
/// Goodput under the blind pair's median by more than this is the headers' fault.
const BELOW_BLIND: f64 = 0.03;
/// 429s per request over this (and over twice the blind pair's) are the headers' fault.
const MANY_429S: f64 = 0.05;
/// Goodput under this is flagged whatever the blind pair does.
const LOW: f64 = 0.80;

/// Server `i` of the sweep, drawn from `i` alone.
pub(crate) fn server(i: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(0x5eed_0000_u64.wrapping_add(i));
    let ms = |lo: u64, hi: u64, rng: &mut fastrand::Rng| Duration::from_millis(rng.u64(lo..=hi));
    let rate = (5f64.ln() + rng.f64() * (200f64.ln() - 5f64.ln()))
        .exp()
        .round();
    let burst = match rng.u8(0..6) {
        0 => 1,
        1 => 2,
        2 => 5,
        3 => 10,
        4 => (rate / 4.0).round().max(1.0) as u32,
        _ => rate as u32,
    };
    let meaning = Meaning {
        limit: pick(
            &mut rng,
            &[
                LimitMeans::Bucket,
                LimitMeans::RatePerSecond,
                LimitMeans::Absent,
                LimitMeans::PerMinute,
            ],
        ),
        reset: pick(
            &mut rng,
            &[
                ResetMeans::UntilFull,
                ResetMeans::NextSlot,
                ResetMeans::UntilFullWholeSeconds,
            ],
        ),
        remaining: match rng.u8(0..6) {
            0 => RemainingMeans::Stale(ms(50, 1_000, &mut rng)),
            1 => RemainingMeans::Constant,
            _ => RemainingMeans::Accurate,
        },
    };
    let headers = match rng.u8(0..8) {
        0 => LimitHeaders::None,
        1 => LimitHeaders::OpenAi,
        2 => LimitHeaders::Anthropic,
        3 => LimitHeaders::Ietf,
        4 => LimitHeaders::Together(Meaning::BUCKET),
        5 => LimitHeaders::Together(Meaning::RATE),
        _ => LimitHeaders::Together(meaning),
    };
    let dialect = pick(
        &mut rng,
        &[
            HintDialect::None,
            HintDialect::RetryAfterMs,
            HintDialect::RetryAfterSecs,
            HintDialect::RetryAfterDate,
            HintDialect::RateLimitHeaders,
        ],
    );
    let low = rng.u64(1..=80);
    let latency = (
        Duration::from_millis(low),
        Duration::from_millis(low * rng.u64(1..=5)),
    );
    let generation = if rng.u8(0..4) == 0 {
        let low = rng.u64(100..=500);
        (
            Duration::from_millis(low),
            Duration::from_millis(low + rng.u64(0..=1_500)),
        )
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let inbound = if rng.bool() { 0.5 } else { rng.f64() };
    let (window, sliding) = match rng.u8(0..10) {
        0 => (Some(Duration::from_secs(1)), false),
        1 => (Some(Duration::from_secs(1)), true),
        _ => (None, false),
    };
    let steps = if rng.u8(0..5) == 0 {
        let factor = [0.3, 0.5, 2.0, 2.5][rng.usize(0..4)];
        vec![(ms(1_000, 4_000, &mut rng), factor)]
    } else {
        Vec::new()
    };
    // The rate limit binds, not the callers: 64 tasks waiting out their round trips send at
    // most 64 a round trip, and the ideal counts only the limit. Half that, at most.
    let round_trip = (latency.0 + latency.1 + generation.0 + generation.1).as_secs_f64() / 2.0;
    let most = (0.5 * family::TASKS as f64 / round_trip).floor().max(1.0);
    let rate = rate.min(most);
    let base = Scenario::named("together-bucket").expect("the family names together-bucket");
    Scenario {
        name: "sweep",
        kind: if steps.is_empty() {
            ScenarioKind::Steady
        } else {
            ScenarioKind::Moving
        },
        rate,
        burst: burst.clamp(1, rate as u32),
        steps: steps
            .into_iter()
            .map(|(at, factor)| (at, (rate * factor).round().clamp(1.0, most)))
            .collect(),
        headers,
        dialect,
        latency,
        inbound,
        generation,
        window,
        sliding,
        ..base
    }
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, of: &[T]) -> T {
    of[rng.usize(0..of.len())]
}

/// One server's runs, ours with and without its headers.
struct Swept {
    i: u64,
    server: Scenario,
    pair: Vec<Outcome>,
    blind: Vec<Outcome>,
}

impl Swept {
    /// Why the server is flagged, if it is.
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let lost: usize = self.pair.iter().map(|r| r.lost).sum();
        if lost > 0 {
            flags.push(format!("{lost} lost"));
        }
        let (pair, blind) = (self.pair.median(), self.blind.median());
        if pair < blind - BELOW_BLIND {
            flags.push(format!("goodput {pair:.3} < blind {blind:.3}"));
        }
        let (pair_429, blind_429) = (self.pair.worst_429(), self.blind.worst_429());
        if pair_429 > MANY_429S && pair_429 > 2.0 * blind_429 {
            flags.push(format!("429s {pair_429:.3} > blind {blind_429:.3}"));
        }
        if pair < LOW {
            flags.push(format!("goodput {pair:.3} < {LOW}"));
        }
        flags
    }
}

/// Runs servers `from..from + count` and prints the summary and every flagged server.
pub(crate) async fn bench(from: u64, count: u64) {
    let mut swept = Vec::new();
    for i in (0..count).map_while(|k| from.checked_add(k)) {
        let server = server(i);
        let mut pair = Vec::new();
        let mut blind = Vec::new();
        for seed in 0..SEEDS {
            fastrand::seed(seed);
            pair.push(family::run(&server, seed, Strategy::OursPair).await);
            fastrand::seed(seed);
            blind.push(family::run(&server, seed, Strategy::OursBlind).await);
        }
        let one = Swept {
            i,
            server,
            pair,
            blind,
        };
        eprintln!(
            "server {i}: pair {} / blind {}{}",
            one.pair.brief(),
            one.blind.brief(),
            if one.flags().is_empty() {
                ""
            } else {
                "  FLAGGED"
            }
        );
        swept.push(one);
    }
    let mut medians: Vec<f64> = swept.iter().map(|s| s.pair.median()).collect();
    medians.sort_by(f64::total_cmp);
    let runs: Vec<&Outcome> = swept.iter().flat_map(|s| &s.pair).collect();
    let lost: usize = runs.iter().map(|r| r.lost).sum();
    let losing = runs.iter().filter(|r| r.lost > 0).count();
    let flagged: Vec<&Swept> = swept.iter().filter(|s| !s.flags().is_empty()).collect();
    println!(
        "{} random servers (from {from}), {SEEDS} seeds each, ours-pair: goodput median of \
         the servers' medians {:.3}, 5th percentile {:.3}, worst {:.3}; {lost} calls lost in \
         {losing} of {} runs; {} servers flagged.",
        swept.len(),
        crate::workloads::percentile(&medians, 0.5),
        crate::workloads::percentile(&medians, 0.05),
        medians.first().copied().unwrap_or(0.0),
        runs.len(),
        flagged.len(),
    );
    for s in flagged {
        println!(
            "\nserver {}: {}\n  pair  {}\n  blind {}\n  {:?}",
            s.i,
            s.flags().join(", "),
            s.pair.brief(),
            s.blind.brief(),
            s.server
        );
    }
}
