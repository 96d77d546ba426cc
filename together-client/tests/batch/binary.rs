//! The `together-batch` binary as a process: standard input, exit codes, messages that name
//! the file, and never the API key.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::kit::sim::launch;
use together_client::sim::Simulator;

use crate::kit::Scratch;
use crate::support::lines;

const KEY: &str = "sk-batch-secret-4242";

/// Runs the binary against `sim` with `args`, `stdin` on its standard input.
async fn together_batch(sim: &Simulator, args: Vec<String>, stdin: String) -> Output {
    let (base, key) = (sim.base_url(), sim.api_key().to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_together-batch"))
            .args(&args)
            .env("TOGETHER_API_KEY", key)
            .env("TOGETHER_BASE_URL", base)
            .env_remove("TOGETHER_RATE_LIMIT_REDIS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reads_stdin_exits_0_1_and_never_prints_the_key() {
    let dir = Scratch::new("bin");
    let sim = launch(Simulator::builder().api_key(KEY)).await;
    let out = dir.path("out.jsonl");
    let input: String = (0..20)
        .map(|i| {
            let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": format!("p{i}")}]});
            serde_json::json!({"custom_id": format!("b-{i}"), "body": body}).to_string() + "\n"
        })
        .collect();
    let flags = |input: &str| {
        vec![
            "--input".to_owned(),
            input.to_owned(),
            "--output".into(),
            out.display().to_string(),
        ]
    };

    let ran = together_batch(&sim, flags("-"), input).await;
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("20 answered"), "{stderr}");
    assert_eq!(lines(&out).len(), 20);

    let missing = dir.path("missing.jsonl").display().to_string();
    let failed = together_batch(&sim, flags(&missing), String::new()).await;
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read input file {missing}")),
        "{stderr}"
    );

    for output in [&ran, &failed] {
        for text in [&output.stdout, &output.stderr] {
            assert!(!String::from_utf8_lossy(text).contains(KEY));
        }
    }
}
