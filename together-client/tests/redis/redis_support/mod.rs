//! Processes sharing one rate limit through Redis: the test binary runs itself again as
//! workers (the `fleet_worker` test does the work when `FLEET_BASE_URL` is set and nothing
//! otherwise), each a client of one simulator; the parent starts them together and reads
//! their figures.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use together_client::{ChatRequest, Together};

/// What one worker reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    pub ok: u64,
    pub failed: u64,
    /// Its own requests per second, from the start signal to its last answer.
    pub rate: f64,
    /// Its wall clock (seconds since the epoch) at the start: what a skewed clock changes.
    pub clock: f64,
}

/// One worker process: its environment, and extra environment (a skewed clock).
pub struct Worker {
    pub requests: u32,
    pub env: Vec<(String, String)>,
}

/// Runs `workers` as processes against the simulator at `base_url`, sharing the limit through
/// `redis`; starts them together once all are ready; returns their figures.
pub fn run_fleet(base_url: &str, key: &str, redis: &str, workers: &[Worker]) -> Vec<Figures> {
    let exe = std::env::current_exe().expect("the test binary");
    let mut children = Vec::new();
    for (id, worker) in workers.iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["--exact", "redis_support::fleet_worker", "--nocapture"])
            .args(["--test-threads", "1"])
            .env("FLEET_BASE_URL", base_url)
            .env("FLEET_KEY", key)
            .env("FLEET_REDIS", redis)
            .env("FLEET_ID", id.to_string())
            .env("FLEET_REQUESTS", worker.requests.to_string())
            .envs(worker.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        wait_for(&mut lines, "FLEET-READY");
        children.push((child, lines));
    }
    // All are up and connected: go at once.
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    }
    children
        .into_iter()
        .map(|(mut child, mut lines)| {
            let line = wait_for(&mut lines, "FLEET-DONE");
            assert!(child.wait().unwrap().success(), "a worker failed");
            let field = |name: &str| -> f64 {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{name} in {line}"))
            };
            Figures {
                ok: field("ok") as u64,
                failed: field("failed") as u64,
                rate: field("rate"),
                clock: field("clock"),
            }
        })
        .collect()
}

fn wait_for(lines: &mut impl Iterator<Item = std::io::Result<String>>, tag: &str) -> String {
    for line in lines.by_ref() {
        let line = line.expect("a worker's output");
        // The test harness may print its `test ... ` prefix on the same line.
        if let Some(at) = line.find(tag) {
            return line[at..].to_owned();
        }
    }
    panic!("a worker ended without {tag}");
}

/// The worker: does nothing unless run by [`run_fleet`].
#[test]
fn fleet_worker() {
    let Ok(base_url) = std::env::var("FLEET_BASE_URL") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let requests: u32 = var("FLEET_REQUESTS").parse().unwrap();
    let id = var("FLEET_ID");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Together::builder()
            .base_url(base_url)
            .api_key(var("FLEET_KEY"))
            .shared_rate_limit(var("FLEET_REDIS"))
            .build()
            .unwrap();
        println!("FLEET-READY");
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = Instant::now();
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let (client, ok, failed, id) =
                    (client.clone(), ok.clone(), failed.clone(), id.clone());
                tokio::spawn(async move {
                    for i in (task..requests).step_by(8) {
                        let request = ChatRequest::new("m").user(format!("worker {id} line {i}"));
                        match client.chat().create(request).await {
                            Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(error) => {
                                eprintln!("worker {id}: {error}");
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed().max(Duration::from_millis(1)).as_secs_f64();
        let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        println!(
            "FLEET-DONE ok={ok} failed={failed} rate={:.3} clock={clock:.3}",
            ok as f64 / elapsed
        );
    });
}
