//! [`Failure`]: what one failed attempt tells the retry decision (retryable or not, its
//! class, the server's hint, how long it waited in a client-side limiter).

use std::time::Duration;

use crate::class::{Class, Classify, RetryOn};
use crate::setters::setters;

/// What went wrong with one attempt, as far as the retry decision is concerned.
///
/// ```
/// use std::time::Duration;
/// use retry_core::{Class, Failure, RetryOn};
///
/// let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
/// let failure = Failure::classify(&io, RetryOn::TRANSIENT);
/// assert!(failure.is_retryable());
/// assert_eq!(failure.class(), Some(Class::Connect));
///
/// let custom = Failure::new(true).with_hint(Some(Duration::from_secs(1)));
/// assert_eq!(custom.hint(), Some(Duration::from_secs(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    // Read by the retrier's decision directly (`super`).
    pub(super) retryable: bool,
    pub(super) class: Option<Class>,
    pub(super) hint: Option<Duration>,
    pub(super) held: bool,
    pub(super) limiter_wait: Duration,
}

impl Failure {
    /// A failure that is (or is not) worth retrying, of no known class and with no hint.
    pub const fn new(retryable: bool) -> Self {
        Failure {
            retryable,
            class: None,
            hint: None,
            held: false,
            limiter_wait: Duration::ZERO,
        }
    }

    /// Classifies `error` and retries it if its class is in `on`; keeps its server hint.
    pub fn classify<E: Classify + ?Sized>(error: &E, on: RetryOn) -> Self {
        let class = error.class();
        Failure {
            retryable: on.contains(class),
            class: Some(class),
            hint: error.retry_after(),
            held: class == Class::RateLimited && error.held_by_limiter(),
            limiter_wait: error.limiter_wait(),
        }
    }

    /// An attempt that ran past the policy's `attempt_timeout`.
    pub const fn timed_out(on: RetryOn) -> Self {
        Failure {
            retryable: on.contains(Class::Timeout),
            class: Some(Class::Timeout),
            hint: None,
            held: false,
            limiter_wait: Duration::ZERO,
        }
    }

    setters! {
        /// Sets the class, for events and metrics.
        with_class(class: Option<Class>) => class;
        /// Sets the server's delay hint, which replaces the computed backoff.
        with_hint(hint: Option<Duration>) => hint;
        /// Marks a 429 that a rate limiter below the retry loop answered by holding the call's
        /// place ([`Classify::held_by_limiter`]): retrying it costs no attempt, since the
        /// limiter, not the server, decides when it goes again. Such retries are bounded by the
        /// deadline and the retry budget; `attempts` still bounds every other failure.
        held_by_limiter(held: bool) => held;
        /// Sets how long the failed attempt waited for its turn in a client-side rate limiter
        /// before it was sent ([`Classify::limiter_wait`]): on a call's first attempt, the
        /// deadline does not count it.
        with_limiter_wait(wait: Duration) => limiter_wait;
    }

    /// Whether the caller wants this failure retried.
    pub const fn is_retryable(&self) -> bool {
        self.retryable
    }
    /// The failure's class, where known.
    pub const fn class(&self) -> Option<Class> {
        self.class
    }
    /// The server's delay hint, if any.
    pub const fn hint(&self) -> Option<Duration> {
        self.hint
    }
    /// Whether a rate limiter below holds the call (see [`held_by_limiter`](Self::held_by_limiter)).
    pub const fn is_held_by_limiter(&self) -> bool {
        self.held
    }
    /// How long the failed attempt waited for its turn in a rate limiter
    /// (see [`with_limiter_wait`](Self::with_limiter_wait)).
    pub const fn limiter_wait(&self) -> Duration {
        self.limiter_wait
    }
}
