//! One typed call: its request, its attempts under `#[retry]` with the client's policy, and
//! what each attempt's answer becomes.
//!
//! # One retry budget per call
//! The HTTP stack has no retry layer: only [`RateLimitMiddleware`](retry_core::middleware::RateLimitMiddleware),
//! which paces requests and holds every request to the host after a 429. The retrying is done
//! here, once, by a `#[retry(policy = ...)]` method that sees typed [`Error`]s: a call makes
//! at most `policy.attempts` requests.
//!
//! # No double waiting
//! When the limiter answers a 429 by holding the host until a shared cooldown ends, it marks
//! the attempt's extensions with [`HeldByLimiter`]. The attempt's error then carries
//! `held_by_limiter`, its `retry_after()` is zero, and the retry goes back to the limiter's
//! queue at once (keeping its place in line: every attempt of a call shares one
//! `Extensions`, and so one ticket). The limiter alone does the waiting; sleeping the
//! server's hint first and then queueing for the same cooldown would wait twice.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Extensions, HeaderName, HeaderValue, Method, StatusCode};
use retry_core::middleware::{CallDeadline, HeldByLimiter, LimiterWait, WaitPastDeadline};
use retry_core::{Classify, retry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::client::Together;
use crate::error::{ApiError, DecodeError, Error};
use crate::rate_limits::RateLimits;
use crate::types::WithRateLimits;

/// The error of the call's last attempt, kept in its extensions: if a retry's wait for its
/// turn in the limiter outlasts the call, the call ends with it.
#[derive(Clone)]
struct LastError(Error);

/// How long after the call's deadline the limiter ends a retry's wait (see `attempt`).
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_millis(1);

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A new idempotency key: a random (v4) UUID, as the official SDKs send.
fn fresh_key() -> HeaderValue {
    let key = uuid::Uuid::new_v4().hyphenated().to_string();
    // A UUID is ASCII letters, digits and hyphens: always a valid header value.
    HeaderValue::from_str(&key).unwrap_or_else(|_| HeaderValue::from_static("unkeyed"))
}

/// Whether a call's answer may come from the response cache.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cacheable {
    /// Never (streams, the model list).
    Never,
    /// When the request is deterministic (`temperature == 0.0`) or opted in, and not when
    /// opted out.
    IfDeterministic {
        temperature: Option<f64>,
        opt: Option<bool>,
    },
    /// Whenever the cache is on (embeddings, rerank).
    Always,
}

/// A request to make: everything an attempt needs, built once per call.
#[derive(Debug)]
pub(crate) struct Call {
    method: Method,
    path: &'static str,
    body: Option<Bytes>,
    /// A streamed answer: asks for `text/event-stream`, and no whole-request timeout.
    pub(crate) stream: bool,
    /// Sent as `Idempotency-Key` by every attempt of a POST: one per call, as the official
    /// SDKs do, so that a server that deduplicates can tell a retry from a new request.
    idempotency_key: Option<HeaderValue>,
    /// The model asked for, for [`Together::usage`] (empty: none).
    model: String,
}

impl Call {
    /// `GET path`.
    pub(crate) fn get(path: &'static str) -> Self {
        Call {
            method: Method::GET,
            path,
            body: None,
            stream: false,
            idempotency_key: None,
            model: String::new(),
        }
    }

    /// `POST path` with `body` as JSON, and a fresh idempotency key.
    pub(crate) fn post(path: &'static str, body: &impl Serialize) -> Result<Self, Error> {
        let body = serde_json::to_vec(body).map_err(|e| DecodeError::json(e, b""))?;
        Ok(Call {
            method: Method::POST,
            path,
            body: Some(Bytes::from(body)),
            stream: false,
            idempotency_key: Some(fresh_key()),
            model: String::new(),
        })
    }

    /// Sends `key` as the idempotency key instead of the fresh one (when it is a valid header
    /// value; `None` keeps the fresh one).
    pub(crate) fn idempotency_key(mut self, key: Option<&str>) -> Self {
        if let Some(key) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
            self.idempotency_key = Some(key);
        }
        self
    }

    /// Counts the call's usage under `model`.
    pub(crate) fn model(mut self, model: &str) -> Self {
        model.clone_into(&mut self.model);
        self
    }

    /// The model the call's usage counts under.
    pub(crate) fn model_name(&self) -> &str {
        &self.model
    }

    /// The cache key: the endpoint and the exact body.
    fn cache_key(&self) -> String {
        let body = self.body.as_deref().unwrap_or_default();
        format!(
            "{} {}\n{}",
            self.method,
            self.path,
            String::from_utf8_lossy(body)
        )
    }
}

impl Together {
    /// Makes `call` and decodes its JSON answer, from the cache where allowed.
    pub(crate) async fn json<T>(&self, call: Call, cacheable: Cacheable) -> Result<T, Error>
    where
        T: DeserializeOwned + WithRateLimits + Clone + Send + Sync + 'static,
    {
        let Some(cache) = &self.inner.cache else {
            return self.json_uncached(&call).await;
        };
        let cached = match cacheable {
            Cacheable::Never => false,
            Cacheable::Always => true,
            Cacheable::IfDeterministic { temperature, opt } => cache.wants(temperature, opt),
        };
        if !cached {
            return self.json_uncached(&call).await;
        }
        cache
            .get_or_fetch(call.cache_key(), self.json_uncached(&call))
            .await
    }

    /// Makes `call` with the client's retry budget and decodes its JSON answer.
    async fn json_uncached<T>(&self, call: &Call) -> Result<T, Error>
    where
        T: DeserializeOwned + WithRateLimits,
    {
        // One `Extensions` for every attempt: the limiter's ticket (the call's place in line)
        // and its `HeldByLimiter` marker live here.
        let mut extensions = Extensions::new();
        self.json_retried(call, &mut extensions).await
    }

    #[retry(policy = self.inner.policy)]
    async fn json_retried<T>(&self, call: &Call, extensions: &mut Extensions) -> Result<T, Error>
    where
        T: DeserializeOwned + WithRateLimits,
    {
        let response = self.attempt(call, extensions).await?;
        let limits = RateLimits::from_headers(response.headers());
        let book = self.inner.usage.book(&call.model);
        book.limits(&limits);
        let body = response.bytes().await?;
        let mut value: T = serde_json::from_slice(&body).map_err(|e| {
            // The body may echo the key (a proxy, an echo server): never keep it.
            let mut error = Error::from(DecodeError::json(e, &body));
            error.redact(&self.inner.key);
            error
        })?;
        book.tokens(value.token_usage());
        value.set_rate_limits(limits);
        Ok(value)
    }

    /// One attempt: sends the request through the stack and turns an error status into a
    /// typed [`Error`]. Feeds the rate-limit streak alert.
    pub(crate) async fn attempt(
        &self,
        call: &Call,
        extensions: &mut Extensions,
    ) -> Result<reqwest::Response, Error> {
        let request = self.request(call)?;
        // Asked per attempt, before the limiter's queue: an open breaker fails the call
        // without a request and without waiting its turn.
        let permit = match &self.inner.breaker {
            Some(breaker) => Some(breaker.permit().map_err(Error::CircuitOpen)?),
            None => None,
        };
        let started = Instant::now();
        let sent = self
            .inner
            .http
            .execute_with_extensions(request, extensions)
            .await;
        if let Err(error) = &sent
            && WaitPastDeadline::is(error)
        {
            // A retry never sent: it says nothing of the server, and the call ends with the
            // error it was retrying.
            drop(permit);
            return Err(match extensions.get::<LastError>() {
                Some(LastError(error)) => error.clone(),
                None => Error::Timeout(None),
            });
        }
        let held = extensions.remove::<HeldByLimiter>().is_some();
        let waited = extensions.remove::<LimiterWait>().unwrap_or_default().0;
        // The retries of this call (not its first attempt: that wait is the caller's own
        // backpressure, and the deadline counts from when it was sent) wait for their turn in
        // the limiter no longer than the call may last: until just after the retry loop's own
        // deadline (whose clock starts a moment after this one, and which the first wait,
        // reported on the error, moves as it moves this), so that the loop, seeing its
        // deadline passed, gives up rather than try again.
        if extensions.get::<CallDeadline>().is_none()
            && let Some(at) = (self.inner.policy.get_deadline()).and_then(|d| {
                started.checked_add(waited.saturating_add(d).saturating_add(DEADLINE_MARGIN))
            })
        {
            extensions.insert(CallDeadline(at));
        }
        let busy = started.elapsed().saturating_sub(waited);
        let status = sent.as_ref().ok().map(reqwest::Response::status);
        (self.inner.usage.book(&call.model)).attempt(status, waited, busy);
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let error = Error::from(error);
                if let Some(permit) = permit {
                    permit.settle(Err(error.class()));
                }
                extensions.insert(LastError(error.clone()));
                return Err(error);
            }
        };
        let status = response.status();
        if let Some(permit) = permit {
            permit.settle(Ok(status));
        }
        if status.is_success() {
            self.inner.alert.success();
            return Ok(response);
        }
        let headers = response.headers().clone();
        // An error body that cannot be read still leaves the status and headers to go by.
        let body = response.bytes().await.unwrap_or_default();
        let mut api = ApiError::from_response(status, &headers, &body);
        api.redact(&self.inner.key);
        api.limiter_wait = waited;
        if status == StatusCode::TOO_MANY_REQUESTS {
            api.held_by_limiter = held;
            self.inner.alert.rate_limited(&api);
        }
        let error = Error::from_api(api);
        extensions.insert(LastError(error.clone()));
        tracing::debug!(
            target: "together_client",
            path = call.path,
            status = status.as_u16(),
            class = %error.class(),
            "Together answered with an error"
        );
        Err(error)
    }

    /// The `reqwest::Request` of one attempt.
    fn request(&self, call: &Call) -> Result<reqwest::Request, Error> {
        let url = self.inner.base_url.join(call.path).map_err(|e| {
            Error::Config(format!("cannot join `{}` to the base URL: {e}", call.path))
        })?;
        let accept = if call.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut builder = self
            .inner
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(ACCEPT, HeaderValue::from_static(accept));
        if let Some(body) = &call.body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        if let Some(key) = &call.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY, key.clone());
        }
        if let (false, Some(timeout)) = (call.stream, self.inner.timeout) {
            builder = builder.timeout(timeout);
        }
        Ok(builder.build()?)
    }
}
