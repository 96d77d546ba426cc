//! [`Attempts`]: how many times [`RetryMiddleware`](super::RetryMiddleware) sent a request.

/// The number of attempts [`RetryMiddleware`](super::RetryMiddleware) made for a request, the
/// first included, found in the extensions of the response it returns.
///
/// It is there whatever the outcome: `Attempts(1)` for a first-time success or for a request
/// sent once because its body could not be cloned, `Attempts(n)` when the last of `n` attempts
/// answered (a success, or the last retryable status the middleware gave up on).
///
/// ```no_run
/// use retry_core::middleware::{Attempts, RetryMiddleware};
///
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::default())
///     .build();
/// let response = client.get("http://127.0.0.1:8080/v1/models").send().await?;
/// let attempts = response.extensions().get::<Attempts>().copied();
/// println!("answered after {attempts:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attempts(pub u32);

impl Attempts {
    /// The number of attempts, at least 1.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The number of retries: attempts after the first.
    pub const fn retries(self) -> u32 {
        self.0.saturating_sub(1)
    }
}
