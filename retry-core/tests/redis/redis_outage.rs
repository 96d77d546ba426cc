//! Redis killed and started again in the middle of a run: no request fails, none hangs, and
//! the limiters share the limit again once Redis is back. Runs a `redis-server` of its own
//! (from the PATH) so it can kill it; skipped, and says so, when there is none and REDIS_URL
//! is not set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::redis_kit::{PrivateRedis, Recorder, client, shared, unique_prefix};
use retry_core::middleware::RateLimitMiddleware;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run() {
    let Some(mut redis) = PrivateRedis::start("redis_killed_and_restarted_mid_run") else {
        return;
    };
    let url = redis.url();
    let prefix = unique_prefix("outage");
    let recorder = Recorder::new();
    let limiters: Vec<RateLimitMiddleware> = (0..2)
        .map(|_| {
            let builder = RateLimitMiddleware::builder()
                .per_second(50)
                .adaptive(false);
            shared(builder, &url, &prefix)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for limiter in &limiters {
        let client = client(limiter, &recorder);
        for _ in 0..4 {
            let (client, stop) = (client.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let (mut sent, mut slowest) = (0u32, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let call = client.get("http://api.test/v1/models").send();
                    let response = tokio::time::timeout(Duration::from_secs(5), call)
                        .await
                        .expect("a request hung")
                        .expect("a request failed");
                    assert_eq!(response.status(), 200);
                    slowest = slowest.max(start.elapsed());
                    sent += 1;
                }
                (sent, slowest)
            }));
        }
    }

    let phase = |d| tokio::time::sleep(Duration::from_millis(d));
    let online = || {
        limiters
            .iter()
            .map(|l| l.redis_online())
            .collect::<Vec<_>>()
    };
    phase(700).await;
    let before = recorder.times().len();
    redis.kill();
    phase(1_000).await;
    let offline = online();
    let during = recorder.times().len() - before;
    redis.restart();
    phase(1_500).await;
    let back = online();
    let mark = recorder.times().len();
    phase(1_000).await;
    let after = recorder.times().len() - mark;
    stop.store(true, Ordering::Relaxed);

    let (mut sent, mut slowest) = (0, Duration::ZERO);
    for task in tasks {
        let (n, s) = task.await.unwrap();
        sent += n;
        slowest = slowest.max(s);
    }
    println!(
        "{sent} requests, none failed; slowest {slowest:?}; {before} in the first 0.7 s (shared), \
         {during} in 1 s without Redis (each process alone: up to 2 x 50), {after} in the last \
         1 s (shared again); online while down: {offline:?}, after: {back:?}"
    );
    assert_eq!(offline, [Some(false); 2]);
    assert_eq!(back, [Some(true); 2]);
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // Shared: one 50/s between the two. Alone: each its own 50/s.
    assert!((30..=42).contains(&before), "{before}");
    assert!(during > 55, "{during}");
    assert!((44..=56).contains(&after), "{after}");
}
