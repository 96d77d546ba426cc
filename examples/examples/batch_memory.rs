//! Peak memory of a batch: a 10 000-line and then a 100 000-line chat batch file through
//! `together_client::batch::run_chat` with concurrency 64, against the simulator (no limit,
//! no latency) in-process, reading the process's peak resident set (`VmHWM` in
//! `/proc/self/status`, Linux only) before and after each. The simulator's counters (which
//! keep every prompt it answered) are cleared every 20 ms, so they do not count.
//!
//! ```text
//! cargo run --release -p examples --example batch_memory
//! ```
//!
//! The peak is a high-water mark: it only grows. If memory grew with the file, the 100 000-line
//! run would push it well above the 10 000-line run's; the example prints both, the growth, and
//! the peak over the start divided by the 64 requests in flight.

use std::path::{Path, PathBuf};

use together_client::batch::{BatchOptions, run_chat};
use together_client::sim::Simulator;
use together_client::{ChatRequest, Together};

const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
const CONCURRENCY: usize = 64;

/// `VmHWM` (peak resident set) in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn write_input(path: &Path, lines: usize) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..lines {
        let body = ChatRequest::new(MODEL).user(format!("line {i}"));
        let line = serde_json::json!({"custom_id": format!("id-{i}"), "body": body});
        writeln!(file, "{line}")?;
    }
    file.flush()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("batch-memory-{name}-{}", std::process::id()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = std::sync::Arc::new(Simulator::builder().start().await?);
    // The simulator runs in this process and keeps every prompt and event it saw: clear its
    // counters often, so that its memory does not count as the batch's.
    let resetter = {
        let sim = std::sync::Arc::clone(&sim);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                sim.reset_stats();
            }
        })
    };
    let client = Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()?;
    let start = peak_rss().ok_or("no VmHWM in /proc/self/status (Linux only)")?;
    println!("peak RSS at start: {start} bytes");
    let mut peaks = Vec::new();
    for lines in [10_000, 100_000] {
        let (input, output) = (scratch("in.jsonl"), scratch("out.jsonl"));
        write_input(&input, lines)?;
        let _ = std::fs::remove_file(&output);
        let started = std::time::Instant::now();
        let report = run_chat(
            &client,
            &input,
            &output,
            BatchOptions::new().progress(false).concurrency(CONCURRENCY),
        )
        .await?;
        let peak = peak_rss().ok_or("no VmHWM")?;
        println!(
            "{lines} lines: {} succeeded, {} failed in {:.1} s; peak RSS {peak} bytes",
            report.succeeded,
            report.failed,
            started.elapsed().as_secs_f64()
        );
        peaks.push(peak);
        let _ = (std::fs::remove_file(&input), std::fs::remove_file(&output));
    }
    let growth = peaks[1] as i64 - peaks[0] as i64;
    println!(
        "growth of the peak from 10 000 to 100 000 lines: {growth} bytes ({} bytes per extra \
         line); (peak - start) / {CONCURRENCY} in flight: {} bytes",
        growth / 90_000,
        (peaks[1] - start) / CONCURRENCY as u64
    );
    resetter.abort();
    let _ = resetter.await;
    if let Ok(sim) = std::sync::Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    Ok(())
}
