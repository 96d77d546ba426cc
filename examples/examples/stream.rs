//! A streamed chat completion, printed as it arrives. With `TOGETHER_API_KEY` set it asks
//! Together; without, the local simulator streams (no network).
//!
//! Run: `cargo run --example stream -- "Tell me about backoff and jitter"`

use std::io::Write;

use futures_util::StreamExt;
use together_client::sim::Simulator;
use together_client::{ChatRequest, Together};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Tell me about backoff and jitter".into());
    let (client, sim) = if std::env::var_os("TOGETHER_API_KEY").is_some() {
        (Together::from_env()?, None)
    } else {
        let (client, sim) = examples::simulated(
            Simulator::builder().stream_chunk_delay(std::time::Duration::from_millis(60)),
        )
        .await?;
        (client, Some(sim))
    };
    let request = ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo")
        .user(prompt)
        .max_tokens(128);
    // Retried until the first chunk arrives; after that, an error ends the stream.
    let mut stream = client.chat().stream(request).await?;
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.delta_text());
        std::io::stdout().flush()?;
    }
    println!();
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
