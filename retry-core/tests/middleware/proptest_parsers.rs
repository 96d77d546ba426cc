//! Property tests of the header parsers, the CI side of the `hints` fuzz target
//! (`retry-core/fuzz`): what each parser reads, not only that it stays in bounds (that is
//! `middleware_hints.rs`). `x-should-retry` against a model, the plain/`-dynamic` merge of
//! `RateLimitHeaders`, the order of the delay headers, HTTP dates in all three formats, and
//! values that are not visible ASCII.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use retry_core::middleware::{
    LimitFamily, MAX_HINT, RateLimitHeaders, delay_hint, go_duration, should_retry,
};

/// The count and reset headers `RateLimitHeaders` reads, each with a `-dynamic` variant.
const COUNTS: [&str; 4] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-tokenlimit-limit",
    "x-tokenlimit-remaining",
];
const RESETS: [&str; 2] = ["x-ratelimit-reset", "x-tokenlimit-reset"];

fn map(pairs: &[(&str, HeaderValue)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.clone(),
        );
    }
    map
}

fn text(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap()
}

/// Blanks a server may put around a value (HTTP strips them; a test server may not).
fn blanks() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

/// `s` in a random mix of cases.
fn any_case(s: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), s.len()).prop_map(move |upper| {
        s.chars()
            .zip(upper)
            .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// A header value that is valid on the wire but not visible ASCII (obs-text, 0x80..=0xFF):
/// `HeaderValue::to_str` refuses it, so every parser must read it as absent.
fn opaque() -> impl Strategy<Value = HeaderValue> {
    (
        proptest::collection::vec(0x20u8..0x7f, 0..8),
        0x80u8..=0xff,
        proptest::collection::vec(0x20u8..=0xff, 0..8),
    )
        .prop_map(|(head, high, tail)| {
            let mut bytes = [head, vec![high], tail].concat();
            // DEL is the one byte in that range a header value may not hold.
            bytes.retain(|&b| b != 0x7f);
            HeaderValue::from_bytes(&bytes).unwrap()
        })
}

/// A count as a server may write it: an integer, a fraction, an exponent, blanks around.
fn count_text() -> impl Strategy<Value = (String, u64)> {
    prop_oneof![
        (0u64..u64::from(u32::MAX)).prop_map(|n| (n.to_string(), n)),
        (0u32..1_000_000, 0u32..1000).prop_map(|(n, frac)| (format!("{n}.{frac:03}"), n.into())),
        (0u64..1000).prop_map(|n| (format!("{n}e3"), n * 1000)),
    ]
    .prop_flat_map(|(value, n)| {
        (blanks(), blanks()).prop_map(move |(a, b)| (format!("{a}{value}{b}"), n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// `true`/`false` in any case with blanks around; the first of several values decides.
    #[test]
    fn should_retry_reads_true_and_false_in_any_case(
        word in prop_oneof![any_case("true"), any_case("false")],
        (before, after) in (blanks(), blanks()),
        second in prop_oneof![Just("true"), Just("false"), Just("maybe")],
    ) {
        let value = text(&format!("{before}{word}{after}"));
        let headers = map(&[("x-should-retry", value), ("x-should-retry", text(second))]);
        prop_assert_eq!(should_retry(&headers), Some(word.eq_ignore_ascii_case("true")));
    }

    /// Anything else is no verdict: other words, `1`/`0`, `yes`, quoted, opaque bytes.
    #[test]
    fn should_retry_reads_nothing_else(
        value in prop_oneof![
            "[ -~]{0,12}".prop_map(|s| HeaderValue::from_str(&s).unwrap()),
            opaque(),
        ],
    ) {
        let word = value.to_str().ok().map(str::trim);
        let expected = match word {
            Some(w) if w.eq_ignore_ascii_case("true") => Some(true),
            Some(w) if w.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        prop_assert_eq!(should_retry(&map(&[("x-should-retry", value)])), expected);
    }

    /// Each count is read (a fraction rounded down), and with its `-dynamic` variant the
    /// smaller of the two wins; each reset the later of the two.
    #[test]
    fn rate_limit_headers_merge_plain_and_dynamic(
        counts in proptest::collection::vec(
            (proptest::option::of(count_text()), proptest::option::of(count_text())),
            COUNTS.len(),
        ),
        resets in proptest::collection::vec(
            (proptest::option::of(1u64..=86_400_000), proptest::option::of(1u64..=86_400_000)),
            RESETS.len(),
        ),
    ) {
        let mut headers = HeaderMap::new();
        let mut expected = Vec::new();
        for (name, (plain, dynamic)) in COUNTS.iter().zip(&counts) {
            for (name, count) in [(name.to_string(), plain), (format!("{name}-dynamic"), dynamic)] {
                if let Some((value, _)) = count {
                    headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), text(value));
                }
            }
            expected.push(match (plain, dynamic) {
                (Some((_, a)), Some((_, b))) => Some(*a.min(b)),
                (a, b) => a.as_ref().or(b.as_ref()).map(|(_, n)| *n),
            });
        }
        let mut expected_resets = Vec::new();
        for (name, (plain, dynamic)) in RESETS.iter().zip(&resets) {
            for (name, ms) in [(name.to_string(), plain), (format!("{name}-dynamic"), dynamic)] {
                if let Some(ms) = ms {
                    let secs = *ms as f64 / 1000.0;
                    headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), text(&secs.to_string()));
                }
            }
            expected_resets.push(plain.max(dynamic).map(Duration::from_millis));
        }

        let limits = RateLimitHeaders::from_headers(&headers);
        prop_assert_eq!(
            [limits.limit, limits.remaining, limits.token_limit, limits.token_remaining].to_vec(),
            expected
        );
        for (read, expected) in [limits.reset, limits.token_reset].into_iter().zip(expected_resets) {
            match (read, expected) {
                (Some(read), Some(expected)) => {
                    prop_assert!(read.abs_diff(expected) < Duration::from_micros(1), "{read:?} {expected:?}");
                }
                (read, expected) => prop_assert_eq!(read, expected),
            }
        }
        prop_assert_eq!(limits.is_empty(), counts.iter().all(|(a, b)| a.is_none() && b.is_none())
            && resets.iter().all(|(a, b)| a.is_none() && b.is_none()));
    }

    /// A header that cannot be read (opaque bytes, a negative or absurd number) is as if
    /// absent: its `-dynamic` variant alone decides.
    #[test]
    fn an_unreadable_plain_header_leaves_the_dynamic_one(
        index in 0..COUNTS.len(),
        bad in prop_oneof![
            opaque(),
            Just(text("-1")),
            Just(text("NaN")),
            Just(text("ten")),
            Just(text("")),
        ],
        n in 0u64..1_000_000,
    ) {
        let name = COUNTS[index];
        let dynamic = format!("{name}-dynamic");
        let headers = map(&[(name, bad), (&dynamic, text(&n.to_string()))]);
        let limits = RateLimitHeaders::from_headers(&headers);
        let read = [limits.limit, limits.remaining, limits.token_limit, limits.token_remaining];
        prop_assert_eq!(read[index], Some(n));
    }

    /// `retry-after-ms` comes first, then `Retry-After`, then `x-ratelimit-reset`; a header
    /// that cannot be read (opaque bytes) falls through to the next.
    #[test]
    fn the_delay_headers_are_read_in_order(
        ms in proptest::option::of(1u64..=86_400_000),
        secs in proptest::option::of(1u64..=86_400),
        reset_ms in proptest::option::of(1u64..=86_400_000),
        garbage in proptest::option::of(opaque()),
    ) {
        let mut headers = HeaderMap::new();
        if let Some(garbage) = garbage {
            // An opaque value before each real one: `get` sees it first, and reads nothing.
            for name in ["retry-after-ms", "retry-after", "x-ratelimit-reset"] {
                headers.append(name, garbage.clone());
            }
            prop_assert_eq!(delay_hint(&headers), None);
            headers.clear();
        }
        if let Some(ms) = ms {
            headers.insert("retry-after-ms", text(&ms.to_string()));
        }
        if let Some(secs) = secs {
            headers.insert("retry-after", text(&secs.to_string()));
        }
        if let Some(reset) = reset_ms {
            headers.insert("x-ratelimit-reset", text(&(reset as f64 / 1000.0).to_string()));
        }
        let expected = ms
            .map(Duration::from_millis)
            .or(secs.map(Duration::from_secs))
            .or(reset_ms.map(Duration::from_millis));
        match (delay_hint(&headers), expected) {
            (Some(read), Some(expected)) => {
                prop_assert!(read.abs_diff(expected) < Duration::from_micros(1), "{read:?} {expected:?}");
            }
            (read, expected) => prop_assert_eq!(read, expected),
        }
    }

    /// An opaque `retry-after-ms` is skipped: `Retry-After` decides.
    #[test]
    fn an_opaque_header_falls_through(garbage in opaque(), secs in 1u64..=86_400) {
        let headers = map(&[("retry-after-ms", garbage), ("retry-after", text(&secs.to_string()))]);
        prop_assert_eq!(delay_hint(&headers), Some(Duration::from_secs(secs)));
    }

    /// `Retry-After` as an HTTP date, in any of the three formats RFC 9110 accepts: a date
    /// up to a day ahead is the time until it (whole seconds), a past one or a later one is
    /// no hint.
    #[test]
    fn retry_after_dates_in_every_format(ahead in -100_000i64..200_000, format in 0..3usize) {
        // Whole seconds: the formats have no fractions, and the comparison below must not
        // depend on where in the current second the test runs.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = now.checked_add_signed(ahead).unwrap();
        let date = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(at));
        // "Sun, 06 Nov 1994 08:49:37 GMT", and the same in RFC 850 and asctime form.
        let value = match format {
            0 => date,
            1 => rfc850(&date),
            _ => asctime(&date),
        };
        let hint = delay_hint(&map(&[("retry-after", text(&value))]));
        let ahead = Duration::from_secs(ahead.unsigned_abs());
        // Every date up to a year ahead is read (the retry loop refuses the ones past a day).
        if ahead.as_secs() >= 3 && at > now {
            let hint = hint.expect(&value);
            // The clock moves on while the test runs: at most a couple of seconds.
            prop_assert!(hint <= ahead && hint + Duration::from_secs(2) >= ahead, "{hint:?} for {value}");
        } else if at + 1 < now {
            prop_assert_eq!(hint, None, "{}", value);
        }
    }

    /// Bytes at random where a value goes: whatever they are, every parser reads them
    /// without a panic, and the `RateLimitHeaders` reading equals the one of the same
    /// header with only visible ASCII (an opaque value is absent).
    #[test]
    fn arbitrary_bytes_are_read_or_ignored(
        index in 0..COUNTS.len(),
        bytes in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            return Ok(());
        };
        let headers = map(&[(COUNTS[index], value.clone()), ("retry-after", value.clone())]);
        let limits = RateLimitHeaders::from_headers(&headers);
        let read = [limits.limit, limits.remaining, limits.token_limit, limits.token_remaining];
        if value.to_str().is_err() {
            prop_assert_eq!(read[index], None);
            prop_assert_eq!(delay_hint(&headers), None);
        }
        if let Some(delay) = delay_hint(&headers) {
            prop_assert!(delay > Duration::ZERO && delay <= Duration::from_secs(366 * 86_400));
        }
    }
}

/// The other families' reset headers: Go durations and RFC 3339 instants.
const FAMILY_RESETS: [&str; 4] = [
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Any text where another family's reset goes: read or ignored, never a panic, never a
    /// delay beyond `MAX_HINT`.
    #[test]
    fn family_resets_never_panic_or_overflow(
        index in 0..FAMILY_RESETS.len(),
        value in "[0-9hmsuµn.:TZ+-]{0,24}",
    ) {
        let Ok(header) = HeaderValue::from_str(&value) else {
            return Ok(());
        };
        let headers = map(&[(FAMILY_RESETS[index], header)]);
        let limits = RateLimitHeaders::from_headers(&headers);
        for reset in [limits.reset, limits.token_reset].into_iter().flatten() {
            prop_assert!(reset <= MAX_HINT, "{:?} from {}", reset, value);
        }
        if let Some(delay) = go_duration(&value) {
            prop_assert!(delay <= MAX_HINT);
        }
    }

    /// Any text in the IETF draft's structured fields: read or ignored, never a panic, never a
    /// reset beyond `MAX_HINT`; and what reads as a list of policies reads its figures back.
    #[test]
    fn ietf_fields_never_panic_or_overflow(
        current in r#"[a-z0-9";=,. ()?*-]{0,40}"#,
        policy in r#"[a-z0-9";=,. ()?*-]{0,40}"#,
        left in 0u32..1_000_000,
        reset in 0u32..100_000,
    ) {
        if let (Ok(current), Ok(policy)) = (HeaderValue::from_str(&current), HeaderValue::from_str(&policy)) {
            let limits = RateLimitHeaders::from_headers(&map(&[("ratelimit", current), ("ratelimit-policy", policy)]));
            for reset in [limits.reset, limits.token_reset].into_iter().flatten() {
                prop_assert!(reset <= MAX_HINT, "{:?}", reset);
            }
        }
        let current = HeaderValue::from_str(&format!(r#""p";r={left};t={reset}"#)).unwrap();
        let limits = RateLimitHeaders::from_headers(&map(&[("ratelimit", current)]));
        prop_assert_eq!(limits.remaining, Some(u64::from(left)));
        prop_assert_eq!(limits.reset, Some(Duration::from_secs(u64::from(reset))).filter(|r| *r <= MAX_HINT));
    }

    /// Go's own printing of a duration (hours, minutes, seconds to the millisecond) reads back.
    #[test]
    fn go_durations_read_back(ms in 0u64..86_400_000) {
        let (h, m, sec, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let mut text = String::new();
        if ms < 1000 {
            text = format!("{ms}ms");
        } else {
            if h > 0 {
                text.push_str(&format!("{h}h"));
            }
            if h > 0 || m > 0 {
                text.push_str(&format!("{m}m"));
            }
            text.push_str(&format!("{sec}.{frac:03}s"));
        }
        prop_assert_eq!(go_duration(&text), Some(Duration::from_millis(ms)), "{}", text);
        let headers = map(&[("x-ratelimit-reset-requests", HeaderValue::from_str(&text).unwrap())]);
        let limits = RateLimitHeaders::from_headers(&headers);
        prop_assert_eq!(limits.family, LimitFamily::OpenAi);
    }
}

/// An IMF-fixdate as RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`.
fn rfc850(date: &str) -> String {
    let [day, dd, mon, yyyy, time, _] = fields(date);
    let day = match day.trim_end_matches(',') {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    };
    format!("{day}, {dd}-{mon}-{} {time} GMT", &yyyy[2..])
}

/// An IMF-fixdate as C's asctime: `Sun Nov  6 08:49:37 1994`.
fn asctime(date: &str) -> String {
    let [day, dd, mon, yyyy, time, _] = fields(date);
    let dd: u8 = dd.parse().unwrap();
    format!("{} {mon} {dd:>2} {time} {yyyy}", day.trim_end_matches(','))
}

fn fields(date: &str) -> [&str; 6] {
    let fields: Vec<&str> = date.split(' ').collect();
    fields.try_into().unwrap()
}

#[test]
fn the_date_formats_are_the_rfc_ones() {
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(rfc850(date), "Sunday, 06-Nov-94 08:49:37 GMT");
    assert_eq!(asctime(date), "Sun Nov  6 08:49:37 1994");
    let parsed = httpdate::parse_http_date(date).unwrap();
    assert_eq!(httpdate::parse_http_date(&rfc850(date)).unwrap(), parsed);
    assert_eq!(httpdate::parse_http_date(&asctime(date)).unwrap(), parsed);
}
