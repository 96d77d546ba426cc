//! Delay hints: how long a failed response asks the caller to wait (`retry-after-ms`,
//! `Retry-After`, `x-ratelimit-reset`), and whether it says to retry at all
//! (`x-should-retry`).

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{HeaderName, RETRY_AFTER};

use super::limits::reset_within;
use super::{LONGEST, number, text, within};

/// The longest cooldown [`RateLimitMiddleware`](crate::middleware::RateLimitMiddleware) holds a host for
/// after a 429: one minute, the default [`Policy`](crate::Policy) deadline. A 429 whose hint
/// is longer holds no one: each call that meets one ends (the hint is past its deadline)
/// instead of every call queueing for a wait longer than it may last.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(60);

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
/// next header is read; a long one is returned as it is (see [`MAX_HINT`](super::MAX_HINT)
/// for what the retry loop makes of it). An `x-ratelimit-reset` of 10^9 or more is read as a
/// Unix timestamp. A zero (or a date in the past) is read, and means no hint at all, whatever
/// the headers after it say (`retry-after-ms: 0` with `retry-after: 2` is `None`), as the
/// official OpenAI and Together SDKs read it: "retry at once" would burn every attempt in a
/// few milliseconds, so the policy's own backoff applies instead.
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
                .then(|| reset_within(headers, LONGEST))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::headers::{RateLimitHeaders, headers, unix_now};

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
        let now = unix_now();
        let map = headers(&[("x-ratelimit-reset", &(now + 30).to_string())]);
        let delay = delay_hint(&map).unwrap();
        assert!(delay > Duration::from_secs(28) && delay <= Duration::from_secs(30));
        let reset = RateLimitHeaders::from_headers(&map).reset.unwrap();
        assert!(reset > Duration::from_secs(28) && reset <= Duration::from_secs(30));
        // A timestamp in the past: now, which is no hint.
        let map = headers(&[("x-ratelimit-reset", &(now - 30).to_string())]);
        assert_eq!(delay_hint(&map), None);
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
