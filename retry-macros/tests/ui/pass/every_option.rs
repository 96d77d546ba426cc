//! Every knob of the design, spelled as the design spells it.
use retry_core::{Class, Classify, Elapsed, RetryDetails, retry};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Debug)]
enum ApiError {
    Busy,
    TimedOut,
}

impl Classify for ApiError {
    fn class(&self) -> Class {
        match self {
            ApiError::Busy => Class::RateLimited,
            ApiError::TimedOut => Class::Timeout,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl From<Elapsed> for ApiError {
    fn from(_: Elapsed) -> Self {
        ApiError::TimedOut
    }
}

static HOOK_CALLS: AtomicU32 = AtomicU32::new(0);

fn log(details: &RetryDetails) {
    let _ = details.attempt;
    HOOK_CALLS.fetch_add(1, Ordering::Relaxed);
}

static CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    backoff = "exponential",
    on = "rate_limit",
    attempts = 5,
    initial = "500ms",
    max_delay = "30s",
    factor = 2.0,
    jitter = "full",
    deadline = "60s",
    attempt_timeout = "10s",
    on_retry = log,
    crate = retry_core,
)]
async fn fetch() -> Result<u32, ApiError> {
    if CALLS.fetch_add(1, Ordering::Relaxed) < 2 {
        return Err(ApiError::Busy);
    }
    Ok(7)
}

#[retry(backoff = "constant", jitter = "equal", initial = "1ms")]
async fn constant() -> Result<(), ApiError> {
    Ok(())
}

#[retry(backoff = "linear", jitter = "none", initial = "1.5s", max_delay = "1m")]
async fn linear() -> Result<(), ApiError> {
    Ok(())
}

#[retry(backoff = "fibonacci", on = "overloaded")]
async fn fibonacci() -> Result<(), ApiError> {
    Ok(())
}

#[retry(backoff = "decorrelated", on = "server_error")]
async fn decorrelated() -> Result<(), ApiError> {
    Ok(())
}

#[retry(on = "timeout")]
async fn timeout() -> Result<(), ApiError> {
    Ok(())
}

#[retry(on = "connect")]
async fn connect() -> Result<(), ApiError> {
    Ok(())
}

#[retry(on = "transient")]
async fn transient() -> Result<(), ApiError> {
    Ok(())
}

#[retry(on = "any")]
async fn any() -> Result<(), ApiError> {
    Ok(())
}

#[retry]
async fn defaults() -> Result<(), ApiError> {
    Ok(())
}

#[retry()]
async fn empty_parentheses() -> Result<(), ApiError> {
    Ok(())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(fetch().await.unwrap(), 7);
    assert_eq!(CALLS.load(Ordering::Relaxed), 3);
    assert_eq!(HOOK_CALLS.load(Ordering::Relaxed), 2);
    constant().await.unwrap();
    linear().await.unwrap();
    fibonacci().await.unwrap();
    decorrelated().await.unwrap();
    timeout().await.unwrap();
    connect().await.unwrap();
    transient().await.unwrap();
    any().await.unwrap();
    defaults().await.unwrap();
    empty_parentheses().await.unwrap();
}
