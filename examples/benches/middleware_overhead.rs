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

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
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
    let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::default())
        .with(RateLimitMiddleware::default())
        .build();

    let mut group = c.benchmark_group("middleware_overhead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_reqwest", |b| {
        b.iter(|| rt.block_on(bare(&plain, &url, &key, &body)));
    });
    group.bench_function("retry_plus_rate_limit", |b| {
        b.iter(|| rt.block_on(pair(&stack, &url, &key, &body)));
    });
    group.finish();

    // One plain run of each, alternating, for the ratio.
    let n = 5_000;
    let (mut t_bare, mut t_pair) = (Duration::ZERO, Duration::ZERO);
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
    }
    let (r_bare, r_pair) = (
        f64::from(n) / t_bare.as_secs_f64(),
        f64::from(n) / t_pair.as_secs_f64(),
    );
    println!(
        "bare reqwest {r_bare:.0} req/s, middleware pair {r_pair:.0} req/s, ratio {:.3} \
         ({n} sequential requests each on loopback)",
        r_pair / r_bare
    );
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, overhead);
criterion_main!(benches);
