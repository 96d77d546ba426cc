//! `#[retry]` on your own function: a flaky "API" that is rate limited, then overloaded, then
//! answers. Runs offline in about a second and prints every retry as it happens.
//!
//! Run: `cargo run --example macro`

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use retry_core::{Class, Classify, RetryDetails, retry};

/// The errors of our pretend API, as a real client would type them.
#[derive(Debug)]
enum ApiError {
    /// HTTP 429, with the server's `Retry-After`.
    RateLimited { retry_after: Duration },
    /// HTTP 503.
    Overloaded,
    /// HTTP 400: retrying would not help.
    BadRequest(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::RateLimited { retry_after } => {
                write!(f, "429 rate limited, retry after {retry_after:?}")
            }
            ApiError::Overloaded => f.write_str("503 overloaded"),
            ApiError::BadRequest(why) => write!(f, "400 bad request: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// What lets `#[retry]` tell a rate limit from a bad request, and obey the server's hint.
impl Classify for ApiError {
    fn class(&self) -> Class {
        match self {
            ApiError::RateLimited { .. } => Class::RateLimited,
            ApiError::Overloaded => Class::Overloaded,
            ApiError::BadRequest(_) => Class::Permanent,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// The pretend API: 429 twice, 503 once, then an answer.
async fn call_api(prompt: &str) -> Result<String, ApiError> {
    tokio::time::sleep(Duration::from_millis(20)).await; // the network
    match CALLS.fetch_add(1, Ordering::Relaxed) {
        0 | 1 => Err(ApiError::RateLimited {
            retry_after: Duration::from_millis(250),
        }),
        2 => Err(ApiError::Overloaded),
        _ if prompt.is_empty() => Err(ApiError::BadRequest("empty prompt".into())),
        _ => Ok(format!("a summary of {prompt:?}")),
    }
}

fn report(details: &RetryDetails) {
    println!(
        "  attempt {} failed ({}), hint {:?}: retrying in {:?}",
        details.attempt,
        details.class.map_or("unknown", |c| c.as_str()),
        details.hint,
        details.delay,
    );
}

/// Retries rate limits and overloads, not bad requests: 429s wait as long as the server says,
/// 503s back off exponentially from 100 ms.
#[retry(
    backoff = "exponential",
    on = ["rate_limit", "overloaded"],
    attempts = 5,
    initial = "100ms",
    deadline = "10s",
    on_retry = report
)]
async fn summarize(prompt: &str) -> Result<String, ApiError> {
    let answer = call_api(prompt).await?;
    Ok(answer.to_uppercase())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("summarize(\"retries done right\"):");
    let started = Instant::now();
    match summarize("retries done right").await {
        Ok(answer) => println!(
            "-> {answer} after {} calls in {:.2?}",
            CALLS.load(Ordering::Relaxed),
            started.elapsed()
        ),
        Err(error) => println!("-> failed: {error}"),
    }

    println!("\nsummarize(\"\"): a bad request is not retried:");
    let before = CALLS.load(Ordering::Relaxed);
    match summarize("").await {
        Ok(answer) => println!("-> unexpected success: {answer}"),
        Err(error) => println!(
            "-> {error} after {} call",
            CALLS.load(Ordering::Relaxed) - before
        ),
    }
}
