//! The closure front end: `retry_fn` and `retry_fn_named`, with a `RetryOn` set or a predicate,
//! on a paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::{Fail, bump, hinted_twice, ms};
use retry_core::{Class, Jitter, Policy, RetryOn, retry_fn, retry_fn_named};
use tokio::time::Instant;

fn fast(attempts: u32) -> Policy {
    Policy::constant()
        .attempts(attempts)
        .initial(ms(100))
        .jitter(Jitter::None)
}

#[tokio::test(start_paused = true)]
async fn retries_the_classes_in_the_set_until_success() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result = retry_fn(fast(5), RetryOn::CONNECT.with(RetryOn::TIMEOUT), || async {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        match n {
            1 => Err(Fail::new(Class::Connect, n)),
            2 => Err(Fail::new(Class::Timeout, n)),
            _ => Ok(n * 10),
        }
    })
    .await;
    assert_eq!(result, Ok(30));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(start.elapsed(), ms(200));
}

#[tokio::test(start_paused = true)]
async fn does_not_retry_classes_outside_the_set() {
    for class in Class::ALL {
        let calls = AtomicU32::new(0);
        let result: Result<(), Fail> = retry_fn(fast(4), RetryOn::RATE_LIMIT, || async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Err(Fail::new(class, n))
        })
        .await;
        let expected = if class == Class::RateLimited { 4 } else { 1 };
        assert_eq!(calls.load(Ordering::Relaxed), expected, "{class:?}");
        // The last error, unchanged.
        assert_eq!(result, Err(Fail::new(class, expected)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_predicate_needs_no_classify() {
    #[derive(Debug, PartialEq)]
    struct Code(u16);

    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result = retry_fn(
        fast(10),
        |e: &Code| e.0 >= 500,
        || async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Err::<(), _>(Code(if n < 3 { 503 } else { 404 }))
        },
    )
    .await;
    assert_eq!(result, Err(Code(404)));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(start.elapsed(), ms(200));
}

/// Rate limited with a 1.2 s hint on the first two calls, then `Ok` with the call's number.
async fn hinted_1200ms(calls: &AtomicU32) -> Result<u32, Fail> {
    hinted_twice(bump(calls), ms(1200))
}

#[tokio::test(start_paused = true)]
async fn a_hint_replaces_the_delay_with_a_set_but_not_with_a_predicate() {
    // With a set, the error is classified, hint included.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result = retry_fn(fast(3), RetryOn::RATE_LIMIT, || hinted_1200ms(&calls)).await;
    assert_eq!(result, Ok(3));
    assert_eq!(start.elapsed(), ms(2400));

    // A predicate says only whether to retry: the computed delay is used.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result = retry_fn(fast(3), |_: &Fail| true, || hinted_1200ms(&calls)).await;
    assert_eq!(result, Ok(3));
    assert_eq!(start.elapsed(), ms(200));
}

#[tokio::test(start_paused = true)]
async fn makes_at_most_the_attempts_of_the_policy() {
    for attempts in [0, 1, 2, 7] {
        let calls = AtomicU32::new(0);
        let result: Result<(), Fail> = retry_fn(fast(attempts), RetryOn::ALL, || async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Err(Fail::new(Class::Permanent, n))
        })
        .await;
        let expected = attempts.max(1);
        assert_eq!(calls.load(Ordering::Relaxed), expected);
        assert_eq!(result.unwrap_err().attempt, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn a_success_at_once_does_not_sleep() {
    let start = Instant::now();
    let result = retry_fn(Policy::default(), RetryOn::TRANSIENT, || async {
        Ok::<_, Fail>("done")
    })
    .await;
    assert_eq!(result, Ok("done"));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn std_io_errors_work_with_the_set() {
    let calls = AtomicU32::new(0);
    let result = retry_fn(fast(3), RetryOn::CONNECT, || async {
        if calls.fetch_add(1, Ordering::Relaxed) == 0 {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        } else {
            Ok(())
        }
    })
    .await;
    result.unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn the_closure_may_borrow_and_mutate_its_environment() {
    let mut log = Vec::new();
    let result: Result<(), Fail> = retry_fn(fast(3), RetryOn::TRANSIENT, || {
        log.push(log.len());
        let n = log.len() as u32;
        async move { Err(Fail::new(Class::ServerError, n)) }
    })
    .await;
    assert_eq!(result.unwrap_err().attempt, 3);
    assert_eq!(log, [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn retry_fn_named_behaves_like_retry_fn() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result = retry_fn_named("jobs::sync", fast(4), RetryOn::OVERLOADED, || async {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n < 4 {
            Err(Fail::new(Class::Overloaded, n))
        } else {
            Ok(n)
        }
    })
    .await;
    assert_eq!(result, Ok(4));
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_future_is_send_when_the_attempts_are() {
    let task = tokio::spawn(retry_fn(
        Policy::constant().initial(ms(1)).attempts(3),
        RetryOn::TRANSIENT,
        || async {
            tokio::task::yield_now().await;
            Ok::<_, Fail>(7)
        },
    ));
    assert_eq!(task.await.unwrap(), Ok(7));
}

/// A hint longer than a day ends the call at once with the error that carries it, whatever
/// the deadline: with none, with a week, and with hints capped at `max_delay`.
#[tokio::test(start_paused = true)]
async fn a_hint_longer_than_a_day_ends_the_call_at_once() {
    let sixteen_days = Duration::from_secs(16 * 86_400);
    let week = Duration::from_secs(7 * 86_400);
    for policy in [
        fast(5).no_deadline(),
        fast(5).deadline(week * 4),
        fast(5).deadline(week * 4).cap_hints(true),
    ] {
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let result: Result<(), Fail> = retry_fn(policy, RetryOn::TRANSIENT, || async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Err(Fail::hinted(Class::RateLimited, n, sixteen_days))
        })
        .await;
        assert_eq!(calls.load(Ordering::Relaxed), 1, "{policy:?}");
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(
            result,
            Err(Fail::hinted(Class::RateLimited, 1, sixteen_days))
        );
    }
    // A day exactly is still waited for, with a deadline that allows it.
    let calls = AtomicU32::new(0);
    let day = Duration::from_secs(86_400);
    let result: Result<(), Fail> = retry_fn(fast(2).deadline(week), RetryOn::TRANSIENT, || async {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        Err(Fail::hinted(Class::RateLimited, n, day))
    })
    .await;
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert!(result.is_err());
}
