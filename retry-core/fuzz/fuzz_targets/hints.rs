//! The header parsers of `retry_core::middleware` on arbitrary headers: `delay_hint`,
//! `should_retry`, `RateLimitHeaders::from_headers` (every family: Together's, OpenAI's,
//! Anthropic's) and `go_duration` never panic, and what they return stays within the bounds
//! they promise: a hint within a year (the retry loop refuses one past `MAX_HINT`), a limit
//! reading's reset within `MAX_HINT`.
//!
//! Input: a sequence of headers, each `[selector, length, value bytes...]`. The selector
//! picks one of the names the parsers read (so the fuzzer does not have to guess them), or,
//! past them, an arbitrary name taken from the value up to its first `:`.

#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use retry_core::middleware::{
    LimitFamily, MAX_HINT, RateLimitHeaders, delay_hint, go_duration, should_retry,
};

/// The longest delay a header is read as at all.
const YEAR: Duration = Duration::from_secs(366 * 24 * 60 * 60);

const NAMES: [&str; 30] = [
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
    "x-tokenlimit-reset-dynamic",
    "x-should-retry",
    "x-request-id",
    // OpenAI's family (also Groq's, Azure OpenAI's).
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    // Anthropic's.
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-reset",
    // The IETF draft's.
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
];

fn headers(mut data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    while let [selector, len, rest @ ..] = data {
        let len = usize::from(*len).min(rest.len());
        let (mut value, tail) = rest.split_at(len);
        data = tail;
        let name = match NAMES.get(usize::from(*selector)) {
            Some(name) => HeaderName::from_static(name),
            None => {
                let split = value.iter().position(|&b| b == b':').unwrap_or(0);
                let Ok(name) = HeaderName::from_bytes(&value[..split]) else {
                    continue;
                };
                value = value.get(split + 1..).unwrap_or_default();
                name
            }
        };
        // What hyper would have refused on the wire never reaches a parser.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(name, value);
        }
    }
    map
}

/// Only the headers named `names`, in the same order.
fn only(map: &HeaderMap, names: &[&'static str]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in names {
        for value in map.get_all(*name) {
            out.append(*name, value.clone());
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let map = headers(data);

    if let Some(delay) = delay_hint(&map) {
        assert!(
            delay > Duration::ZERO && delay <= YEAR,
            "{delay:?} from {map:?}"
        );
    }
    for value in map.values() {
        if let Some(delay) = value.to_str().ok().and_then(go_duration) {
            assert!(delay <= MAX_HINT, "{delay:?} from {value:?}");
        }
    }

    // `true`/`false` in any case with blanks around, read from the first value only.
    let first = map
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let expected = match first {
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    assert_eq!(should_retry(&map), expected, "{map:?}");

    let limits = RateLimitHeaders::from_headers(&map);
    for reset in [limits.reset, limits.token_reset].into_iter().flatten() {
        assert!(reset <= MAX_HINT, "{reset:?} from {map:?}");
    }
    assert_eq!(limits.is_empty(), limits == RateLimitHeaders::default());
    if matches!(limits.family, LimitFamily::OpenAi | LimitFamily::Anthropic) {
        // Together's names come first: another family is read only when none of them is.
        let together = only(&map, &NAMES[2..14]);
        assert!(RateLimitHeaders::from_headers(&together).is_empty(), "{map:?}");
        return;
    }

    // Plain and `-dynamic` read alone, then together: the tighter one wins (the smaller
    // count, the later reset), and a header that is unreadable alone changes nothing.
    let plain = RateLimitHeaders::from_headers(&only(
        &map,
        &[
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-tokenlimit-limit",
            "x-tokenlimit-remaining",
            "x-tokenlimit-reset",
        ],
    ));
    let dynamic = RateLimitHeaders::from_headers(&only(
        &map,
        &[
            "x-ratelimit-limit-dynamic",
            "x-ratelimit-remaining-dynamic",
            "x-ratelimit-reset-dynamic",
            "x-tokenlimit-limit-dynamic",
            "x-tokenlimit-remaining-dynamic",
            "x-tokenlimit-reset-dynamic",
        ],
    ));
    let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    assert_eq!(limits.limit, min(plain.limit, dynamic.limit));
    assert_eq!(limits.remaining, min(plain.remaining, dynamic.remaining));
    assert_eq!(
        limits.token_limit,
        min(plain.token_limit, dynamic.token_limit)
    );
    assert_eq!(
        limits.token_remaining,
        min(plain.token_remaining, dynamic.token_remaining)
    );
    assert_eq!(limits.reset, plain.reset.max(dynamic.reset));
    assert_eq!(
        limits.token_reset,
        plain.token_reset.max(dynamic.token_reset)
    );

    // The delay hint reads the three headers in order; a later one counts only where the
    // earlier ones are absent (an earlier zero is no hint, and does not fall through).
    let ms = delay_hint(&only(&map, &["retry-after-ms"]));
    let secs = delay_hint(&only(&map, &["retry-after"]));
    // `x-ratelimit-reset` is read as `RateLimitHeaders` reads it: the later of it and its
    // `-dynamic` variant.
    let reset = delay_hint(&only(
        &map,
        &["x-ratelimit-reset", "x-ratelimit-reset-dynamic"],
    ));
    // A date is read against the clock, which moves between two calls: no exact comparison.
    let from_date = map
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().parse::<f64>().is_err());
    let has = |name: &str| map.contains_key(name);
    if ms.is_some() {
        assert_eq!(delay_hint(&map), ms);
    } else if !has("retry-after-ms") && secs.is_some() && !from_date {
        assert_eq!(delay_hint(&map), secs);
    } else if !has("retry-after-ms") && !has("retry-after") {
        assert_eq!(delay_hint(&map), reset);
    }
});
