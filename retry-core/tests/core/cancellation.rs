//! Cancellation: a retried call dropped at any await point (asleep between attempts, waiting
//! for its turn in the limiter, in flight) makes no further attempt, leaves no task, frees
//! its place in the limiter's queue and holds nothing a later call waits for.
//!
//! Each test drops the call with `tokio::time::timeout` on a paused clock, then checks the
//! server's count, `RateLimitMiddleware::waiting`, the runtime's live tasks, and that the next
//! call goes when it should.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::Fail;
use crate::support::sim::{Scripted, SimServer, client_with, fixed_per_second};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use retry_core::{Class, Jitter, Policy, RetryOn, retry, retry_fn};
use tokio::time::{Instant, sleep, timeout};

const URL: &str = "http://api.test/v1/chat/completions";

/// Tasks alive on this runtime.
fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A 10 s backoff, so a call is asleep for most of its life.
const SLOW: Policy = Policy::constant()
    .attempts(3)
    .initial(Duration::from_secs(10))
    .jitter(Jitter::None);

static MACRO_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(policy = SLOW)]
async fn always_busy() -> Result<(), Fail> {
    let n = MACRO_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    Err(Fail::new(Class::ServerError, n))
}

#[tokio::test(start_paused = true)]
async fn a_macro_call_dropped_in_its_sleep_makes_no_further_attempt() {
    let before = tasks();
    assert!(
        timeout(Duration::from_secs(1), always_busy())
            .await
            .is_err()
    );
    assert_eq!(MACRO_CALLS.load(Ordering::SeqCst), 1);
    // Long past every retry it would have made: nothing runs on behind the caller's back.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(MACRO_CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(tasks(), before);
    // A new call starts from scratch at once.
    let start = Instant::now();
    assert!(
        timeout(Duration::from_secs(1), always_busy())
            .await
            .is_err()
    );
    assert_eq!(MACRO_CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_retry_fn_call_dropped_in_its_sleep_makes_no_further_attempt() {
    let calls = AtomicU32::new(0);
    let call = || {
        retry_fn(SLOW, RetryOn::TRANSIENT, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            Err::<(), _>(Fail::new(Class::RateLimited, n))
        })
    };
    let before = tasks();
    assert!(timeout(Duration::from_secs(15), call()).await.is_err());
    // The first attempt, the second after 10 s, and the drop in the second sleep.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(tasks(), before);
}

#[tokio::test(start_paused = true)]
async fn a_middleware_call_dropped_in_its_sleep_sends_nothing_more() {
    let server = Scripted::once_then_ok(503, &[("retry-after", "10")]);
    let client = client_with(vec![Arc::new(RetryMiddleware::new(SLOW))], server.clone());
    let before = tasks();
    let call = client.get(URL).header("x-id", "dropped").send();
    assert!(timeout(Duration::from_secs(1), call).await.is_err());
    sleep(Duration::from_secs(60)).await;
    assert_eq!(server.log().len(), 1, "no retry after the drop");
    assert_eq!(tasks(), before);
    // The next call goes at once and succeeds.
    let start = Instant::now();
    let status = client.get(URL).header("x-id", "next").send().await.unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(2),
        "the server's latency only"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_dropped_in_the_limiters_queue_gives_its_place_back() {
    // The first answer holds the host for 5 s; everything after it succeeds.
    let server = Scripted::once_then_ok(429, &[("retry-after-ms", "5000")]);
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let retry = RetryMiddleware::new(SLOW);
    let client = client_with(
        vec![Arc::new(retry), Arc::new(limiter.clone())],
        server.clone(),
    );
    let url = URL.parse().unwrap();
    let before = tasks();
    // The 429's retry goes straight back to the limiter's queue, held until 5 s.
    let held = client.get(URL).header("x-id", "held").send();
    assert!(timeout(Duration::from_secs(1), held).await.is_err());
    assert_eq!(limiter.waiting(&url), 0, "the dropped retry left the queue");
    assert_eq!(tasks(), before);
    // A later request waits out the cooldown (the drop does not cancel it), then goes at
    // once: the dropped retry's turn was not kept for it.
    let start = Instant::now();
    let next = client.get(URL).header("x-id", "next").send().await.unwrap();
    assert_eq!(next.status(), 200);
    let log = server.log();
    let ids: Vec<&str> = log.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["held", "next"]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(3_999) && waited <= Duration::from_millis(4_010),
        "{waited:?}: until the end of the cooldown, 4 s after the drop"
    );
    assert_eq!(limiter.waiting(&url), 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_in_flight_holds_no_slot() {
    // 1 request a second, and a server that takes 10 s to answer.
    let server = SimServer::new(100.0, 10, crate::support::sim::Dialect::RetryAfterMs)
        .latency(Duration::from_secs(10));
    let limiter = fixed_per_second(1);
    let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
    let url = URL.parse().unwrap();
    let before = tasks();
    let slow = client.get(URL).send();
    assert!(timeout(Duration::from_secs(2), slow).await.is_err());
    assert_eq!(limiter.waiting(&url), 0);
    assert_eq!(tasks(), before);
    // The next request's slot is the pace's next one (already due), not after the dropped
    // request's answer that never came.
    let start = Instant::now();
    let next = client.get(URL).send().await.unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(10),
        "the server's latency only"
    );
}
