//! One chat completion. With `TOGETHER_API_KEY` set it asks Together; without, the local
//! simulator answers (no network).
//!
//! Run: `cargo run --example chat -- "Why do APIs rate limit?"`

use together_client::sim::Simulator;
use together_client::{ChatRequest, Together};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Say hello in five words.".into());
    let (client, sim) = client().await?;
    let request = ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo")
        .system("You answer in one sentence.")
        .user(prompt)
        .max_tokens(64)
        .temperature(0.7);
    let response = client.chat().create(request).await?;
    println!("{}", response.text());
    let limits = response.rate_limits();
    println!(
        "request id {:?}; requests left {:?}",
        limits.request_id,
        limits.effective().remaining
    );
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

/// The real client when a key is set, else one pointed at a fresh local simulator.
async fn client() -> Result<(Together, Option<Simulator>), Box<dyn std::error::Error>> {
    if std::env::var_os("TOGETHER_API_KEY").is_some() {
        return Ok((Together::from_env()?, None));
    }
    let (client, sim) = examples::simulated(Simulator::builder()).await?;
    Ok((client, Some(sim)))
}
