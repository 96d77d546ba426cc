//! The client a batch run uses: its rate limiter (the caps on top of the learning), its
//! circuit breaker (on: an outage stops the run), its retry policy.

use std::time::Duration;

use retry_core::middleware::{RateLimitMiddleware, RedisLimit};
use retry_core::{CircuitBreaker, Policy};

use super::Args;
use crate::{DEFAULT_POLICY, Together, TogetherBuilder};

/// The rate limiter for `args`: adaptive, capped at `--rpm` and `--tpm`. With `--rpm` the
/// learning starts at the cap (a limit you know is no reason to start slower).
pub fn rate_limiter(args: &Args) -> RateLimitMiddleware {
    let mut limiter = RateLimitMiddleware::builder();
    if let Some(rpm) = args.rpm {
        limiter = limiter.per_minute(rpm).initial_rate(f64::from(rpm) / 60.0);
    }
    if let Some(tpm) = args.tpm {
        limiter = limiter.tokens_per_minute(tpm);
    }
    limiter.build()
}

/// The circuit breaker of a batch run: it opens after `--outage-after` failures in a row, or
/// when every call of the last 10 s failed (at least `--outage-after` of them): a server
/// failing now and then is not down.
pub fn circuit_breaker(args: &Args) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(args.outage_after)
        .failure_percent(100)
        .min_calls(args.outage_after.max(20))
        .window(Duration::from_secs(10))
        .cool_off(Duration::from_secs(30))
        .build()
}

/// The client's retry policy: its default with `--attempts`.
pub fn policy(args: &Args) -> Policy {
    DEFAULT_POLICY.attempts(args.attempts)
}

/// The client: key and base URL from the environment, the [`rate_limiter`], the
/// [`circuit_breaker`] and the [`policy`], the limit shared through `--redis-url`. The error
/// says what was wrong, never quoting the key or a password.
pub fn client(args: &Args) -> Result<Together, String> {
    let mut builder = TogetherBuilder::from_env()
        .rate_limit(rate_limiter(args))
        .circuit_breaker(circuit_breaker(args))
        .policy(policy(args));
    if let Some(url) = &args.redis_url {
        RedisLimit::new(url).map_err(|e| {
            format!(
                "cannot use the Redis URL {} for the shared rate limit: {e}",
                shown_url(url)
            )
        })?;
        builder = builder.shared_rate_limit(url);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the Together client: {e}"))
}

/// What the server reports to one `GET /models`: its request rate (the requests a full
/// bucket lost over the time it takes to refill, else the bucket's size a second) and the
/// words to say so.
pub(crate) async fn reported_rate(
    client: &Together,
) -> Result<(Option<f64>, String), crate::Error> {
    let models = client.models().list().await?;
    let limits = models.rate_limits().effective();
    let reset = limits.reset.map(|r| r.as_secs_f64()).filter(|r| *r > 0.0);
    let rate = match (limits.limit, limits.remaining, reset) {
        (Some(limit), Some(remaining), Some(reset)) if limit > remaining => {
            Some((limit - remaining) as f64 / reset)
        }
        (Some(limit), _, _) if limit > 0 => Some(limit as f64),
        _ => None,
    };
    let how = match rate {
        Some(rate) => format!(
            "the server reports limit {:?}, remaining {:?}, reset {:?}: read as {rate:.1} requests/s",
            limits.limit, limits.remaining, limits.reset
        ),
        None => "the server reported no rate limit".to_owned(),
    };
    Ok((rate, how))
}

/// A Redis URL for a message: a password in it replaced.
pub(crate) fn shown_url(raw: &str) -> String {
    match reqwest::Url::parse(raw.trim()) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            url.to_string()
        }
        Err(_) if raw.contains('@') => "(a URL that does not parse)".to_owned(),
        Err(_) => format!("`{raw}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        let shown = shown_url("redis://:hunter2@example.com:6379/0");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("example.com"), "{shown}");
        assert!(!shown_url("redis//:hunter2@x").contains("hunter2"));
    }
}
