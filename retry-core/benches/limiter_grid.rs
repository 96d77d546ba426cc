//! The rate limiter against simulated servers of other rates, bursts and round trips, in every
//! hint dialect: the load (about six seconds' worth of requests from 64 tasks) on
//! tokio's paused clock, so the table is exact and takes a second to make.
//!
//! Run: `cargo bench -p retry-core --bench limiter_grid`

#[path = "../tests/support/sim.rs"]
#[allow(dead_code)]
mod sim;

use std::sync::Arc;
use std::time::Duration;

use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use sim::{DIALECTS, SimServer, client_with, load};

fn layers(limiter: &RateLimitMiddleware) -> Vec<Arc<dyn reqwest_middleware::Middleware>> {
    vec![
        Arc::new(RetryMiddleware::default()),
        Arc::new(limiter.clone()),
    ]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(table());
}

async fn table() {
    let grid = [
        (50.0, 5, 0),
        (50.0, 5, 2),
        (50.0, 5, 20),
        (50.0, 5, 50),
        (50.0, 5, 300),
        (200.0, 10, 20),
        (50.0, 50, 20),
        (5.0, 1, 20),
    ];
    println!("rate burst rtt_ms dialect          time_s  %ideal 429s failed");
    for (rate, burst, rtt) in grid {
        let n = ((rate * 6.0) as u32).max(30);
        for dialect in DIALECTS {
            let server = SimServer::new(rate, burst, dialect).latency(Duration::from_millis(rtt));
            let client = client_with(layers(&RateLimitMiddleware::default()), server.clone());
            let run = load(&client, "http://sim.test/", n, 64).await;
            let ideal = (f64::from(n) - f64::from(burst)) / rate;
            println!(
                "{rate:>4} {burst:>5} {rtt:>6} {:<16} {:>6.2} {:>6.1} {:>4} {:>6}",
                format!("{dialect:?}"),
                run.elapsed.as_secs_f64(),
                100.0 * ideal / run.elapsed.as_secs_f64(),
                server.rejected(),
                run.failed
            );
        }
    }
}
