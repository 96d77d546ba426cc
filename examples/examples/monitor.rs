//! Serves `/metrics` in Prometheus' text format for a client under load against the embedded
//! simulator: no key, no network. Point Prometheus (with `examples/alerts.yml`) or `curl` at
//! it while it runs.
//!
//! Run: `cargo run --release --example monitor -- --metrics-addr 127.0.0.1:9000 --seconds 60`
//! then `curl -s http://127.0.0.1:9000/metrics | grep -E '^(together|retry)_'`.
//!
//! The load asks for twice what the simulator allows (`--rate`), so the limiter paces, the
//! odd 429 shows up, and the time waited on the limit grows: the series the alerts watch.
//! At the end it prints the run's summary and what the limit cost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use together_client::ChatRequest;
use together_client::report::{MetricsServer, RunSummary};
use together_client::sim::Simulator;

/// A client under load against the simulator, its metrics served for Prometheus.
#[derive(Parser)]
struct Args {
    /// Where to serve `/metrics` (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    metrics_addr: SocketAddr,
    /// Requests per second the simulator allows.
    #[arg(long, default_value_t = 25.0)]
    rate: f64,
    /// Tasks sending requests, one after the other each.
    #[arg(long, default_value_t = 16)]
    tasks: usize,
    /// How long to run (0: until Ctrl-C).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

const MODELS: [&str; 2] = [
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "Qwen/Qwen2.5-7B-Instruct-Turbo",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // First the recorder: the client registers its series on its first request.
    let server = MetricsServer::install(args.metrics_addr).await?;
    println!("metrics: http://{}/metrics", server.local_addr());
    let (client, sim) =
        examples::simulated(Simulator::builder().rate_per_second(args.rate).burst(5)).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..args.tasks {
        let (client, stop) = (client.clone(), Arc::clone(&stop));
        tasks.spawn(async move {
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let model = MODELS[task % MODELS.len()];
                let request = ChatRequest::new(model)
                    .user(format!("task {task} request {n}: say something short"))
                    .max_tokens(16);
                if let Err(error) = client.chat().create(request).await {
                    eprintln!("task {task}: {error}");
                }
                n += 1;
            }
        });
    }

    let run = async {
        if args.seconds == 0 {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    };
    tokio::select! {
        () = run => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}

    let pace = client
        .rate_limiter()
        .and_then(|limiter| limiter.pace(client.base_url()));
    println!(
        "{}",
        RunSummary::new(&client.usage(), started.elapsed()).with_pace(pace)
    );
    server.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
