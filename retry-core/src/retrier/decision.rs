//! What a [`Retrier`](super::Retrier) decides after a failed attempt: [`Decision`], and
//! [`GiveUpReason`] when it stops.

use std::time::Duration;

/// The longest server hint any call waits for (one day): a longer one ends the call at once,
/// even with no deadline or with [`Policy::cap_hints`](crate::Policy::cap_hints).
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then make the next attempt.
    Retry(Duration),
    /// Stop and return the last error as it is.
    GiveUp(GiveUpReason),
}

/// Why a [`Retrier`](super::Retrier) gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The failure is not one the caller asked to retry.
    NotRetryable,
    /// Every attempt the policy allows has been made.
    AttemptsExhausted,
    /// The deadline of the whole call has passed.
    DeadlineExceeded,
    /// The server asked for a delay that ends past the deadline, or longer than a day whatever
    /// the deadline (a reset "in 16 days"): retrying would be in vain.
    HintBeyondDeadline,
    /// The policy's [`RetryBudget`](crate::RetryBudget) has no retry left: too many calls
    /// are failing at once for retries to help.
    BudgetExhausted,
}

impl GiveUpReason {
    /// The reason in `snake_case`, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::NotRetryable => "not_retryable",
            GiveUpReason::AttemptsExhausted => "attempts_exhausted",
            GiveUpReason::DeadlineExceeded => "deadline_exceeded",
            GiveUpReason::HintBeyondDeadline => "hint_beyond_deadline",
            GiveUpReason::BudgetExhausted => "budget_exhausted",
        }
    }
}
