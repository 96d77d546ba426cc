//! The client's circuit breaker and retry budget (both off by default), on virtual time with an
//! in-process server: requests counted at the server, errors typed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::kit::client::{KEY, Scripted, chat_body, error_body, fast, respond};
use retry_core::BreakerState;
use retry_core::{CircuitBreaker, Class, Classify, RetryBudget};
use together_client::{ChatRequest, Error, Together};

fn request() -> ChatRequest {
    ChatRequest::new("m").user("u")
}

/// A server that answers 503 while `down`, else a chat completion.
fn flaky(down: &Arc<AtomicBool>) -> Scripted {
    let down = down.clone();
    Scripted::new(move |_| {
        if down.load(Ordering::Relaxed) {
            respond(503, &[], &error_body("overloaded", "server_error", None))
        } else {
            respond(200, &[], &chat_body("back"))
        }
    })
}

fn with(
    server: &Scripted,
    configure: impl FnOnce(together_client::TogetherBuilder) -> together_client::TogetherBuilder,
) -> Together {
    // `Scripted::client` builds the stack; rebuild it here with the settings under test.
    let stack = server.client(Vec::new(), fast(3)).http_client().clone();
    configure(
        Together::builder()
            .api_key(KEY)
            .base_url("http://127.0.0.1:9/v1")
            .policy(fast(3))
            .http_client(stack),
    )
    .build()
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_breaker_turns_an_outage_into_fast_typed_errors_and_a_probe_closes_it() {
    let down = Arc::new(AtomicBool::new(true));
    let server = flaky(&down);
    let client = with(&server, |b| {
        b.circuit_breaker(
            CircuitBreaker::builder()
                .consecutive_failures(4)
                .cool_off(Duration::from_secs(5)),
        )
    });

    let error = client.chat().create(request()).await.unwrap_err();
    assert!(matches!(error, Error::Overloaded(_)), "{error}");
    assert_eq!(server.requests(), 3);

    // The fourth failure opens it; the call's third attempt fails at once, typed.
    let error = client.chat().create(request()).await.unwrap_err();
    let Error::CircuitOpen(open) = &error else {
        panic!("expected CircuitOpen, got {error:?}")
    };
    assert!(open.retry_in() <= Duration::from_secs(5));
    assert_eq!(error.class(), Class::Permanent);
    assert!(
        error.to_string().contains("circuit breaker open"),
        "{error}"
    );
    assert_eq!(server.requests(), 4);

    // While open: no request, no wait.
    let started = tokio::time::Instant::now();
    for _ in 0..50 {
        assert!(matches!(
            client.chat().create(request()).await,
            Err(Error::CircuitOpen(_))
        ));
    }
    assert_eq!(server.requests(), 4);
    assert_eq!(started.elapsed(), Duration::ZERO);

    down.store(false, Ordering::Relaxed);
    tokio::time::advance(Duration::from_secs(5)).await;
    let answer = client.chat().create(request()).await.unwrap();
    assert_eq!(answer.text(), "back");
    assert_eq!(
        client.circuit_breaker().unwrap().state(),
        BreakerState::Closed
    );
    assert_eq!(server.requests(), 5);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_and_bad_requests_never_open_it() {
    let server = Scripted::new(|n| {
        if n % 2 == 0 {
            respond(
                429,
                &[("retry-after-ms", "1")],
                &error_body("slow down", "dynamic_request_limited", None),
            )
        } else {
            respond(400, &[], &error_body("bad", "invalid_request_error", None))
        }
    });
    let client = with(&server, |b| {
        b.circuit_breaker(CircuitBreaker::builder().consecutive_failures(1))
    });
    for _ in 0..10 {
        assert!(matches!(
            client.chat().create(request()).await,
            Err(Error::BadRequest(_))
        ));
    }
    assert_eq!(
        client.circuit_breaker().unwrap().state(),
        BreakerState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_retries_across_calls() {
    static BUDGET: RetryBudget = RetryBudget::new().percent(20).min_per_second(0);
    let down = Arc::new(AtomicBool::new(true));
    let server = flaky(&down);
    let client = with(&server, |b| b.retry_budget(&BUDGET));
    for _ in 0..20 {
        assert!(matches!(
            client.chat().create(request()).await,
            Err(Error::Overloaded(_))
        ));
    }
    // 20 calls, 3 attempts each without the budget (60); with it, 4 retries in all.
    assert_eq!(server.requests(), 24);
    assert_eq!(BUDGET.retries(), 4);
}

#[test]
fn both_show_in_debug_and_are_off_by_default() {
    let client = Together::builder().api_key("k").build().unwrap();
    assert!(client.circuit_breaker().is_none());
    assert!(client.policy().get_budget().is_none());
    let client = Together::builder()
        .api_key("k")
        .circuit_breaker(CircuitBreaker::new())
        .build()
        .unwrap();
    assert!(format!("{client:?}").contains("circuit_breaker: Some"));
}
