//! What kind of failure an error is, and which kinds a caller wants retried.

use std::fmt;
use std::time::Duration;

/// The kind of failure an error represents, as far as retrying is concerned.
///
/// Every front end (the `#[retry]` attribute, [`retry_fn`](fn@crate::retry_fn), the reqwest
/// middleware) asks the error for its class through [`Classify`] and retries only the classes
/// the caller chose with [`RetryOn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The server said "too many requests" (HTTP 429). Retry after its hint.
    RateLimited,
    /// The server is out of capacity (HTTP 503, 529). Retry after a pause.
    Overloaded,
    /// The server failed (HTTP 500, 502 and most other 5xx). Often transient.
    ServerError,
    /// The request or an attempt took too long (HTTP 408, 504, 524, an I/O timeout).
    Timeout,
    /// The connection could not be made or was cut (refused, reset, aborted).
    Connect,
    /// Retrying will not help (bad request, auth, not found, a bug).
    Permanent,
}

impl Class {
    /// Every class, in declaration order.
    pub const ALL: [Class; 6] = [
        Class::RateLimited,
        Class::Overloaded,
        Class::ServerError,
        Class::Timeout,
        Class::Connect,
        Class::Permanent,
    ];

    /// The class in `snake_case`, as used in metrics labels, tracing fields and `#[retry(on)]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::RateLimited => "rate_limit",
            Class::Overloaded => "overloaded",
            Class::ServerError => "server_error",
            Class::Timeout => "timeout",
            Class::Connect => "connect",
            Class::Permanent => "permanent",
        }
    }

    /// `true` for every class but [`Class::Permanent`].
    pub const fn is_transient(self) -> bool {
        !matches!(self, Class::Permanent)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tells a retry loop what kind of failure an error is and whether the server asked for a delay.
///
/// Implemented for [`std::io::Error`], [`http::StatusCode`], `reqwest::Error` and
/// `reqwest_middleware::Error` (feature `reqwest`), and `anyhow::Error` (feature `anyhow`).
/// Implement it for your own error type to use `#[retry(on = "rate_limit")]` and friends:
///
/// ```
/// use std::time::Duration;
/// use retry_core::{Class, Classify};
///
/// enum ApiError {
///     Busy { retry_after: Option<Duration> },
///     BadInput(String),
/// }
///
/// impl Classify for ApiError {
///     fn class(&self) -> Class {
///         match self {
///             ApiError::Busy { .. } => Class::RateLimited,
///             ApiError::BadInput(_) => Class::Permanent,
///         }
///     }
///
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             ApiError::Busy { retry_after } => *retry_after,
///             ApiError::BadInput(_) => None,
///         }
///     }
/// }
///
/// let busy = ApiError::Busy { retry_after: Some(Duration::from_millis(250)) };
/// assert_eq!(busy.class(), Class::RateLimited);
/// assert_eq!(busy.retry_after(), Some(Duration::from_millis(250)));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `retry_core::Classify`, so `#[retry]` cannot tell a rate limit from a permanent error",
    label = "this error type needs `retry_core::Classify`",
    note = "implement `retry_core::Classify` for `{Self}`, or write `#[retry(on = \"any\")]` or `#[retry(on = path::to::predicate)]`, which need no classification"
)]
pub trait Classify {
    /// The kind of failure this is.
    fn class(&self) -> Class;

    /// How long the server asked the caller to wait before trying again, if it said.
    ///
    /// When present, the retry loop sleeps this long instead of its computed backoff.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether this is a 429 that a client-side rate limiter below the retry loop answered by
    /// holding the call's place (as the middleware's `RateLimitMiddleware` does): the retry
    /// then costs no attempt, and only the deadline and the retry budget bound such retries.
    /// Default `false`.
    fn held_by_limiter(&self) -> bool {
        false
    }

    /// How long the attempt behind this error waited for its turn in a client-side rate
    /// limiter before it was sent (as the middleware's `LimiterWait` reports). Default zero.
    ///
    /// For a call's first attempt, the retry loop's deadline does not count this wait: it is
    /// the caller's own backpressure (more calls than the limit serves), not time spent on
    /// failures, and a call queued behind many others must not reach its first answer with
    /// its deadline already spent. A retry's wait counts.
    fn limiter_wait(&self) -> Duration {
        Duration::ZERO
    }
}

/// `&T` and `Box<T>` classify as the `T` they point to.
macro_rules! classify_through {
    ($($pointer:ty),*) => {$(
        impl<T: Classify + ?Sized> Classify for $pointer {
            fn class(&self) -> Class {
                (**self).class()
            }
            fn retry_after(&self) -> Option<Duration> {
                (**self).retry_after()
            }
            fn held_by_limiter(&self) -> bool {
                (**self).held_by_limiter()
            }
            fn limiter_wait(&self) -> Duration {
                (**self).limiter_wait()
            }
        }
    )*};
}
classify_through!(&T, Box<T>);

/// A set of [`Class`]es to retry; what `#[retry(on = ...)]` compiles to.
///
/// ```
/// use retry_core::{Class, RetryOn};
///
/// const ON: RetryOn = RetryOn::RATE_LIMIT.with(RetryOn::TIMEOUT);
/// assert!(ON.contains(Class::RateLimited));
/// assert!(ON.contains(Class::Timeout));
/// assert!(!ON.contains(Class::ServerError));
/// assert!(RetryOn::TRANSIENT.contains(Class::Connect));
/// assert!(!RetryOn::TRANSIENT.contains(Class::Permanent));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryOn(u8);

impl RetryOn {
    /// No class at all: never retry.
    pub const NONE: RetryOn = RetryOn(0);
    /// [`Class::RateLimited`] (`on = "rate_limit"`).
    pub const RATE_LIMIT: RetryOn = RetryOn(Class::RateLimited.bit());
    /// [`Class::Overloaded`] (`on = "overloaded"`).
    pub const OVERLOADED: RetryOn = RetryOn(Class::Overloaded.bit());
    /// [`Class::ServerError`] (`on = "server_error"`).
    pub const SERVER_ERROR: RetryOn = RetryOn(Class::ServerError.bit());
    /// [`Class::Timeout`] (`on = "timeout"`).
    pub const TIMEOUT: RetryOn = RetryOn(Class::Timeout.bit());
    /// [`Class::Connect`] (`on = "connect"`).
    pub const CONNECT: RetryOn = RetryOn(Class::Connect.bit());
    /// Every class but [`Class::Permanent`] (`on = "transient"`, the default).
    pub const TRANSIENT: RetryOn = RetryOn(
        Class::RateLimited.bit()
            | Class::Overloaded.bit()
            | Class::ServerError.bit()
            | Class::Timeout.bit()
            | Class::Connect.bit(),
    );
    /// Every class, [`Class::Permanent`] included.
    pub const ALL: RetryOn = RetryOn(Self::TRANSIENT.0 | Class::Permanent.bit());

    /// The set holding exactly `class`.
    pub const fn only(class: Class) -> RetryOn {
        RetryOn(class.bit())
    }

    /// This set and `other` together.
    #[must_use]
    pub const fn with(self, other: RetryOn) -> RetryOn {
        RetryOn(self.0 | other.0)
    }

    /// Whether `class` is in the set.
    pub const fn contains(self, class: Class) -> bool {
        self.0 & class.bit() != 0
    }
}

impl Default for RetryOn {
    /// [`RetryOn::TRANSIENT`].
    fn default() -> Self {
        RetryOn::TRANSIENT
    }
}

impl From<Class> for RetryOn {
    fn from(class: Class) -> Self {
        RetryOn::only(class)
    }
}

impl fmt::Debug for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Class::ALL.iter().filter(|c| self.contains(**c)))
            .finish()
    }
}
