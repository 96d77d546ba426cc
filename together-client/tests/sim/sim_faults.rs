//! Injected faults: 503, 500, other statuses, dropped connections, latency; seeded
//! probabilities, "the next n requests", and that no fault counts as a success.

use std::error::Error as _;
use std::time::Duration;

use crate::kit::sim::{chat, error_of, header, launch};
use crate::kit::untimed_http as client;
use http::StatusCode;
use retry_core::{Class, Classify};
use together_client::sim::{Fault, Latency, Outcome, Simulator};
use tokio::time::Instant;

async fn with(fault: Fault, probability: f64) -> Simulator {
    launch(Simulator::builder().fault(fault, probability)).await
}

#[tokio::test]
async fn overloaded_is_503_with_togethers_message() {
    let sim = with(Fault::Overloaded, 1.0).await;
    let response = chat(&client(), &sim, "x").await;
    assert_eq!(response.status(), 503);
    let error = error_of(response).await;
    assert_eq!(
        error["message"],
        "The server is overloaded or not ready yet."
    );
    assert_eq!(error["type"], "server_error");
    let stats = sim.stats();
    assert_eq!((stats.overloaded, stats.successes), (1, 0));
    assert_eq!(stats.successes_for("x"), 0);
}

#[tokio::test]
async fn server_error_is_500() {
    let sim = with(Fault::ServerError, 1.0).await;
    let response = chat(&client(), &sim, "x").await;
    assert_eq!(response.status(), 500);
    assert_eq!(error_of(response).await["type"], "server_error");
    assert_eq!((sim.stats().server_errors, sim.stats().successes), (1, 0));
}

#[tokio::test]
async fn any_status_with_togethers_body() {
    for (code, kind) in [
        (402, "invalid_request_error"),
        (403, "invalid_request_error"),
        (404, "invalid_request_error"),
        (502, "server_error"),
        (524, "server_error"),
    ] {
        let status = StatusCode::from_u16(code).unwrap();
        let sim = with(Fault::Status(status), 1.0).await;
        let response = chat(&client(), &sim, "x").await;
        assert_eq!(response.status(), code);
        assert_eq!(error_of(response).await["type"], kind, "{code}");
        let stats = sim.stats();
        assert_eq!((stats.other_errors, stats.successes), (1, 0), "{code}");
    }
    // These three count as what they are.
    let sim = launch(
        Simulator::builder()
            .fault_times(Fault::Status(StatusCode::TOO_MANY_REQUESTS), 1)
            .fault_times(Fault::Status(StatusCode::SERVICE_UNAVAILABLE), 1)
            .fault_times(Fault::Status(StatusCode::INTERNAL_SERVER_ERROR), 1),
    )
    .await;
    for (code, kind) in [
        (429, "dynamic_request_limited"),
        (503, "server_error"),
        (500, "server_error"),
    ] {
        let response = chat(&client(), &sim, "x").await;
        assert_eq!(response.status(), code);
        assert_eq!(error_of(response).await["type"], kind, "{code}");
    }
    let stats = sim.stats();
    let counts = (stats.rate_limited, stats.overloaded, stats.server_errors);
    assert_eq!((counts, stats.other_errors), ((1, 1, 1), 0));
}

#[tokio::test]
async fn a_dropped_connection_closes_with_no_response() {
    let sim = launch(Simulator::builder().fault_times(Fault::Drop, 1)).await;
    let client = client();
    let err = client
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(sim.api_key())
        .json(&crate::kit::sim::chat_body("x"))
        .send()
        .await
        .expect_err("no response");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    // hyper read the end of the stream where the status line should have been.
    let mut cause = err.source();
    let mut incomplete = false;
    while let Some(e) = cause {
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            incomplete |= hyper.is_incomplete_message();
        }
        cause = e.source();
    }
    assert!(incomplete, "{err:?}");
    // retry-core sees a transport failure, retryable.
    assert_eq!(err.class(), Class::Connect);
    let stats = sim.stats();
    assert_eq!((stats.dropped, stats.successes), (1, 0));
    assert_eq!(stats.log[0].status, None);
    assert_eq!(stats.log[0].outcome, Outcome::Dropped);
    // The next request (on a new connection) is answered.
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
}

#[tokio::test]
async fn fault_times_hits_the_next_n_requests_only() {
    let sim = launch(Simulator::builder().fault_times(Fault::Overloaded, 2)).await;
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(chat(&client, &sim, "x").await.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200, 200]);
    sim.inject(Fault::ServerError, 1);
    assert_eq!(chat(&client, &sim, "x").await.status(), 500);
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
}

async fn statuses(seed: u64, n: usize) -> Vec<u16> {
    let sim = launch(
        Simulator::builder()
            .fault(Fault::Overloaded, 0.3)
            .fault(Fault::ServerError, 0.2)
            .seed(seed),
    )
    .await;
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(chat(&client, &sim, "x").await.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn seeded_probabilities_are_reproducible() {
    let first = statuses(7, 200).await;
    assert_eq!(first, statuses(7, 200).await);
    assert_ne!(first, statuses(8, 200).await);
    let count = |code| first.iter().filter(|&&s| s == code).count();
    // 30 % of 200, then 20 % of the remaining 70 %: about 60 and 28.
    assert!((40..=80).contains(&count(503)), "{}", count(503));
    assert!((14..=42).contains(&count(500)), "{}", count(500));
    assert_eq!(count(200) + count(503) + count(500), 200);
}

#[tokio::test]
async fn faults_can_be_cleared() {
    let sim = with(Fault::Overloaded, 1.0).await;
    let client = client();
    assert_eq!(chat(&client, &sim, "x").await.status(), 503);
    sim.clear_faults();
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_fault_spends_a_request_of_the_bucket() {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(1.0)
            .burst(1)
            .fault_times(Fault::Overloaded, 1),
    )
    .await;
    let client = client();
    assert_eq!(chat(&client, &sim, "x").await.status(), 503);
    assert_eq!(chat(&client, &sim, "x").await.status(), 429);
}

#[tokio::test(start_paused = true)]
async fn fixed_latency_on_tokios_clock() {
    let sim = launch(Simulator::builder().latency(Duration::from_millis(300))).await;
    let client = client();
    let start = Instant::now();
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    // The limiter decides half-way.
    assert_eq!(sim.stats().log[0].at, Duration::from_millis(150));
}

/// The whole latency before the decision, or none: the limiter counts a request when its
/// inbound share has passed, and the round trip is the same either way.
#[tokio::test(start_paused = true)]
async fn the_inbound_share_sets_where_the_limiter_decides() {
    for (share, decided) in [
        (1.0, 300),
        (0.0, 0),
        (0.25, 75),
        (7.0, 300),
        (f64::NAN, 150),
    ] {
        let sim = launch(
            Simulator::builder()
                .latency(Duration::from_millis(300))
                .inbound_share(share),
        )
        .await;
        let client = client();
        let start = Instant::now();
        assert_eq!(chat(&client, &sim, "x").await.status(), 200);
        assert_eq!(start.elapsed(), Duration::from_millis(300), "{share}");
        let at = sim.stats().log[0].at;
        assert_eq!(at, Duration::from_millis(decided), "{share}");
    }
}

/// An LLM's generation comes after the count and only for admitted requests: a 429 comes back
/// in the round trip and the refusal delay, a success takes the round trip and the generation.
#[tokio::test(start_paused = true)]
async fn generation_follows_the_count_and_a_refusal_skips_it() {
    let sim = launch(
        Simulator::builder()
            .latency(Duration::from_millis(100))
            .generation(Duration::from_millis(700))
            .refusal_delay(Duration::from_millis(40))
            .rate_per_second(1.0)
            .burst(1),
    )
    .await;
    let client = client();
    let start = Instant::now();
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    let start = Instant::now();
    assert_eq!(chat(&client, &sim, "x").await.status(), 429);
    assert_eq!(start.elapsed(), Duration::from_millis(140));
    // The limiter counted both half-way through the round trip, before any generation.
    let log = &sim.stats().log;
    assert_eq!(log[0].at, Duration::from_millis(50));
    assert_eq!(log[1].at, Duration::from_millis(850));
}

#[tokio::test(start_paused = true)]
async fn uniform_latency_stays_in_its_range() {
    let (min, max) = (Duration::from_millis(50), Duration::from_millis(150));
    let sim = launch(
        Simulator::builder()
            .latency(Latency::uniform(max, min))
            .seed(3),
    )
    .await;
    let client = client();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        chat(&client, &sim, "x").await;
        seen.push(start.elapsed());
    }
    assert!(seen.iter().all(|d| (min..=max).contains(d)), "{seen:?}");
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 10, "not spread: {seen:?}");
}

#[tokio::test(start_paused = true)]
async fn a_delay_fault_adds_latency_to_some_requests() {
    let sim = launch(
        Simulator::builder()
            .latency(Duration::from_millis(10))
            .fault_times(Fault::Delay(Latency::Fixed(Duration::from_secs(2))), 1),
    )
    .await;
    let client = client();
    let start = Instant::now();
    let slow = chat(&client, &sim, "x").await;
    assert_eq!(start.elapsed(), Duration::from_millis(2010));
    // Slow, but a success.
    assert_eq!(slow.status(), 200);
    let start = Instant::now();
    chat(&client, &sim, "x").await;
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(sim.stats().successes, 2);
}

#[tokio::test]
async fn stream_faults_leave_plain_requests_alone() {
    let sim = launch(
        Simulator::builder()
            .fault_times(Fault::BreakStream { after: 0 }, 1)
            .fault_times(Fault::StreamError { after: 0 }, 1),
    )
    .await;
    let response = chat(&client(), &sim, "x").await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").unwrap().contains("json"));
    assert_eq!(sim.stats().successes, 1);
}
