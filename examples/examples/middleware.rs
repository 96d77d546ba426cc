//! The two retry-core layers on a plain reqwest client, against the local simulator: 200
//! requests from 32 tasks to a server that allows 20 requests/s (burst 5) and answers 429
//! above it. No key, no network; about ten seconds.
//!
//! Run: `cargo run --release --example middleware`

use std::sync::Arc;
use std::time::Instant;

use retry_core::middleware::{Attempts, RateLimitMiddleware, RetryMiddleware};
use together_client::sim::{HintDialect, Simulator};

const REQUESTS: usize = 200;
const TASKS: usize = 32;
const RATE: f64 = 20.0;
const BURST: u32 = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::builder()
        .rate_per_second(RATE)
        .burst(BURST)
        .dialect(HintDialect::RetryAfterMs)
        .start()
        .await?;
    println!(
        "simulator at {} allows {RATE} requests/s (burst {BURST})",
        sim.base_url()
    );

    // The two lines this example is about: retry outside, rate limit inside.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::default())
        .with(RateLimitMiddleware::default())
        .build();

    let url = Arc::new(format!("{}/chat/completions", sim.base_url()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (client, url, key) = (client.clone(), url.clone(), sim.api_key().to_owned());
        tasks.spawn(async move {
            let (mut ok, mut retries) = (0, 0);
            for i in (task..REQUESTS).step_by(TASKS) {
                let body = serde_json::json!({
                    "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                    "messages": [{"role": "user", "content": format!("request {i}")}],
                });
                let response = client
                    .post(url.as_str())
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                if let Ok(response) = response {
                    retries += response
                        .extensions()
                        .get::<Attempts>()
                        .map_or(0, |a| a.retries());
                    ok += u32::from(response.status().is_success());
                }
            }
            (ok, retries)
        });
    }
    let (ok, retries) = tasks
        .join_all()
        .await
        .into_iter()
        .fold((0, 0), |(ok, retries), (o, r)| (ok + o, retries + r));
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    let ideal = (REQUESTS as f64 - f64::from(BURST)) / RATE;
    println!(
        "{ok}/{REQUESTS} succeeded in {elapsed:.2} s ({:.1} requests/s against a limit of {RATE})",
        REQUESTS as f64 / elapsed
    );
    println!(
        "{:.0} % of the ideal {ideal:.2} s; the server answered {} 429s; {retries} retries",
        100.0 * ideal / elapsed,
        stats.rate_limited
    );
    sim.shutdown().await;
    Ok(())
}
