//! [`Policy`]: how many attempts, how long between them, and how long in all.

use std::time::Duration;

use crate::backoff::{self, Backoff, Inputs};
use crate::budget::RetryBudget;
use crate::jitter::Jitter;
use crate::setters::setters;

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
/// The getters are `get_attempts`, `get_deadline`... because the plain names are the builder
/// methods, as in `std::process::Command` (`arg` builds, `get_args` reads): the API guidelines'
/// plain-name getters (C-GETTER) assume a type that is not its own builder.
///
/// The defaults are bounded: 5 attempts (the first included), 500 ms initial delay, factor 2,
/// full jitter, 30 s maximum delay, a 60 s deadline, no per-attempt timeout, server hints not
/// capped, no [`RetryBudget`].
///
/// Durations are kept in whole nanoseconds and saturate at `u64::MAX` ns (584 years), which
/// also stands for "none" in the deadline and the attempt timeout: 56 bytes in all, where
/// `Duration`s and `Option`s would take 88 — a policy is copied into every retried call.
#[derive(Clone, Copy, PartialEq)]
pub struct Policy {
    budget: Option<Budget>,
    initial: u64,
    max_delay: u64,
    factor: f64,
    deadline: u64,
    attempt_timeout: u64,
    attempts: u32,
    backoff: Backoff,
    jitter: Jitter,
    cap_hints: bool,
}

/// A policy's budget, equal to another only if it is the same budget.
#[derive(Clone, Copy)]
struct Budget(&'static RetryBudget);

impl PartialEq for Budget {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

/// Nanoseconds standing for "no deadline" or "no attempt timeout".
const NONE: u64 = u64::MAX;

/// `d` in whole nanoseconds, saturating (past 584 years).
pub(crate) const fn nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

/// `nanos` as an optional duration, [`NONE`] being `None`.
const fn optional(nanos: u64) -> Option<Duration> {
    if nanos == NONE {
        None
    } else {
        Some(Duration::from_nanos(nanos))
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("backoff", &self.backoff)
            .field("attempts", &self.attempts)
            .field("initial", &self.get_initial())
            .field("max_delay", &self.get_max_delay())
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .field("deadline", &self.get_deadline())
            .field("attempt_timeout", &self.get_attempt_timeout())
            .field("cap_hints", &self.cap_hints)
            .field("budget", &self.budget.map(|b| b.0))
            .finish()
    }
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
            initial: 500_000_000,
            max_delay: 30_000_000_000,
            factor: 2.0,
            jitter: Jitter::Full,
            deadline: 60_000_000_000,
            attempt_timeout: NONE,
            cap_hints: false,
            budget: None,
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

    setters! {
        /// Sets the backoff formula.
        backoff(backoff: Backoff) => backoff;
        /// Sets the delay before the first retry, the unit every backoff scales.
        initial(initial: Duration) => initial via nanos;
        /// Sets the longest computed delay (after jitter). Server hints are not capped by it
        /// unless [`cap_hints(true)`](Policy::cap_hints).
        max_delay(max_delay: Duration) => max_delay via nanos;
        /// Sets the jitter applied to computed delays (not to server hints).
        jitter(jitter: Jitter) => jitter;
        /// Sets the deadline of the whole call, attempts and sleeps included, on tokio's
        /// monotonic clock. No retry starts after it; the last sleep is cut to end at it; a
        /// server hint that ends past it gives up at once. A deadline past 584 years
        /// (`Duration::MAX`) is none. A first attempt's wait for its turn in a client-side
        /// rate limiter is not counted ([`Classify::limiter_wait`](crate::Classify::limiter_wait)).
        deadline(deadline: Duration) => deadline via nanos;
        /// Removes the deadline: only the number of attempts bounds the call.
        no_deadline() => deadline = NONE;
        /// Sets the timeout of one attempt: an attempt that runs longer is dropped and counts
        /// as a [`Class::Timeout`](crate::Class::Timeout) failure. Async calls only.
        attempt_timeout(timeout: Duration) => attempt_timeout via nanos;
        /// Removes the per-attempt timeout (the default).
        no_attempt_timeout() => attempt_timeout = NONE;
        /// Whether a server's delay hint (`Retry-After` and friends) is capped at `max_delay`.
        /// Off by default: the server knows best, and the deadline still bounds the call.
        cap_hints(cap: bool) => cap_hints;
        /// Retries without a budget (the default): only attempts and the deadline bound them.
        no_budget() => budget = None;
    }

    /// Sets the total number of attempts, the first included. `0` is taken as `1` (one attempt,
    /// no retry): a call is always made at least once.
    #[must_use]
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = if attempts == 0 { 1 } else { attempts };
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

    /// Spends retries from `budget`, shared with every other policy that names it: each call
    /// deposits, each retry withdraws, and when it is spent a failed call gives up at once
    /// ([`GiveUpReason::BudgetExhausted`](crate::GiveUpReason::BudgetExhausted)).
    ///
    /// ```
    /// use retry_core::{Policy, RetryBudget};
    ///
    /// static BUDGET: RetryBudget = RetryBudget::new();
    /// const POLICY: Policy = Policy::exponential().budget(&BUDGET);
    /// assert!(POLICY.get_budget().is_some());
    /// ```
    #[must_use]
    pub const fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(Budget(budget));
        self
    }

    /// The retry budget, if any.
    pub const fn get_budget(&self) -> Option<&'static RetryBudget> {
        match self.budget {
            Some(Budget(budget)) => Some(budget),
            None => None,
        }
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
        Duration::from_nanos(self.initial)
    }
    /// The longest computed delay.
    pub const fn get_max_delay(&self) -> Duration {
        Duration::from_nanos(self.max_delay)
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
        optional(self.deadline)
    }
    /// The timeout of one attempt, if any.
    pub const fn get_attempt_timeout(&self) -> Option<Duration> {
        optional(self.attempt_timeout)
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
            previous: self.get_initial(),
        }
    }

    /// The delay before retry `n` (1-based) given the previous delay: backoff, then jitter,
    /// then the cap.
    pub(crate) fn delay(&self, n: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        let max = self.max_delay as f64;
        let inputs = Inputs {
            initial: self.initial as f64,
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
        // NaN is `0 * inf`: a zero initial delay at a retry number past `f64`'s range. It
        // means no delay; `f64::min` would turn it into the cap.
        let capped = if jittered.is_nan() {
            0.0
        } else {
            jittered.min(max)
        };
        backoff::to_duration(capped)
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
