//! [`RetryDetails`]: what hooks, events and metrics are told about a retry.

use std::time::Duration;

use crate::class::Class;

/// What happened, handed to an `on_retry` hook before each sleep.
///
/// ```
/// use retry_core::RetryDetails;
///
/// fn log_retry(details: &RetryDetails) {
///     eprintln!(
///         "{} failed (attempt {}, {:?}); retrying in {:?}",
///         details.function, details.attempt, details.class, details.delay
///     );
/// }
/// # let _ = log_retry;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryDetails {
    /// The retried function (`module::name` for `#[retry]`), or the name given to `retry_fn`.
    pub function: &'static str,
    /// The attempt that failed, 1 for the first.
    pub attempt: u32,
    /// How long the retry loop will sleep before the next attempt (zero when giving up).
    pub delay: Duration,
    /// Time since the call started.
    pub elapsed: Duration,
    /// The failure's class, where known.
    pub class: Option<Class>,
    /// The server's delay hint, if it gave one.
    pub hint: Option<Duration>,
}
