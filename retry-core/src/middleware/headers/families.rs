//! Other providers' rate-limit headers, read into the same [`RateLimitHeaders`]:
//!
//! - **OpenAI** (also Groq, Azure OpenAI and many compatible servers):
//!   `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`. Limits per minute; `reset` the
//!   time until the budget is back to full, as a Go duration (`20ms`, `1.5s`, `6m0s`,
//!   `23h47m36.648s`).
//! - **Anthropic**: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, limits per
//!   minute, `reset` an RFC 3339 instant (UTC) when the budget is full again; the token figures
//!   fall back to `input-tokens` when only those are sent.
//!
//! - **The IETF draft** (`draft-ietf-httpapi-ratelimit-headers`, which gateways such as Kong
//!   and many APIs send): its current versions' structured `RateLimit: "policy";r=50;t=30`
//!   (`r` left, `t` seconds until the quota resets) with `RateLimit-Policy: "policy";q=100;w=60`
//!   (the quota `q` per window of `w` seconds), or its earlier versions' `RateLimit-Limit`,
//!   `RateLimit-Remaining` and `RateLimit-Reset` (delta seconds), still the most widely sent.
//!
//! All read as a bucket of `limit` with `remaining` left, full again after `reset`: the
//! limiter's bucket reading applies to them, under the same evidence. But a per-minute
//! `remaining` says nothing of the bucket a burst would spend (both providers enforce their
//! limits over shorter windows): [`LimitFamily::per_minute`] tells the limiter so, and it finds
//! that bucket by what its bursts draw instead.
//!
//! Their resets' formats are read in [`durations`](super::durations).

use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderName;

use super::durations::{go_duration, until_instant};
use super::{RateLimitHeaders, number, seconds, text, whole_seconds};

/// Whose names a [`RateLimitHeaders`] was read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitFamily {
    /// No rate-limit header.
    #[default]
    None,
    /// Together's `x-ratelimit-*` / `x-tokenlimit-*` (and many OpenAI-compatible servers').
    Together,
    /// OpenAI's `x-ratelimit-*-requests` / `-tokens`.
    OpenAi,
    /// Anthropic's `anthropic-ratelimit-*`.
    Anthropic,
    /// The IETF draft's `RateLimit` / `RateLimit-Policy`, or its earlier `RateLimit-Limit`,
    /// `-Remaining`, `-Reset`.
    Ietf,
}

impl LimitFamily {
    /// Whether the limits are per minute (and enforced over shorter windows): `remaining` then
    /// says nothing of how many requests may go back to back.
    pub const fn per_minute(self) -> bool {
        matches!(self, LimitFamily::OpenAi | LimitFamily::Anthropic)
    }

    /// Whether a reset this long is precise enough to measure a refill rate by: always, but
    /// for whole-second resets (Anthropic's), where a reset read as 0.6 s may be 20 ms away,
    /// and OpenAI's names written in whole seconds (`1s`, `2s`: rounded by a gateway or a
    /// compatible server); from 10 s, the rounding is within 10 %. (Each "1 used, full in
    /// `1s`", taken as exact, made the pace one a second on a budget of 1 200 a minute: a
    /// server written by someone who never read this code, a window of 200 per 10 s behind
    /// OpenAI's names, ran its last 100 requests at one a second.) Where the reset measures
    /// nothing, the family's documented rate stands in for it.
    pub(crate) fn measures_rate(self, reset: Duration) -> bool {
        let coarse = reset < Duration::from_secs(10);
        match self {
            LimitFamily::Anthropic => !coarse,
            LimitFamily::OpenAi => !(coarse && reset.subsec_nanos() == 0),
            _ => true,
        }
    }
}

const OPENAI: [HeaderName; 6] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

const ANTHROPIC: [HeaderName; 9] = [
    HeaderName::from_static("anthropic-ratelimit-requests-limit"),
    HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
    HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
    HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
    HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
    HeaderName::from_static("anthropic-ratelimit-input-tokens-limit"),
    HeaderName::from_static("anthropic-ratelimit-input-tokens-remaining"),
    HeaderName::from_static("anthropic-ratelimit-input-tokens-reset"),
];

fn count(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    // `as` saturates: an absurd count reads as u64::MAX, never wraps.
    text(headers, name).and_then(number).map(|n| n as u64)
}

/// OpenAI's family, if any of its headers is readable.
pub(crate) fn openai(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let reset = |name: &HeaderName| text(headers, name).and_then(go_duration);
    let limits = RateLimitHeaders {
        limit: count(headers, &OPENAI[0]),
        remaining: count(headers, &OPENAI[1]),
        reset: reset(&OPENAI[2]),
        token_limit: count(headers, &OPENAI[3]),
        token_remaining: count(headers, &OPENAI[4]),
        token_reset: reset(&OPENAI[5]),
        // Per-minute figures: their resets are weighed by `LimitFamily::measures_rate`.
        reset_whole_seconds: false,
        family: LimitFamily::OpenAi,
    };
    limits.has_figures().then_some(limits)
}

/// Anthropic's family, if any of its headers is readable.
pub(crate) fn anthropic(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let reset = |name: &HeaderName| text(headers, name).and_then(until_instant);
    let tokens = |general: &HeaderName, input: &HeaderName| {
        count(headers, general).or_else(|| count(headers, input))
    };
    let limits = RateLimitHeaders {
        limit: count(headers, &ANTHROPIC[0]),
        remaining: count(headers, &ANTHROPIC[1]),
        reset: reset(&ANTHROPIC[2]),
        token_limit: tokens(&ANTHROPIC[3], &ANTHROPIC[6]),
        token_remaining: tokens(&ANTHROPIC[4], &ANTHROPIC[7]),
        token_reset: reset(&ANTHROPIC[5]).or_else(|| reset(&ANTHROPIC[8])),
        // Per-minute figures: their resets are weighed by `LimitFamily::measures_rate`.
        reset_whole_seconds: false,
        family: LimitFamily::Anthropic,
    };
    limits.has_figures().then_some(limits)
}

const IETF: [HeaderName; 5] = [
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("ratelimit-policy"),
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
];

/// The IETF draft's family, if any of its headers is readable: the structured `RateLimit`
/// field first, else the earlier three.
pub(crate) fn ietf(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let limits = ietf_structured(headers).unwrap_or_else(|| RateLimitHeaders {
        // An earlier draft let the limit carry its policy (`100, 100;w=60`): the leading count.
        limit: text(headers, &IETF[2])
            .and_then(|value| value.split([',', ';']).next())
            .and_then(|count| number(count.trim()))
            .map(|n| n as u64),
        remaining: count(headers, &IETF[3]),
        reset: text(headers, &IETF[4]).and_then(number).and_then(seconds),
        reset_whole_seconds: whole_seconds(headers, &IETF[4]),
        family: LimitFamily::Ietf,
        ..RateLimitHeaders::default()
    });
    limits.has_figures().then_some(limits)
}

/// `RateLimit: "policy";r=<left>;t=<seconds>`, one member per policy: the one with the least
/// left, as the draft asks servers to put first anyway. Its quota is the `q` of the policy of
/// the same name in `RateLimit-Policy`. Parsed by `sfv` (RFC 9651's structured fields).
fn ietf_structured(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let list = |name: &HeaderName| -> Option<sfv::List> {
        sfv::Parser::new(headers.get(name)?.as_bytes()).parse().ok()
    };
    let current = list(&IETF[0])?;
    let (policy, remaining, reset) = current
        .iter()
        .filter_map(|entry| {
            let sfv::ListEntry::Item(item) = entry else {
                return None;
            };
            let left = param(&item.params, "r")?;
            let reset = param(&item.params, "t").and_then(seconds);
            Some((name(&item.bare_item), left, reset))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let quota = list(&IETF[1]).and_then(|policies| {
        policies.iter().find_map(|entry| match entry {
            sfv::ListEntry::Item(item) if name(&item.bare_item) == policy => {
                param(&item.params, "q")
            }
            _ => None,
        })
    });
    Some(RateLimitHeaders {
        limit: quota.map(|q| q as u64),
        remaining: Some(remaining as u64),
        reset_whole_seconds: reset.is_some_and(|reset| reset.subsec_nanos() == 0),
        reset,
        family: LimitFamily::Ietf,
        ..RateLimitHeaders::default()
    })
}

/// A non-negative numeric parameter (an integer or a decimal).
fn param(params: &sfv::Parameters, key: &str) -> Option<f64> {
    let value = params.get(key)?;
    let value = match value {
        sfv::BareItem::Integer(n) => i64::from(*n) as f64,
        sfv::BareItem::Decimal(d) => f64::from(*d),
        _ => return None,
    };
    (value >= 0.0).then_some(value)
}

/// A policy's name: a string or a token.
fn name(item: &sfv::BareItem) -> Option<&str> {
    match item {
        sfv::BareItem::String(s) => Some(s.as_str()),
        sfv::BareItem::Token(t) => Some(t.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::middleware::headers::headers;

    /// The IETF draft's current fields: the member with the least left, its policy's quota.
    #[test]
    fn ietf_structured_fields() {
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("ratelimit", r#""burst";r=4;t=1, "day";r=990;t=3600"#),
            (
                "ratelimit-policy",
                r#""day";q=1000;w=86400, "burst";q=5;w=1"#,
            ),
        ]));
        assert_eq!(limits.family, LimitFamily::Ietf);
        assert_eq!(
            (limits.limit, limits.remaining, limits.reset),
            (Some(5), Some(4), Some(Duration::from_secs(1)))
        );
        // No policy field: no limit, the rest still counts.
        let limits =
            RateLimitHeaders::from_headers(&headers(&[("ratelimit", "default;r=0;t=2.5")]));
        assert_eq!(
            (limits.limit, limits.remaining, limits.reset),
            (None, Some(0), Some(Duration::from_millis(2_500)))
        );
        // Unparseable, or negative: nothing from it.
        for bad in ["r=5", r#""p";r=-1;t=1"#, r#""p";t=1"#, "(("] {
            let limits = RateLimitHeaders::from_headers(&headers(&[("ratelimit", bad)]));
            assert!(limits.is_empty(), "{bad}: {limits:?}");
        }
    }

    /// The earlier drafts' three fields, the limit with its policy attached or not.
    #[test]
    fn ietf_earlier_fields() {
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("ratelimit-limit", "100, 100;w=60"),
            ("ratelimit-remaining", "42"),
            ("ratelimit-reset", "17"),
        ]));
        assert_eq!(limits.family, LimitFamily::Ietf);
        assert_eq!(
            (limits.limit, limits.remaining, limits.reset),
            (Some(100), Some(42), Some(Duration::from_secs(17)))
        );
        let limits = RateLimitHeaders::from_headers(&headers(&[("ratelimit-limit", "5")]));
        assert_eq!(limits.limit, Some(5));
        // Together's names come first when both are sent.
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("ratelimit-limit", "5"),
            ("x-ratelimit-limit", "7"),
        ]));
        assert_eq!(
            (limits.family, limits.limit),
            (LimitFamily::Together, Some(7))
        );
    }

    #[test]
    fn openai_headers() {
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]));
        assert_eq!(limits.family, LimitFamily::OpenAi);
        assert_eq!((limits.limit, limits.remaining), (Some(60), Some(59)));
        assert_eq!(limits.reset, Some(Duration::from_secs(1)));
        assert_eq!(limits.token_limit, Some(150_000));
        assert_eq!(limits.token_remaining, Some(149_984));
        assert_eq!(limits.token_reset, Some(Duration::from_secs(360)));
        assert!(limits.family.per_minute());
    }

    #[test]
    fn anthropic_headers() {
        let soon = SystemTime::now() + Duration::from_secs(30);
        let at = humantime::format_rfc3339_seconds(soon).to_string();
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", &at),
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "39000"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2020-01-01T00:00:00Z",
            ),
        ]));
        assert_eq!(limits.family, LimitFamily::Anthropic);
        assert_eq!((limits.limit, limits.remaining), (Some(50), Some(49)));
        let reset = limits.reset.unwrap();
        assert!(reset > Duration::from_secs(28) && reset <= Duration::from_secs(30));
        assert_eq!(limits.token_limit, Some(40_000));
        assert_eq!(limits.token_reset, Some(Duration::ZERO), "in the past");
        // An unreadable instant or an offset humantime does not take: no reset, no panic.
        let limits = RateLimitHeaders::from_headers(&headers(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            (
                "anthropic-ratelimit-requests-reset",
                "2024-04-10T23:51:20+02:00",
            ),
        ]));
        assert_eq!((limits.limit, limits.reset), (Some(50), None));
    }
}
