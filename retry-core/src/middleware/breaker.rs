//! [`CircuitBreakerMiddleware`]: a [`CircuitBreaker`] per host, as a reqwest-middleware layer.

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Error, Middleware, Next, Result};

use super::hosts::PerHost;
use crate::breaker::{CircuitBreaker, CircuitBreakerBuilder, CircuitOpen};
use crate::class::Classify;

/// Fails requests at once, with [`CircuitOpen`], to a host that keeps failing: one
/// [`CircuitBreaker`] per `scheme://host:port`, shared by clones. Off unless you add it.
///
/// A failure is a 5xx answer (but 501 and 505, which say the request is wrong, not the
/// server), a timeout or a dropped connection. A 429 is not: a server that limits is up, and
/// [`RateLimitMiddleware`](super::RateLimitMiddleware) deals with it. Other answers close the
/// count of failures in a row; an error that says nothing of the server (a bad URL) counts
/// nothing.
///
/// Put it between the retry layer and the limiter: every attempt then counts, and once the
/// breaker opens, the retry layer gets [`CircuitOpen`] (never retried) and gives up at once.
///
/// ```
/// use std::time::Duration;
/// use retry_core::CircuitBreaker;
/// use retry_core::middleware::{CircuitBreakerMiddleware, RateLimitMiddleware, RetryMiddleware};
///
/// let breaker = CircuitBreakerMiddleware::new(
///     CircuitBreaker::builder().consecutive_failures(10).cool_off(Duration::from_secs(30)),
/// );
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::default())
///     .with(breaker.clone())
///     .with(RateLimitMiddleware::default())
///     .build();
///
/// // Later, when a call fails:
/// # let error = reqwest_middleware::Error::middleware(std::io::Error::other("x"));
/// if let Some(open) = CircuitBreakerMiddleware::open_error(&error) {
///     println!("failing fast, try again in {:?}", open.retry_in());
/// }
/// # let _ = client;
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreakerMiddleware {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    template: CircuitBreakerBuilder,
    hosts: PerHost<CircuitBreaker>,
}

impl Default for CircuitBreakerMiddleware {
    /// A breaker per host with [`CircuitBreaker::new`]'s thresholds.
    fn default() -> Self {
        CircuitBreakerMiddleware::new(CircuitBreaker::builder())
    }
}

impl CircuitBreakerMiddleware {
    /// A breaker per host, each built from `breaker`'s settings.
    pub fn new(breaker: CircuitBreakerBuilder) -> Self {
        CircuitBreakerMiddleware {
            shared: Arc::new(Shared {
                template: breaker,
                hosts: PerHost::default(),
            }),
        }
    }

    /// The breaker of `url`'s host, made on first use: to read its state.
    pub fn breaker(&self, url: &Url) -> CircuitBreaker {
        let template = self.shared.template;
        (self.shared.hosts).get_or_insert_with(url, None, || template.build())
    }

    /// The [`CircuitOpen`] inside an error of a client with this layer, if that is what it is.
    pub fn open_error(error: &Error) -> Option<&CircuitOpen> {
        match error {
            Error::Middleware(error) => error.downcast_ref::<CircuitOpen>(),
            Error::Reqwest(_) => None,
        }
    }
}

#[async_trait::async_trait]
impl Middleware for CircuitBreakerMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let permit = self
            .breaker(req.url())
            .permit()
            .map_err(Error::middleware)?;
        let result = next.run(req, extensions).await;
        permit.settle(match &result {
            Ok(response) => Ok(response.status()),
            Err(error) => Err(error.class()),
        });
        result
    }
}
