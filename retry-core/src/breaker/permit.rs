//! [`Permit`]: one call's leave to go, and the place its outcome is reported.

use std::fmt;

use super::CircuitBreaker;

/// Leave to make one call, from [`CircuitBreaker::permit`]. Report the outcome with
/// [`success`](Permit::success) or [`failure`](Permit::failure).
///
/// Dropping a permit without an outcome (the call was cancelled, or its outcome says nothing
/// of the server's health) counts nothing; a dropped probe hands the probe to the next call.
#[must_use = "a permit reports the call's outcome: call `success()` or `failure()`"]
pub struct Permit {
    /// `None` once resolved.
    breaker: Option<CircuitBreaker>,
    generation: u64,
    probe: bool,
}

impl Permit {
    pub(super) fn new(breaker: CircuitBreaker, generation: u64, probe: bool) -> Self {
        Permit {
            breaker: Some(breaker),
            generation,
            probe,
        }
    }

    /// Whether this call is the half-open breaker's one probe: its outcome closes or reopens
    /// the breaker.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded (or failed in a way that shows the server is up, such as a 4xx).
    pub fn success(mut self) {
        self.resolve(Some(false));
    }

    /// The call failed in a way that counts against the server (a 5xx, a timeout, a dropped
    /// connection).
    pub fn failure(mut self) {
        self.resolve(Some(true));
    }

    /// Reports what came back, judged the one way every front end judges it: an answer
    /// (`Ok(status)`) is a failure only for a 5xx that [`CircuitBreaker::is_failure`] counts
    /// (not 501 or 505), else a success (a 4xx, a 429 included, shows the server is up); an
    /// error with no answer (`Err(class)`) is a failure when its class counts, says nothing
    /// when it is [`Permanent`](crate::Class::Permanent) (a bad URL is not the server's), and
    /// is a success otherwise.
    ///
    /// ```
    /// use http::StatusCode;
    /// use retry_core::{CircuitBreaker, Class};
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(2).build();
    /// breaker.permit().unwrap().settle(Ok(StatusCode::SERVICE_UNAVAILABLE));
    /// breaker.permit().unwrap().settle(Err(Class::Permanent)); // nothing
    /// breaker.permit().unwrap().settle(Err(Class::Connect));
    /// assert!(breaker.permit().is_err());
    /// ```
    pub fn settle(self, outcome: Result<http::StatusCode, crate::Class>) {
        use crate::{Class, Classify};
        match outcome {
            Ok(status)
                if status.is_server_error() && CircuitBreaker::is_failure(status.class()) =>
            {
                self.failure()
            }
            Ok(_) => self.success(),
            Err(Class::Permanent) => drop(self),
            Err(class) if CircuitBreaker::is_failure(class) => self.failure(),
            Err(_) => self.success(),
        }
    }

    fn resolve(&mut self, failed: Option<bool>) {
        if let Some(breaker) = self.breaker.take() {
            breaker.resolve(self.generation, self.probe, failed);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.resolve(None);
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("probe", &self.probe)
            .field("resolved", &self.breaker.is_none())
            .finish()
    }
}
