//! The test kit of retry-core's integration tests, one copy shared by every test binary
//! (`tests/<area>/main.rs` and `tests/alloc.rs` include it with `#[path]`): an error type whose
//! class and hint a test chooses, here; the simulated servers and clients of the middleware
//! tests in [`sim`]; Redis (where it is, or why a test is skipped) in [`redis_kit`].
//! Each binary uses part of it.

#![allow(dead_code)]

#[cfg(feature = "redis")]
pub mod redis_kit;
#[cfg(feature = "reqwest")]
pub mod sim;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_core::{Class, Classify, Elapsed};

/// An error of a chosen class, with an optional server hint, tagged with the attempt that
/// returned it so a test can tell which error came out of a retried call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    pub class: Class,
    pub hint: Option<Duration>,
    /// The attempt (1-based) that failed with this error; 0 for a timed-out attempt.
    pub attempt: u32,
    /// Whether this error stands for an attempt cut by `attempt_timeout`.
    pub elapsed: bool,
}

impl Fail {
    pub fn new(class: Class, attempt: u32) -> Self {
        Fail {
            class,
            hint: None,
            attempt,
            elapsed: false,
        }
    }

    pub fn hinted(class: Class, attempt: u32, hint: Duration) -> Self {
        Fail {
            hint: Some(hint),
            ..Fail::new(class, attempt)
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure on attempt {}", self.class, self.attempt)
    }
}

impl std::error::Error for Fail {}

impl Classify for Fail {
    fn class(&self) -> Class {
        self.class
    }
    fn retry_after(&self) -> Option<Duration> {
        self.hint
    }
}

impl From<Elapsed> for Fail {
    fn from(_: Elapsed) -> Self {
        Fail {
            elapsed: true,
            ..Fail::new(Class::Timeout, 0)
        }
    }
}

pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An error type that does not implement `Classify`.
#[derive(Debug, PartialEq)]
pub struct Opaque(pub u32);

/// Counts one more call and returns the count (1-based): the attempt number.
pub fn bump(calls: &AtomicU32) -> u32 {
    calls.fetch_add(1, Ordering::Relaxed) + 1
}

/// Attempt `n` of a call that is rate limited with `hint` twice, then succeeds: `Ok(n)` from
/// the third attempt on.
pub fn hinted_twice(n: u32, hint: Duration) -> Result<u32, Fail> {
    if n < 3 {
        Err(Fail::hinted(Class::RateLimited, n, hint))
    } else {
        Ok(n)
    }
}
