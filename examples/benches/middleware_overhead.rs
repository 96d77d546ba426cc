//! The cost of retry-core's middleware pair on the success path: requests/s through
//! `RetryMiddleware::default()` + `RateLimitMiddleware::default()` against bare reqwest, both
//! against the simulator with no limit and no latency on loopback (it answers at once).
//!
//! ```text
//! cargo bench -p examples --bench middleware_overhead
//! ```
//!
//! Criterion measures each (one request per iteration, one connection kept alive), then a
//! plain timed run of the same requests prints both rates and their ratio.
//!
//! The pair is measured twice: without a `metrics` recorder (every series a no-op) and with
//! the Prometheus recorder of `together_client::report::MetricsServer` installed (the
//! limiter's per-host series recorded on every request). A limiter registers a host's series
//! on its first request, so the first pair (warmed before the recorder is installed) stays
//! unrecorded while the second records.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use together_client::report::MetricsServer;
use together_client::sim::Simulator;

const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";

fn body() -> serde_json::Value {
    serde_json::json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
}

async fn bare(client: &reqwest::Client, url: &str, key: &str, body: &serde_json::Value) {
    let response = client.post(url).bearer_auth(key).json(body).send().await;
    let response = response.expect("an answer");
    assert!(response.status().is_success());
    black_box(response.bytes().await.expect("a body"));
}

async fn pair(
    client: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    key: &str,
    body: &serde_json::Value,
) {
    let response = client.post(url).bearer_auth(key).json(body).send().await;
    let response = response.expect("an answer");
    assert!(response.status().is_success());
    black_box(response.bytes().await.expect("a body"));
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let sim = rt
        .block_on(Simulator::builder().start())
        .expect("the simulator");
    let url = format!("{}/chat/completions", sim.base_url());
    let key = sim.api_key().to_owned();
    let body = body();
    let plain = reqwest::Client::new();
    let pair_stack = || {
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RetryMiddleware::default())
            .with(RateLimitMiddleware::default())
            .build()
    };
    let stack = pair_stack();
    // Its host's series are registered now, with no recorder: no-ops for good.
    rt.block_on(pair(&stack, &url, &key, &body));
    let server = rt
        .block_on(MetricsServer::install("127.0.0.1:0".parse().unwrap()))
        .expect("the recorder");
    let recorded = pair_stack();
    // The adaptive limiter starts at 20 requests/s and probes upwards: let both pairs learn
    // that this server has no limit before anything is measured.
    for stack in [&stack, &recorded] {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            rt.block_on(pair(stack, &url, &key, &body));
        }
    }

    let mut group = c.benchmark_group("middleware_overhead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_reqwest", |b| {
        b.iter(|| rt.block_on(bare(&plain, &url, &key, &body)));
    });
    group.bench_function("retry_plus_rate_limit", |b| {
        b.iter(|| rt.block_on(pair(&stack, &url, &key, &body)));
    });
    group.bench_function("retry_plus_rate_limit_recorded", |b| {
        b.iter(|| rt.block_on(pair(&recorded, &url, &key, &body)));
    });
    group.finish();

    // One plain run of each, alternating, for the ratio.
    let n = 5_000;
    let (mut t_bare, mut t_pair, mut t_rec) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..n / 5 {
                bare(&plain, &url, &key, &body).await;
            }
        });
        t_bare += started.elapsed();
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..n / 5 {
                pair(&stack, &url, &key, &body).await;
            }
        });
        t_pair += started.elapsed();
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..n / 5 {
                pair(&recorded, &url, &key, &body).await;
            }
        });
        t_rec += started.elapsed();
    }
    let rate = |t: Duration| f64::from(n) / t.as_secs_f64();
    let (r_bare, r_pair, r_rec) = (rate(t_bare), rate(t_pair), rate(t_rec));
    println!(
        "bare reqwest {r_bare:.0} req/s, middleware pair {r_pair:.0} req/s, ratio {:.3} \
         ({n} sequential requests each on loopback)",
        r_pair / r_bare
    );
    // The recorder's cost is a fraction of a microsecond against a loopback round trip that
    // drifts by tens of percent over seconds on a shared machine: compare the two pairs in
    // short alternating rounds and take the median of the rounds' ratios, which the drift
    // moves little.
    let rounds = 400;
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let time = |stack: &reqwest_middleware::ClientWithMiddleware| {
            let started = Instant::now();
            rt.block_on(async {
                for _ in 0..20 {
                    pair(stack, &url, &key, &body).await;
                }
            });
            started.elapsed().as_secs_f64()
        };
        let (plain_round, recorded_round) = (time(&stack), time(&recorded));
        ratios.push(recorded_round / plain_round);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| (ratios[((ratios.len() - 1) as f64 * q) as usize] - 1.0) * 100.0;
    println!(
        "middleware pair with a Prometheus recorder against the pair without one: {:+.1} % \
         (median of {rounds} alternating rounds of 20 requests; quartiles {:+.1} % and {:+.1} %; \
         plain runs: {r_rec:.0} against {r_pair:.0} req/s)",
        at(0.5),
        at(0.25),
        at(0.75),
    );
    assert!(server.render().contains("retry_limiter_wait_seconds"));
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, overhead);
criterion_main!(benches);
