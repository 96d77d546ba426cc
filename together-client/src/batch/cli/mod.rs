//! The `together-batch` command (feature `cli`): [`Args`] (clap), [`run`] to an [`Outcome`]
//! whose [`Status`] is the exit code, and [`main`] for a binary.
//!
//! ```text
//! cargo install --path together-client --features cli
//! TOGETHER_API_KEY=... together-batch --input requests.jsonl --output results.jsonl --rpm 600
//! ```
//!
//! The same flags run as `cargo run -p examples --example batch -- ...`.

mod outcome;
mod setup;

pub use outcome::{Outcome, Status};
pub use setup::{circuit_breaker, client, policy, rate_limiter};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use super::{BatchOptions, Caps, FileError, dry_run, input, run_chat};
use crate::Together;
use crate::report::{MetricsServer, RunSummary, Timeline};

/// What `--help` says after the flags.
const AFTER_HELP: &str = "\
Input lines: {\"custom_id\": \"...\", \"body\": {chat request}}. Output lines (appended; the last \
line for an id is its state): {\"custom_id\", \"response\"} or {\"custom_id\", \"error\"}, an error \
marked \"retryable\": true when a later try could succeed.

Re-running the same command resumes: ids already answered or failed for good are skipped; \
retryable failures wait for --retry-failed. When the server cannot be reached the run stops \
without writing the unfinished lines: run the same command again once it is back.

Exit codes:
  0  every line answered
  2  finished, with failed lines (the summary says how many are retryable, how many final)
  1  stopped: server unreachable, a fatal error (bad key, no credit), or a file error

Environment: TOGETHER_API_KEY, TOGETHER_BASE_URL, TOGETHER_RATE_LIMIT_REDIS.";

/// Run a Together chat batch file (JSONL) with retries, client-side rate limiting, resume
/// and retry of failed lines.
#[derive(Clone, Parser)]
#[command(name = "together-batch", version, after_help = AFTER_HELP)]
pub struct Args {
    /// The JSONL file of requests (`-`: standard input).
    #[arg(long)]
    pub input: PathBuf,
    /// Where results go (appended; ids already done there are skipped).
    #[arg(long)]
    pub output: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Share the rate limit with every process using this Redis (or Valkey).
    #[arg(long, env = "TOGETHER_RATE_LIMIT_REDIS", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Also run again the lines whose last output line is a retryable error.
    #[arg(long)]
    pub retry_failed: bool,
    /// At most this many requests a minute (a limit you know), on top of the learned pace.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rpm: Option<u32>,
    /// At most this many tokens a minute (prompt bytes / 4 + max_tokens), on top of the
    /// learned pace.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub tpm: Option<u32>,
    /// Read the file and print what it holds and how long it takes at the caps (or at the
    /// limit the server reports to one GET /models); send no chat request.
    #[arg(long)]
    pub dry_run: bool,
    /// Attempts per line before it is written as failed.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: u32,
    /// Stop as an outage after this many requests in a row fail to reach the server (the
    /// circuit breaker opens at the same count).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub outage_after: u32,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Serve the run's metrics in Prometheus' text format at http://HOST:PORT/metrics while
    /// it runs.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// Draw the run's timeline (requests/s sent and answered, 429s, the limiter's pace and
    /// the server's reported limit, tokens/s) into this SVG file when it ends.
    #[arg(long, value_name = "FILE.svg")]
    pub report: Option<PathBuf>,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("dry_run", &self.dry_run)
            .field("metrics_addr", &self.metrics_addr)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// Parses the command line, runs, prints the summary on stderr and returns the exit code.
/// Builds its own tokio runtime.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(&args)),
        Err(e) => Outcome::stopped(format!("cannot start the async runtime: {e}"), None),
    };
    eprintln!("{}", outcome.message);
    ExitCode::from(outcome.status.code())
}

/// Runs what `args` say with a client set up from the environment and `args` ([`client`]).
pub async fn run(args: &Args) -> Outcome {
    // A missing input is the first thing to say, before a missing key.
    if !input::is_stdin(&args.input)
        && let Err(e) = tokio::fs::metadata(&args.input).await
    {
        return Outcome::stopped(
            FileError::new("cannot read input file", &args.input, e).to_string(),
            None,
        );
    }
    if args.dry_run {
        return dry(args, None).await;
    }
    match client(args) {
        Ok(client) => execute(args, &client).await,
        Err(message) => Outcome::stopped(message, None),
    }
}

/// Runs what `args` say through `client` (tests give one of their own).
pub async fn execute(args: &Args, client: &Together) -> Outcome {
    if args.dry_run {
        return dry(args, Some(client)).await;
    }
    // Before the client's first request: its series are registered then.
    let server = match args.metrics_addr {
        Some(addr) => match MetricsServer::install(addr).await {
            Ok(server) => {
                if !args.quiet {
                    eprintln!("metrics at http://{}/metrics", server.local_addr());
                }
                Some(server)
            }
            Err(e) => {
                return Outcome::stopped(format!("cannot serve metrics at {addr}: {e}"), None);
            }
        },
        None => None,
    };
    let (started, before) = (tokio::time::Instant::now(), client.usage());
    let recording = args
        .report
        .as_ref()
        .map(|_| Timeline::record(client, Duration::from_secs(1)));
    let options = BatchOptions::new()
        .concurrency(args.concurrency as usize)
        .progress(!args.quiet)
        .retry_failed(args.retry_failed)
        .outage_after(args.outage_after);
    let result = run_chat(client, &args.input, &args.output, options).await;
    let mut outcome = Outcome::of_run(result, client.rate_limited_total());

    let after = client.usage();
    // A run stopped before its first request (a file error) has nothing to tell of the limit.
    if after.total().requests > before.total().requests {
        let pace = client
            .rate_limiter()
            .and_then(|l| l.pace(client.base_url()));
        let summary = RunSummary::between(&before, &after, started.elapsed()).with_pace(pace);
        outcome.message.push_str(&format!("\n{summary}"));
    }
    if let (Some(path), Some(recording)) = (&args.report, recording) {
        let title = format!("together-batch {}", args.input.display());
        match recording.finish().write_svg(path, &title) {
            Ok(()) => outcome
                .message
                .push_str(&format!("\ntimeline in {}", path.display())),
            Err(e) => outcome.message.push_str(&format!(
                "\ncannot write the report {}: {e}",
                path.display()
            )),
        }
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    outcome
}

/// The dry run: the caps given, or the limit the server reports to one `GET /models`.
async fn dry(args: &Args, client: Option<&Together>) -> Outcome {
    let mut caps = Caps {
        rpm: args.rpm,
        tpm: args.tpm,
        reported_per_second: None,
    };
    let mut note = String::new();
    if caps.rpm.is_none() && caps.tpm.is_none() {
        let own;
        let client = match client {
            Some(client) => Ok(client),
            None => match setup::client(args) {
                Ok(client) => {
                    own = client;
                    Ok(&own)
                }
                Err(e) => Err(e),
            },
        };
        match client {
            Ok(client) => match setup::reported_rate(client).await {
                Ok((rate, how)) => {
                    caps.reported_per_second = rate;
                    note = how;
                }
                Err(e) => note = format!("could not ask the server for its limit: {e}"),
            },
            Err(e) => note = format!("could not ask the server for its limit: {e}"),
        }
    }
    match dry_run(&args.input, &args.output, caps, args.retry_failed).await {
        Ok(found) => Outcome::of_dry_run(found, &note),
        Err(e) => Outcome::stopped(e.to_string(), None),
    }
}
