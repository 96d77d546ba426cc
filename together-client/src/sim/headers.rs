//! What the simulator says about its limits: the rate-limit header families, what their values
//! mean, and the dialect's hint on a 429.
//!
//! A real server is none of these exactly; the family exists so that a client can be measured
//! on several readings of the same names (is `x-ratelimit-limit` the bucket or the rate? is
//! `reset` the time until the bucket is full or until the next request?), on headers that are
//! stale or wrong, and on other providers' names and units.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::bucket::Level;
use super::config::HintDialect;
use super::handlers::lock;
use super::limiter::Verdict;

/// Which rate-limit headers the simulator sends, and what their values mean
/// ([`SimulatorBuilder::limit_headers`](super::SimulatorBuilder::limit_headers)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitHeaders {
    /// No rate-limit header at all (a 429 still carries the dialect's hint).
    None,
    /// Together's names, `x-ratelimit-{limit,remaining,reset}` and, with a token limit,
    /// `x-tokenlimit-{limit,remaining}`, with values as `Meaning` says.
    Together(Meaning),
    /// OpenAI's names (also Groq's, Azure OpenAI's and many compatible servers'):
    /// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`. Limits per minute (the rate
    /// times 60), `remaining` of a per-minute budget, `reset` the time until that budget is
    /// full, as a Go duration (`20ms`, `1.5s`, `6m0s`). Enforced per second by the bucket, as
    /// OpenAI warns: a large `remaining` is no licence to burst.
    OpenAi,
    /// Anthropic's names, `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`:
    /// limits per minute, `reset` an RFC 3339 instant when the budget is full again. Enforced
    /// per second by the bucket.
    Anthropic,
    /// The IETF draft's structured fields (`draft-ietf-httpapi-ratelimit-headers`):
    /// `RateLimit: "default";r=<remaining>;t=<seconds>` and `RateLimit-Policy:
    /// "default";q=<limit>`, for the request bucket: `q` what it holds, `r` what is left, `t`
    /// the time until it is full in whole seconds rounded up (the draft's integers), as a
    /// gateway would send Together's bucket in the standard's words.
    Ietf,
}

/// What the values of Together's header names mean on one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meaning {
    /// What `x-ratelimit-limit` counts.
    pub limit: LimitMeans,
    /// What `x-ratelimit-reset` measures.
    pub reset: ResetMeans,
    /// How far `x-ratelimit-remaining` can be trusted.
    pub remaining: RemainingMeans,
}

impl Meaning {
    /// The reading the client was first written for: `limit` the bucket, `reset` the time
    /// until it is full, `remaining` accurate.
    pub const BUCKET: Meaning = Meaning {
        limit: LimitMeans::Bucket,
        reset: ResetMeans::UntilFull,
        remaining: RemainingMeans::Accurate,
    };

    /// Another server's reading of the same names: `limit` the rate per second (while the
    /// bucket holds less), `reset` the wait until the next request would be taken,
    /// `remaining` accurate.
    pub const RATE: Meaning = Meaning {
        limit: LimitMeans::RatePerSecond,
        reset: ResetMeans::NextSlot,
        remaining: RemainingMeans::Accurate,
    };
}

/// What `x-ratelimit-limit` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitMeans {
    /// Requests the bucket holds (the burst).
    Bucket,
    /// Requests per second (rounded up), whatever the bucket holds.
    RatePerSecond,
    /// Not sent: `remaining` (and `reset`) alone, as some gateways do.
    Absent,
    /// A per-minute budget (the rate times 60): `limit`, `remaining` and `reset` all of that
    /// budget, as OpenAI's figures are, under Together's names. Enforced per second by the
    /// bucket ("60 RPM is enforced as 1 RPS"): a large `remaining` is no licence to burst.
    PerMinute,
}

/// What `x-ratelimit-reset` measures, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetMeans {
    /// The time until the bucket is full again.
    UntilFull,
    /// The time until the bucket holds one request (zero while it holds one).
    NextSlot,
    /// The time until the bucket is full again, in whole seconds rounded up, as servers that
    /// send integers do: `1` for anything from a millisecond to a second.
    UntilFullWholeSeconds,
    /// A [sliding log](super::SimulatorBuilder::sliding_log)'s: the time until the oldest
    /// request it counts leaves it, whatever is left (zero when it counts none), as limiters
    /// built on a sorted set of timestamps report it. On a bucket or a window: zero.
    OldestLeaves,
}

/// How `x-ratelimit-remaining` relates to the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemainingMeans {
    /// Whole requests left, rounded down.
    Accurate,
    /// Every header is a snapshot refreshed this often (a gateway's cached counter).
    Stale(Duration),
    /// Always `limit - 1`, whatever is left (a server whose counter is broken).
    Constant,
}

/// The header family in force, and the snapshot a stale one repeats.
#[derive(Debug)]
pub(crate) struct Reporter {
    family: LimitHeaders,
    /// The family was not chosen, and the dialect sends no request headers: the token
    /// headers still go out, as they always did with a token limit.
    tokens_anyway: bool,
    dynamic: bool,
    snapshot: Mutex<Option<(Instant, Verdict)>>,
}

impl Reporter {
    /// The `chosen` family, or the one the dialect implies: Together's bucket reading with
    /// [`HintDialect::RateLimitHeaders`], else only `x-tokenlimit-*` (with a token limit).
    pub(crate) fn new(chosen: Option<LimitHeaders>, dialect: HintDialect, dynamic: bool) -> Self {
        let implied = if dialect == HintDialect::RateLimitHeaders {
            LimitHeaders::Together(Meaning::BUCKET)
        } else {
            LimitHeaders::None
        };
        Reporter {
            family: chosen.unwrap_or(implied),
            tokens_anyway: chosen.is_none() && implied == LimitHeaders::None,
            dynamic,
            snapshot: Mutex::new(None),
        }
    }

    /// The answer once the credit is spent, in the family's words: Together's 429
    /// `credit_limit`, OpenAI's 429 `insufficient_quota`, Anthropic's 402 `billing_error`
    /// (its 429s are only ever rate limits).
    pub(crate) fn out_of_credit(&self) -> (StatusCode, Value) {
        match self.family {
            LimitHeaders::OpenAi => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "error": {
                    "message": "You exceeded your current quota, please check your plan and billing details.",
                    "type": "insufficient_quota", "param": null, "code": "insufficient_quota",
                } }),
            ),
            LimitHeaders::Anthropic => (
                StatusCode::PAYMENT_REQUIRED,
                json!({ "type": "error", "error": {
                    "type": "billing_error",
                    "message": "Your credit balance is too low to access the API.",
                } }),
            ),
            LimitHeaders::None | LimitHeaders::Together(_) | LimitHeaders::Ietf => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "error": {
                    "message": "Credit limit exceeded: add credits to your account to continue.",
                    "type": "credit_limit", "param": null, "code": null,
                } }),
            ),
        }
    }

    /// Writes the family's headers for a request the limiter judged as `verdict`.
    pub(crate) fn write(&self, verdict: &Verdict, out: &mut HeaderMap) {
        match self.family {
            LimitHeaders::None => {
                if let (true, Some(level)) = (self.tokens_anyway, &verdict.tokens) {
                    self.together(out, "x-tokenlimit", level, Meaning::BUCKET, false);
                }
            }
            LimitHeaders::Together(meaning) => {
                let verdict = match meaning.remaining {
                    RemainingMeans::Stale(every) => self.stale(verdict, every),
                    _ => *verdict,
                };
                let (requests, tokens) = match meaning.limit {
                    LimitMeans::PerMinute => (verdict.minute_requests, verdict.minute_tokens),
                    _ => (verdict.requests, verdict.tokens),
                };
                if let Some(level) = &requests {
                    self.together(out, "x-ratelimit", level, meaning, true);
                }
                if let Some(level) = &tokens {
                    self.together(out, "x-tokenlimit", level, meaning, false);
                }
            }
            LimitHeaders::OpenAi => {
                for (level, kind) in [
                    (&verdict.minute_requests, "requests"),
                    (&verdict.minute_tokens, "tokens"),
                ] {
                    if let Some(level) = level {
                        put(
                            out,
                            &format!("x-ratelimit-limit-{kind}"),
                            whole(level.limit),
                        );
                        put(
                            out,
                            &format!("x-ratelimit-remaining-{kind}"),
                            whole(level.remaining),
                        );
                        put(
                            out,
                            &format!("x-ratelimit-reset-{kind}"),
                            go_duration(level.reset),
                        );
                    }
                }
            }
            LimitHeaders::Ietf => {
                if let Some(level) = &verdict.requests {
                    let reset = level.reset.ceil().max(0.0) as u64;
                    let remaining = whole(level.remaining);
                    put(
                        out,
                        "ratelimit",
                        format!(r#""default";r={remaining};t={reset}"#),
                    );
                    let limit = whole(level.limit);
                    put(out, "ratelimit-policy", format!(r#""default";q={limit}"#));
                }
            }
            LimitHeaders::Anthropic => {
                for (level, kind) in [
                    (&verdict.minute_requests, "requests"),
                    (&verdict.minute_tokens, "tokens"),
                ] {
                    if let Some(level) = level {
                        let base = format!("anthropic-ratelimit-{kind}");
                        put(out, &format!("{base}-limit"), whole(level.limit));
                        put(out, &format!("{base}-remaining"), whole(level.remaining));
                        put(out, &format!("{base}-reset"), rfc3339_after(level.reset));
                    }
                }
            }
        }
    }

    /// The snapshot taken at most `every` ago, or `verdict` as the new one.
    fn stale(&self, verdict: &Verdict, every: Duration) -> Verdict {
        let now = Instant::now();
        let mut snapshot = lock(&self.snapshot);
        match *snapshot {
            Some((at, old)) if now.saturating_duration_since(at) < every => old,
            _ => {
                *snapshot = Some((now, *verdict));
                *verdict
            }
        }
    }

    fn together(
        &self,
        out: &mut HeaderMap,
        family: &str,
        level: &Level,
        meaning: Meaning,
        reset: bool,
    ) {
        let limit = match meaning.limit {
            LimitMeans::Bucket | LimitMeans::Absent | LimitMeans::PerMinute => level.limit,
            LimitMeans::RatePerSecond => level.rate.ceil(),
        };
        let remaining = match meaning.remaining {
            RemainingMeans::Constant => (limit - 1.0).max(0.0),
            _ => level.remaining,
        };
        let mut values = vec![("remaining", whole(remaining))];
        if meaning.limit != LimitMeans::Absent {
            values.insert(0, ("limit", whole(limit)));
        }
        if reset {
            let value = match meaning.reset {
                ResetMeans::UntilFull => format!("{:.3}", level.reset),
                ResetMeans::NextSlot => format!("{:.3}", level.next_slot),
                ResetMeans::OldestLeaves => format!("{:.3}", level.oldest_leaves),
                // As an integer: `f64`'s Display would print a negative zero as "-0".
                ResetMeans::UntilFullWholeSeconds => {
                    format!("{}", level.reset.ceil().max(0.0) as u64)
                }
            };
            values.push(("reset", value));
        }
        for (field, value) in values {
            let name = format!("{family}-{field}");
            if self.dynamic {
                put(out, &format!("{name}-dynamic"), value.clone());
            }
            put(out, &name, value);
        }
    }
}

fn put(out: &mut HeaderMap, name: &str, value: String) {
    let name = HeaderName::try_from(name).expect("a valid header name");
    out.insert(name, HeaderValue::from_str(&value).expect("ASCII"));
}

/// A count as the headers send it: whole, rounded down, never negative.
fn whole(value: f64) -> String {
    format!("{}", value.max(0.0).floor() as u64)
}

/// Seconds as Go's `time.Duration` prints them (`0s`, `20ms`, `1.5s`, `6m0s`, `1h2m3.5s`),
/// to the millisecond.
pub(crate) fn go_duration(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        text.push_str(&format!("{s}s"));
    } else {
        let frac = format!("{frac:03}");
        text.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    }
    text
}

/// The wall-clock instant `seconds` from now as RFC 3339 (UTC, whole seconds rounded up).
fn rfc3339_after(seconds: f64) -> String {
    let at = SystemTime::now() + Duration::from_secs_f64(seconds.max(0.0));
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(whole)).to_string()
}

/// The dialect's hint on a 429 for a `wait`.
pub(crate) fn hint_headers(dialect: HintDialect, wait: Duration, out: &mut HeaderMap) {
    // Rounded up in whole units, forgiving a microsecond of floating-point noise in the wait
    // (a 300 ms wait computed as 300.000001 ms still says 300), and never 0.
    let up_to = |unit: u128| (wait.as_nanos().saturating_sub(1_000).div_ceil(unit)).max(1);
    let (name, value) = match dialect {
        HintDialect::None | HintDialect::RateLimitHeaders => return,
        HintDialect::RetryAfterMs => ("retry-after-ms", up_to(1_000_000).to_string()),
        HintDialect::RetryAfterSecs => ("retry-after", up_to(1_000_000_000).to_string()),
        HintDialect::RetryAfterDate => {
            // The wall clock, not tokio's: the client compares the date with its own. Rounded
            // up to the whole second, since the format has no fractions.
            let at = SystemTime::now() + wait;
            let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
            let whole = since.as_secs() + u64::from(since.subsec_nanos() > 0);
            let date = UNIX_EPOCH + Duration::from_secs(whole);
            ("retry-after", httpdate::fmt_http_date(date))
        }
    };
    put(out, name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_as_go_prints_them() {
        for (seconds, text) in [
            (0.0, "0s"),
            (0.02, "20ms"),
            (1.5, "1.5s"),
            (360.0, "6m0s"),
            (179.56, "2m59.56s"),
            (85_656.648, "23h47m36.648s"),
        ] {
            assert_eq!(go_duration(seconds), text, "{seconds}");
        }
    }
}
