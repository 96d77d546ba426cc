//! Time formats the other providers' headers use: Go's `time.Duration` as it prints
//! (OpenAI's resets) and RFC 3339 instants in UTC (Anthropic's).
//!
//! Go durations are parsed by hand: no crate on the registry parses Go's `time.Duration`
//! format exactly (humantime's parser wants spaces or other unit names, and has no `µs`).

use std::time::{Duration, SystemTime};

use super::{MAX_HINT, number, seconds};

/// A Go `time.Duration` as its `String` prints it (`0s`, `20ms`, `1.5s`, `6m0s`,
/// `2m59.56s`, `23h47m36.648s`, `500µs`, `500us`, `100ns`), within [`MAX_HINT`]. A bare
/// number is taken as seconds, as some servers send it.
///
/// ```
/// use std::time::Duration;
/// use retry_core::middleware::go_duration;
///
/// assert_eq!(go_duration("6m0s"), Some(Duration::from_secs(360)));
/// assert_eq!(go_duration("2m59.56s"), Some(Duration::from_millis(179_560)));
/// assert_eq!(go_duration("20ms"), Some(Duration::from_millis(20)));
/// assert_eq!(go_duration("-1s"), None);
/// assert_eq!(go_duration("soon"), None);
/// ```
pub fn go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(secs) = number(text) {
        return seconds(secs);
    }
    if text.is_empty() {
        return None;
    }
    // Exact integer nanoseconds: `5.020s` is 5 020 ms, not 5.019999999 s.
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (value, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" | "μs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        total = total.checked_add(nanos(value, scale)?)?;
        if total > MAX_HINT.as_nanos() {
            return None;
        }
        rest = next;
    }
    u64::try_from(total).ok().map(Duration::from_nanos)
}

/// `value` (digits, at most one point) times `scale` nanoseconds, exactly (fractions of a
/// nanosecond dropped).
fn nanos(value: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let digits = |s: &str| -> Option<u128> {
        match s.len() {
            0 => Some(0),
            // More digits than any delay within a day needs: absurd, not truncated.
            1..=30 => s.parse().ok(),
            _ => None,
        }
    };
    let whole = digits(whole)?.checked_mul(scale)?;
    // Up to 18 digits of fraction count (a nanosecond of an hour is 13 digits in).
    let fraction = &fraction[..fraction.len().min(18)];
    let part = digits(fraction)?.checked_mul(scale)? / 10u128.pow(fraction.len() as u32);
    whole.checked_add(part)
}

/// The time from now until an RFC 3339 instant in UTC (`2024-04-10T23:51:20Z`, fractions
/// allowed), within [`MAX_HINT`]; an instant in the past is zero. Parsed with humantime, which
/// takes UTC (`Z`) only, as Anthropic sends it.
pub(super) fn until_instant(text: &str) -> Option<Duration> {
    let at = humantime::parse_rfc3339(text).ok()?;
    let wait = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    (wait <= MAX_HINT).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_as_openai_sends_them() {
        for (text, ms) in [
            ("0s", 0),
            ("20ms", 20),
            ("1.5s", 1_500),
            ("6m0s", 360_000),
            ("2m59.56s", 179_560),
            ("23h47m36.648s", 85_656_648),
            ("1h", 3_600_000),
            ("0.5", 500),
        ] {
            assert_eq!(go_duration(text), Some(Duration::from_millis(ms)), "{text}");
        }
        assert_eq!(go_duration("500µs"), Some(Duration::from_micros(500)));
        assert_eq!(go_duration("100ns"), Some(Duration::from_nanos(100)));
        for bad in [
            "", "s", "1x", "1.2.3s", "-5s", "1h-2m", "NaN", "inf", "25h", "1d",
        ] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }
}
