//! Four processes, one Together account: 4 workers (this test binary run again), each with
//! its own client, share one 50 req/s limit of the simulator through Redis. Together they get
//! the server's rate (within 5 %) with at most 5 % of requests answered 429, and none fails.
//! Needs `REDIS_URL` (skipped, and says so, without it).

use std::time::Instant;

use crate::kit::sim::launch;
use crate::redis_support::{Worker, run_fleet};
use test_kit::redis_url;
use together_client::sim::Simulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_limit() {
    let Some(redis) = redis_url("four_processes_share_one_limit") else {
        return;
    };
    let sim = launch(Simulator::builder().rate_per_second(50.0).burst(5)).await;
    let (base_url, key) = (sim.base_url(), sim.api_key().to_owned());
    let start = Instant::now();
    let figures = tokio::task::spawn_blocking(move || {
        let workers: Vec<Worker> = (0..4)
            .map(|_| Worker {
                requests: 75,
                env: Vec::new(),
            })
            .collect();
        run_fleet(&base_url, &key, &redis, &workers)
    })
    .await
    .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let stats = sim.stats();
    let successes: Vec<_> = stats.log.iter().filter(|e| e.status == Some(200)).collect();
    let span = (successes[successes.len() - 1].at - successes[0].at).as_secs_f64();
    let served = (successes.len() - 1) as f64 / span;
    let sum: f64 = figures.iter().map(|f| f.rate).sum();
    let failed: u64 = figures.iter().map(|f| f.failed).sum();
    let share_429 = stats.rate_limited as f64 / stats.requests as f64;
    println!(
        "4 processes x 75 requests, one 50 req/s limit: sum of their rates {sum:.2} req/s \
         ({:+.1} %), the server saw {served:.2} req/s; {} 429s of {} requests ({:.1} %); {failed} \
         failed; per process {:?} req/s; {wall:.2} s wall time (processes included)",
        100.0 * (sum / 50.0 - 1.0),
        stats.rate_limited,
        stats.requests,
        100.0 * share_429,
        figures
            .iter()
            .map(|f| (f.rate * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
    );
    assert_eq!(failed, 0);
    assert_eq!(stats.successes, 300);
    assert!((sum / 50.0 - 1.0).abs() <= 0.05, "{sum}");
    assert!((served / 50.0 - 1.0).abs() <= 0.05, "{served}");
    assert!(share_429 <= 0.05, "{share_429}");
}
