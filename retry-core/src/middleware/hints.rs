//! Reading what a server says about waiting: delay hints (`retry-after-ms`, `Retry-After`,
//! `x-ratelimit-reset`), `x-should-retry`, and the `x-ratelimit-*` / `x-tokenlimit-*` family.
//!
//! Every parser here is total: a header that is missing, not UTF-8, not a number, negative,
//! NaN or infinite reads as "no hint", never as a panic or a wrapped duration.
//!
//! A hint may be long: a reset "in 16 days" is the server's word that this call will not be
//! served, and the retry loop ends the call at once with it rather than sleep or ignore it.
//! Limit readings ([`RateLimitHeaders`]) stop at [`MAX_HINT`], and the limiter holds a host for
//! no longer than [`MAX_COOLDOWN`].

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{HeaderName, RETRY_AFTER};

use super::families::{self, LimitFamily};

/// The longest wait anything here will sleep or read from a limit header: one day. A delay
/// hint beyond it ends the call at once (every front end gives up with
/// [`GiveUpReason::HintBeyondDeadline`](crate::GiveUpReason::HintBeyondDeadline), whatever the
/// deadline); a reset beyond it in [`RateLimitHeaders`] is ignored as if absent.
pub const MAX_HINT: Duration = crate::retrier::MAX_WAIT;

/// The longest cooldown [`RateLimitMiddleware`](super::RateLimitMiddleware) holds a host for
/// after a 429: one minute, the default [`Policy`](crate::Policy) deadline. A 429 whose hint
/// is longer holds no one: each call that meets one ends (the hint is past its deadline)
/// instead of every call queueing for a wait longer than it may last.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(60);

/// The longest delay a header is read as at all (a year): past it a value is garbage (`1e300`,
/// a timestamp in milliseconds), not a hint.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A reset at or above this many seconds is a Unix timestamp (as GitHub and others send
/// `x-ratelimit-reset`), not a delay: 10^9 s is 31 years, 10^9 as a time is 2001.
const EPOCH_FLOOR: f64 = 1e9;

const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
const X_SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// A delay hint and how much to trust its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hint {
    /// The delay the server asked for.
    pub(crate) delay: Duration,
    /// Whether the header can only say whole seconds (`Retry-After: 1`, an HTTP date): the
    /// true wait is then anywhere in the second before `delay`, since a server has to round
    /// a 20 ms wait up to 1 s to say it at all.
    pub(crate) coarse: bool,
}

impl Hint {
    /// The earliest instant (as a delay from now) the hint can mean: the delay itself, or one
    /// second less for a whole-second hint.
    pub(crate) fn lower_bound(self) -> Duration {
        if self.coarse {
            self.delay.saturating_sub(Duration::from_secs(1))
        } else {
            self.delay
        }
    }
}

/// The delay a failed response asks for, in this order: `retry-after-ms` (milliseconds),
/// `Retry-After` (seconds, integer or fractional, or an HTTP date), `x-ratelimit-reset`
/// (seconds, possibly fractional, as Together sends it).
///
/// A value that does not parse, is negative, NaN, infinite, or over a year is skipped and the
/// next header is read; a long one is returned as it is (see [`MAX_HINT`] for what the retry
/// loop makes of it). An `x-ratelimit-reset` of 10^9 or more is read as a Unix timestamp. A zero (or a date in the past) is read, and means no hint at
/// all, whatever the headers after it say (`retry-after-ms: 0` with `retry-after: 2` is
/// `None`), as the official OpenAI and Together SDKs read it: "retry at once" would burn every
/// attempt in a few milliseconds, so the policy's own backoff applies instead.
///
/// ```
/// use std::time::Duration;
/// use http::HeaderMap;
/// use retry_core::middleware::delay_hint;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-reset", "0.075".parse().unwrap());
/// assert_eq!(delay_hint(&headers), Some(Duration::from_millis(75)));
///
/// headers.insert("retry-after", "2".parse().unwrap());
/// assert_eq!(delay_hint(&headers), Some(Duration::from_secs(2)));
///
/// headers.insert("retry-after-ms", "not a number".parse().unwrap());
/// assert_eq!(delay_hint(&headers), Some(Duration::from_secs(2)));
///
/// headers.insert("retry-after-ms", "0".parse().unwrap());
/// assert_eq!(delay_hint(&headers), None);
/// ```
pub fn delay_hint(headers: &HeaderMap) -> Option<Duration> {
    hint(headers, true).map(|h| h.delay)
}

/// [`delay_hint`], with the precision of the header it came from. `x-ratelimit-reset` is read
/// only `with_reset`: it says when the rate limit's bucket is full again, which is a delay
/// hint for a 429 but says nothing about when a 500 will be over.
pub(crate) fn hint(headers: &HeaderMap, with_reset: bool) -> Option<Hint> {
    let precise = |delay| Hint {
        delay,
        coarse: false,
    };
    let ms = text(headers, &RETRY_AFTER_MS)
        .and_then(|v| number(v).map(|ms| ms / 1000.0))
        .and_then(|secs| within(secs, LONGEST));
    ms.map(precise)
        .or_else(|| text(headers, &RETRY_AFTER).and_then(retry_after))
        .or_else(|| {
            with_reset
                .then(|| later(headers, &RESET, LONGEST))
                .flatten()
                .map(precise)
        })
        .filter(|h| !h.delay.is_zero())
}

/// Whether a 429's hint is longer than [`MAX_COOLDOWN`]: the server says "not soon".
pub(crate) fn beyond_cooldown(headers: &HeaderMap) -> bool {
    hint(headers, true).is_some_and(|h| h.lower_bound() > MAX_COOLDOWN)
}

/// `x-should-retry: true` or `false` (any case, surrounding blanks ignored); `None` when the
/// header is absent or says anything else. OpenAI's and Together's servers send it to
/// override the client's own judgement, and their SDKs obey it before anything else.
///
/// ```
/// use http::HeaderMap;
/// use retry_core::middleware::should_retry;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(should_retry(&headers), None);
/// headers.insert("x-should-retry", "False".parse().unwrap());
/// assert_eq!(should_retry(&headers), Some(false));
/// ```
pub fn should_retry(headers: &HeaderMap) -> Option<bool> {
    let value = text(headers, &X_SHOULD_RETRY)?;
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The rate-limit headers of a response, as Together (and many OpenAI-compatible servers)
/// send them: `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`,
/// `x-tokenlimit-limit`, `x-tokenlimit-remaining` (and `x-tokenlimit-reset` where a server
/// sends one).
///
/// Together's documented meaning, which [`RateLimitMiddleware`](super::RateLimitMiddleware)
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

/// A header's value as trimmed text, if it is there and visible ASCII.
pub(super) fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Whether the header `name` holds a number in whole seconds (`1`, `1733340000`).
pub(super) fn whole_seconds(headers: &HeaderMap, name: &HeaderName) -> bool {
    text(headers, name)
        .and_then(number)
        .is_some_and(|value| value.fract() == 0.0)
}

/// A finite, non-negative decimal number (`12`, `0.075`, `1e3`), or `None`.
pub(super) fn number(text: &str) -> Option<f64> {
    // `f64::from_str` accepts "inf" and "NaN"; the checks below reject them.
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// `secs` as a duration, if it is within [`MAX_HINT`].
pub(super) fn seconds(secs: f64) -> Option<Duration> {
    within(secs, MAX_HINT)
}

/// `secs` as a duration, if it is within `longest`.
fn within(secs: f64, longest: Duration) -> Option<Duration> {
    if !(0.0..=longest.as_secs_f64()).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// A reset: a delay in seconds, or (10^9 and up) a Unix timestamp, as the delay until then
/// (zero when past), within `longest`.
fn reset_value(value: &str, longest: Duration) -> Option<Duration> {
    let secs = number(value)?;
    if secs < EPOCH_FLOOR {
        return within(secs, longest);
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    within((secs - now).max(0.0), longest)
}

/// `Retry-After`: delay-seconds (integer per RFC 9110, fractional as some servers send) or an
/// HTTP date. Whole seconds and dates are coarse.
fn retry_after(value: &str) -> Option<Hint> {
    if let Some(secs) = number(value) {
        let coarse = value.bytes().all(|b| b.is_ascii_digit());
        return within(secs, LONGEST).map(|delay| Hint { delay, coarse });
    }
    let date = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now", which is no hint (see `delay_hint`).
    let delay = date.duration_since(SystemTime::now()).ok()?;
    (delay <= LONGEST).then_some(Hint {
        delay,
        coarse: true,
    })
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header map of `pairs` (also for the other families' tests).
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn order_and_precision() {
        let h = hint(
            &headers(&[
                ("retry-after-ms", "250"),
                ("retry-after", "3"),
                ("x-ratelimit-reset", "1"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(h.delay, Duration::from_millis(250));
        assert!(!h.coarse);
        let h = hint(
            &headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1")]),
            true,
        )
        .unwrap();
        assert_eq!((h.delay, h.coarse), (Duration::from_secs(3), true));
        assert_eq!(h.lower_bound(), Duration::from_secs(2));
        let h = hint(&headers(&[("retry-after", "1.5")]), true).unwrap();
        assert_eq!(hint(&headers(&[("x-ratelimit-reset", "1")]), false), None);
        assert_eq!((h.delay, h.coarse), (Duration::from_millis(1500), false));
    }

    #[test]
    fn garbage_is_no_hint() {
        for bad in ["-1", "NaN", "inf", "-inf", "1e300", "", "soon", "0", "0.0"] {
            assert_eq!(delay_hint(&headers(&[("retry-after", bad)])), None, "{bad}");
            assert_eq!(
                delay_hint(&headers(&[("retry-after-ms", bad)])),
                None,
                "{bad}"
            );
        }
        assert_eq!(delay_hint(&headers(&[("retry-after", "31708801")])), None);
        assert_eq!(delay_hint(&headers(&[("retry-after-ms", "1e14")])), None);
        assert_eq!(
            delay_hint(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
    }

    #[test]
    fn long_hints_are_kept_for_the_retry_loop_to_refuse() {
        let sixteen_days = Duration::from_secs(16 * 24 * 3600);
        for (name, value) in [
            ("retry-after", "1382400"),
            ("retry-after-ms", "1382400000"),
            ("x-ratelimit-reset", "1382400"),
        ] {
            let map = headers(&[(name, value)]);
            assert_eq!(delay_hint(&map), Some(sixteen_days), "{name}");
            assert!(beyond_cooldown(&map), "{name}");
        }
        assert!(!beyond_cooldown(&headers(&[("retry-after", "60")])));
        assert!(beyond_cooldown(&headers(&[("retry-after", "62")])));
        // A limit reading stops at a day.
        let limits = RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-reset", "1382400")]));
        assert_eq!(limits.reset, None);
    }

    #[test]
    fn epoch_resets_are_timestamps() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let map = headers(&[("x-ratelimit-reset", &(now + 30).to_string())]);
        let delay = delay_hint(&map).unwrap();
        assert!(delay > Duration::from_secs(28) && delay <= Duration::from_secs(30));
        let reset = RateLimitHeaders::from_headers(&map).reset.unwrap();
        assert!(reset > Duration::from_secs(28) && reset <= Duration::from_secs(30));
        // A timestamp in the past: now, which is no hint.
        let map = headers(&[("x-ratelimit-reset", &(now - 30).to_string())]);
        assert_eq!(delay_hint(&map), None);
    }

    /// A reset given in whole seconds, as a delay or a timestamp, is marked as such: the delay
    /// to a timestamp has a fraction, but the instant was named to the second only.
    #[test]
    fn whole_second_resets_are_marked() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
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
    fn dates_in_the_future() {
        let at = SystemTime::now() + Duration::from_secs(30);
        let h = hint(
            &headers(&[("retry-after", &httpdate::fmt_http_date(at))]),
            true,
        )
        .unwrap();
        assert!(h.coarse);
        assert!(h.delay > Duration::from_secs(28) && h.delay <= Duration::from_secs(30));
    }
}
