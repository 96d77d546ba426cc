//! Runs a JSONL batch file (`{"custom_id": "...", "body": {chat request}}` a line) at the best
//! rate the account allows, writing `{"custom_id", "response" | "error"}` lines. Re-running
//! with the same output file resumes. The key and base URL come from `TOGETHER_API_KEY` and
//! `TOGETHER_BASE_URL`.
//!
//! Several processes (or machines) running batches on one account share one rate limit with
//! `--redis-url redis://HOST:6379` (or `TOGETHER_RATE_LIMIT_REDIS`): without it each process
//! paces itself as if it had the account's whole budget.
//!
//! Run: `cargo run --release --example batch -- --input requests.jsonl --output results.jsonl`
//!
//! Exit code 0 when the run completed (even if some lines failed: see the output), 1 on a
//! fatal error (a bad key, an exhausted balance, an unreadable file).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use together_client::TogetherBuilder;
use together_client::batch::{BatchOptions, run_chat};

/// Run a Together chat batch file with retries and client-side rate limiting.
#[derive(Parser)]
struct Args {
    /// The JSONL file of requests.
    #[arg(long)]
    input: PathBuf,
    /// Where results go (appended; ids already there are skipped).
    #[arg(long)]
    output: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Share the rate limit with every process using this Redis (or Valkey).
    #[arg(long, env = "TOGETHER_RATE_LIMIT_REDIS")]
    redis_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = TogetherBuilder::from_env();
    if let Some(url) = &args.redis_url {
        builder = builder.shared_rate_limit(url);
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = BatchOptions::new().concurrency(args.concurrency);
    match run_chat(&client, &args.input, &args.output, options).await {
        Ok(report) => {
            eprintln!(
                "done in {:.1} s: {} answered, {} failed, {} invalid lines, {} already done, {} duplicate ids; {} 429s seen",
                report.elapsed.as_secs_f64(),
                report.succeeded,
                report.failed,
                report.invalid,
                report.skipped,
                report.duplicates,
                client.rate_limited_total(),
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
