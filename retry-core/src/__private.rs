//! Support for the code `#[retry]` generates. Not public API: no stability promise.
//!
//! Every bound the generated code needs goes through a trait here with
//! `#[diagnostic::on_unimplemented]`, so a misuse reads as a message about `#[retry]`, spanned
//! at the user's own tokens, never as an error inside generated code.
//!
//! The expansion calls these traits' own functions by path (`Trait::f(x)`), never free
//! functions with bounds nor methods: a bound on a free function adds a "required by a bound
//! in `retry_core::__private::...`" note pointing into this file, and a method call that
//! fails to resolve is reported as E0599 ("method not found") instead of the message below.
//! `#[diagnostic::do_not_recommend]` on a blanket impl makes rustc report the trait here (and
//! its message) rather than the bound of the impl: a predicate that returns something other
//! than `bool` gets `RetryPredicate`'s message. (A predicate or hook that takes another
//! argument type is still reported by rustc itself, as E0631 "type mismatch in function
//! arguments", at the user's path: rustc reports signature mismatches before any message.)
//! On `IsResult`'s impl it keeps rustc from pointing into this file to show the impl.

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

// `do_not_recommend` keeps rustc from pointing into this file to show this impl.
#[diagnostic::do_not_recommend]
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
pub trait RetryClone: Sized {
    /// A copy for one attempt.
    fn retry_clone(&self) -> Self;

    /// The argument for one attempt: a clone, or on the last attempt the original itself.
    #[inline(always)]
    fn for_attempt(owned: &mut Owned<Self>, last: bool) -> Self {
        match &mut owned.0 {
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

// No `do_not_recommend` here: rustc then says "the trait `Clone` is not implemented" and
// offers `#[derive(Clone)]` on the user's type.
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
    retrier: &mut crate::Retrier<'_>,
    timeout: AttemptTimeout<E>,
    attempt: F,
) -> Outcome<R, E> {
    match timeout {
        None => Outcome::Done(retrier.clocked(attempt).await),
        Some((limit, convert)) => {
            // A timer reads the clock anyway: start the deadline's with it.
            retrier.start();
            match tokio::time::timeout(limit, attempt).await {
                Ok(result) => Outcome::Done(result),
                Err(elapsed) => Outcome::TimedOut(convert(elapsed)),
            }
        }
    }
}

/// The failure of an error for `on = "<class>"`, from its class and hint. The expansion asks
/// `Classify` itself (`<E as retry_core::Classify>::class(&error)`), so a missing impl
/// reports `Classify`'s own message at the user's error type.
/// `held` and the limiter wait come from the probe (`false` and zero for an error without
/// `Classify`, which the class call has reported already).
#[inline(always)]
pub fn classified(
    class: Class,
    hint: Option<Duration>,
    (held, wait): (bool, Duration),
    on: RetryOn,
) -> Failure {
    Failure::new(on.contains(class))
        .with_class(Some(class))
        .with_hint(hint)
        .held_by_limiter(held && class == Class::RateLimited)
        .with_limiter_wait(wait)
}

/// `on = path`: a predicate over the error.
#[diagnostic::on_unimplemented(
    message = "`#[retry(on = ...)]` expects a `fn(&{E}) -> bool`, but `{Self}` is not one",
    label = "expected a function `fn(&{E}) -> bool`",
    note = "the predicate is called with a reference to each error and returns whether to retry it"
)]
pub trait RetryPredicate<E> {
    /// Whether to retry `error`. The error comes first: rustc then knows `E` from it before it
    /// looks at the predicate, and reports a predicate over another type as not being a
    /// `fn(&E) -> bool` rather than the error as a mismatched argument.
    fn should_retry(error: &E, predicate: &Self) -> bool;
}

#[diagnostic::do_not_recommend]
impl<E, F: Fn(&E) -> bool> RetryPredicate<E> for F {
    #[inline(always)]
    fn should_retry(error: &E, predicate: &Self) -> bool {
        predicate(error)
    }
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

#[diagnostic::do_not_recommend]
impl<F: Fn(&RetryDetails)> RetryHook for F {
    #[inline(always)]
    fn on_retry(&self, details: &RetryDetails) {
        self(details)
    }
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

/// Autoref specialisation (only a macro can use it: it resolves at the expansion site, where
/// the concrete error type is known): `(&&Probe(&error)).failure(retry)` keeps the error's
/// class and server hint when it implements `Classify`, and knows nothing otherwise. This is
/// how `on = "any"` and `on = path` still honour `Retry-After`.
pub struct Probe<'a, E>(pub &'a E);

/// The more specific probe: the error implements `Classify`.
pub trait ViaClassify {
    /// The failure, with class and hint.
    fn failure(&self, retry: bool) -> Failure;
    /// Whether a rate limiter below holds the call ([`Classify::held_by_limiter`]), and how
    /// long the attempt waited in it ([`Classify::limiter_wait`]).
    fn limiter(&self) -> (bool, Duration);
}

impl<E: Classify> ViaClassify for &Probe<'_, E> {
    #[inline(always)]
    fn failure(&self, retry: bool) -> Failure {
        let class = self.0.class();
        Failure::new(retry)
            .with_class(Some(class))
            .with_hint(self.0.retry_after())
            .held_by_limiter(class == Class::RateLimited && self.0.held_by_limiter())
            .with_limiter_wait(self.0.limiter_wait())
    }
    #[inline(always)]
    fn limiter(&self) -> (bool, Duration) {
        (self.0.held_by_limiter(), self.0.limiter_wait())
    }
}

/// The fallback probe: nothing known but whether to retry.
pub trait ViaNothing {
    /// The failure, of unknown class and without hint.
    fn failure(&self, retry: bool) -> Failure;
    /// Nothing known: not held, no wait.
    fn limiter(&self) -> (bool, Duration);
}

impl<E> ViaNothing for Probe<'_, E> {
    #[inline(always)]
    fn failure(&self, retry: bool) -> Failure {
        Failure::new(retry)
    }
    #[inline(always)]
    fn limiter(&self) -> (bool, Duration) {
        (false, Duration::ZERO)
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

/// Drops a failed attempt's error before the sleep, so the future does not carry it across.
/// (A function rather than `drop`, which clippy flags in user code for types without `Drop`.)
#[inline(always)]
pub fn discard<E>(error: E) {
    drop(error)
}

/// Sleeps between attempts of an async function.
pub fn sleep(delay: Duration) -> crate::sleep::Sleep {
    crate::sleep::sleep(delay)
}

/// Sleeps between attempts of a sync function.
pub fn sleep_blocking(delay: Duration) {
    crate::sleep::sleep_blocking(delay)
}
