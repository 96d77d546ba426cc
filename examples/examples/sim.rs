//! Serves the local Together simulator until Ctrl-C, for trying the other examples (or any
//! OpenAI-compatible tool) against a rate-limited API with no key and no network.
//!
//! Run: `cargo run --release --example sim -- --rate 50 --burst 5 --dialect retry-after-ms`
//! then, in another shell, `TOGETHER_BASE_URL=<printed url> TOGETHER_API_KEY=sim-key
//! cargo run --release --example batch -- --input in.jsonl --output out.jsonl`.

use clap::{Parser, ValueEnum};
use together_client::sim::{HintDialect, Simulator};

/// A local Together-compatible server with a request limit.
#[derive(Parser)]
struct Args {
    /// Requests per second allowed.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Requests allowed at once before the rate applies.
    #[arg(long, default_value_t = 5)]
    burst: u32,
    /// How a 429 says when to come back.
    #[arg(long, value_enum, default_value_t = Dialect::RateLimitHeaders)]
    dialect: Dialect,
    /// The bearer key clients must send.
    #[arg(long, default_value = "sim-key")]
    key: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dialect {
    None,
    RetryAfterMs,
    RetryAfterSecs,
    RetryAfterDate,
    RateLimitHeaders,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let dialect = match args.dialect {
        Dialect::None => HintDialect::None,
        Dialect::RetryAfterMs => HintDialect::RetryAfterMs,
        Dialect::RetryAfterSecs => HintDialect::RetryAfterSecs,
        Dialect::RetryAfterDate => HintDialect::RetryAfterDate,
        Dialect::RateLimitHeaders => HintDialect::RateLimitHeaders,
    };
    let sim = Simulator::builder()
        .api_key(args.key)
        .rate_per_second(args.rate)
        .burst(args.burst)
        .dialect(dialect)
        .start()
        .await?;
    println!("TOGETHER_BASE_URL={}", sim.base_url());
    println!("TOGETHER_API_KEY={}", sim.api_key());
    tokio::signal::ctrl_c().await?;
    let stats = sim.stats();
    println!(
        "served {} requests: {} answered, {} rate limited",
        stats.requests, stats.successes, stats.rate_limited
    );
    sim.shutdown().await;
    Ok(())
}
