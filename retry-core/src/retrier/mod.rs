//! [`Retrier`]: the one state machine behind every front end. What it reads of a failed
//! attempt is a [`Failure`] (`failure.rs`); what it answers, a [`Decision`] (`decision.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

#[cfg(doc)]
use crate::class::Classify;
use crate::details::RetryDetails;
use crate::policy::{Policy, nanos};

mod decision;
mod failure;

pub(crate) use decision::MAX_WAIT;
pub use decision::{Decision, GiveUpReason};
pub use failure::Failure;

/// The retry state of one call: which attempt it is on, when it started, what it slept last.
///
/// # The clock
/// The deadline is measured on tokio's monotonic clock (so `tokio::time::pause` applies) from
/// the moment the call starts: when the first attempt first waits (its first `Pending`, which
/// [`clocked`](Retrier::clocked) sees), before a sync attempt, or else at the first failure. A
/// call that succeeds without ever waiting therefore never reads the clock, which keeps the
/// success path within a few nanoseconds of a plain call; CPU work an async attempt does before
/// its first `.await` is the only time the deadline does not see. One wait is taken off: the
/// first attempt's wait for its turn in a client-side rate limiter
/// ([`Failure::with_limiter_wait`], [`Classify::limiter_wait`]), the caller's own
/// backpressure, so the deadline of a call queued behind many others counts from when it was
/// sent.
///
/// The macro, [`retry_fn`](fn@crate::retry_fn) and the middleware all drive one of these: make an
/// attempt; on failure ask [`decide`](Retrier::decide) (or [`record`](Retrier::record), which
/// also emits the tracing event, the metrics and the hook); sleep or give up.
///
/// ```
/// use std::time::Duration;
/// use retry_core::{Decision, Failure, GiveUpReason, Jitter, Policy, Retrier};
///
/// let policy = Policy::exponential().attempts(3).jitter(Jitter::None);
/// let mut retrier = Retrier::new(&policy);
/// assert_eq!(retrier.decide(&Failure::new(true)), Decision::Retry(Duration::from_millis(500)));
/// assert_eq!(retrier.decide(&Failure::new(true)), Decision::Retry(Duration::from_secs(1)));
/// assert_eq!(
///     retrier.decide(&Failure::new(true)),
///     Decision::GiveUp(GiveUpReason::AttemptsExhausted)
/// );
/// ```
#[derive(Debug)]
pub struct Retrier<'p> {
    /// Borrowed, not copied: a `#[retry]` future holds a retrier, and every byte of it is
    /// moved each time the future is.
    policy: &'p Policy,
    /// Set by `start` or at the first failure; see "The clock".
    start: Option<Instant>,
    /// The attempt in progress, 1-based, not counting the retries a rate limiter held.
    attempt: u32,
    /// Retries of 429s a rate limiter held (see [`Failure::held_by_limiter`]): made, but not
    /// counted against the policy's attempts. Fits in `attempt`'s padding.
    held: u16,
    /// Whether `rng_state` holds a generator's state yet: one is made at the first failure,
    /// so the success path never touches a random source (or at once, by `with_seed`).
    seeded: bool,
    /// The jitter generator's state, kept as its bare `u64` next to `attempt` and `seeded`
    /// rather than as an `Option<Rng>`: eight bytes fewer in every retried future.
    rng_state: u64,
    /// The last computed (not hinted) delay in nanoseconds, which decorrelated jitter grows
    /// from (a `u64` rather than a 16-byte `Duration`, for the same reason).
    previous_nanos: u64,
}

impl<'p> Retrier<'p> {
    /// The state of a call about to make its first attempt. Reads no clock (see "The clock"),
    /// unless the policy has a [`RetryBudget`](crate::RetryBudget): the call is counted in it.
    pub fn new(policy: &'p Policy) -> Self {
        if let Some(budget) = policy.get_budget() {
            budget.deposit();
        }
        Retrier {
            policy,
            start: None,
            attempt: 1,
            held: 0,
            seeded: false,
            rng_state: 0,
            previous_nanos: nanos(policy.get_initial()),
        }
    }

    /// Like [`new`](Retrier::new), with reproducible jitter.
    pub fn with_seed(policy: &'p Policy, seed: u64) -> Self {
        Retrier {
            seeded: true,
            rng_state: seed,
            ..Retrier::new(policy)
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &'p Policy {
        self.policy
    }

    /// The attempt in progress, 1 for the first; retries a rate limiter held count too.
    pub fn attempt(&self) -> u32 {
        self.attempt + u32::from(self.held)
    }

    /// Starts the deadline's clock now, unless it has started already. For the code
    /// `#[retry]` generates around a sync fn; [`clocked`](Retrier::clocked) does it for an
    /// async attempt.
    #[doc(hidden)]
    #[inline]
    pub fn start(&mut self) {
        if self.start.is_none() {
            self.start = Some(Instant::now());
        }
    }

    /// Whether the deadline's clock has started (for generated code).
    #[doc(hidden)]
    #[inline]
    pub fn is_started(&self) -> bool {
        self.start.is_some()
    }

    /// Moves the clock's start `wait` later (no later than now): time the call spent waiting
    /// before its first attempt was sent, which the deadline does not count.
    fn excuse(&mut self, wait: Duration) {
        if let Some(start) = self.start
            && !wait.is_zero()
        {
            self.start = Some(
                start
                    .checked_add(wait)
                    .map_or_else(Instant::now, |at| at.min(Instant::now())),
            );
        }
    }

    /// Time since the call started (zero before the clock starts).
    pub fn elapsed(&self) -> Duration {
        self.start.map_or(Duration::ZERO, |start| start.elapsed())
    }

    /// Time left before the deadline, if the policy has one.
    pub fn remaining(&self) -> Option<Duration> {
        self.policy
            .get_deadline()
            .map(|d| d.saturating_sub(self.elapsed()))
    }

    /// Whether the attempt in progress is the last the policy allows, so its arguments need no
    /// copy for a later one.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.policy.get_attempts()
    }

    /// The timeout to put on the attempt in progress, from the policy.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.policy.get_attempt_timeout()
    }

    /// Runs one attempt, starting the clock if the attempt has to wait (see "The clock").
    pub fn clocked<F: Future>(&mut self, attempt: F) -> Clocked<'_, 'p, F> {
        Clocked {
            retrier: self,
            attempt,
        }
    }

    /// Decides what follows a failed attempt, and moves on to the next attempt if it is a retry.
    ///
    /// A server hint replaces the computed delay (capped at `max_delay` only with
    /// [`Policy::cap_hints`]); a hint ending past the deadline, or longer than a day, gives up
    /// at once; a computed
    /// delay is cut to end at the deadline.
    pub fn decide(&mut self, failure: &Failure) -> Decision {
        self.start();
        if self.attempt == 1 && self.held == 0 {
            // The first attempt's wait for its turn in a client-side limiter is the caller's
            // backpressure: the deadline counts from when it was sent.
            self.excuse(failure.limiter_wait);
        }
        if !failure.retryable {
            return Decision::GiveUp(GiveUpReason::NotRetryable);
        }
        // A held 429 does not move to the next attempt, so the last attempt (whose arguments
        // are the originals, not copies) is never reached by one; on it, the call ends.
        let held = failure.held && self.held < u16::MAX;
        if self.is_last_attempt() {
            return Decision::GiveUp(GiveUpReason::AttemptsExhausted);
        }
        let remaining = self.remaining();
        if remaining == Some(Duration::ZERO) {
            return Decision::GiveUp(GiveUpReason::DeadlineExceeded);
        }
        let delay = match failure.hint {
            // Longer than anyone waits: the server says this call will not be served.
            Some(hint) if hint > MAX_WAIT => {
                return Decision::GiveUp(GiveUpReason::HintBeyondDeadline);
            }
            Some(hint) => {
                let hint = if self.policy.get_cap_hints() {
                    hint.min(self.policy.get_max_delay())
                } else {
                    hint
                };
                if remaining.is_some_and(|left| hint > left) {
                    return Decision::GiveUp(GiveUpReason::HintBeyondDeadline);
                }
                hint
            }
            None => {
                let mut rng = if self.seeded {
                    fastrand::Rng::with_seed(self.rng_state)
                } else {
                    fastrand::Rng::new()
                };
                let previous = Duration::from_nanos(self.previous_nanos);
                let computed = self.policy.delay(self.attempt, previous, &mut rng);
                (self.seeded, self.rng_state) = (true, rng.get_seed());
                self.previous_nanos = nanos(computed);
                remaining.map_or(computed, |left| computed.min(left))
            }
        };
        // Last, so that only a retry that would happen spends the budget.
        if let Some(budget) = self.policy.get_budget()
            && !budget.try_withdraw()
        {
            return Decision::GiveUp(GiveUpReason::BudgetExhausted);
        }
        if held {
            self.held += 1;
        } else {
            self.attempt += 1;
        }
        Decision::Retry(delay)
    }

    /// [`decide`](Retrier::decide), then report it: a `tracing` event (target `retry`), the
    /// `retry_attempts_total` / `retry_giveups_total` counters, and `on_retry` before a retry.
    ///
    /// `function` names the call in events and metrics.
    pub fn record(
        &mut self,
        function: &'static str,
        failure: &Failure,
        on_retry: impl FnOnce(&RetryDetails),
    ) -> Decision {
        let failed_attempt = self.attempt();
        let decision = self.decide(failure);
        let details = RetryDetails {
            function,
            attempt: failed_attempt,
            delay: match decision {
                Decision::Retry(delay) => delay,
                Decision::GiveUp(_) => Duration::ZERO,
            },
            elapsed: self.elapsed(),
            class: failure.class,
            hint: failure.hint,
        };
        match decision {
            Decision::Retry(_) => {
                crate::observe::retrying(&details);
                on_retry(&details);
            }
            Decision::GiveUp(reason) => crate::observe::giving_up(&details, reason),
        }
        decision
    }
}

pin_project_lite::pin_project! {
    /// One attempt that starts its retrier's clock the first time it waits: from
    /// [`Retrier::clocked`]. A hand-written future rather than an `async fn`, so it adds two
    /// words to the attempt instead of a second copy of it.
    #[must_use = "futures do nothing unless polled"]
    pub struct Clocked<'r, 'p, F> {
        retrier: &'r mut Retrier<'p>,
        #[pin]
        attempt: F,
    }
}

impl<F: Future> Future for Clocked<'_, '_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = this.attempt.poll(cx);
        if poll.is_pending() {
            this.retrier.start();
        }
        poll
    }
}
