//! Tracing events and metrics, emitted only on failures so the success path stays free.

use crate::details::RetryDetails;
use crate::retrier::GiveUpReason;

/// The `class` label of a failure whose class is unknown (a predicate decided).
const UNKNOWN: &str = "unknown";

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn retrying(details: &RetryDetails) {
    let class = details.class.map_or(UNKNOWN, |c| c.as_str());
    tracing::info!(
        target: "retry",
        function = details.function,
        attempt = details.attempt,
        delay_ms = millis(details.delay),
        class,
        hint_ms = details.hint.map(millis),
        "retrying"
    );
    metrics::counter!("retry_attempts_total", "function" => details.function, "class" => class)
        .increment(1);
}

pub(crate) fn giving_up(details: &RetryDetails, reason: GiveUpReason) {
    let class = details.class.map_or(UNKNOWN, |c| c.as_str());
    // A permanent error is the caller's business, not an incident of the retry loop.
    if reason == GiveUpReason::NotRetryable {
        tracing::debug!(
            target: "retry",
            function = details.function,
            attempt = details.attempt,
            class,
            reason = reason.as_str(),
            "not retrying"
        );
    } else {
        tracing::warn!(
            target: "retry",
            function = details.function,
            attempt = details.attempt,
            elapsed_ms = millis(details.elapsed),
            class,
            hint_ms = details.hint.map(millis),
            reason = reason.as_str(),
            "giving up"
        );
    }
    // A call that failed permanently on its first attempt never entered the retry loop.
    if reason != GiveUpReason::NotRetryable || details.attempt > 1 {
        metrics::counter!("retry_giveups_total", "function" => details.function, "class" => class)
            .increment(1);
    }
}
