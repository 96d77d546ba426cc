//! Final 429s: a "too many requests" whose body says the money or the quota is gone, which
//! no wait cures. Both layers read a 429's small JSON body for it (bounded in size and time)
//! and hand the response on intact; the verdict travels as [`QuotaExhausted`] in the
//! response's extensions, so a body is read once however many layers look.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use reqwest::{Response, ResponseBuilderExt};
use serde_json::Value;

/// The most of a 429's body read to look for a quota error: error bodies are a few hundred
/// bytes; a longer one is not an error object and is passed on unread past this.
const BODY_LIMIT: usize = 16 * 1024;

/// How long reading a 429's body may take: a server that stalls its error body must not
/// stall the call (the part read so far is passed on with the rest).
const READ_WINDOW: Duration = Duration::from_secs(2);

/// The error codes that mean no wait will help: Together's `credit_limit` (out of credit),
/// OpenAI's `insufficient_quota` (no credit, or the monthly budget spent; Azure OpenAI and
/// servers that copy OpenAI's errors use it too). Matched on the error's `type` or `code`.
const FINAL_CODES: [&str; 2] = ["credit_limit", "insufficient_quota"];

/// A 429 that no retry will cure: the account is out of credit or its quota is spent
/// (Together `credit_limit`, OpenAI `insufficient_quota`).
///
/// [`RetryMiddleware`](super::RetryMiddleware) and
/// [`RateLimitMiddleware`](super::RateLimitMiddleware) read a 429's body for it, put it in the
/// response's extensions, and then neither retry the call nor hold the host: the response
/// comes back at once, its body intact.
///
/// ```
/// use retry_core::middleware::QuotaExhausted;
///
/// let body = br#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
///                 "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
/// let quota = QuotaExhausted::from_body(body).unwrap();
/// assert_eq!(quota.code(), "insufficient_quota");
///
/// let busy = br#"{"error": {"message": "Slow down", "type": "dynamic_request_limited"}}"#;
/// assert_eq!(QuotaExhausted::from_body(busy), None);
/// ```
///
/// After a call through the middleware:
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// use retry_core::middleware::QuotaExhausted;
///
/// let response = client.get("https://api.example.com/v1/models").send().await?;
/// if let Some(quota) = response.extensions().get::<QuotaExhausted>() {
///     eprintln!("out of quota ({}): {}", quota.code(), quota.message());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaExhausted {
    code: String,
    message: String,
}

impl QuotaExhausted {
    /// The quota error an error body holds, if it is one: an OpenAI-style
    /// `{"error": {"type", "code", "message"}}` (or the same fields at the top level, or
    /// `"error": "<code>"`) whose `type` or `code` is one of the final codes, or whose message
    /// is OpenAI's "exceeded your current quota" (sent at times with a null code). Anything
    /// else, including a body that is not JSON, is `None`.
    pub fn from_body(body: &[u8]) -> Option<QuotaExhausted> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let error = match value.get("error") {
            Some(Value::Object(_)) => &value["error"],
            _ => &value,
        };
        let text = |key: &str| error.get(key).and_then(Value::as_str);
        let message = text("message").unwrap_or_default();
        let named = [
            text("type"),
            text("code"),
            value.get("error").and_then(Value::as_str),
        ]
        .into_iter()
        .flatten()
        .find(|name| FINAL_CODES.iter().any(|c| name.eq_ignore_ascii_case(c)));
        let code = match named {
            Some(code) => code,
            None if message.contains("exceeded your current quota") => "insufficient_quota",
            None => return None,
        };
        Some(QuotaExhausted {
            code: code.to_ascii_lowercase(),
            message: message.to_owned(),
        })
    }

    /// The error's code: `credit_limit` or `insufficient_quota`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The server's message, as it sent it (may be empty).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for QuotaExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "quota exhausted ({})", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for QuotaExhausted {}

/// Marks a response whose body this module has already looked at.
#[derive(Clone, Copy)]
struct Inspected;

/// The quota verdict on a response, once [`inspect`] has looked at it.
pub(crate) fn quota(response: &Response) -> bool {
    response.extensions().get::<QuotaExhausted>().is_some()
}

/// Looks at a 429's body for a quota error (once per response), and hands the response back
/// with its body intact and [`QuotaExhausted`] in its extensions if the body holds one.
/// Responses of any other status pass through untouched.
pub(crate) async fn inspect(mut response: Response) -> Response {
    if response.status() != StatusCode::TOO_MANY_REQUESTS
        || response.extensions().get::<Inspected>().is_some()
        || response
            .content_length()
            .is_some_and(|length| length > BODY_LIMIT as u64)
    {
        return response;
    }
    let mut read = Vec::new();
    let mut complete = false;
    let window = tokio::time::Instant::now() + READ_WINDOW;
    while read.len() <= BODY_LIMIT {
        // `chunk` takes nothing from the body until a chunk is ready, so giving up on it at
        // the window's end loses no bytes.
        match tokio::time::timeout_at(window, response.chunk()).await {
            Ok(Ok(Some(chunk))) => read.extend_from_slice(&chunk),
            Ok(Ok(None)) => {
                complete = true;
                break;
            }
            // A body that fails or stalls: pass on what came and let the caller meet the rest.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let quota = complete.then(|| QuotaExhausted::from_body(&read)).flatten();
    rebuild(response, Bytes::from(read), !complete, quota)
}

/// The response again, its body the bytes already read followed (when `more`) by whatever
/// the original body still holds.
fn rebuild(
    mut response: Response,
    read: Bytes,
    more: bool,
    quota: Option<QuotaExhausted>,
) -> Response {
    let mut extensions = std::mem::take(response.extensions_mut());
    extensions.insert(Inspected);
    if let Some(quota) = quota {
        extensions.insert(quota);
    }
    let status = response.status();
    let version = response.version();
    // The builder's `url` is the only way to set what `Response::url` reads back.
    let url = http::Response::builder()
        .url(response.url().clone())
        .body(())
        .map(|holder| holder.into_parts().0.extensions)
        .unwrap_or_default();
    extensions.extend(url);
    let headers = std::mem::take(response.headers_mut());
    let body = if more {
        reqwest::Body::wrap(Prefixed {
            read: Some(read),
            rest: reqwest::Body::from(response),
        })
    } else {
        reqwest::Body::from(read)
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    *rebuilt.extensions_mut() = extensions;
    Response::from(rebuilt)
}

/// A body whose first bytes were already read: those, then the rest.
struct Prefixed {
    read: Option<Bytes>,
    rest: reqwest::Body,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        if let Some(read) = self.read.take().filter(|read| !read.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(read))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.read.as_ref().is_none_or(Bytes::is_empty) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let read = self.read.as_ref().map_or(0, |read| read.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(read));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(read));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A body of unknown length (as a chunked response is): `chunks`, then the end, or then
    /// nothing ever again (`stall`).
    struct Chunks {
        chunks: VecDeque<Bytes>,
        stall: bool,
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            match self.chunks.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                None if self.stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    fn response(chunks: &[&[u8]], stall: bool) -> Response {
        let body = Chunks {
            chunks: chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect(),
            stall,
        };
        let mut response = http::Response::new(reqwest::Body::wrap(body));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert("x-ratelimit-remaining", "0".parse().unwrap());
        Response::from(response)
    }

    #[tokio::test]
    async fn a_chunked_quota_body_is_read_and_handed_on() {
        let body = br#"{"error": {"type": "insufficient_quota", "message": "out"}}"#;
        let (a, b) = body.split_at(10);
        let inspected = inspect(response(&[a, b], false)).await;
        assert!(quota(&inspected));
        assert_eq!(inspected.headers()["x-ratelimit-remaining"], "0");
        assert_eq!(inspected.bytes().await.unwrap(), &body[..]);
    }

    #[tokio::test]
    async fn a_long_body_is_handed_on_whole_unjudged() {
        let chunk = [b'x'; 8 * 1024];
        let inspected = inspect(response(&[&chunk, &chunk, &chunk, b"end"], false)).await;
        assert!(!quota(&inspected));
        let body = inspected.bytes().await.unwrap();
        assert_eq!(body.len(), 3 * 8 * 1024 + 3);
        assert!(body.ends_with(b"xend"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_does_not_stall_the_call() {
        let started = tokio::time::Instant::now();
        let mut inspected = inspect(response(&[b"{\"error\":"], true)).await;
        assert_eq!(started.elapsed(), READ_WINDOW);
        assert!(!quota(&inspected));
        // What came is still there, first.
        assert_eq!(
            inspected.chunk().await.unwrap().unwrap(),
            &b"{\"error\":"[..]
        );
    }

    #[test]
    fn bodies_in_every_shape() {
        let final_ = |body: &str| QuotaExhausted::from_body(body.as_bytes()).map(|q| q.code);
        assert_eq!(
            final_(r#"{"error": "insufficient_quota"}"#).as_deref(),
            Some("insufficient_quota")
        );
        assert_eq!(
            final_(r#"{"type": "CREDIT_LIMIT", "message": "m"}"#).as_deref(),
            Some("credit_limit")
        );
        assert_eq!(
            final_(r#"{"error": {"code": "insufficient_quota"}}"#).as_deref(),
            Some("insufficient_quota")
        );
        for other in [
            "",
            "not json",
            "[]",
            "null",
            r#"{"error": {"type": "rate_limit_error"}}"#,
            r#"{"error": 3}"#,
        ] {
            assert_eq!(final_(other), None, "{other}");
        }
    }
}
