//! Support for the code `#[retry]` generates. Not public API: no stability promise.
//!
//! Every bound the generated code needs goes through a trait here with
//! `#[diagnostic::on_unimplemented]`, so a misuse reads as a message about `#[retry]`, spanned
//! at the user's own tokens, never as an error inside generated code.

use std::future::Future;
use std::time::Duration;

use crate::Elapsed;
use crate::class::{Class, Classify, RetryOn};
use crate::details::RetryDetails;
use crate::retrier::Failure;

/// Pins the output type of an attempt's async block, so `?` inside it knows its error type.
#[inline(always)]
pub fn typed<R, F: Future<Output = R>>(attempt: F) -> F {
    attempt
}

/// Pins the return type of a sync attempt's closure.
#[inline(always)]
pub fn typed_sync<R, F: FnOnce() -> R>(attempt: F) -> F {
    attempt
}

/// The return type of a retried function: a `Result` (any alias of it).
#[diagnostic::on_unimplemented(
    message = "`#[retry]` needs a function that returns a `Result`, not `{Self}`",
    label = "this must be a `Result<T, E>` (or an alias such as `io::Result<T>`)",
    note = "only an `Err` can be retried: return `Result<{Self}, YourError>`"
)]
pub trait IsResult {
    /// `T` in `Result<T, E>`.
    type Ok;
    /// `E` in `Result<T, E>`.
    type Err;
    /// Itself, as a `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// A `Result`, as itself.
    fn from_result(result: Result<Self::Ok, Self::Err>) -> Self;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline(always)]
    fn into_result(self) -> Self {
        self
    }
    #[inline(always)]
    fn from_result(result: Self) -> Self {
        result
    }
}

/// An owned argument that each attempt gets a clone of, and the last attempt the original.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` must clone the owned argument of type `{Self}` for each attempt, but it is not `Clone`",
    label = "not `Clone`",
    note = "take the argument by reference (`&{Self}`), or derive or implement `Clone` for it"
)]
pub trait RetryClone {
    /// A copy for one attempt.
    fn retry_clone(&self) -> Self;
}

impl<T: Clone> RetryClone for T {
    #[inline(always)]
    fn retry_clone(&self) -> Self {
        self.clone()
    }
}

/// Holds an owned argument across attempts.
pub struct Owned<T>(Option<T>);

impl<T> Owned<T> {
    /// Keeps `value` for the attempts to come.
    #[inline(always)]
    pub fn new(value: T) -> Self {
        Owned(Some(value))
    }
}

impl<T: RetryClone> Owned<T> {
    /// The argument for one attempt: a clone, or on the last attempt the original itself.
    #[inline(always)]
    pub fn for_attempt(&mut self, last: bool) -> T {
        match &mut self.0 {
            Some(value) if !last => value.retry_clone(),
            slot => match slot.take() {
                Some(value) => value,
                // The retrier ends the loop after the last attempt, so the original is taken
                // at most once.
                None => unreachable!("#[retry] made an attempt after its last one"),
            },
        }
    }
}

/// The argument for one attempt (a free function, so a missing `Clone` reports through
/// [`RetryClone`]'s message rather than as a method that does not exist).
#[inline(always)]
pub fn for_attempt<T: RetryClone>(owned: &mut Owned<T>, last: bool) -> T {
    owned.for_attempt(last)
}

/// What one attempt under a timeout came to.
pub enum Outcome<R, E> {
    /// The attempt finished with this result.
    Done(R),
    /// The attempt ran past its timeout; this is the error standing for it.
    TimedOut(E),
}

/// The timeout of one attempt, and how to make the function's error from it.
pub type AttemptTimeout<E> = Option<(Duration, fn(Elapsed) -> E)>;

/// Runs one attempt, under a timeout when one is given.
pub async fn run_with_timeout<R, E, F: Future<Output = R>>(
    timeout: AttemptTimeout<E>,
    attempt: F,
) -> Outcome<R, E> {
    match timeout {
        None => Outcome::Done(attempt.await),
        Some((limit, convert)) => match tokio::time::timeout(limit, attempt).await {
            Ok(result) => Outcome::Done(result),
            Err(elapsed) => Outcome::TimedOut(convert(elapsed)),
        },
    }
}

/// Builds the failure of an error for `on = "<class>"` (which needs `Classify`).
#[inline(always)]
pub fn classify<E: Classify>(error: &E, on: RetryOn) -> Failure {
    Failure::classify(error, on)
}

/// `on = path`: a predicate over the error.
#[diagnostic::on_unimplemented(
    message = "`#[retry(on = ...)]` expects a `fn(&{E}) -> bool`, but `{Self}` is not one",
    label = "expected a function `fn(&{E}) -> bool`",
    note = "the predicate is called with a reference to each error and returns whether to retry it"
)]
pub trait RetryPredicate<E> {
    /// Whether to retry `error`.
    fn should_retry(&self, error: &E) -> bool;
}

impl<E, F: Fn(&E) -> bool> RetryPredicate<E> for F {
    #[inline(always)]
    fn should_retry(&self, error: &E) -> bool {
        self(error)
    }
}

/// Calls an `on = path` predicate.
#[inline(always)]
pub fn predicate<E, P: RetryPredicate<E>>(predicate: &P, error: &E) -> bool {
    predicate.should_retry(error)
}

/// `on_retry = path`: a hook called before each sleep.
#[diagnostic::on_unimplemented(
    message = "`#[retry(on_retry = ...)]` expects a `fn(&retry_core::RetryDetails)`, but `{Self}` is not one",
    label = "expected a function `fn(&retry_core::RetryDetails)`",
    note = "the hook is called before each sleep with what failed and how long the sleep will be"
)]
pub trait RetryHook {
    /// Runs the hook.
    fn on_retry(&self, details: &RetryDetails);
}

impl<F: Fn(&RetryDetails)> RetryHook for F {
    #[inline(always)]
    fn on_retry(&self, details: &RetryDetails) {
        self(details)
    }
}

/// Calls an `on_retry = path` hook.
#[inline(always)]
pub fn hook<H: RetryHook>(hook: &H, details: &RetryDetails) {
    hook.on_retry(details)
}

/// An error type that a timed-out attempt can be turned into.
#[diagnostic::on_unimplemented(
    message = "`#[retry(attempt_timeout = ...)]` must turn a timed-out attempt into a `{Self}`, but `{Self}` does not implement `From<retry_core::Elapsed>`",
    label = "the error type must implement `From<retry_core::Elapsed>`",
    note = "add `impl From<retry_core::Elapsed> for {Self}` (a `#[from] retry_core::Elapsed` variant with thiserror), or drop `attempt_timeout`"
)]
pub trait FromElapsed {
    /// The error for a timed-out attempt.
    fn from_elapsed(elapsed: Elapsed) -> Self;
}

impl<E: From<Elapsed>> FromElapsed for E {
    #[inline(always)]
    fn from_elapsed(elapsed: Elapsed) -> Self {
        E::from(elapsed)
    }
}

/// Turns a timed-out attempt into the function's error (for the `attempt_timeout` knob).
#[inline(always)]
pub fn from_elapsed<E: FromElapsed>(elapsed: Elapsed) -> E {
    E::from_elapsed(elapsed)
}

/// Autoref specialisation (only a macro can use it: it resolves at the expansion site, where
/// the concrete error type is known): `(&&Probe(&error)).failure(retry)` keeps the error's
/// class and server hint when it implements `Classify`, and knows nothing otherwise. This is
/// how `on = "any"` and `on = path` still honour `Retry-After`.
pub struct Probe<'a, E>(pub &'a E);

/// The more specific probe: the error implements `Classify`.
pub trait ViaClassify {
    /// The failure, with class and hint.
    fn failure(&self, retry: bool) -> Failure;
}

impl<E: Classify> ViaClassify for &Probe<'_, E> {
    #[inline(always)]
    fn failure(&self, retry: bool) -> Failure {
        Failure::new(retry)
            .with_class(Some(self.0.class()))
            .with_hint(self.0.retry_after())
    }
}

/// The fallback probe: nothing known but whether to retry.
pub trait ViaNothing {
    /// The failure, of unknown class and without hint.
    fn failure(&self, retry: bool) -> Failure;
}

impl<E> ViaNothing for Probe<'_, E> {
    #[inline(always)]
    fn failure(&self, retry: bool) -> Failure {
        Failure::new(retry)
    }
}

/// The same specialisation for `policy = EXPR`, whose `attempt_timeout` is only known at run
/// time: `(&&ElapsedProbe::<E>::NEW).converter()` is `Some` when `E: From<Elapsed>`.
pub struct ElapsedProbe<E>(core::marker::PhantomData<fn() -> E>);

impl<E> ElapsedProbe<E> {
    /// The probe.
    pub const NEW: Self = ElapsedProbe(core::marker::PhantomData);
}

/// The error type converts from a timeout.
pub trait ElapsedVia {
    /// The error type.
    type Err;
    /// The conversion.
    fn converter(&self) -> Option<fn(Elapsed) -> Self::Err>;
}

impl<E: From<Elapsed>> ElapsedVia for &ElapsedProbe<E> {
    type Err = E;
    #[inline(always)]
    fn converter(&self) -> Option<fn(Elapsed) -> E> {
        Some(E::from)
    }
}

/// The error type does not convert from a timeout.
pub trait ElapsedNone {
    /// The error type.
    type Err;
    /// No conversion.
    fn converter(&self) -> Option<fn(Elapsed) -> Self::Err>;
}

impl<E> ElapsedNone for ElapsedProbe<E> {
    type Err = E;
    #[inline(always)]
    fn converter(&self) -> Option<fn(Elapsed) -> E> {
        None
    }
}

/// The failure of a timed-out attempt under a class set.
#[inline(always)]
pub fn timed_out(on: RetryOn) -> Failure {
    Failure::timed_out(on)
}

/// The failure of a timed-out attempt under a predicate.
#[inline(always)]
pub fn timed_out_if(retry: bool) -> Failure {
    Failure::new(retry).with_class(Some(Class::Timeout))
}

/// Sleeps between attempts of an async function.
pub async fn sleep(delay: Duration) {
    crate::sleep::sleep(delay).await
}

/// Sleeps between attempts of a sync function.
pub fn sleep_blocking(delay: Duration) {
    crate::sleep::sleep_blocking(delay)
}
