//! The two layers together against rate-limited servers: the target of the issue (300 requests
//! from 64 tasks, a server allowing 50 requests/s with a burst of 5, in every hint dialect),
//! AIMD convergence on a server that sends no headers, and a real local HTTP server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::sim::{DIALECTS, Dialect, SimServer, client_with, load};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::time::Instant;

fn layers(limiter: &RateLimitMiddleware) -> Vec<Arc<dyn reqwest_middleware::Middleware>> {
    vec![
        Arc::new(RetryMiddleware::default()),
        Arc::new(limiter.clone()),
    ]
}

/// 300 requests from 64 tasks, 50 req/s with a burst of 5: every request succeeds, in at
/// most `(n - burst) / rate / 0.95`, with at most 5 % of requests answered 429.
#[tokio::test(start_paused = true)]
async fn the_issue_target_in_every_dialect() {
    for dialect in DIALECTS {
        let server = SimServer::new(50.0, 5, dialect);
        let client = client_with(layers(&RateLimitMiddleware::default()), server.clone());
        let run = load(&client, "http://sim.test/", 300, 64).await;
        let ideal = (300.0 - 5.0) / 50.0;
        let share = ideal / run.elapsed.as_secs_f64();
        println!(
            "{dialect:?}: {:.2} s, {:.1} % of the allowed rate, {} 429s, {} failed",
            run.elapsed.as_secs_f64(),
            100.0 * share,
            server.rejected(),
            run.failed
        );
        assert_eq!((run.succeeded, run.failed), (300, 0), "{dialect:?}");
        assert!(share >= 0.95, "{dialect:?}: {share}");
        assert!(
            server.rejected() <= 15,
            "{dialect:?}: {}",
            server.rejected()
        );
    }
}

/// Without any header, the pace converges on the server's rate and stays there.
#[tokio::test(start_paused = true)]
async fn aimd_converges_on_the_server_rate() {
    for (rate, burst) in [(30.0, 3), (100.0, 2)] {
        let server = SimServer::new(rate, burst, Dialect::None).latency(Duration::from_millis(10));
        let limiter = RateLimitMiddleware::default();
        let client = client_with(layers(&limiter), server.clone());
        let n = (rate * 20.0) as u32;
        let run = load(&client, "http://sim.test/", n, 32).await;
        assert_eq!((run.succeeded, run.failed), (n, 0));

        // The rate the server took requests at over the second half of the run.
        let log = server.log();
        let (start, end) = (log[0].0, log[log.len() - 1].0);
        let half = start + (end - start) / 2;
        let taken = log.iter().filter(|(at, ok)| *ok && *at >= half).count();
        let achieved = taken as f64 / (end - half).as_secs_f64();
        let pace = limiter.pace(&"http://sim.test/".parse().unwrap()).unwrap();
        let rejected = f64::from(server.rejected()) / f64::from(n);
        println!(
            "server {rate}/s: achieved {achieved:.1}/s, pace {pace:.1}/s, {:.1} % 429s",
            100.0 * rejected
        );
        assert!(
            achieved >= rate * 0.93 && achieved <= rate * 1.01,
            "{achieved}"
        );
        assert!(pace >= rate * 0.85 && pace <= rate * 1.1, "{pace}");
        assert!(rejected <= 0.05, "{rejected}");
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that allows `rate` requests a second (token bucket,
/// `burst` at once) and answers 429 above it, with no header at all; counts both.
async fn rate_limited_server(rate: f64, burst: f64) -> (String, Arc<AtomicU32>, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (ok, limited) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let bucket = Arc::new(Mutex::new((burst, Instant::now())));
    let counters = (ok.clone(), limited.clone());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (bucket, (ok, limited)) = (bucket.clone(), counters.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    // One request: headers only (GET), up to the blank line.
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let taken = {
                        let mut bucket = bucket.lock().await;
                        let now = Instant::now();
                        let refill = now.duration_since(bucket.1).as_secs_f64() * rate;
                        *bucket = ((bucket.0 + refill).min(burst), now);
                        let taken = bucket.0 >= 1.0;
                        if taken {
                            bucket.0 -= 1.0;
                        }
                        taken
                    };
                    let status = if taken {
                        ok.fetch_add(1, Ordering::Relaxed);
                        "200 OK"
                    } else {
                        limited.fetch_add(1, Ordering::Relaxed);
                        "429 Too Many Requests"
                    };
                    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, ok, limited)
}

/// The same over real sockets and the real clock: a short run (about 2 s), so the bounds are
/// looser than on virtual time, where the scheduling of a busy machine cannot interfere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aimd_converges_over_real_sockets() {
    let (rate, n) = (100.0, 200);
    let (url, ok, limited) = rate_limited_server(rate, 5.0).await;
    let limiter = RateLimitMiddleware::default();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::default())
        .with(limiter.clone())
        .build();
    let run = load(&client, &url, n, 16).await;
    let (ok, limited) = (ok.load(Ordering::Relaxed), limited.load(Ordering::Relaxed));
    let achieved = f64::from(n) / run.elapsed.as_secs_f64();
    let pace = limiter.pace(&url.parse().unwrap()).unwrap();
    println!(
        "real sockets, server {rate}/s: {achieved:.1}/s overall in {:.2} s, pace {pace:.1}/s, {limited} 429s",
        run.elapsed.as_secs_f64()
    );
    assert_eq!((run.succeeded, run.failed, ok), (n, 0, n));
    assert!(achieved >= rate * 0.6, "{achieved}");
    assert!(pace >= rate * 0.6 && pace <= rate * 1.5, "{pace}");
    assert!(f64::from(limited) <= f64::from(n) * 0.15, "{limited}");
}
