//! Cancellation through the typed client, against the simulator on a paused clock: a call
//! dropped asleep between retries, a call dropped in the limiter's queue, a stream dropped
//! after some chunks, and the leader of a single-flight cache entry dropped mid-retry. Each
//! leaves no task, no place in the queue and nothing a later call waits for.

use std::time::Duration;

use crate::kit::MODEL;
use crate::kit::sim::{client_of, launch};
use futures_util::StreamExt;
use retry_core::middleware::RateLimitMiddleware;
use retry_core::{Jitter, Policy};
use together_client::sim::{Fault, HintDialect, Simulator};
use together_client::{CacheConfig, ChatRequest, TogetherBuilder};
use tokio::time::{Instant, sleep, timeout};

/// A 10 s backoff without jitter, so a failed call is asleep for most of its life.
const SLOW: Policy = Policy::constant()
    .attempts(3)
    .initial(Duration::from_secs(10))
    .jitter(Jitter::None);

/// Tasks alive on this runtime.
fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A client on `limiter`, whose connections close after each answer (no idle connection,
/// and so no connection task, outlives a call), without timers a paused clock would jump to.
fn builder(sim: &Simulator, limiter: &RateLimitMiddleware) -> TogetherBuilder {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    client_of(sim, http, limiter, SLOW)
}

/// Lets closed connections wind down on both sides (a few turns of the runtime).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    sleep(Duration::from_millis(1)).await;
}

fn ask(prompt: &str) -> ChatRequest {
    ChatRequest::new(MODEL).user(prompt)
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_asleep_between_retries_sends_nothing_more() {
    let sim = launch(Simulator::builder().fault_times(Fault::Overloaded, 1)).await;
    let limiter = RateLimitMiddleware::default();
    let client = builder(&sim, &limiter).build().unwrap();
    settle().await;
    let before = tasks();
    let call = async { client.chat().create(ask("dropped")).await };
    assert!(timeout(Duration::from_secs(1), call).await.is_err());
    sleep(Duration::from_secs(60)).await;
    assert_eq!(sim.stats().requests, 1, "no retry after the drop");
    settle().await;
    assert_eq!(tasks(), before, "no task left behind");
    // Nothing held: the next call goes at once.
    let start = Instant::now();
    let answer = client.chat().create(ask("next")).await.unwrap();
    assert_eq!(answer.text(), "Echo: next");
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_in_the_limiters_queue_leaves_it() {
    // One request a second: the second call gets a 429 with `retry-after-ms`, and its retry
    // waits in the limiter's queue for the shared cooldown.
    let sim = launch(
        Simulator::builder()
            .rate_per_second(1.0)
            .burst(1)
            .dialect(HintDialect::RetryAfterMs),
    )
    .await;
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let client = builder(&sim, &limiter).build().unwrap();
    let url = reqwest::Url::parse(&sim.base_url()).unwrap();
    client.chat().create(ask("first")).await.unwrap();
    settle().await;
    let before = tasks();
    let held = async { client.chat().create(ask("held")).await };
    assert!(timeout(Duration::from_millis(500), held).await.is_err());
    assert_eq!(
        sim.stats().rate_limited,
        1,
        "the 429 that started the cooldown"
    );
    assert_eq!(limiter.waiting(&url), 0, "the dropped call left the queue");
    settle().await;
    assert_eq!(tasks(), before, "no task left behind");
    // The next call waits out the cooldown, no more, and succeeds on its first request.
    let start = Instant::now();
    client.chat().create(ask("next")).await.unwrap();
    let waited = start.elapsed();
    assert!(waited <= Duration::from_millis(600), "{waited:?}");
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.successes), (3, 2), "{stats:?}");
    assert_eq!(stats.successes_for("held"), 0);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_mid_way_closes_its_connection() {
    let sim = launch(Simulator::builder().stream_chunk_delay(Duration::from_millis(100))).await;
    let limiter = RateLimitMiddleware::default();
    let client = builder(&sim, &limiter).build().unwrap();
    settle().await;
    let before = tasks();
    let mut stream = client
        .chat()
        .stream(ask("one two three four five six seven eight"))
        .await
        .unwrap();
    for _ in 0..2 {
        stream.next().await.unwrap().unwrap();
    }
    drop(stream);
    settle().await;
    // The server sees the client go: a cancellation, not a success.
    let stats = sim.stats();
    assert_eq!((stats.cancelled, stats.successes), (1, 0), "{stats:?}");
    assert_eq!(tasks(), before, "no task left behind");
    let url = reqwest::Url::parse(&sim.base_url()).unwrap();
    assert_eq!(limiter.waiting(&url), 0);
    // And the next stream runs to its end.
    let text = client.chat().stream(ask("again")).await.unwrap().text();
    assert_eq!(text.await.unwrap(), "Echo: again");
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_cache_leader_does_not_strand_its_followers() {
    // Identical deterministic calls share one request (single-flight); the leader's first
    // request fails and it goes to sleep for 10 s, then is dropped.
    let sim = launch(Simulator::builder().fault_times(Fault::Overloaded, 1)).await;
    let limiter = RateLimitMiddleware::default();
    let client = builder(&sim, &limiter)
        .cache(CacheConfig::new())
        .build()
        .unwrap();
    let request = || ask("shared").temperature(0.0);
    let leader = async { client.chat().create(request()).await };
    let follower = {
        let client = client.clone();
        tokio::spawn(async move {
            // Arrives while the leader is in flight.
            sleep(Duration::from_millis(100)).await;
            let start = Instant::now();
            let answer = client.chat().create(request()).await.unwrap();
            (answer.text().to_owned(), start.elapsed())
        })
    };
    assert!(timeout(Duration::from_secs(1), leader).await.is_err());
    let (text, waited) = timeout(Duration::from_secs(60), follower)
        .await
        .expect("the follower is not stranded")
        .unwrap();
    assert_eq!(text, "Echo: shared");
    // It takes over when the leader goes (at 1 s), without the leader's 10 s sleep.
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(sim.stats().successes_for("shared"), 1);
    sim.shutdown().await;
}
