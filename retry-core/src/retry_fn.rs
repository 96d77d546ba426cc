//! [`retry_fn`]: the closure front end, for code that cannot carry an attribute.

use std::future::Future;

use crate::class::{Classify, RetryOn};
use crate::policy::Policy;
use crate::retrier::{Decision, Failure, Retrier};

/// Which errors to retry: a [`RetryOn`] set of classes (the error must implement
/// [`Classify`]), or any `Fn(&E) -> bool` predicate.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot decide whether to retry a `{E}`",
    label = "expected a `retry_core::RetryOn` or a `Fn(&{E}) -> bool`",
    note = "a `RetryOn` set needs `{E}: retry_core::Classify`; a predicate needs no classification"
)]
pub trait RetryIf<E> {
    /// What the retry loop should know about `error`.
    fn failure(&self, error: &E) -> Failure;
}

impl<E: Classify> RetryIf<E> for RetryOn {
    fn failure(&self, error: &E) -> Failure {
        Failure::classify(error, *self)
    }
}

impl<E, F: Fn(&E) -> bool> RetryIf<E> for F {
    fn failure(&self, error: &E) -> Failure {
        Failure::new(self(error))
    }
}

/// Calls `attempt` until it succeeds or `policy` gives up, retrying the errors `on` selects,
/// and returns the last result unchanged.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use retry_core::{retry_fn, Policy, RetryOn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let calls = AtomicU32::new(0);
/// let policy = Policy::constant().initial(Duration::from_millis(1));
/// let answer = retry_fn(policy, RetryOn::CONNECT, || async {
///     if calls.fetch_add(1, Ordering::Relaxed) < 2 {
///         Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
///     } else {
///         Ok(42)
///     }
/// })
/// .await;
/// assert_eq!(answer.unwrap(), 42);
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// # }
/// ```
///
/// Events and metrics name the call `retry_fn`; use [`retry_fn_named`] to name it yourself.
///
/// `Policy::attempt_timeout` is not applied here: a timed-out last attempt would need an
/// error of your type, which this generic function cannot make. Wrap the attempt in
/// `tokio::time::timeout` yourself, or use `#[retry(attempt_timeout = "...")]`.
pub fn retry_fn<T, E, Fut>(
    policy: Policy,
    on: impl RetryIf<E>,
    attempt: impl FnMut() -> Fut,
) -> impl Future<Output = Result<T, E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    retry_fn_named("retry_fn", policy, on, attempt)
}

/// [`retry_fn`], with `function` as the name in events, metrics and [`RetryDetails`](crate::RetryDetails).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold the policy twice"
)]
pub fn retry_fn_named<T, E, Fut>(
    function: &'static str,
    policy: Policy,
    on: impl RetryIf<E>,
    mut attempt: impl FnMut() -> Fut,
) -> impl Future<Output = Result<T, E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    // A plain fn returning an `async move` block, not an `async fn`: an async fn's state
    // machine keeps its arguments and the locals made from them side by side, which would
    // hold the policy twice in every pending call.
    async move {
        let mut retrier = Retrier::new(&policy);
        loop {
            let error = match retrier.clocked(attempt()).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match retrier.record(function, &on.failure(&error), |_| {}) {
                Decision::Retry(delay) => {
                    drop(error);
                    crate::sleep::sleep(delay).await
                }
                Decision::GiveUp(_) => return Err(error),
            }
        }
    }
}
