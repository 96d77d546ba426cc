//! Memory of a batch: a 10 000-line and then a 100 000-line chat batch file through
//! `together_client::batch::run_chat` with concurrency 64, against the simulator (no limit, no
//! latency) running in a child process, so that only the client's memory is measured.
//!
//! Two measures, after each file:
//! - the peak of live heap bytes, from a counting global allocator: what the batch itself
//!   holds at its worst, which must not grow with the file;
//! - the peak resident set (`VmHWM` in `/proc/self/status`, Linux only), which adds the
//!   allocator's own pages (glibc's per-thread arenas keep freed memory for reuse).
//!
//! ```text
//! cargo run --release -p examples --example batch_memory
//! ```
//!
//! Other sizes can be given as arguments (`-- 2000 20000`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use together_client::batch::{BatchOptions, run_chat};
use together_client::sim::Simulator;
use together_client::{ChatRequest, Together};

const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
const CONCURRENCY: usize = 64;

/// The system allocator, counting live bytes and their peak: two relaxed atomics a call.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `VmHWM` (peak resident set) in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn write_input(path: &Path, lines: usize) -> std::io::Result<()> {
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

/// The child: serves the simulator, prints its address and key, and stops when its stdin
/// closes (the parent ended).
async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::builder().start().await?;
    // The simulator keeps every prompt it answered: clear its counters now and then.
    let sim = std::sync::Arc::new(sim);
    let resetter = {
        let sim = std::sync::Arc::clone(&sim);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                sim.reset_stats();
            }
        })
    };
    println!("{} {}", sim.base_url(), sim.api_key());
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    resetter.abort();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve().await;
    }
    let sizes: Vec<usize> = match args
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<_>, _>>()?
    {
        sizes if sizes.len() == 2 => sizes,
        _ => vec![10_000, 100_000],
    };

    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut first)?;
    let (base_url, api_key) = first
        .trim()
        .split_once(' ')
        .ok_or("the simulator did not start")?;

    let client = Together::builder()
        .api_key(api_key)
        .base_url(base_url)
        .build()?;
    let start_rss = peak_rss().ok_or("no VmHWM in /proc/self/status (Linux only)")?;
    let start_heap = LIVE.load(Ordering::Relaxed);
    println!("at start: live heap {start_heap} bytes, peak RSS {start_rss} bytes");
    let mut peaks = Vec::new();
    for &lines in &sizes {
        let (input, output) = (scratch("in.jsonl"), scratch("out.jsonl"));
        write_input(&input, lines)?;
        let _ = std::fs::remove_file(&output);
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let started = std::time::Instant::now();
        let report = run_chat(
            &client,
            &input,
            &output,
            BatchOptions::new().progress(false).concurrency(CONCURRENCY),
        )
        .await?;
        let (heap, rss) = (PEAK.load(Ordering::Relaxed), peak_rss().ok_or("no VmHWM")?);
        println!(
            "{lines} lines: {} succeeded, {} failed in {:.1} s; peak live heap {heap} bytes, \
             peak RSS {rss} bytes",
            report.succeeded,
            report.failed,
            started.elapsed().as_secs_f64()
        );
        peaks.push((heap, rss));
        let _ = (std::fs::remove_file(&input), std::fs::remove_file(&output));
    }
    drop(child.stdin.take());
    child.wait()?;

    let extra = (sizes[1] as f64 - sizes[0] as f64).max(1.0);
    let heap_growth = peaks[1].0 as f64 - peaks[0].0 as f64;
    let rss_growth = peaks[1].1 as f64 - peaks[0].1 as f64;
    println!(
        "from {} to {} lines: peak live heap {heap_growth:+.0} bytes ({:+.1} per extra line), \
         peak RSS {rss_growth:+.0} bytes ({:+.1} per extra line)",
        sizes[0],
        sizes[1],
        heap_growth / extra,
        rss_growth / extra
    );
    println!(
        "peak live heap over the start, per request in flight: {} bytes",
        (peaks[1].0.saturating_sub(start_heap)) / CONCURRENCY
    );
    Ok(())
}
