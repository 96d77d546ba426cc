//! `#[retry]` at run time: which errors it retries (`on` as a class, a list, `"any"`, a
//! path), and that `on = "any"` and `on = path` still honour the server's hint.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Fail, Opaque, bump, hinted_twice, ms};
use retry_core::{Class, retry};
use tokio::time::Instant;

// ---- Which errors are retried ------------------------------------------------------------

/// Fails with `class` until attempt `ok_on`, then returns the attempt number.
#[retry(on = "rate_limit", attempts = 4, initial = "10ms")]
async fn only_rate_limits(calls: &AtomicU32, class: Class, ok_on: u32) -> Result<u32, Fail> {
    let n = bump(calls);
    if n < ok_on {
        Err(Fail::new(class, n))
    } else {
        Ok(n)
    }
}

#[tokio::test(start_paused = true)]
async fn on_rate_limit_retries_rate_limits_only() {
    let calls = AtomicU32::new(0);
    assert_eq!(only_rate_limits(&calls, Class::RateLimited, 3).await, Ok(3));
    for class in Class::ALL {
        if class == Class::RateLimited {
            continue;
        }
        let calls = AtomicU32::new(0);
        let err = only_rate_limits(&calls, class, 3).await.unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1, "{class:?} was retried");
        assert_eq!(err, Fail::new(class, 1));
    }
}

#[retry(initial = "10ms")]
async fn default_on(calls: &AtomicU32, class: Class) -> Result<u32, Fail> {
    Err(Fail::new(class, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn by_default_every_transient_class_is_retried_and_permanent_is_not() {
    for class in Class::ALL {
        let calls = AtomicU32::new(0);
        let err = default_on(&calls, class).await.unwrap_err();
        let expected = if class == Class::Permanent { 1 } else { 5 };
        assert_eq!(calls.load(Ordering::Relaxed), expected, "{class:?}");
        // The error returned is the last one, unchanged.
        assert_eq!(err, Fail::new(class, expected));
    }
}

#[retry(on = ["rate_limit", "timeout"], attempts = 3, initial = "10ms")]
async fn listed(calls: &AtomicU32, class: Class) -> Result<(), Fail> {
    Err(Fail::new(class, bump(calls)))
}

#[retry(on = ["overloaded", "server_error", "connect"], attempts = 3, initial = "10ms")]
async fn listed_others(calls: &AtomicU32, class: Class) -> Result<(), Fail> {
    Err(Fail::new(class, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn on_a_list_retries_exactly_the_listed_classes() {
    for class in Class::ALL {
        let calls = AtomicU32::new(0);
        listed(&calls, class).await.unwrap_err();
        let retried = matches!(class, Class::RateLimited | Class::Timeout);
        assert_eq!(calls.load(Ordering::Relaxed), if retried { 3 } else { 1 });

        let calls = AtomicU32::new(0);
        listed_others(&calls, class).await.unwrap_err();
        let retried = matches!(
            class,
            Class::Overloaded | Class::ServerError | Class::Connect
        );
        assert_eq!(calls.load(Ordering::Relaxed), if retried { 3 } else { 1 });
    }
}

#[retry(on = "transient", attempts = 2, initial = "10ms")]
async fn transient(calls: &AtomicU32, class: Class) -> Result<(), Fail> {
    Err(Fail::new(class, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn on_transient_is_the_default_set() {
    for class in Class::ALL {
        let calls = AtomicU32::new(0);
        transient(&calls, class).await.unwrap_err();
        let expected = if class.is_transient() { 2 } else { 1 };
        assert_eq!(calls.load(Ordering::Relaxed), expected);
    }
}

fn odd(e: &Opaque) -> bool {
    e.0 % 2 == 1
}

#[retry(on = odd, attempts = 5, initial = "10ms")]
async fn predicate(calls: &AtomicU32, stop_at: u32) -> Result<(), Opaque> {
    let n = bump(calls);
    Err(Opaque(if n == stop_at { n * 2 } else { 1 }))
}

#[tokio::test(start_paused = true)]
async fn on_a_predicate_retries_what_it_says() {
    let calls = AtomicU32::new(0);
    assert_eq!(predicate(&calls, 3).await, Err(Opaque(6)));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    let calls = AtomicU32::new(0);
    assert_eq!(predicate(&calls, 99).await, Err(Opaque(1)));
    assert_eq!(calls.load(Ordering::Relaxed), 5);
}

#[retry(on = "any", attempts = 3, initial = "10ms")]
async fn any_opaque(calls: &AtomicU32) -> Result<u32, Opaque> {
    let n = bump(calls);
    if n < 3 { Err(Opaque(n)) } else { Ok(n) }
}

#[retry(on = "any", attempts = 3, initial = "10ms")]
async fn any_string(calls: &AtomicU32) -> Result<u32, String> {
    Err(format!("attempt {}", bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn on_any_needs_no_classify() {
    let calls = AtomicU32::new(0);
    assert_eq!(any_opaque(&calls).await, Ok(3));
    let calls = AtomicU32::new(0);
    assert_eq!(any_string(&calls).await, Err("attempt 3".to_owned()));
}

#[retry(on = "any", attempts = 3, initial = "10ms")]
async fn any_permanent(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::Permanent, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn on_any_retries_even_permanent_errors() {
    let calls = AtomicU32::new(0);
    any_permanent(&calls).await.unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

// ---- Hints under `on = "any"` and `on = path` --------------------------------------------

fn always(_: &Fail) -> bool {
    true
}

#[retry(on = "any", attempts = 3, initial = "10ms", jitter = "none")]
async fn any_hinted(calls: &AtomicU32) -> Result<u32, Fail> {
    let n = bump(calls);
    if n < 3 {
        Err(Fail::hinted(Class::Permanent, n, ms(1700)))
    } else {
        Ok(n)
    }
}

#[retry(on = always, attempts = 3, initial = "10ms", jitter = "none")]
async fn predicate_hinted(calls: &AtomicU32) -> Result<u32, Fail> {
    hinted_twice(bump(calls), ms(2300))
}

#[tokio::test(start_paused = true)]
async fn on_any_and_on_path_still_honour_retry_after() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(any_hinted(&calls).await, Ok(3));
    assert_eq!(start.elapsed(), ms(1700) * 2);

    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(predicate_hinted(&calls).await, Ok(3));
    assert_eq!(start.elapsed(), ms(2300) * 2);
}

/// Rate limited with a hint of 16 days, through `#[retry(on = ...)]`.
#[retry(on = "rate_limit", attempts = 4, initial = "10ms")]
async fn limited_for_days(calls: &AtomicU32) -> Result<u32, Fail> {
    let n = bump(calls);
    Err(Fail::hinted(
        Class::RateLimited,
        n,
        std::time::Duration::from_secs(16 * 86_400),
    ))
}

/// A hint longer than a day ends the call at once, through the macro too.
#[tokio::test(start_paused = true)]
async fn a_hint_of_days_ends_the_call_at_once() {
    let calls = AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    let err = limited_for_days(&calls).await.unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
    assert_eq!(err.hint, Some(std::time::Duration::from_secs(16 * 86_400)));
}
