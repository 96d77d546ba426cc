//! Run a JSONL file of requests at the best rate the account allows.
//!
//! The input is Together's batch format, one `{"custom_id": "...", "body": {chat request}}`
//! a line. The output gets one `{"custom_id", "response"}` or `{"custom_id", "error"}` line
//! per id, exactly once, in the order requests complete. Requests run with bounded
//! concurrency through the client, so the client's rate limiter sets the pace and its retries
//! absorb 429s; an `indicatif` progress bar shows requests done, rate, 429s, errors and ETA.
//!
//! - Memory is bounded by the concurrency, not the file: the input is streamed, results are
//!   written as they come. (The ids seen are remembered as 8-byte hashes, to resume and to
//!   drop duplicate ids: see `ids.rs`.)
//! - A bad input line becomes an error line with its line number, never a crash.
//! - Re-running with the same output file skips the ids it already holds (resume).
//! - A fatal error (a bad key, an exhausted balance) stops the run at once without writing an
//!   error line for it, so that a re-run after the fix picks up every id not yet done.

mod chat;
mod ids;
mod input;
mod output;
mod progress;

pub use chat::{ChatLineError, run_chat};

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, BufReader};

use input::Line;
use output::Writer;
use progress::Progress;

/// What a batch run needs to know of a request's error.
pub trait RequestError: std::fmt::Display {
    /// Whether no later request can succeed either (a bad key, an exhausted balance): the run
    /// stops at once.
    fn is_fatal(&self) -> bool;

    /// The error as the JSON of an output line's `error`.
    fn to_json(&self) -> Value {
        json!({ "message": self.to_string() })
    }
}

/// A count read for the progress bar (such as the 429s a client has seen).
pub(crate) type Counter = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How a batch runs.
#[derive(Clone)]
pub struct BatchOptions {
    concurrency: usize,
    progress: bool,
    rate_limited: Option<Counter>,
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("concurrency", &self.concurrency)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Default for BatchOptions {
    /// 16 requests in flight, a progress bar on stderr.
    fn default() -> Self {
        BatchOptions {
            concurrency: 16,
            progress: true,
            rate_limited: None,
        }
    }
}

impl BatchOptions {
    /// The default options.
    pub fn new() -> Self {
        BatchOptions::default()
    }

    /// How many requests may be in flight at once (at least 1).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Whether to draw a progress bar on stderr (it is hidden anyway when stderr is not a
    /// terminal).
    #[must_use]
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Where the progress bar reads how many 429s have been seen ([`run_chat`] reads the
    /// client's own count).
    #[must_use]
    pub fn rate_limited_from(mut self, count: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.rate_limited = Some(Arc::new(count));
        self
    }
}

/// What a batch run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Non-blank lines in the input.
    pub lines: u64,
    /// Lines whose id the output already held (resume).
    pub skipped: u64,
    /// Lines whose id an earlier line of this input already had.
    pub duplicates: u64,
    /// Requests answered: a `response` line each.
    pub succeeded: u64,
    /// Requests that failed for good: an `error` line each.
    pub failed: u64,
    /// Lines that were not requests: an `error` line each, with the line number.
    pub invalid: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Why a batch run stopped before the end.
#[derive(Debug)]
pub enum BatchError<E> {
    /// Reading the input or writing the output failed.
    Io(std::io::Error),
    /// A request failed in a way no later request can escape (see [`RequestError::is_fatal`]);
    /// nothing was written for it.
    Fatal {
        /// The request that failed.
        custom_id: String,
        /// Its error.
        error: E,
        /// What the run had done until then.
        report: BatchReport,
    },
}

impl<E: std::fmt::Display> std::fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Io(e) => write!(f, "batch file error: {e}"),
            BatchError::Fatal {
                custom_id, error, ..
            } => {
                write!(f, "batch stopped at `{custom_id}`: {error}")
            }
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for BatchError<E> {}

impl<E> From<std::io::Error> for BatchError<E> {
    fn from(e: std::io::Error) -> Self {
        BatchError::Io(e)
    }
}

/// Runs every request of `input` through `send`, writing results to `output`.
///
/// `send` gets a line's `body` and returns the response JSON or an error. The typed entry
/// point for the Together client is [`run_chat`].
pub async fn run_with<S, Fut, E>(
    input: &Path,
    output: &Path,
    options: &BatchOptions,
    send: S,
) -> Result<BatchReport, BatchError<E>>
where
    S: Fn(Value) -> Fut,
    Fut: Future<Output = Result<Value, E>>,
    E: RequestError,
{
    let started = Instant::now();
    let done = output::done_ids(output).await?;
    let lines = count_lines(input).await?;
    let mut writer = Writer::open(output).await?;
    let mut progress = Progress::new(lines, options.progress, options.rate_limited.clone());
    let mut report = BatchReport {
        lines,
        ..BatchReport::default()
    };
    let mut seen = ids::IdSet::default();
    let mut reader = BufReader::new(File::open(input).await?).lines();
    let mut number = 0u64;
    let mut input_done = false;
    let mut in_flight = FuturesUnordered::new();

    loop {
        // Top up to `concurrency` requests in flight; lines that need no request are written
        // (or skipped) on the way.
        while !input_done && in_flight.len() < options.concurrency {
            let Some(text) = reader.next_line().await? else {
                input_done = true;
                break;
            };
            number += 1;
            let (custom_id, request) = match input::parse(number, &text) {
                Line::Blank => continue,
                Line::Request { custom_id, body } => (custom_id, Ok(body)),
                Line::Invalid {
                    custom_id,
                    line,
                    why,
                } => (custom_id, Err((line, why))),
            };
            if done.contains(&custom_id) {
                report.skipped += 1;
                progress.done(false);
                continue;
            }
            if !seen.insert(&custom_id) {
                report.duplicates += 1;
                progress.done(false);
                continue;
            }
            match request {
                Ok(body) => {
                    let sent = send(body);
                    in_flight.push(async move { (custom_id, sent.await) });
                }
                Err((line, why)) => {
                    let error =
                        json!({ "message": why, "type": "invalid_input_line", "line": line });
                    writer.error(&custom_id, error).await?;
                    report.invalid += 1;
                    progress.done(true);
                }
            }
        }
        let Some((custom_id, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(response) => {
                writer.response(&custom_id, response).await?;
                report.succeeded += 1;
                progress.done(false);
            }
            Err(error) if error.is_fatal() => {
                progress.finish();
                report.elapsed = started.elapsed();
                return Err(BatchError::Fatal {
                    custom_id,
                    error,
                    report,
                });
            }
            Err(error) => {
                writer.error(&custom_id, error.to_json()).await?;
                report.failed += 1;
                progress.done(true);
            }
        }
    }
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Non-blank lines of the file, streamed (for the progress bar's length).
async fn count_lines(path: &Path) -> std::io::Result<u64> {
    let mut lines = BufReader::new(File::open(path).await?).lines();
    let mut count = 0;
    while let Some(line) = lines.next_line().await? {
        count += u64::from(!line.trim().is_empty());
    }
    Ok(count)
}
