//! [`Error`]: every way a call can fail, typed from Together's answers, and how a retry loop
//! sees each one ([`Classify`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use retry_core::middleware::CircuitBreakerMiddleware;
use retry_core::{CircuitOpen, Class, Classify, Elapsed};

pub use crate::api_error::{ApiError, DecodeError};
use crate::rate_limits::RateLimits;

/// Everything a call to Together can fail with.
///
/// The API's answers are typed by status and by the error body's `type`/`code`; each carries
/// the [`ApiError`] (message, type, code, request id, rate limits, the server's delay hint).
/// `Error` implements [`Classify`], so `#[retry]` and [`retry_core::Retrier`] know what to
/// retry: rate limits, overload, server errors, timeouts and dropped connections; never auth,
/// payment, a bad request, a missing model or a prompt too long. `x-should-retry` from the
/// server overrides the status either way.
///
/// Neither `Display` nor `Debug` ever shows the API key, even when the server echoes it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// 429: too many requests or tokens (`dynamic_request_limited`,
    /// `dynamic_token_limited`, ...). Transient; retried after the server's hint.
    RateLimited(Box<ApiError>),
    /// 503 or 529: Together is out of capacity ("The server is overloaded or not ready
    /// yet."). Transient.
    Overloaded(Box<ApiError>),
    /// 401 (a missing, wrong or revoked key), or a 403 that is not about the context window.
    /// Permanent.
    Auth(Box<ApiError>),
    /// 402 (a spending limit), or a 429 of type `credit_limit` (out of credit, which can
    /// last). Permanent.
    Payment(Box<ApiError>),
    /// The prompt and `max_tokens` exceed the model's context window (Together's 403, or a
    /// 400 that says so). Permanent.
    ContextTooLong(Box<ApiError>),
    /// 400 (`model_not_available`, an invalid field, ...) and other 4xx. Permanent.
    BadRequest(Box<ApiError>),
    /// 404: no such endpoint or model. Permanent.
    NotFound(Box<ApiError>),
    /// 500, 502 and other 5xx; also an error object sent inside a stream. Transient.
    Server(Box<ApiError>),
    /// The request took too long: a 408, 504 or 524 from the server (`Some`), or an attempt
    /// that ran past the policy's `attempt_timeout` or the client's stream timeout (`None`).
    /// Transient.
    Timeout(Option<Box<ApiError>>),
    /// The request did not get an answer: connection refused or cut, TLS, a reqwest timeout.
    /// Classified by retry-core (connect, timeout, or permanent).
    Transport(Arc<reqwest_middleware::Error>),
    /// The answer could not be read as the endpoint's type. Permanent.
    Decode(DecodeError),
    /// The client's circuit breaker is open ([`TogetherBuilder::circuit_breaker`]): Together
    /// kept failing, and calls fail at once for the rest of the cool-off, without a request.
    /// Permanent (retrying into an open breaker would only spin); try again after
    /// [`CircuitOpen::retry_in`], or fall back.
    ///
    /// [`TogetherBuilder::circuit_breaker`]: crate::TogetherBuilder::circuit_breaker
    CircuitOpen(CircuitOpen),
    /// The client is misconfigured: no key, a bad base URL, a plain `http://` URL to a host
    /// that is not loopback. Permanent.
    Config(String),
}

/// The `ApiError` of an [`Error`] (by reference or mutable reference): one list of the
/// variants that carry what the API said, for [`Error::api`] and `Error::api_mut`.
macro_rules! api_of {
    ($error:expr) => {
        match $error {
            Error::RateLimited(e)
            | Error::Overloaded(e)
            | Error::Auth(e)
            | Error::Payment(e)
            | Error::ContextTooLong(e)
            | Error::BadRequest(e)
            | Error::NotFound(e)
            | Error::Server(e)
            | Error::Timeout(Some(e)) => Some(e),
            Error::Timeout(None)
            | Error::Transport(_)
            | Error::Decode(_)
            | Error::CircuitOpen(_)
            | Error::Config(_) => None,
        }
    };
}

impl Error {
    /// The error for a failed response: the variant by status (and by the body's
    /// `type`/`code` where the status is not enough).
    pub fn from_api(api: ApiError) -> Self {
        let Some(status) = api.status else {
            return Error::from_stream_error(api);
        };
        match status.as_u16() {
            400 if api.mentions_context() => Error::ContextTooLong(Box::new(api)),
            401 => Error::Auth(Box::new(api)),
            402 => Error::Payment(Box::new(api)),
            403 if api.mentions_context() || api.message.to_ascii_lowercase().contains("token") => {
                Error::ContextTooLong(Box::new(api))
            }
            403 => Error::Auth(Box::new(api)),
            404 => Error::NotFound(Box::new(api)),
            408 | 504 | 524 => Error::Timeout(Some(Box::new(api))),
            429 if api.is_credit_limit() => Error::Payment(Box::new(api)),
            429 => Error::RateLimited(Box::new(api)),
            503 | 529 => Error::Overloaded(Box::new(api)),
            500..=599 => Error::Server(Box::new(api)),
            _ => Error::BadRequest(Box::new(api)),
        }
    }

    /// An error object inside a stream has no status of its own: its `type` or `code` says
    /// what it is (a numeric code is read as a status).
    fn from_stream_error(api: ApiError) -> Self {
        if let Some(status) = api
            .code
            .as_deref()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (400..600).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            return Error::from_api(ApiError {
                status: Some(status),
                ..api
            });
        }
        let names = format!(
            "{} {}",
            api.kind.as_deref().unwrap_or_default(),
            api.code.as_deref().unwrap_or_default()
        )
        .to_ascii_lowercase();
        let has = |word: &str| names.contains(word);
        if api.is_credit_limit() {
            Error::Payment(Box::new(api))
        } else if has("rate_limit") || has("limited") {
            Error::RateLimited(Box::new(api))
        } else if has("overloaded") || has("unavailable") || has("capacity") {
            Error::Overloaded(Box::new(api))
        } else if has("auth") || has("api_key") {
            Error::Auth(Box::new(api))
        } else if api.mentions_context() {
            Error::ContextTooLong(Box::new(api))
        } else if has("invalid_request") {
            Error::BadRequest(Box::new(api))
        } else if has("not_found") {
            Error::NotFound(Box::new(api))
        } else if has("timeout") {
            Error::Timeout(Some(Box::new(api)))
        } else {
            Error::Server(Box::new(api))
        }
    }

    /// What the API said, for every variant that comes from an answer of the API.
    pub fn api(&self) -> Option<&ApiError> {
        api_of!(self)
    }

    pub(crate) fn api_mut(&mut self) -> Option<&mut ApiError> {
        api_of!(self)
    }

    /// Replaces every copy of `secret` in what the server sent back: the API's texts, a
    /// body that could not be decoded.
    pub(crate) fn redact(&mut self, secret: &str) {
        match self {
            Error::Decode(e) => e.redact(secret),
            other => {
                if let Some(api) = other.api_mut() {
                    api.redact(secret);
                }
            }
        }
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.api().and_then(|e| e.status)
    }

    /// The rate limits the failed response reported, if there was a response.
    pub fn rate_limits(&self) -> Option<&RateLimits> {
        self.api().map(|e| &e.rate_limits)
    }

    /// Whether a retry could help: every class but [`Class::Permanent`].
    pub fn is_retryable(&self) -> bool {
        self.class().is_transient()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::RateLimited(e) => write!(f, "rate limited by Together: {e}"),
            Error::Overloaded(e) => write!(f, "Together is overloaded: {e}"),
            Error::Auth(e) => write!(
                f,
                "authentication failed: {e}; check the API key (TOGETHER_API_KEY)"
            ),
            Error::Payment(e) => write!(f, "payment required or credit limit reached: {e}"),
            Error::ContextTooLong(e) => write!(
                f,
                "the prompt and max_tokens exceed the model's context window: {e}"
            ),
            Error::BadRequest(e) => write!(f, "bad request: {e}"),
            Error::NotFound(e) => write!(f, "not found: {e}"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Timeout(Some(e)) => write!(f, "timed out: {e}"),
            Error::Timeout(None) => f.write_str("timed out: the attempt ran past its timeout"),
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Decode(e) => write!(f, "could not decode the response: {e}"),
            Error::CircuitOpen(e) => write!(f, "not sent to Together: {e}"),
            Error::Config(message) => write!(f, "invalid client configuration: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => Some(&**e),
            Error::Decode(e) => Some(e),
            Error::CircuitOpen(e) => Some(e),
            _ => None,
        }
    }
}

impl Classify for Error {
    /// Rate limited, overloaded, server error and timeout by variant; a transport error as
    /// retry-core classifies it; everything else permanent. The server's `x-should-retry`
    /// comes first: `false` makes any error permanent, `true` makes a permanent one a server
    /// error (as the official SDKs obey it).
    fn class(&self) -> Class {
        let base = match self {
            Error::RateLimited(_) => Class::RateLimited,
            Error::Overloaded(_) => Class::Overloaded,
            // 501 and 505 say the request is wrong, not the server (as retry-core classifies
            // a status): the same request would fail again.
            Error::Server(api) if api.status.is_some_and(|s| matches!(s.as_u16(), 501 | 505)) => {
                Class::Permanent
            }
            Error::Server(_) => Class::ServerError,
            Error::Timeout(_) => Class::Timeout,
            Error::Auth(_)
            | Error::Payment(_)
            | Error::ContextTooLong(_)
            | Error::BadRequest(_)
            | Error::NotFound(_) => Class::Permanent,
            Error::Transport(e) => return (**e).class(),
            Error::Decode(_) | Error::CircuitOpen(_) | Error::Config(_) => return Class::Permanent,
        };
        match self.api().and_then(|e| e.should_retry) {
            Some(false) => Class::Permanent,
            Some(true) if base == Class::Permanent => Class::ServerError,
            _ => base,
        }
    }

    /// Zero when the client's rate limiter already holds the host after this 429 (retry at
    /// once: the limiter does the waiting); otherwise the server's hint, if it gave one.
    fn retry_after(&self) -> Option<Duration> {
        let api = self.api()?;
        if api.held_by_limiter {
            Some(Duration::ZERO)
        } else {
            api.retry_after
        }
    }

    /// A 429 the client's rate limiter holds: its retry costs no attempt (see
    /// [`Classify::held_by_limiter`]).
    fn held_by_limiter(&self) -> bool {
        self.api().is_some_and(|api| api.held_by_limiter)
    }

    /// How long the attempt waited for its turn in the client's limiter (see
    /// [`Classify::limiter_wait`]): an error with an answer from Together carries it; a
    /// transport error does not, and its call's deadline counts the wait.
    fn limiter_wait(&self) -> Duration {
        self.api().map_or(Duration::ZERO, |api| api.limiter_wait)
    }
}

impl From<Elapsed> for Error {
    /// An attempt that ran past the policy's `attempt_timeout`: [`Error::Timeout`]`(None)`.
    fn from(_: Elapsed) -> Self {
        Error::Timeout(None)
    }
}

impl From<reqwest_middleware::Error> for Error {
    /// [`Error::CircuitOpen`] when the breaker refused the request, else [`Error::Transport`].
    fn from(error: reqwest_middleware::Error) -> Self {
        match CircuitBreakerMiddleware::open_error(&error) {
            Some(open) => Error::CircuitOpen(*open),
            None => Error::Transport(Arc::new(error)),
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        Error::Transport(Arc::new(reqwest_middleware::Error::Reqwest(error)))
    }
}

impl From<DecodeError> for Error {
    fn from(error: DecodeError) -> Self {
        Error::Decode(error)
    }
}
