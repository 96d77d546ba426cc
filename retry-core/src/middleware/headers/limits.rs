//! The rate-limit headers of a response, read into one [`RateLimitHeaders`]: Together's
//! names (and their `-dynamic` twins) first, then the other families' (see
//! [`families`]).

use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderName;

use super::families::{self, LimitFamily};
use super::{MAX_HINT, number, reset_value, text, whole_seconds};

/// The rate-limit headers of a response, as Together (and many OpenAI-compatible servers)
/// send them: `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`,
/// `x-tokenlimit-limit`, `x-tokenlimit-remaining` (and `x-tokenlimit-reset` where a server
/// sends one).
///
/// Together's documented meaning, which [`RateLimitMiddleware`](crate::middleware::RateLimitMiddleware)
/// relies on: a bucket that holds `limit` requests, has `remaining` of them left after this
/// one, and is full again in `reset` seconds (a delay, possibly fractional, e.g. `0.075`).
///
/// Each header also has a `-dynamic` variant (`x-ratelimit-limit-dynamic`, ...), the limit
/// currently in force for the organisation; when both are sent the tighter one wins: the
/// smaller limit and remaining count, the later reset.
///
/// ```
/// use std::time::Duration;
/// use http::HeaderMap;
/// use retry_core::middleware::RateLimitHeaders;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-limit", "10".parse().unwrap());
/// headers.insert("x-ratelimit-remaining", "9".parse().unwrap());
/// headers.insert("x-ratelimit-remaining-dynamic", "4".parse().unwrap());
/// headers.insert("x-ratelimit-reset", "0.075".parse().unwrap());
/// let limits = RateLimitHeaders::from_headers(&headers);
/// assert_eq!(limits.limit, Some(10));
/// assert_eq!(limits.remaining, Some(4));
/// assert_eq!(limits.reset, Some(Duration::from_millis(75)));
/// assert_eq!(limits.token_limit, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitHeaders {
    /// Requests the bucket holds (`x-ratelimit-limit`).
    pub limit: Option<u64>,
    /// Requests left (`x-ratelimit-remaining`).
    pub remaining: Option<u64>,
    /// Time until the request bucket is full again (`x-ratelimit-reset`).
    pub reset: Option<Duration>,
    /// Tokens the bucket holds (`x-tokenlimit-limit`).
    pub token_limit: Option<u64>,
    /// Tokens left (`x-tokenlimit-remaining`).
    pub token_remaining: Option<u64>,
    /// Time until the token bucket is full again (`x-tokenlimit-reset`), where sent.
    pub token_reset: Option<Duration>,
    /// Whether `reset` was given in whole seconds (an integer delay, or a Unix timestamp, as
    /// GitHub and others send): true to within a second only.
    pub reset_whole_seconds: bool,
    /// Whose names they were read from: Together's first, then OpenAI's
    /// (`x-ratelimit-*-requests`, Go-duration resets), then Anthropic's
    /// (`anthropic-ratelimit-*`, RFC 3339 resets), then the IETF draft's (`RateLimit`,
    /// `RateLimit-Policy`, or `RateLimit-Limit` / `-Remaining` / `-Reset`); see
    /// [`LimitFamily`].
    pub family: LimitFamily,
}

impl RateLimitHeaders {
    /// Reads the headers of the first family that has any; a missing or unreadable one is
    /// `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::HeaderMap;
    /// use retry_core::middleware::{LimitFamily, RateLimitHeaders};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-ratelimit-limit-requests", "600".parse().unwrap());
    /// headers.insert("x-ratelimit-remaining-requests", "599".parse().unwrap());
    /// headers.insert("x-ratelimit-reset-requests", "100ms".parse().unwrap());
    /// let limits = RateLimitHeaders::from_headers(&headers);
    /// assert_eq!(limits.family, LimitFamily::OpenAi);
    /// assert_eq!(limits.reset, Some(Duration::from_millis(100)));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let together = RateLimitHeaders {
            limit: count(headers, &LIMIT),
            remaining: count(headers, &REMAINING),
            reset: reset(headers, &RESET),
            token_limit: count(headers, &TOKEN_LIMIT),
            token_remaining: count(headers, &TOKEN_REMAINING),
            token_reset: reset(headers, &TOKEN_RESET),
            reset_whole_seconds: whole_seconds(headers, &RESET.0)
                || whole_seconds(headers, &RESET.1),
            family: LimitFamily::Together,
        };
        if together.has_figures() {
            return together;
        }
        families::openai(headers)
            .or_else(|| families::anthropic(headers))
            .or_else(|| families::ietf(headers))
            .unwrap_or_default()
    }

    /// Whether any figure was read.
    pub(crate) fn has_figures(&self) -> bool {
        RateLimitHeaders {
            family: LimitFamily::None,
            ..*self
        } != RateLimitHeaders::default()
    }

    /// Whether no rate-limit header was readable.
    pub fn is_empty(&self) -> bool {
        !self.has_figures()
    }
}

/// A header and its `-dynamic` twin, named once (parsing a name per response costs more than
/// reading the value).
type Pair = (HeaderName, HeaderName);

/// The [`Pair`] of `name` and `name-dynamic`.
macro_rules! pair {
    ($name:literal) => {
        (
            HeaderName::from_static($name),
            HeaderName::from_static(concat!($name, "-dynamic")),
        )
    };
}

const LIMIT: Pair = pair!("x-ratelimit-limit");
const REMAINING: Pair = pair!("x-ratelimit-remaining");
const RESET: Pair = pair!("x-ratelimit-reset");
const TOKEN_LIMIT: Pair = pair!("x-tokenlimit-limit");
const TOKEN_REMAINING: Pair = pair!("x-tokenlimit-remaining");
const TOKEN_RESET: Pair = pair!("x-tokenlimit-reset");

/// The tighter of a header and its `-dynamic` twin, as a count (a fractional count is rounded
/// down).
fn count(headers: &HeaderMap, (name, dynamic): &Pair) -> Option<u64> {
    // `as` saturates: a count beyond u64 (it would have to be absurd) reads as u64::MAX.
    let one = |name| text(headers, name).and_then(number).map(|n| n as u64);
    match (one(name), one(dynamic)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The later of a header and its `-dynamic` twin, as a reset within [`MAX_HINT`].
fn reset(headers: &HeaderMap, pair: &Pair) -> Option<Duration> {
    later(headers, pair, MAX_HINT)
}

/// The later of a header and its `-dynamic` twin, as a reset within `longest`.
fn later(headers: &HeaderMap, (name, dynamic): &Pair, longest: Duration) -> Option<Duration> {
    let one = |name| text(headers, name).and_then(|v| reset_value(v, longest));
    one(name).max(one(dynamic))
}

/// The later of `x-ratelimit-reset` and its `-dynamic` twin, within `longest`: a 429's delay
/// hint when no `retry-after` is sent (see [`hint`](super::hint)).
pub(super) fn reset_within(headers: &HeaderMap, longest: Duration) -> Option<Duration> {
    later(headers, &RESET, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::headers::{headers, unix_now};

    /// A reset given in whole seconds, as a delay or a timestamp, is marked as such: the delay
    /// to a timestamp has a fraction, but the instant was named to the second only.
    #[test]
    fn whole_second_resets_are_marked() {
        let now = unix_now();
        let stamp = (now + 2).to_string();
        for (value, whole) in [("1", true), ("0.075", false), (stamp.as_str(), true)] {
            let limits = RateLimitHeaders::from_headers(&headers(&[
                ("x-ratelimit-limit", "50"),
                ("x-ratelimit-reset", value),
            ]));
            assert_eq!(limits.reset_whole_seconds, whole, "{value}");
        }
        let dynamic = headers(&[("x-ratelimit-reset-dynamic", "3")]);
        assert!(RateLimitHeaders::from_headers(&dynamic).reset_whole_seconds);
        let ietf = headers(&[("ratelimit-limit", "5"), ("ratelimit-reset", "2")]);
        assert!(RateLimitHeaders::from_headers(&ietf).reset_whole_seconds);
    }

    #[test]
    fn together_names_come_first() {
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-limit-requests", "600"),
        ]));
        assert_eq!(limits.family, LimitFamily::Together);
        assert_eq!(limits.limit, Some(10));
        assert!(RateLimitHeaders::from_headers(&HeaderMap::new()).is_empty());
    }
}
