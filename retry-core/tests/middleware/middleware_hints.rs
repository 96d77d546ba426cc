//! The header parsers never panic and never return a negative (impossible in a `Duration`,
//! so: a wrapped), overflowing or absurd delay, whatever the header says.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use retry_core::middleware::{MAX_HINT, RateLimitHeaders, delay_hint, should_retry};

const NAMES: [&str; 14] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset-dynamic",
    "x-ratelimit-limit-dynamic",
    "x-ratelimit-remaining-dynamic",
    "x-tokenlimit-limit",
    "x-tokenlimit-remaining",
    "x-tokenlimit-reset",
    "x-tokenlimit-limit-dynamic",
    "x-tokenlimit-remaining-dynamic",
    "x-should-retry",
];

/// Header values a server could plausibly (or implausibly) send.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Anything at all, bytes a header value may not hold included (those are skipped).
        proptest::collection::vec(any::<u8>(), 0..40),
        // Printable text.
        "[ -~]{0,40}".prop_map(String::into_bytes),
        // Numbers of every shape: signs, exponents, fractions, huge, tiny.
        "[+-]?[0-9]{0,30}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{1,4})?".prop_map(String::into_bytes),
        any::<f64>().prop_map(|f| f.to_string().into_bytes()),
        any::<i64>().prop_map(|i| i.to_string().into_bytes()),
        any::<u64>().prop_map(|u| u.to_string().into_bytes()),
        Just(b"NaN".to_vec()),
        Just(b"-inf".to_vec()),
        Just(b"infinity".to_vec()),
        Just(b"1e308".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        // HTTP dates, past and future, and near-dates.
        (0u64..8_000_000_000).prop_map(|secs| {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            httpdate::fmt_http_date(at).into_bytes()
        }),
        "(Mon|Tue|Xyz), [0-9]{1,3} (Jan|Feb|Foo) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
            .prop_map(String::into_bytes),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    proptest::collection::vec((0..NAMES.len(), value()), 0..8).prop_map(|pairs| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(HeaderName::from_static(NAMES[name]), value);
            }
        }
        map
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn no_header_value_panics_or_returns_an_absurd_delay(headers in headers()) {
        if let Some(delay) = delay_hint(&headers) {
            prop_assert!(delay > Duration::ZERO);
            prop_assert!(delay <= YEAR);
        }
        let limits = RateLimitHeaders::from_headers(&headers);
        for reset in [limits.reset, limits.token_reset].into_iter().flatten() {
            prop_assert!(reset <= MAX_HINT);
        }
        let _ = should_retry(&headers);
    }

    #[test]
    fn any_valid_seconds_value_is_read_exactly(ms in 1u64..86_400_000) {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", ms.to_string().parse().unwrap());
        prop_assert_eq!(delay_hint(&headers), Some(Duration::from_millis(ms)));
        let mut headers = HeaderMap::new();
        let secs = ms as f64 / 1000.0;
        headers.insert("retry-after", format!("{secs}").parse().unwrap());
        let read = delay_hint(&headers).unwrap();
        prop_assert!(read.abs_diff(Duration::from_millis(ms)) < Duration::from_micros(1));
    }
}

/// The longest delay a header is read as at all (a longer one is garbage, not a hint).
const YEAR: Duration = Duration::from_secs(366 * 86_400);

#[test]
fn long_hints_are_read_and_garbage_is_not() {
    assert_eq!(MAX_HINT, Duration::from_secs(86_400));
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "86400".parse().unwrap());
    assert_eq!(delay_hint(&headers), Some(MAX_HINT));
    // Longer than a day: read, so that the retry loop can end the call with it.
    headers.insert("retry-after", "86400.5".parse().unwrap());
    assert_eq!(
        delay_hint(&headers),
        Some(Duration::from_millis(86_400_500))
    );
    headers.insert("retry-after", "31622400".parse().unwrap());
    assert_eq!(delay_hint(&headers), Some(YEAR));
    headers.insert("retry-after", "31622401".parse().unwrap());
    assert_eq!(delay_hint(&headers), None);
}

#[test]
fn rate_limit_headers_take_the_tighter_of_plain_and_dynamic() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-ratelimit-limit", "60"),
        ("x-ratelimit-limit-dynamic", "20"),
        ("x-ratelimit-remaining", "3"),
        ("x-ratelimit-remaining-dynamic", "7"),
        ("x-ratelimit-reset", "0.5"),
        ("x-ratelimit-reset-dynamic", "2"),
        ("x-tokenlimit-limit", "9000"),
        ("x-tokenlimit-remaining", "8000.9"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    let limits = RateLimitHeaders::from_headers(&headers);
    assert_eq!(limits.limit, Some(20));
    assert_eq!(limits.remaining, Some(3));
    assert_eq!(limits.reset, Some(Duration::from_secs(2)));
    assert_eq!(limits.token_limit, Some(9000));
    assert_eq!(limits.token_remaining, Some(8000));
    assert_eq!(limits.token_reset, None);
    assert!(!limits.is_empty());
    assert!(RateLimitHeaders::from_headers(&HeaderMap::new()).is_empty());
}
