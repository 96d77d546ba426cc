//! `CircuitBreaker` on its own (each transition, on a paused clock) and as
//! `CircuitBreakerMiddleware` under `RetryMiddleware` (requests counted at the server).

use std::time::Duration;

use retry_core::BreakerState;
use retry_core::CircuitBreaker;

fn fail_n(breaker: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        breaker.permit().expect("closed").failure();
    }
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_it_and_a_success_resets_the_count() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .failure_percent(101)
        .cool_off(Duration::from_secs(4))
        .build();
    fail_n(&breaker, 2);
    breaker.permit().unwrap().success();
    fail_n(&breaker, 2);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "the success broke the run"
    );
    fail_n(&breaker, 1);
    let open = breaker.permit().unwrap_err();
    assert_eq!(open.retry_in(), Duration::from_secs(4));
    assert!(!open.is_probing());
    assert!(open.to_string().contains("4.0 s"), "{open}");
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(
        breaker.permit().unwrap_err().retry_in(),
        Duration::from_secs(1)
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn a_failure_ratio_opens_it_even_between_successes() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(100)
        .failure_percent(50)
        .min_calls(10)
        .build();
    for _ in 0..4 {
        fail_n(&breaker, 1);
        breaker.permit().unwrap().success();
    }
    fail_n(&breaker, 1);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "9 calls: below min_calls"
    );
    breaker.permit().unwrap().success();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "5 of 10 is only counted on a failure"
    );
    fail_n(&breaker, 1);
    assert!(
        matches!(breaker.state(), BreakerState::Open { .. }),
        "6 of 11 failed"
    );
}

#[tokio::test(start_paused = true)]
async fn old_failures_leave_the_window() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(100)
        .min_calls(4)
        .window(Duration::from_secs(10))
        .build();
    fail_n(&breaker, 3);
    tokio::time::advance(Duration::from_secs(11)).await;
    for _ in 0..3 {
        breaker.permit().unwrap().success();
    }
    fail_n(&breaker, 1);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "1 failure in 4 calls"
    );
}

/// A breaker that one failure opened for 1 s, the second after: half-open.
async fn half_open() -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .cool_off(Duration::from_secs(1))
        .build();
    fail_n(&breaker, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    breaker
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_exactly_one_probe_and_it_decides() {
    let breaker = half_open().await;

    let probe = breaker.permit().unwrap();
    assert!(probe.is_probe());
    for _ in 0..10 {
        let refused = breaker.permit().unwrap_err();
        assert!(refused.is_probing());
        assert_eq!(refused.retry_in(), Duration::ZERO);
    }
    probe.failure();
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            retry_in: Duration::from_secs(1)
        },
        "a failed probe starts another cool-off"
    );

    tokio::time::advance(Duration::from_secs(1)).await;
    let probe = breaker.permit().unwrap();
    assert!(probe.is_probe());
    probe.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
    let next = breaker.permit().unwrap();
    assert!(!next.is_probe());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_hands_the_probe_on() {
    let breaker = half_open().await;
    let probe = breaker.permit().unwrap();
    drop(probe);
    let second = breaker.permit().expect("the place is free again");
    assert!(second.is_probe());
    second.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn calls_in_flight_when_it_opened_do_not_decide() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .cool_off(Duration::from_secs(1))
        .build();
    let late_success = breaker.permit().unwrap();
    let late_failure = breaker.permit().unwrap();
    fail_n(&breaker, 2);
    tokio::time::advance(Duration::from_secs(1)).await;
    let probe = breaker.permit().unwrap();
    late_success.success();
    late_failure.failure();
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen,
        "only the probe decides"
    );
    probe.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test]
async fn clones_share_one_state_across_threads() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1000)
        .failure_percent(101)
        .build();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let breaker = breaker.clone();
            std::thread::spawn(move || fail_n(&breaker, 125))
        })
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
}

#[cfg(feature = "reqwest")]
mod middleware {
    use super::*;
    use crate::support::sim::{Scripted, respond};
    use retry_core::middleware::{CircuitBreakerMiddleware, RetryMiddleware};
    use retry_core::{Jitter, Policy};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use test_kit::Counter;

    fn client(
        breaker: &CircuitBreakerMiddleware,
        server: Scripted,
        counter: &Counter,
    ) -> reqwest_middleware::ClientWithMiddleware {
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RetryMiddleware::new(
                Policy::constant()
                    .attempts(3)
                    .initial(Duration::from_millis(100))
                    .jitter(Jitter::None),
            ))
            .with(breaker.clone())
            .with(counter.clone())
            .with(server)
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_turns_into_fast_typed_errors_then_a_probe_recovers() {
        let down = Arc::new(AtomicBool::new(true));
        let server = Scripted::new({
            let down = down.clone();
            move |_| {
                respond(
                    if down.load(Ordering::Relaxed) {
                        503
                    } else {
                        200
                    },
                    &[],
                )
            }
        });
        let counter = Counter::default();
        let breaker = CircuitBreakerMiddleware::new(
            CircuitBreaker::builder()
                .consecutive_failures(5)
                .cool_off(Duration::from_secs(10)),
        );
        let client = client(&breaker, server, &counter);
        let url = "http://api.test/v1/models";

        // 3 attempts, all 503: given up with the last response.
        let first = client.get(url).send().await.unwrap();
        assert_eq!(first.status(), 503);
        assert_eq!(counter.get(), 3);

        // 2 more failures open the breaker; the third attempt fails fast and is not retried.
        let started = tokio::time::Instant::now();
        let error = client.get(url).send().await.unwrap_err();
        let open = CircuitBreakerMiddleware::open_error(&error).expect("a CircuitOpen");
        // It opened at the second attempt's answer; the retry slept 100 ms since.
        assert_eq!(open.retry_in(), Duration::from_millis(9_900));
        assert_eq!(
            counter.get(),
            5,
            "the third attempt never reached the server"
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(204),
            "2 attempts, one sleep"
        );

        // While open: no request at all, no sleep.
        let started = tokio::time::Instant::now();
        for _ in 0..100 {
            assert!(client.get(url).send().await.is_err());
        }
        assert_eq!(counter.get(), 5);
        assert_eq!(started.elapsed(), Duration::ZERO);

        // The server recovers; after the cool-off one probe closes the breaker.
        down.store(false, Ordering::Relaxed);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(client.get(url).send().await.unwrap().status(), 200);
        assert_eq!(
            breaker.breaker(&url.parse().unwrap()).state(),
            BreakerState::Closed
        );
        assert_eq!(counter.get(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_and_client_errors_do_not_trip_it_and_hosts_are_apart() {
        let server = Scripted::new(|n| match n % 3 {
            0 => respond(429, &[("retry-after-ms", "1")]),
            1 => respond(404, &[]),
            _ => respond(501, &[]),
        });
        let counter = Counter::default();
        let breaker =
            CircuitBreakerMiddleware::new(CircuitBreaker::builder().consecutive_failures(1));
        let client = client(&breaker, server, &counter);
        for _ in 0..30 {
            let _ = client.get("http://a.test/").send().await.unwrap();
        }
        assert_eq!(
            breaker.breaker(&"http://a.test/".parse().unwrap()).state(),
            BreakerState::Closed
        );

        let failing = Scripted::new(|_| respond(500, &[]));
        let client_b = self::client(&breaker, failing, &counter);
        let _ = client_b.get("http://b.test/").send().await;
        assert!(matches!(
            breaker.breaker(&"http://b.test/".parse().unwrap()).state(),
            BreakerState::Open { .. }
        ));
        assert_eq!(
            breaker.breaker(&"http://a.test/".parse().unwrap()).state(),
            BreakerState::Closed,
            "one breaker per host"
        );
    }
}
