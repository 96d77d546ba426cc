//! Run a JSONL file of requests at the best rate the account allows.
//!
//! The input is Together's batch format, one `{"custom_id": "...", "body": {chat request}}`
//! a line (a file, or standard input for the path `-`). The output gets one
//! `{"custom_id", "response"}` or `{"custom_id", "error"}` line per id, in the order requests
//! complete; it is only ever appended to, and **the last line for an id is its state**.
//! Requests run with bounded concurrency through the client, so the client's rate limiter
//! sets the pace and its retries absorb 429s; an `indicatif` progress bar shows requests
//! done, rate, 429s, errors and ETA.
//!
//! - **Failures stay retryable.** An error line says `"retryable": true` when a later try
//!   could succeed (5xx, timeouts, a 429 past the deadline, a dropped connection): a run with
//!   [`BatchOptions::retry_failed`] runs exactly those again; a plain re-run leaves them and
//!   counts them ([`BatchReport::waiting`]). Final failures (400, 404, a prompt too long, an
//!   invalid input line) are `"retryable": false` and never run again.
//! - **An outage stops the run.** When [`BatchOptions::outage_after`] requests in a row do not
//!   reach the server, or an error says it is down (the client's circuit breaker is open),
//!   the run stops with [`BatchError::Outage`] and writes nothing for those lines: running the
//!   same command once the server is back does them.
//! - **A fatal error stops the run** (a bad key, an exhausted balance) without writing an
//!   error line for it, so that a re-run after the fix picks up every id not yet done.
//! - **Resume.** Re-running with the same output file skips the ids it already holds.
//! - Memory is bounded by the concurrency, not the file: the input is streamed, results are
//!   written as they come. (The ids seen are remembered as 8-byte hashes: see `ids.rs`.)
//! - A bad input line becomes an error line with its line number, never a crash.
//! - [`dry_run()`] reads a file and says what it holds and how long it will take, sending
//!   nothing.
//! - With the feature `cli`, `batch::cli` is the `together-batch` command, whose client has
//!   a circuit breaker on by default (`cli::circuit_breaker`).

mod chat;
#[cfg(feature = "cli")]
pub mod cli;
mod dry_run;
mod error;
mod ids;
mod input;
mod output;
mod progress;
mod run;

pub use chat::{ChatLineError, run_chat};
pub use dry_run::{Caps, DryRun, InvalidLine, dry_run};
pub use error::{BatchError, FileError};
pub use run::run_with;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

/// What a batch run needs to know of a request's error.
pub trait RequestError: std::fmt::Display {
    /// Whether no later request can succeed either (a bad key, an exhausted balance): the run
    /// stops at once.
    fn is_fatal(&self) -> bool;

    /// Whether the same request could succeed later (a 5xx, a timeout, a 429 past the
    /// deadline): its error line is marked retryable. Default: no.
    fn is_retryable(&self) -> bool {
        false
    }

    /// Whether the request did not reach the server (a refused or dropped connection): such
    /// errors in a row are an outage ([`BatchOptions::outage_after`]). Default: no.
    fn is_unreachable(&self) -> bool {
        false
    }

    /// Whether the error itself says the server is down (an open circuit breaker): the run
    /// stops at once with [`BatchError::Outage`]. Default: no.
    fn is_outage(&self) -> bool {
        false
    }

    /// The error as the JSON of an output line's `error` (the runner adds `retryable`).
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
    retry_failed: bool,
    outage_after: u32,
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("concurrency", &self.concurrency)
            .field("progress", &self.progress)
            .field("retry_failed", &self.retry_failed)
            .field("outage_after", &self.outage_after)
            .finish_non_exhaustive()
    }
}

impl Default for BatchOptions {
    /// 16 requests in flight, a progress bar on stderr, retryable failures left alone, an
    /// outage after 10 requests in a row that do not reach the server.
    fn default() -> Self {
        BatchOptions {
            concurrency: 16,
            progress: true,
            rate_limited: None,
            retry_failed: false,
            outage_after: 10,
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

    /// Whether to run again the ids whose last output line is a retryable error (default
    /// `false`: they are skipped and counted in [`BatchReport::waiting`]).
    #[must_use]
    pub fn retry_failed(mut self, retry: bool) -> Self {
        self.retry_failed = retry;
        self
    }

    /// How many requests in a row that do not reach the server
    /// ([`RequestError::is_unreachable`]) make an outage, which stops the run (at least 1;
    /// default 10).
    #[must_use]
    pub fn outage_after(mut self, n: u32) -> Self {
        self.outage_after = n.max(1);
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
    /// Lines whose id the output already held answered or failed for good (resume).
    pub skipped: u64,
    /// Of the `skipped`, those whose state is a final error.
    pub skipped_failed: u64,
    /// Lines whose id's last output line is a retryable error, left for a run with
    /// [`BatchOptions::retry_failed`].
    pub waiting: u64,
    /// Lines whose retryable error this run tried again ([`BatchOptions::retry_failed`]).
    pub retried: u64,
    /// Lines whose id an earlier line of this input already had.
    pub duplicates: u64,
    /// Requests answered: a `response` line each.
    pub succeeded: u64,
    /// Requests that failed: an `error` line each.
    pub failed: u64,
    /// Of the `failed`, those marked retryable.
    pub retryable: u64,
    /// Lines that were not requests: an `error` line each, with the line number.
    pub invalid: u64,
    /// Wall time of the run (tokio's clock).
    pub elapsed: Duration,
}

impl BatchReport {
    /// Lines of the input whose id is not answered in the output after this run: failed in
    /// this run, invalid, failed for good before, or waiting for a retry.
    pub fn unanswered(&self) -> u64 {
        self.failed + self.invalid + self.skipped_failed + self.waiting
    }

    /// Of the [`unanswered`](Self::unanswered), those a run with
    /// [`BatchOptions::retry_failed`] would try again.
    pub fn retryable_unanswered(&self) -> u64 {
        self.retryable + self.waiting
    }
}
