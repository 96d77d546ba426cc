//! [`CircuitOpen`]: the error of a call that a breaker failed at once.

use std::fmt;
use std::time::Duration;

use crate::class::{Class, Classify};

/// A call failed at once because its [`CircuitBreaker`](super::CircuitBreaker) is open (or
/// half-open with its probe in flight): the server kept failing, and the breaker is giving it
/// time to recover.
///
/// Not retried by any front end ([`Class::Permanent`]): retrying into an open breaker would
/// only spin. Try again after [`retry_in`](CircuitOpen::retry_in), or fall back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitOpen {
    retry_in: Duration,
    probing: bool,
}

impl CircuitOpen {
    pub(super) fn cooling(retry_in: Duration) -> Self {
        CircuitOpen {
            retry_in,
            probing: false,
        }
    }

    pub(super) fn probing() -> Self {
        CircuitOpen {
            retry_in: Duration::ZERO,
            probing: true,
        }
    }

    /// Time left in the cool-off; zero while the probe that decides is in flight.
    pub fn retry_in(&self) -> Duration {
        self.retry_in
    }

    /// Whether the cool-off is over and a probe call is finding out if the server is back.
    pub fn is_probing(&self) -> bool {
        self.probing
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.probing {
            f.write_str("circuit breaker open: a probe call is checking whether the server is back")
        } else {
            write!(
                f,
                "circuit breaker open: the server kept failing; calls fail at once for another {:.1} s",
                self.retry_in.as_secs_f64()
            )
        }
    }
}

impl std::error::Error for CircuitOpen {}

impl Classify for CircuitOpen {
    /// [`Class::Permanent`]: failing at once is the point.
    fn class(&self) -> Class {
        Class::Permanent
    }
}
