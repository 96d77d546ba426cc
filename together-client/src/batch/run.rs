//! [`run_with`]: the loop of a batch run.

use std::future::Future;
use std::path::Path;
use std::time::SystemTime;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ids::{IdSet, Last};
use super::input::{self, Reader};
use super::output::{self, Writer};
use super::progress::Progress;
use super::{BatchError, BatchOptions, BatchReport, RequestError};

/// Errors of requests that did not reach the server, held back: written as retryable error
/// lines if the server answers again, dropped (left for the next run) if they turn into an
/// outage.
struct Streak<E> {
    since: Option<SystemTime>,
    held: Vec<(String, E)>,
}

/// Runs every request of `input` (`-`: standard input) through `send`, appending results to
/// `output`.
///
/// `send` gets a line's `body` and returns the response JSON or an error. The typed entry
/// point for the Together client is [`run_chat`](super::run_chat).
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
    run_lines(input, output, options, |_, body| send(body)).await
}

/// [`run_with`], with `send` also given the line's `custom_id`.
pub(crate) async fn run_lines<S, Fut, E>(
    input: &Path,
    output: &Path,
    options: &BatchOptions,
    send: S,
) -> Result<BatchReport, BatchError<E>>
where
    S: Fn(&str, Value) -> Fut,
    Fut: Future<Output = Result<Value, E>>,
    E: RequestError,
{
    let started = Instant::now();
    let previous = output::previous(output).await?;
    let total = input::count_lines(input).await?;
    let mut reader = Reader::open(input).await?;
    let mut writer = Writer::open(output).await?;
    let mut progress = Progress::new(total, options.progress, options.rate_limited.clone());
    let mut report = BatchReport {
        lines: total.unwrap_or(0),
        ..BatchReport::default()
    };
    let mut seen = IdSet::default();
    let mut streak = Streak {
        since: None,
        held: Vec::new(),
    };
    let mut input_done = false;
    let mut in_flight = FuturesUnordered::new();

    loop {
        // Top up to `concurrency` requests in flight; lines that need no request are written
        // (or skipped) on the way.
        while !input_done && in_flight.len() < options.concurrency {
            let Some(line) = reader.next().await? else {
                input_done = true;
                break;
            };
            let Some((custom_id, request)) = line.into_parts() else {
                continue;
            };
            report.lines += u64::from(total.is_none());
            if !seen.insert(&custom_id) {
                report.duplicates += 1;
                progress.done(false);
                continue;
            }
            match previous.get(&custom_id) {
                Some(Last::Answered) => {
                    report.skipped += 1;
                    progress.done(false);
                    continue;
                }
                Some(Last::Final) => {
                    report.skipped += 1;
                    report.skipped_failed += 1;
                    progress.done(true);
                    continue;
                }
                Some(Last::Retryable) if !options.retry_failed => {
                    report.waiting += 1;
                    progress.done(true);
                    continue;
                }
                Some(Last::Retryable) => report.retried += 1,
                None => {}
            }
            match request {
                Ok(body) => {
                    let sent = send(&custom_id, body);
                    in_flight.push(async move { (custom_id, sent.await) });
                }
                Err((line, why)) => {
                    let error =
                        json!({ "message": why, "type": "invalid_input_line", "line": line });
                    writer.error(&custom_id, error, false).await?;
                    report.invalid += 1;
                    progress.done(true);
                }
            }
        }
        let Some((custom_id, result)) = in_flight.next().await else {
            break;
        };
        let error = match result {
            Ok(response) => {
                flush(&mut streak, &mut writer, &mut report, &mut progress).await?;
                writer.response(&custom_id, response).await?;
                report.succeeded += 1;
                progress.done(false);
                continue;
            }
            Err(error) => error,
        };
        let outage =
            error.is_unreachable() && streak.held.len() + 1 >= options.outage_after as usize;
        if error.is_fatal() || error.is_outage() || outage {
            progress.finish();
            report.elapsed = started.elapsed();
            return Err(stopped(custom_id, error, streak.since, report));
        }
        if error.is_unreachable() {
            streak.since.get_or_insert_with(SystemTime::now);
            streak.held.push((custom_id, error));
            continue;
        }
        // The server answered, if with an error: it is up.
        flush(&mut streak, &mut writer, &mut report, &mut progress).await?;
        write_failure(&mut writer, &mut report, &mut progress, &custom_id, &error).await?;
    }
    flush(&mut streak, &mut writer, &mut report, &mut progress).await?;
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The error a run stops with: fatal, or an outage since the streak began (or now).
fn stopped<E: RequestError>(
    custom_id: String,
    error: E,
    since: Option<SystemTime>,
    report: BatchReport,
) -> BatchError<E> {
    if error.is_fatal() {
        BatchError::Fatal {
            custom_id,
            error,
            report,
        }
    } else {
        BatchError::Outage {
            since: since.unwrap_or_else(SystemTime::now),
            error,
            report,
        }
    }
}

/// Writes the held errors of a streak that did not become an outage, as retryable failures.
async fn flush<E: RequestError>(
    streak: &mut Streak<E>,
    writer: &mut Writer,
    report: &mut BatchReport,
    progress: &mut Progress,
) -> Result<(), BatchError<E>> {
    streak.since = None;
    for (custom_id, error) in std::mem::take(&mut streak.held) {
        write_failure(writer, report, progress, &custom_id, &error).await?;
    }
    Ok(())
}

/// Writes an error line for a request that failed.
async fn write_failure<E: RequestError>(
    writer: &mut Writer,
    report: &mut BatchReport,
    progress: &mut Progress,
    custom_id: &str,
    error: &E,
) -> Result<(), BatchError<E>> {
    let retryable = error.is_retryable() || error.is_unreachable();
    writer.error(custom_id, error.to_json(), retryable).await?;
    report.failed += 1;
    report.retryable += u64::from(retryable);
    progress.done(true);
    Ok(())
}
