//! `ApiError::from_body` and `ApiError::from_response` on arbitrary bodies and headers, then
//! `Error::from_api`: never a panic, always a message, and the headers read as the retry
//! engine's own parsers read them.
//!
//! Input: `[status hi, status lo, header count, headers..., body...]`, each header
//! `[selector, length, value bytes...]` naming one of the headers the client reads.

#![no_main]

mod headers;

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use together_client::retry_core::middleware::{MAX_HINT, delay_hint, should_retry};
use together_client::retry_core::{Class, Classify};
use together_client::{ApiError, Error, RateLimits};

const NAMES: [&str; 8] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-reset",
    "x-should-retry",
    "x-request-id",
    "x-ratelimit-remaining",
    "x-ratelimit-reset-dynamic",
    "x-tokenlimit-remaining",
];

/// The longest message a body that is not JSON can give: 512 bytes, each invalid byte
/// widened to U+FFFD (3 bytes), and the ellipsis.
const MAX_SNIPPET: usize = 512 * 3 + '…'.len_utf8();

fuzz_target!(|data: &[u8]| {
    let [hi, lo, count, rest @ ..] = data else {
        return;
    };
    // Every status an error can have, and a few a server should not send.
    let status = StatusCode::from_u16(400 + u16::from_be_bytes([*hi, *lo]) % 200)
        .expect("400..600 is a valid status");
    let (headers, body) = headers::read(rest, &NAMES, usize::from(count % 8));

    let alone = ApiError::from_body(body);
    if serde_json::from_slice::<serde_json::Value>(body).is_err() {
        assert!(
            alone.message.len() <= MAX_SNIPPET,
            "{}",
            alone.message.len()
        );
    }

    let api = ApiError::from_response(status, &headers, body);
    assert!(!api.message.is_empty(), "{api:?}");
    assert_eq!(api.status, Some(status));
    assert_eq!(api.kind, alone.kind);
    assert_eq!(api.code, alone.code);
    assert_eq!(api.should_retry, should_retry(&headers));
    assert_eq!(api.rate_limits, RateLimits::from_headers(&headers));
    if let Some(id) = &api.rate_limits.request_id {
        assert_eq!(api.request_id.as_ref(), Some(id));
    }
    if let Some(delay) = api.retry_after {
        assert!(!delay.is_zero() && delay <= MAX_HINT, "{delay:?}");
    }
    let dated = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().parse::<f64>().is_err());
    if status == StatusCode::TOO_MANY_REQUESTS && !dated {
        assert_eq!(api.retry_after, delay_hint(&headers));
    }
    if status != StatusCode::TOO_MANY_REQUESTS
        && !headers.contains_key("retry-after")
        && !headers.contains_key("retry-after-ms")
    {
        // `x-ratelimit-reset` is the bucket's refill, no hint for anything but a 429.
        assert_eq!(api.retry_after, None);
    }

    let error = Error::from_api(api.clone());
    assert_eq!(error.status(), Some(status));
    let shown = error.to_string();
    assert!(shown.contains(&api.message), "{shown}");
    let class = error.class();
    if api.should_retry == Some(false) {
        assert_eq!(class, Class::Permanent);
    }
    assert_eq!(error.is_retryable(), class.is_transient());
    let _ = format!("{error:?}");
    let _ = error.retry_after();
});
