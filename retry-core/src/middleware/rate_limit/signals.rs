//! What the limiter and the retry layer above it tell each other through a request's
//! extensions: the limiter holds a 429's retry ([`HeldByLimiter`]); the retry layer bounds a
//! retry's wait by its call's deadline ([`CallDeadline`]), which the limiter answers with
//! [`WaitPastDeadline`].

/// Set in a request's extensions when this limiter answered a 429 by holding the host: the
/// retry layer above need not sleep on its own, the next attempt will wait here.
///
/// [`RetryMiddleware`](crate::middleware::RetryMiddleware) reads it; so can any retry loop above the
/// stack that sends each attempt with one [`Extensions`](http::Extensions) of its own
/// ([`ClientWithMiddleware::execute_with_extensions`](reqwest_middleware::ClientWithMiddleware::execute_with_extensions)):
/// when the marker is there after an attempt, retry at once (a zero delay) and let this
/// limiter do the waiting, rather than sleep the server's hint and then queue for the
/// cooldown again. Keeping the same extensions for every attempt of a call also keeps its
/// place in line: a retry goes before the requests that came after it. Remove the marker
/// once read, so it does not outlive the attempt it describes:
///
/// ```no_run
/// use http::Extensions;
/// use retry_core::middleware::{HeldByLimiter, RateLimitMiddleware};
///
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RateLimitMiddleware::default())
///     .build();
/// let mut extensions = Extensions::new();
/// let request = client.get("http://127.0.0.1:8080/v1/models").build()?;
/// let response = client.execute_with_extensions(request, &mut extensions).await?;
/// let held = extensions.remove::<HeldByLimiter>().is_some();
/// // A 429 with `held`: retry now, with the same `extensions`; the limiter holds it.
/// # let _ = (response, held);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldByLimiter;

/// When the call a retry belongs to must be over, set in the retry's extensions by the retry
/// layer above ([`RetryMiddleware`](crate::middleware::RetryMiddleware) sets it from its policy's
/// deadline, on every attempt but the first): the limiter then ends a wait for the retry's
/// turn that would pass it, with [`WaitPastDeadline`], instead of sending the retry after
/// the caller stopped waiting.
///
/// A first attempt carries none: its wait for its turn is the caller's own backpressure (a
/// batch with more lines in flight than the limit serves within a deadline must queue, not
/// fail), and its deadline starts when it is sent.
///
/// ```
/// use std::time::Duration;
/// use http::Extensions;
/// use retry_core::middleware::CallDeadline;
///
/// let mut extensions = Extensions::new();
/// extensions.insert(CallDeadline(tokio::time::Instant::now() + Duration::from_secs(30)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallDeadline(pub tokio::time::Instant);

/// The error of a retry whose call's [`CallDeadline`] passed while it waited for its turn in
/// the limiter (a long queue, a cooldown): it was never sent. A retry layer ends the call with
/// the answer it was retrying instead ([`RetryMiddleware`](crate::middleware::RetryMiddleware) does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitPastDeadline;

impl std::fmt::Display for WaitPastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the call's deadline passed while the retry waited for its turn in the rate limiter (not sent)",
        )
    }
}

impl std::error::Error for WaitPastDeadline {}

impl WaitPastDeadline {
    /// Whether `error` (from a stack with a [`RateLimitMiddleware`](super::RateLimitMiddleware))
    /// is a retry the limiter never sent because its call's deadline passed.
    pub fn is(error: &reqwest_middleware::Error) -> bool {
        match error {
            reqwest_middleware::Error::Middleware(error) => {
                error.downcast_ref::<WaitPastDeadline>().is_some()
            }
            reqwest_middleware::Error::Reqwest(_) => false,
        }
    }
}
