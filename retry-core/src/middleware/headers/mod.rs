//! Reading what a server says about waiting, one idea a file:
//!
//! - [`hints`]: the delay a failed response asks for (`retry-after-ms`, `Retry-After`,
//!   `x-ratelimit-reset`) and `x-should-retry`, for the retry loop;
//! - [`limits`]: the rate-limit headers of any response ([`RateLimitHeaders`]), Together's
//!   `x-ratelimit-*` / `x-tokenlimit-*` names first, for the limiter;
//! - [`families`]: the same figures under other providers' names (OpenAI, Anthropic, the IETF
//!   draft);
//! - [`durations`]: the time formats those use that no crate here reads as sent (Go
//!   durations; RFC 3339 instants go through humantime).
//!
//! This file holds what they share: how a value is read. Every parser here is total: a header
//! that is missing, not UTF-8, not a number, negative, NaN or infinite reads as "no hint",
//! never as a panic or a wrapped duration.
//!
//! A hint may be long: a reset "in 16 days" is the server's word that this call will not be
//! served, and the retry loop ends the call at once with it rather than sleep or ignore it.
//! Limit readings ([`RateLimitHeaders`]) stop at [`MAX_HINT`], and the limiter holds a host for
//! no longer than [`MAX_COOLDOWN`].

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::HeaderName;

mod durations;
mod families;
mod hints;
mod limits;

pub use durations::go_duration;
pub use families::LimitFamily;
pub use hints::{MAX_COOLDOWN, delay_hint, should_retry};
pub(crate) use hints::{beyond_cooldown, hint};
pub use limits::RateLimitHeaders;

/// The longest wait anything here will sleep or read from a limit header: one day. A delay
/// hint beyond it ends the call at once (every front end gives up with
/// [`GiveUpReason::HintBeyondDeadline`](crate::GiveUpReason::HintBeyondDeadline), whatever the
/// deadline); a reset beyond it in [`RateLimitHeaders`] is ignored as if absent.
pub const MAX_HINT: Duration = crate::retrier::MAX_WAIT;

/// The longest delay a header is read as at all (a year): past it a value is garbage (`1e300`,
/// a timestamp in milliseconds), not a hint.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A reset at or above this many seconds is a Unix timestamp (as GitHub and others send
/// `x-ratelimit-reset`), not a delay: 10^9 s is 31 years, 10^9 as a time is 2001.
const EPOCH_FLOOR: f64 = 1e9;

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

/// For the tests of every reader here: a header map of `pairs`.
#[cfg(test)]
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

/// For the same tests: the Unix time now, in whole seconds, to write a timestamp reset.
#[cfg(test)]
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
