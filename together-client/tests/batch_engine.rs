//! The batch runner with a fake sender: every id exactly once, bad lines as error lines,
//! resume, duplicates, fatal errors, bounded concurrency.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use together_client::batch::{BatchError, BatchOptions, RequestError, run_with};

#[derive(Debug)]
struct Fake {
    fatal: bool,
}

impl std::fmt::Display for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.fatal { "bad key" } else { "bad request" })
    }
}

impl RequestError for Fake {
    fn is_fatal(&self) -> bool {
        self.fatal
    }
}

/// A scratch directory of the test's own, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("together-batch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn requests(n: usize) -> String {
    (0..n)
        .map(|i| json!({"custom_id": format!("req-{i}"), "body": {"i": i}}).to_string() + "\n")
        .collect()
}

/// The output as id -> line, asserting each id appears once.
fn output(path: &Path) -> HashMap<String, Value> {
    let mut by_id = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        let id = value["custom_id"].as_str().unwrap().to_owned();
        assert!(
            by_id.insert(id.clone(), value).is_none(),
            "{id} written twice"
        );
    }
    by_id
}

fn quiet() -> BatchOptions {
    BatchOptions::new().progress(false).concurrency(8)
}

async fn echo(body: Value) -> Result<Value, Fake> {
    tokio::time::sleep(Duration::from_millis(body["i"].as_u64().unwrap_or(0) % 7)).await;
    if body["i"].as_u64() == Some(13) {
        return Err(Fake { fatal: false });
    }
    Ok(json!({ "echo": body }))
}

#[tokio::test(start_paused = true)]
async fn every_id_is_written_once_with_its_response_or_error() {
    let dir = Scratch::new("once");
    let (input, out) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    let mut text = requests(40);
    text.push_str("not json\n\n{\"custom_id\":\"no-body\"}\n");
    std::fs::write(&input, text).unwrap();

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
    let dir = Scratch::new("resume");
    let (input, out) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    std::fs::write(&input, requests(30)).unwrap();
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
    let dir = Scratch::new("dups");
    let (input, out) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    std::fs::write(&input, requests(5) + &requests(5)).unwrap();
    let report = run_with(&input, &out, &quiet(), echo).await.unwrap();
    assert_eq!((report.succeeded, report.duplicates), (5, 5));
    assert_eq!(output(&out).len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_stops_the_run_and_writes_nothing_for_it() {
    let dir = Scratch::new("fatal");
    let (input, out) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    std::fs::write(&input, requests(100)).unwrap();
    let result = run_with(&input, &out, &quiet(), |body: Value| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match body["i"].as_u64() {
            Some(20) => Err(Fake { fatal: true }),
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
    let dir = Scratch::new("bounded");
    let (input, out) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    std::fs::write(&input, requests(200)).unwrap();
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
