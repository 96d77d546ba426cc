//! [`ApiError`], what Together said about a failed request, and [`DecodeError`], an answer
//! that could not be read.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, StatusCode};
use retry_core::middleware::{delay_hint, should_retry};
use serde_json::Value;

use crate::rate_limits::RateLimits;

/// The longest piece of an unreadable body kept in an error, in bytes.
const SNIPPET: usize = 512;

/// What Together said about a failed request: its error body
/// (`{"error": {"message", "type", "param", "code"}}`) and the response's headers.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status; `None` for an error object sent inside a stream.
    pub status: Option<StatusCode>,
    /// The API's `message` (or, for a body that is not Together's JSON, the start of it).
    pub message: String,
    /// The API's `type`, e.g. `dynamic_request_limited`, `credit_limit`,
    /// `invalid_request_error`.
    pub kind: Option<String>,
    /// The API's `code`, e.g. `model_not_available`, `context_length_exceeded`.
    pub code: Option<String>,
    /// The API's `param`: the request field at fault, where it says.
    pub param: Option<String>,
    /// The request's id: the `x-request-id` header, or the body's top-level `id`.
    pub request_id: Option<String>,
    /// The rate limits the response reported.
    pub rate_limits: RateLimits,
    /// The server's delay hint: `retry-after-ms`, `Retry-After` (seconds or an HTTP date),
    /// and for a 429 `x-ratelimit-reset`.
    pub retry_after: Option<Duration>,
    /// `x-should-retry: true|false`, the server's own verdict, which overrides the status.
    pub should_retry: Option<bool>,
    /// Whether the client's `RateLimitMiddleware` answered this 429 by holding every request
    /// to the host until a shared cooldown ends (so a retry need not sleep on its own).
    pub held_by_limiter: bool,
    /// How long the request waited for its turn in the client's `RateLimitMiddleware` before
    /// it was sent. On a call's first attempt the retry deadline does not count it (see
    /// [`Classify::limiter_wait`](retry_core::Classify::limiter_wait)).
    pub limiter_wait: Duration,
}

impl ApiError {
    /// Reads a failed response: its status, headers and body. Never fails: a body that is not
    /// Together's JSON becomes the message (its first bytes).
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut error = ApiError::from_body(body);
        error.status = Some(status);
        if error.message.is_empty() {
            error.message = status
                .canonical_reason()
                .unwrap_or("unknown error")
                .to_owned();
        }
        error.rate_limits = RateLimits::from_headers(headers);
        if let Some(id) = &error.rate_limits.request_id {
            error.request_id = Some(id.clone());
        }
        error.retry_after = if status == StatusCode::TOO_MANY_REQUESTS {
            delay_hint(headers)
        } else {
            // `x-ratelimit-reset` says when the rate-limit bucket refills: no hint for a 5xx.
            let mut only = HeaderMap::new();
            for name in [HeaderName::from_static("retry-after-ms"), RETRY_AFTER] {
                if let Some(value) = headers.get(&name) {
                    only.insert(name, value.clone());
                }
            }
            delay_hint(&only)
        };
        error.should_retry = should_retry(headers);
        error
    }

    /// Reads an error body alone (as an error object inside a stream is): `{"error": {...}}`,
    /// `{"error": "message"}`, `{"message": ...}`, or any text.
    pub fn from_body(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return ApiError {
                message: snippet(body),
                ..ApiError::default()
            };
        };
        ApiError::from_value(&value)
    }

    /// Reads an already parsed error body.
    pub fn from_value(value: &Value) -> Self {
        let inner = match value.get("error") {
            Some(Value::Object(_)) => &value["error"],
            _ => value,
        };
        let message = match value.get("error") {
            Some(Value::String(message)) => Some(message.clone()),
            _ => text(inner.get("message")),
        };
        ApiError {
            message: message.unwrap_or_default(),
            kind: text(inner.get("type")),
            code: text(inner.get("code")),
            param: text(inner.get("param")),
            request_id: text(value.get("id")),
            ..ApiError::default()
        }
    }

    /// Whether the API's `type` or `code` is `name` (any case).
    pub fn is(&self, name: &str) -> bool {
        [&self.kind, &self.code]
            .into_iter()
            .flatten()
            .any(|v| v.eq_ignore_ascii_case(name))
    }

    /// Whether the account is out of credit or quota: Together's `credit_limit`, or OpenAI's
    /// `insufficient_quota` (which compatible servers send too). It comes as a 429, but no
    /// retry will help until someone pays, so it is [`Error::Payment`](crate::Error::Payment).
    pub fn is_credit_limit(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        self.is("credit_limit")
            || self.is("insufficient_quota")
            || message.contains("credit limit")
            || message.contains("exceeded your current quota")
    }

    /// Whether the message or code says the prompt and `max_tokens` exceed the model's
    /// context window.
    pub(crate) fn mentions_context(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        // Not a bare "context": Go servers say "context deadline exceeded" for a timeout.
        self.is("context_length_exceeded")
            || [
                "context length",
                "context window",
                "context_length",
                "maximum context",
            ]
            .iter()
            .any(|phrase| message.contains(phrase))
    }

    /// Replaces every copy of `secret` in the texts the server sent back: a key echoed in a
    /// message must not reach a log.
    pub(crate) fn redact(&mut self, secret: &str) {
        for field in [
            Some(&mut self.message),
            self.kind.as_mut(),
            self.code.as_mut(),
            self.param.as_mut(),
            self.request_id.as_mut(),
            // The header's copy of the request id too: `Debug` shows the rate limits.
            self.rate_limits.request_id.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            scrub(field, secret);
        }
    }
}

/// Replaces every copy of `secret` in `text`; whether there was one.
fn scrub(text: &mut String, secret: &str) -> bool {
    if secret.len() < 4 {
        return false;
    }
    let mut changed = false;
    if text.contains(secret) {
        *text = text.replace(secret, "[redacted]");
        changed = true;
    }
    // A snippet cut short inside a copy of the secret ends with the secret's start.
    if let Some(cut) = text.strip_suffix('…') {
        let kept = (4..secret.len())
            .rev()
            .find(|&n| secret.get(..n).is_some_and(|start| cut.ends_with(start)));
        if let Some(n) = kept {
            let end = cut.len() - n;
            text.truncate(end);
            text.push_str("[redacted]…");
            changed = true;
        }
    }
    changed
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut details = Vec::new();
        if let Some(status) = self.status {
            details.push(status.to_string());
        }
        if let Some(kind) = &self.kind {
            details.push(format!("type `{kind}`"));
        }
        if let Some(code) = &self.code {
            details.push(format!("code `{code}`"));
        }
        if let Some(param) = &self.param {
            details.push(format!("param `{param}`"));
        }
        if let Some(id) = &self.request_id {
            details.push(format!("request id {id}"));
        }
        if let Some(wait) = self.retry_after.filter(|_| !self.held_by_limiter) {
            details.push(format!("retry after {wait:?}"));
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

/// A JSON value as text: a string as it is, a number or boolean written out, null as `None`.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The start of a body as text, for an error message.
fn snippet(body: &[u8]) -> String {
    let end = body.len().min(SNIPPET);
    let text = String::from_utf8_lossy(&body[..end]);
    let text = text.trim();
    if body.len() > SNIPPET {
        format!("{text}…")
    } else {
        text.to_owned()
    }
}

/// A response body that could not be read as the type the endpoint returns.
#[derive(Clone, Debug)]
pub struct DecodeError {
    message: String,
    body: String,
    source: Option<Arc<serde_json::Error>>,
}

impl DecodeError {
    /// A decode error of a JSON body.
    pub(crate) fn json(error: serde_json::Error, body: &[u8]) -> Self {
        DecodeError {
            message: error.to_string(),
            body: snippet(body),
            source: Some(Arc::new(error)),
        }
    }

    /// A decode error with a message of its own (a malformed event stream).
    pub(crate) fn other(message: impl Into<String>) -> Self {
        DecodeError {
            message: message.into(),
            body: String::new(),
            source: None,
        }
    }

    /// Replaces every copy of `secret` in the message and the body: a body that echoes the
    /// request (a proxy, a test server) must not carry the key into a log.
    pub(crate) fn redact(&mut self, secret: &str) {
        // serde's message quotes the text it choked on, and so does the source's.
        if scrub(&mut self.message, secret) {
            self.source = None;
        }
        scrub(&mut self.body, secret);
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The start of the body that failed to decode (up to 512 bytes; empty if none).
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_cut_by_the_snippet_is_redacted_too() {
        let secret = "sk-test-SECRET-4f1c9e";
        let mut body = "x".repeat(SNIPPET - 8).into_bytes();
        body.extend_from_slice(secret.as_bytes());
        let mut error = DecodeError::other("bad");
        error.body = snippet(&body);
        assert!(error.body.ends_with("sk-test-…"), "{}", error.body);
        error.redact(secret);
        assert!(error.body.ends_with("x[redacted]…"), "{}", error.body);
        assert!(!error.body.contains("sk-test"));
    }
}
