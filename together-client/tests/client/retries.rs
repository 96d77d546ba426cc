//! One retry budget per call, and no double waiting.
//!
//! The client's stack holds a `RateLimitMiddleware` and no retry layer; the typed call is the
//! only retry loop, so a call makes at most `attempts` requests (never `attempts²`). When the
//! limiter already holds the host after a 429, the typed retry re-queues at once and the
//! limiter alone does the waiting. The timing tests run an in-process server on virtual time.

use std::sync::Arc;
use std::time::Duration;

use crate::kit::client::{
    Scripted, chat_body, client, error_body, fast, on_chat, respond, throttled_once,
};
use reqwest_middleware::Middleware;
use retry_core::middleware::RateLimitMiddleware;
use retry_core::{Class, Classify, Jitter, Policy};
use together_client::{ChatRequest, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn request() -> ChatRequest {
    ChatRequest::new("m").user("u")
}

#[tokio::test]
async fn a_call_makes_at_most_attempts_requests() {
    for (status, kind) in [
        (503, "server_error"),
        (500, "server_error"),
        (429, "dynamic_request_limited"),
    ] {
        let server = MockServer::start().await;
        on_chat()
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("retry-after-ms", "1")
                    .set_body_json(error_body("no", kind, None)),
            )
            .mount(&server)
            .await;
        // A 429 that the client's limiter holds costs no attempt: only the deadline ends those.
        let policy = fast(3).deadline(Duration::from_millis(500));
        let client = crate::kit::client::builder(&server)
            .policy(policy)
            .build()
            .unwrap();
        let error = client.chat().create(request()).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        let sent = server.received_requests().await.unwrap().len();
        if status == 429 {
            assert!(sent > 3, "{status}: {sent} requests, held 429s are free");
        } else {
            assert_eq!(sent, 3, "{status}: {sent} requests for 3 attempts");
        }
    }
}

#[tokio::test]
async fn one_attempt_is_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let client = crate::kit::client::builder(&server)
        .policy(fast(1))
        .build()
        .unwrap();
    assert!(matches!(
        client.models().list().await,
        Err(Error::Overloaded(_))
    ));
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    // Nothing listens on the port: every attempt fails to connect, and each is one request.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = together_client::Together::builder()
        .api_key(crate::kit::client::KEY)
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .policy(fast(2))
        .build()
        .unwrap();
    let error = client.chat().create(request()).await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!(error.class(), Class::Connect);
}

/// A policy whose own backoff is long (2 s), so any retry that comes sooner was not slept.
const SLOW_BACKOFF: Policy = Policy::constant()
    .attempts(3)
    .initial(Duration::from_secs(2))
    .jitter(Jitter::None);

/// 429 once (with `headers`), then 200.
/// The time between a 429 with `headers` and the retry that succeeds, through a client with
/// the `layers` given (and the slow backoff).
async fn gap_after_a_429(
    headers: &'static [(&'static str, &'static str)],
    layers: Vec<Arc<dyn Middleware>>,
) -> Duration {
    let server = Scripted::new(move |n| match n {
        0 => respond(
            429,
            headers,
            &error_body("slow down", "dynamic_request_limited", None),
        ),
        _ => respond(200, &[], &chat_body("ok")),
    });
    let client = server.client(layers, SLOW_BACKOFF);
    assert_eq!(client.chat().create(request()).await.unwrap().text(), "ok");
    let arrivals = server.arrivals();
    arrivals[1] - arrivals[0]
}

#[tokio::test(start_paused = true)]
async fn without_a_limiter_the_retry_sleeps_the_servers_hint() {
    let gap = gap_after_a_429(&[("retry-after", "1")], vec![]).await;
    assert!(
        (Duration::from_secs(1)..Duration::from_millis(1100)).contains(&gap),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn under_the_limiter_a_precise_hint_is_waited_once() {
    // The limiter holds the host for the whole 800 ms; the typed retry does not add its own.
    let limiter = Arc::new(RateLimitMiddleware::default());
    let gap = gap_after_a_429(&[("retry-after-ms", "800")], vec![limiter]).await;
    assert!(
        (Duration::from_millis(800)..Duration::from_millis(900)).contains(&gap),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn under_the_limiter_a_coarse_or_missing_hint_does_not_stall_the_retry() {
    // `Retry-After: 1` only says "within a second", and a bare 429 says nothing: the limiter
    // holds the host briefly and paces; sleeping the hint or the 2 s backoff on top of that
    // would be the double wait.
    for headers in [&[("retry-after", "1")][..], &[][..]] {
        let limiter = Arc::new(RateLimitMiddleware::default());
        let gap = gap_after_a_429(headers, vec![limiter]).await;
        assert!(gap < Duration::from_millis(500), "{headers:?}: {gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_held_429_asks_for_no_sleep_and_costs_no_attempt() {
    let server = Scripted::new(|_| {
        respond(
            429,
            &[("retry-after-ms", "300")],
            &error_body("slow down", "dynamic_request_limited", None),
        )
    });
    let limiter = RateLimitMiddleware::default();
    let policy = fast(4).deadline(Duration::from_secs(3));
    let client = server.client(vec![Arc::new(limiter)], policy);
    let error = client.chat().create(request()).await.unwrap_err();
    // More than the 4 attempts: the deadline, not the attempts, ended the held retries.
    assert!(server.requests() > 4, "{}", server.requests());
    let api = error.api().unwrap();
    assert!(api.held_by_limiter, "{api:?}");
    assert_eq!(api.retry_after, Some(Duration::from_millis(300)));
    assert_eq!(error.retry_after(), Some(Duration::ZERO));
    assert_eq!(error.class(), Class::RateLimited);
    // And the limiter spaced the attempts by its cooldown, not faster.
    let arrivals = server.arrivals();
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(300),
            "{arrivals:?}"
        );
    }
}

/// A retry whose turn in the limiter comes after the call's deadline (a quota of one request
/// every 15 s, a 5 s deadline) is not sent: the call ends at its deadline with the 429 it met,
/// and books no second request. A new call's first attempt waits as long and is answered.
#[tokio::test(start_paused = true)]
async fn a_retry_waits_for_its_turn_no_longer_than_the_calls_deadline() {
    let server = Scripted::new(|n| {
        if n == 0 {
            respond(
                429,
                &[("retry-after", "1")],
                &error_body("slow down", "dynamic_request_limited", None),
            )
        } else {
            respond(200, &[], &chat_body("ok"))
        }
    });
    let limiter = RateLimitMiddleware::per_minute(4);
    let policy = fast(4).deadline(Duration::from_secs(5));
    let client = server.client(vec![Arc::new(limiter)], policy);
    let started = tokio::time::Instant::now();
    let error = client.chat().create(request()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_millis(5_100),
        "{took:?}"
    );
    assert_eq!(error.class(), Class::RateLimited, "{error:?}");
    assert_eq!(server.requests(), 1, "the retry was never sent");
    assert_eq!(client.usage().total().requests, 1);

    let answer = client.chat().create(request()).await.unwrap();
    assert_eq!(answer.text(), "ok");
    assert!(started.elapsed() >= Duration::from_secs(15));
}

#[tokio::test]
async fn the_default_stack_retries_a_429_then_succeeds() {
    let server = MockServer::start().await;
    throttled_once("20").mount(&server).await;
    on_chat()
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("ok")))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.chat().create(request()).await.unwrap().text(), "ok");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

async fn slow_server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    on_chat()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(format!(
                    "{}{}",
                    crate::kit::client::sse_chunk("late"),
                    crate::kit::client::SSE_DONE
                ))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn timeouts_are_retried_within_the_budget() {
    let server = slow_server(Duration::from_millis(400)).await;
    // The client's timeout: a reqwest timeout for a plain request, a first-chunk timeout for
    // a stream; either way a timeout class, retried, one request per attempt.
    let client = crate::kit::client::builder(&server)
        .policy(fast(2))
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let plain = client.chat().create(request()).await.unwrap_err();
    assert_eq!(plain.class(), Class::Timeout, "{plain:?}");
    let streamed = client.chat().stream(request()).await.unwrap_err();
    assert!(matches!(streamed, Error::Timeout(None)), "{streamed:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    // The policy's own `attempt_timeout` works through `From<Elapsed>`.
    let server = slow_server(Duration::from_millis(400)).await;
    let client = crate::kit::client::builder(&server)
        .policy(fast(2).attempt_timeout(Duration::from_millis(50)))
        .build()
        .unwrap();
    let error = client.chat().create(request()).await.unwrap_err();
    assert!(matches!(error, Error::Timeout(None)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
