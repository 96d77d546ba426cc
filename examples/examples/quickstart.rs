//! The main example. With no `TOGETHER_API_KEY` it starts the local Together simulator
//! in-process (no key, no network), sends 300 chat requests through the client against a
//! limit of 25 requests/s, shows the progress bar, and prints what happened. With a key, it
//! sends one real chat request to Together instead.
//!
//! Run: `cargo run --release --example quickstart`

use std::path::PathBuf;
use std::time::Instant;

use together_client::batch::{BatchOptions, run_chat};
use together_client::sim::{HintDialect, Simulator};
use together_client::{ChatRequest, Together};

const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
const REQUESTS: usize = 300;
const RATE: f64 = 25.0;
const BURST: u32 = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("TOGETHER_API_KEY").is_some() {
        return real().await;
    }
    println!(
        "No TOGETHER_API_KEY: starting the local simulator ({RATE} requests/s, burst {BURST}, 429s with Retry-After)."
    );
    let (client, sim) = examples::simulated(
        Simulator::builder()
            .rate_per_second(RATE)
            .burst(BURST)
            .dialect(HintDialect::RetryAfterSecs),
    )
    .await?;

    // A batch file of chat requests, as Together's batch API takes them.
    let dir = std::env::temp_dir().join(format!("together-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (input, output): (PathBuf, PathBuf) =
        (dir.join("requests.jsonl"), dir.join("results.jsonl"));
    let lines: String = (0..REQUESTS)
        .map(|i| {
            let body = ChatRequest::new(MODEL)
                .user(format!("Summarise item {i} in one line."))
                .max_tokens(32);
            serde_json::json!({ "custom_id": format!("item-{i}"), "body": body }).to_string() + "\n"
        })
        .collect();
    std::fs::write(&input, lines)?;

    let started = Instant::now();
    let report = run_chat(
        &client,
        &input,
        &output,
        BatchOptions::new().concurrency(64),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    std::fs::remove_dir_all(&dir)?;
    let report = report?;

    let ideal = (REQUESTS as f64 - f64::from(BURST)) / RATE;
    println!();
    println!(
        "{} of {REQUESTS} requests answered, {} failed, in {elapsed:.1} s",
        report.succeeded, report.failed
    );
    println!(
        "rate achieved: {:.1} requests/s against a limit of {RATE} ({:.0} % of the ideal {ideal:.1} s)",
        REQUESTS as f64 / elapsed,
        100.0 * ideal / elapsed
    );
    println!(
        "429s seen: {} (each one retried by the client; the limiter then held every request until the server's reset)",
        client.rate_limited_total()
    );
    println!(
        "server saw {} requests for {} prompts, none answered twice: {}",
        stats.requests,
        stats.successes_by_prompt.len(),
        stats.repeated_prompts().is_empty()
    );
    sim.shutdown().await;
    Ok(())
}

/// One real request to Together.
async fn real() -> Result<(), Box<dyn std::error::Error>> {
    let client = Together::from_env()?;
    let response = client
        .chat()
        .create(
            ChatRequest::new(MODEL)
                .user("Say hello in five words.")
                .max_tokens(32),
        )
        .await?;
    println!("{}", response.text());
    let limits = response.rate_limits();
    println!("rate limits: {limits:?}");
    Ok(())
}
