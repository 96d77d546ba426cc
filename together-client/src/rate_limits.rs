//! [`RateLimits`]: what a response's headers say about the account's limits.

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use retry_core::middleware::RateLimitHeaders;

/// One bucket of a rate limit as a response reports it: its size, what is left, and when it
/// is full again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bucket {
    /// What the bucket holds (`...-limit`).
    pub limit: Option<u64>,
    /// What is left after this request (`...-remaining`).
    pub remaining: Option<u64>,
    /// Time until the bucket is full again (`...-reset`, seconds, possibly fractional).
    pub reset: Option<Duration>,
}

impl Bucket {
    /// Whether no header of this bucket was readable.
    pub fn is_empty(&self) -> bool {
        *self == Bucket::default()
    }

    /// The share of the bucket in use, from 0.0 (untouched) to 1.0 (empty), when both its
    /// limit and its remaining count are known and the limit is not zero.
    pub fn used(&self) -> Option<f64> {
        match (self.limit, self.remaining) {
            (Some(limit), Some(remaining)) if limit > 0 => {
                Some(1.0 - (remaining.min(limit) as f64 / limit as f64))
            }
            _ => None,
        }
    }
}

/// The rate limits a response reports, as Together sends them, plus its request id.
///
/// Together limits requests and tokens per organisation and model, dynamically, and reports
/// both on every response: `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`
/// (requests), `x-tokenlimit-limit`, `x-tokenlimit-remaining` (tokens), and a `-dynamic`
/// variant of each for the limit currently in force. Header sets vary: anything missing or
/// unreadable is `None`, never an error.
///
/// Every typed response carries one (`rate_limits()`), and so does every API error
/// ([`ApiError::rate_limits`](crate::ApiError::rate_limits)).
///
/// ```
/// use std::time::Duration;
/// use http::HeaderMap;
/// use together_client::RateLimits;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-limit", "10".parse().unwrap());
/// headers.insert("x-ratelimit-remaining", "7".parse().unwrap());
/// headers.insert("x-ratelimit-reset", "0.075".parse().unwrap());
/// headers.insert("x-ratelimit-remaining-dynamic", "3".parse().unwrap());
/// headers.insert("x-request-id", "req-1".parse().unwrap());
///
/// let limits = RateLimits::from_headers(&headers);
/// assert_eq!(limits.requests.remaining, Some(7));
/// assert_eq!(limits.requests.reset, Some(Duration::from_millis(75)));
/// assert_eq!(limits.dynamic_requests.remaining, Some(3));
/// // The tighter of the two is in force.
/// assert_eq!(limits.effective().remaining, Some(3));
/// assert_eq!(limits.request_id.as_deref(), Some("req-1"));
///
/// // A server that speaks OpenAI's names (per minute, Go-duration resets).
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-limit-requests", "600".parse().unwrap());
/// headers.insert("x-ratelimit-remaining-requests", "599".parse().unwrap());
/// headers.insert("x-ratelimit-reset-requests", "100ms".parse().unwrap());
/// let limits = RateLimits::from_headers(&headers);
/// assert!(limits.requests.is_empty() && !limits.is_empty());
/// assert_eq!(limits.effective().remaining, Some(599));
/// use together_client::retry_core::middleware::LimitFamily;
/// assert_eq!(limits.effective().family, LimitFamily::OpenAi);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Requests: `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`.
    pub requests: Bucket,
    /// Tokens: `x-tokenlimit-limit`, `x-tokenlimit-remaining` (and `x-tokenlimit-reset`
    /// where sent).
    pub tokens: Bucket,
    /// The dynamic request limit: `x-ratelimit-limit-dynamic`, `-remaining-dynamic`,
    /// `-reset-dynamic`.
    pub dynamic_requests: Bucket,
    /// The dynamic token limit: `x-tokenlimit-limit-dynamic`, `-remaining-dynamic`,
    /// `-reset-dynamic`.
    pub dynamic_tokens: Bucket,
    /// The request's id (`x-request-id`), to quote to support.
    pub request_id: Option<String>,
    /// The reading in force, in whichever family the server speaks (Together's, OpenAI's,
    /// Anthropic's): see [`effective`](Self::effective).
    effective: RateLimitHeaders,
}

/// Together's six names, each ending in `suffix`.
macro_rules! names {
    ($suffix:literal) => {
        [
            HeaderName::from_static(concat!("x-ratelimit-limit", $suffix)),
            HeaderName::from_static(concat!("x-ratelimit-remaining", $suffix)),
            HeaderName::from_static(concat!("x-ratelimit-reset", $suffix)),
            HeaderName::from_static(concat!("x-tokenlimit-limit", $suffix)),
            HeaderName::from_static(concat!("x-tokenlimit-remaining", $suffix)),
            HeaderName::from_static(concat!("x-tokenlimit-reset", $suffix)),
        ]
    };
}

/// Together's names, plain and `-dynamic`, named once: a response is read with no name built.
const PLAIN: [HeaderName; 6] = names!("");
const DYNAMIC: [HeaderName; 6] = names!("-dynamic");

/// The header carrying the request's id.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl RateLimits {
    /// Reads the headers of a response.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let plain = read(headers, &PLAIN);
        let dynamic = read(headers, &DYNAMIC);
        RateLimits {
            requests: requests(&plain),
            tokens: tokens(&plain),
            dynamic_requests: requests(&dynamic),
            dynamic_tokens: tokens(&dynamic),
            request_id: headers
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            effective: RateLimitHeaders::from_headers(headers),
        }
    }

    /// The limits in force, read as
    /// [`RateLimitMiddleware`](retry_core::middleware::RateLimitMiddleware) reads them: each
    /// of Together's plain headers merged with its `-dynamic` variant, the tighter winning
    /// (the smaller limit and remaining count, the later reset); from a server that speaks
    /// OpenAI's or Anthropic's names instead, theirs (see its `family`).
    pub fn effective(&self) -> RateLimitHeaders {
        self.effective
    }

    /// Whether the response carried no rate-limit header (the request id aside).
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
            && self.tokens.is_empty()
            && self.dynamic_requests.is_empty()
            && self.dynamic_tokens.is_empty()
            && self.effective.is_empty()
    }
}

/// One of Together's two header sets (`names`: [`PLAIN`] or [`DYNAMIC`]) read alone, under
/// the plain names `RateLimitHeaders` reads.
fn read(headers: &HeaderMap, names: &[HeaderName; 6]) -> RateLimitHeaders {
    let mut subset = HeaderMap::new();
    for (name, plain) in names.iter().zip(&PLAIN) {
        if let Some(value) = headers.get(name) {
            subset.insert(plain.clone(), value.clone());
        }
    }
    RateLimitHeaders::from_headers(&subset)
}

fn requests(h: &RateLimitHeaders) -> Bucket {
    Bucket {
        limit: h.limit,
        remaining: h.remaining,
        reset: h.reset,
    }
}

fn tokens(h: &RateLimitHeaders) -> Bucket {
    Bucket {
        limit: h.token_limit,
        remaining: h.token_remaining,
        reset: h.token_reset,
    }
}
