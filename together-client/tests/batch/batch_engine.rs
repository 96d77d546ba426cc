//! The batch runner with a fake sender: every id exactly once, bad lines as error lines,
//! resume, duplicates, fatal errors, bounded concurrency, retryable failures and
//! `retry_failed`, an outage stopping the run, file errors naming their file. With the
//! features `sim` and `cli`, the `together-batch` command against the simulator
//! (`sim_runs.rs`) and as a process (`binary.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use together_client::batch::{BatchError, BatchOptions, RequestError, run_with};

use crate::kit::Scratch;
use crate::support::{output, requests, states};

/// The kinds of failure a batch run tells apart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fake {
    /// A 400: final.
    BadRequest,
    /// A bad key: the run stops.
    Fatal,
    /// A 503: a later try could pass.
    Transient,
    /// No connection.
    Unreachable,
}

impl std::fmt::Display for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fake::BadRequest => "bad request",
            Fake::Fatal => "bad key",
            Fake::Transient => "overloaded",
            Fake::Unreachable => "connection refused",
        })
    }
}

impl RequestError for Fake {
    fn is_fatal(&self) -> bool {
        *self == Fake::Fatal
    }
    fn is_retryable(&self) -> bool {
        *self == Fake::Transient
    }
    fn is_unreachable(&self) -> bool {
        *self == Fake::Unreachable
    }
}

fn quiet() -> BatchOptions {
    BatchOptions::new().progress(false).concurrency(8)
}

async fn echo(body: Value) -> Result<Value, Fake> {
    tokio::time::sleep(Duration::from_millis(body["i"].as_u64().unwrap_or(0) % 7)).await;
    if body["i"].as_u64() == Some(13) {
        return Err(Fake::BadRequest);
    }
    Ok(json!({ "echo": body }))
}

#[tokio::test(start_paused = true)]
async fn every_id_is_written_once_with_its_response_or_error() {
    let text = requests(40) + "not json\n\n{\"custom_id\":\"no-body\"}\n";
    let (_dir, input, out) = Scratch::batch("once", text);

    let report = run_with(&input, &out, &quiet(), echo).await.unwrap();
    assert_eq!(
        (
            report.lines,
            report.succeeded,
            report.failed,
            report.invalid
        ),
        (42, 39, 1, 2)
    );

    let lines = output(&out);
    assert_eq!(lines.len(), 42);
    assert_eq!(lines["req-5"]["response"]["echo"]["i"], 5);
    assert_eq!(lines["req-13"]["error"]["message"], "bad request");
    assert_eq!(lines["line-41"]["error"]["line"], 41);
    assert!(
        lines["no-body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 43")
    );
}

#[tokio::test(start_paused = true)]
async fn a_rerun_skips_what_is_done_and_completes_the_rest() {
    let (_dir, input, out) = Scratch::batch("resume", requests(30));
    // A previous run wrote ten lines, the last one torn by a kill.
    let previous: String = (0..10)
        .map(|i| json!({"custom_id": format!("req-{i}"), "response": {}}).to_string() + "\n")
        .collect();
    std::fs::write(&out, previous + r#"{"custom_id":"req-10","resp"#).unwrap();

    let report = run_with(&input, &out, &quiet(), echo).await.unwrap();
    assert_eq!((report.skipped, report.succeeded + report.failed), (10, 20));

    let text = std::fs::read_to_string(&out).unwrap();
    let complete: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .collect();
    assert_eq!(
        complete.len(),
        30,
        "every id once, the torn line left aside"
    );
    let again = run_with(&input, &out, &quiet(), echo).await.unwrap();
    assert_eq!((again.skipped, again.succeeded), (30, 0));
}

#[tokio::test(start_paused = true)]
async fn duplicate_ids_run_once() {
    let (_dir, input, out) = Scratch::batch("dups", requests(5) + &requests(5));
    let report = run_with(&input, &out, &quiet(), echo).await.unwrap();
    assert_eq!((report.succeeded, report.duplicates), (5, 5));
    assert_eq!(output(&out).len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_stops_the_run_and_writes_nothing_for_it() {
    let (_dir, input, out) = Scratch::batch("fatal", requests(100));
    let result = run_with(&input, &out, &quiet(), |body: Value| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match body["i"].as_u64() {
            Some(20) => Err(Fake::Fatal),
            _ => Ok(json!({})),
        }
    })
    .await;
    let Err(BatchError::Fatal {
        custom_id, report, ..
    }) = result
    else {
        panic!("expected a fatal stop, got {result:?}");
    };
    assert_eq!(custom_id, "req-20");
    assert!(report.succeeded < 100);
    let lines = output(&out);
    assert!(!lines.contains_key("req-20"));
    assert!(lines.values().all(|l| l.get("error").is_none()));
}

#[tokio::test(start_paused = true)]
async fn never_more_than_the_concurrency_in_flight() {
    let (_dir, input, out) = Scratch::batch("bounded", requests(200));
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let send = |_: Value| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Fake>(json!({}))
        }
    };
    let report = run_with(
        &input,
        &out,
        &BatchOptions::new().progress(false).concurrency(7),
        send,
    )
    .await
    .unwrap();
    assert_eq!(report.succeeded, 200);
    assert_eq!(peak.load(Ordering::SeqCst), 7);
}

/// The body's `i`.
fn i(body: &Value) -> u64 {
    body["i"].as_u64().unwrap()
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_wait_for_retry_failed_and_final_ones_stay_final() {
    let (_dir, input, out) = Scratch::batch("retry", requests(30));
    let faulty = |body: Value| async move {
        match i(&body) {
            7 => Err(Fake::BadRequest),
            n if n % 5 == 0 => Err(Fake::Transient),
            _ => Ok(json!({})),
        }
    };
    let first = run_with(&input, &out, &quiet(), faulty).await.unwrap();
    assert_eq!((first.succeeded, first.failed, first.retryable), (23, 7, 6));
    assert_eq!((first.unanswered(), first.retryable_unanswered()), (7, 6));
    let written = output(&out);
    assert_eq!(written["req-5"]["error"]["retryable"], true);
    assert_eq!(written["req-7"]["error"]["retryable"], false);

    // A plain re-run sends nothing, and counts what waits.
    let fine = |_: Value| async { Ok::<_, Fake>(json!({"fine": true})) };
    let plain = run_with(&input, &out, &quiet(), fine).await.unwrap();
    assert_eq!(
        (
            plain.succeeded,
            plain.waiting,
            plain.skipped,
            plain.skipped_failed
        ),
        (0, 6, 24, 1)
    );

    // --retry-failed runs exactly the six retryable ones, appending.
    let sent = Arc::new(AtomicUsize::new(0));
    let counted = |_: Value| {
        let sent = sent.clone();
        async move {
            sent.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Fake>(json!({"fine": true}))
        }
    };
    let options = quiet().retry_failed(true);
    let retried = run_with(&input, &out, &options, counted).await.unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 6);
    assert_eq!((retried.retried, retried.succeeded), (6, 6));
    assert_eq!((retried.unanswered(), retried.skipped_failed), (1, 1));
    let last = states(&out);
    assert_eq!(last.len(), 30);
    for (id, line) in &last {
        assert_eq!(line.get("error").is_some(), id == "req-7", "{id}: {line}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_outage_stops_the_run_without_writing_its_lines_and_a_rerun_finishes() {
    let (_dir, input, out) = Scratch::batch("outage", requests(100));
    // Line 3 meets a blip (one refused connection, then the server answers again); from
    // line 40 on the server is gone.
    let down = |body: Value| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match i(&body) {
            3 => Err(Fake::Unreachable),
            n if n >= 40 => Err(Fake::Unreachable),
            _ => Ok(json!({})),
        }
    };
    let options = quiet().concurrency(4).outage_after(5);
    let result = run_with(&input, &out, &options, down).await;
    let Err(error @ BatchError::Outage { .. }) = result else {
        panic!("expected an outage, got {result:?}");
    };
    assert!(
        error.to_string().contains("run the same command to resume"),
        "{error}"
    );
    let written = output(&out);
    assert_eq!(
        written["req-3"]["error"]["retryable"], true,
        "a blip is a failed line"
    );
    let errors: Vec<_> = written
        .values()
        .filter(|l| l.get("error").is_some())
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "nothing written for the outage's lines: {errors:?}"
    );
    assert!(
        written
            .keys()
            .all(|id| id[4..].parse::<u64>().unwrap() < 40)
    );

    let fine = |_: Value| async { Ok::<_, Fake>(json!({})) };
    let again = run_with(&input, &out, &options, fine).await.unwrap();
    assert_eq!(again.succeeded + again.skipped + again.waiting, 100);
    assert_eq!(output(&out).len(), 100, "every id once");
}

#[tokio::test]
async fn file_errors_name_the_file_and_what_was_being_done() {
    let dir = Scratch::new("files");
    let input = dir.path("in.jsonl");
    std::fs::write(&input, requests(3)).unwrap();
    let fine = |_: Value| async { Ok::<_, Fake>(json!({})) };
    let message = |result: Result<_, BatchError<Fake>>| match result {
        Err(BatchError::Io(e)) => e.to_string(),
        other => panic!("expected a file error, got {other:?}"),
    };

    let missing = dir.path("missing.jsonl");
    let text = message(run_with(&missing, &dir.path("o.jsonl"), &quiet(), fine).await);
    assert!(
        text.starts_with(&format!("cannot read input file {}: ", missing.display())),
        "{text}"
    );

    let nowhere = dir.path("no-such-dir/out.jsonl");
    let text = message(run_with(&input, &nowhere, &quiet(), fine).await);
    assert!(
        text.starts_with(&format!(
            "cannot open output file for appending {}: ",
            nowhere.display()
        )),
        "{text}"
    );

    // A directory where the output should be: reading it back to resume fails.
    let folder = dir.path("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let text = message(run_with(&input, &folder, &quiet(), fine).await);
    assert!(
        text.contains(&folder.display().to_string()) && text.contains("output file"),
        "{text}"
    );

    let text = message(run_with(&folder, &dir.path("o.jsonl"), &quiet(), fine).await);
    assert!(
        text.starts_with(&format!("cannot read input file {}: ", folder.display())),
        "{text}"
    );
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_an_invalid_line() {
    let mut bytes = requests(2).into_bytes();
    bytes.extend_from_slice(b"{\"custom_id\": \"\xff\"}\n");
    let (_dir, input, out) = Scratch::batch("utf8", bytes);
    let fine = |_: Value| async { Ok::<_, Fake>(json!({})) };
    let report = run_with(&input, &out, &quiet(), fine).await.unwrap();
    assert_eq!((report.succeeded, report.invalid), (2, 1));
    assert_eq!(output(&out)["line-3"]["error"]["retryable"], false);
}

/// A line given up on because the server's wait is past any call's (a reset in 16 days)
/// carries that wait in its error line.
#[test]
fn an_error_line_carries_the_servers_hint() {
    use together_client::batch::ChatLineError;
    use together_client::{ApiError, Error};
    let mut api = ApiError::default();
    api.message = "Rate limit reached for requests per day".into();
    api.retry_after = Some(Duration::from_secs(1_382_400));
    let line = ChatLineError::Api(Error::RateLimited(Box::new(api))).to_json();
    assert_eq!(line["retry_after_secs"], json!(1_382_400.0));
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .contains("retry after 1382400s"),
        "{line}"
    );
}
