//! [`Policy`]: how many attempts, how long between them, and how long in all.

use std::time::Duration;

use crate::backoff::{self, Backoff, Inputs};
use crate::jitter::Jitter;

/// How a call is retried: the backoff curve, its jitter and cap, the number of attempts, the
/// deadline of the whole call and the timeout of one attempt.
///
/// Every builder is a `const fn`, so a policy can be a `const`:
///
/// ```
/// use std::time::Duration;
/// use retry_core::{Jitter, Policy};
///
/// const LLM: Policy = Policy::exponential()
///     .attempts(6)
///     .initial(Duration::from_millis(250))
///     .max_delay(Duration::from_secs(20))
///     .jitter(Jitter::Equal)
///     .deadline(Duration::from_secs(120))
///     .attempt_timeout(Duration::from_secs(30));
///
/// assert_eq!(LLM.get_attempts(), 6);
/// assert_eq!(Policy::default().get_deadline(), Some(Duration::from_secs(60)));
/// ```
///
/// The defaults are bounded: 5 attempts (the first included), 500 ms initial delay, factor 2,
/// full jitter, 30 s maximum delay, a 60 s deadline, no per-attempt timeout, server hints not
/// capped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    backoff: Backoff,
    attempts: u32,
    initial: Duration,
    max_delay: Duration,
    factor: f64,
    jitter: Jitter,
    deadline: Option<Duration>,
    attempt_timeout: Option<Duration>,
    cap_hints: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

impl Policy {
    /// The default policy: exponential backoff with the bounded defaults.
    pub const fn new() -> Self {
        Policy {
            backoff: Backoff::Exponential,
            attempts: 5,
            initial: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            factor: 2.0,
            jitter: Jitter::Full,
            deadline: Some(Duration::from_secs(60)),
            attempt_timeout: None,
            cap_hints: false,
        }
    }

    /// The defaults with [`Backoff::Exponential`]: `initial * factor^(n-1)`.
    pub const fn exponential() -> Self {
        Policy::new()
    }

    /// The defaults with [`Backoff::Constant`]: `initial` before every retry.
    pub const fn constant() -> Self {
        Policy::new().backoff(Backoff::Constant)
    }

    /// The defaults with [`Backoff::Linear`]: `initial * n`.
    pub const fn linear() -> Self {
        Policy::new().backoff(Backoff::Linear)
    }

    /// The defaults with [`Backoff::Fibonacci`]: `initial * fib(n)`.
    pub const fn fibonacci() -> Self {
        Policy::new().backoff(Backoff::Fibonacci)
    }

    /// The defaults with [`Backoff::Decorrelated`]: `min(max_delay, rand(initial, prev * 3))`.
    pub const fn decorrelated() -> Self {
        Policy::new().backoff(Backoff::Decorrelated)
    }

    /// Sets the backoff formula.
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the total number of attempts, the first included. `0` is taken as `1` (one attempt,
    /// no retry): a call is always made at least once.
    #[must_use]
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// Sets the delay before the first retry, the unit every backoff scales.
    #[must_use]
    pub const fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets the longest computed delay (after jitter). Server hints are not capped by it
    /// unless [`cap_hints(true)`](Policy::cap_hints).
    #[must_use]
    pub const fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets the growth factor of exponential backoff. Values below `1.0`, and NaN, are taken
    /// as `1.0`: a backoff never shrinks.
    #[must_use]
    pub const fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_nan() || factor < 1.0 {
            1.0
        } else {
            factor
        };
        self
    }

    /// Sets the jitter applied to computed delays (not to server hints).
    #[must_use]
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the deadline of the whole call, attempts and sleeps included, on tokio's monotonic
    /// clock. No retry starts after it; the last sleep is cut to end at it; a server hint that
    /// ends past it gives up at once.
    #[must_use]
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Removes the deadline: only the number of attempts bounds the call.
    #[must_use]
    pub const fn no_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Sets the timeout of one attempt: an attempt that runs longer is dropped and counts as a
    /// [`Class::Timeout`](crate::Class::Timeout) failure. Async calls only.
    #[must_use]
    pub const fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Removes the per-attempt timeout (the default).
    #[must_use]
    pub const fn no_attempt_timeout(mut self) -> Self {
        self.attempt_timeout = None;
        self
    }

    /// Whether a server's delay hint (`Retry-After` and friends) is capped at `max_delay`.
    /// Off by default: the server knows best, and the deadline still bounds the call.
    #[must_use]
    pub const fn cap_hints(mut self, cap: bool) -> Self {
        self.cap_hints = cap;
        self
    }

    /// The backoff formula.
    pub const fn get_backoff(&self) -> Backoff {
        self.backoff
    }
    /// The total number of attempts, the first included (at least 1).
    pub const fn get_attempts(&self) -> u32 {
        self.attempts
    }
    /// The delay before the first retry.
    pub const fn get_initial(&self) -> Duration {
        self.initial
    }
    /// The longest computed delay.
    pub const fn get_max_delay(&self) -> Duration {
        self.max_delay
    }
    /// The exponential growth factor (at least 1).
    pub const fn get_factor(&self) -> f64 {
        self.factor
    }
    /// The jitter mode.
    pub const fn get_jitter(&self) -> Jitter {
        self.jitter
    }
    /// The deadline of the whole call, if any.
    pub const fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }
    /// The timeout of one attempt, if any.
    pub const fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }
    /// Whether server hints are capped at `max_delay`.
    pub const fn get_cap_hints(&self) -> bool {
        self.cap_hints
    }

    /// The computed delays this policy would sleep between attempts, ignoring deadlines and
    /// hints: `attempts - 1` of them. `seed` makes the jitter reproducible.
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_core::{Jitter, Policy};
    ///
    /// let policy = Policy::exponential().jitter(Jitter::None).max_delay(Duration::from_secs(3));
    /// let delays: Vec<Duration> = policy.delays(Some(1)).collect();
    /// assert_eq!(delays, [500, 1000, 2000, 3000].map(Duration::from_millis));
    /// ```
    pub fn delays(&self, seed: Option<u64>) -> Delays {
        Delays {
            policy: *self,
            rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
            retry: 0,
            previous: self.initial,
        }
    }

    /// The delay before retry `n` (1-based) given the previous delay: backoff, then jitter,
    /// then the cap.
    pub(crate) fn delay(&self, n: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        let max = backoff::to_nanos(self.max_delay);
        let inputs = Inputs {
            initial: backoff::to_nanos(self.initial),
            max,
            factor: self.factor,
            previous: backoff::to_nanos(previous),
        };
        let base = backoff::base_nanos(self.backoff, n, &inputs, rng);
        let jittered = match self.backoff {
            // Random by construction; jitter on top would only shrink it towards zero.
            Backoff::Decorrelated => base,
            _ => self.jitter.apply(base, rng),
        };
        backoff::to_duration(jittered.min(max))
    }
}

/// The delays of a [`Policy`], from [`Policy::delays`].
#[derive(Debug)]
pub struct Delays {
    policy: Policy,
    rng: fastrand::Rng,
    retry: u32,
    previous: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry + 1 >= self.policy.attempts {
            return None;
        }
        self.retry += 1;
        let delay = self.policy.delay(self.retry, self.previous, &mut self.rng);
        self.previous = delay;
        Some(delay)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.policy.attempts - 1 - self.retry) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Delays {}
