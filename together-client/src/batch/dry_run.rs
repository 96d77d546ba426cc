//! [`dry_run`]: what a batch file holds and how long it will take, without sending anything.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::FileError;
use super::ids::{IdSet, Last};
use super::input::Reader;
use super::output;

/// How many invalid lines a [`DryRun`] lists (it counts them all).
const LISTED: usize = 20;

/// The limits a job runs under, for [`dry_run`]'s estimate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Caps {
    /// Requests a minute (`--rpm`).
    pub rpm: Option<u32>,
    /// Tokens a minute (`--tpm`), as the client's limiter counts them: a quarter of the
    /// body's bytes plus its `max_tokens`.
    pub tpm: Option<u32>,
    /// Requests a second the server reported, when neither cap is given.
    pub reported_per_second: Option<f64>,
}

/// A line that is not a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// Its number, from 1.
    pub line: u64,
    /// Why, naming the line.
    pub why: String,
}

/// What [`dry_run`] found.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct DryRun {
    /// Non-blank lines.
    pub lines: u64,
    /// Distinct custom ids (invalid lines' included).
    pub distinct_ids: u64,
    /// Lines whose id an earlier line already had.
    pub duplicates: u64,
    /// Lines that are not requests.
    pub invalid: u64,
    /// The first 20 of them.
    pub invalid_lines: Vec<InvalidLine>,
    /// Ids the output already holds answered or failed for good: not sent again.
    pub done: u64,
    /// Ids whose last output line is a retryable error: sent only with `retry_failed`.
    pub waiting: u64,
    /// Requests a run would send.
    pub to_send: u64,
    /// Estimated prompt tokens of those requests: a quarter of their messages' text, in
    /// bytes (about four bytes a token for English with the usual tokenizers).
    pub prompt_tokens: u64,
    /// Their `max_tokens` (or `max_completion_tokens`), summed: the most they can generate.
    pub completion_tokens: u64,
    /// Requests with no `max_tokens`: their completion is not in `completion_tokens`.
    pub without_max_tokens: u64,
    /// The tokens the client's limiter charges for them (body bytes / 4 + `max_tokens`).
    pub limiter_tokens: u64,
    /// How long sending them takes at the caps, and which cap binds; `None` without caps.
    pub estimate: Option<(Duration, &'static str)>,
}

/// Reads `input` (`-`: standard input) and `output` (if it exists) and says what a run with
/// `retry_failed` would do, and how long it would take at `caps`. Sends nothing.
///
/// The estimate is the schedule of the client's limiter: one request every `60 / rpm`
/// seconds, and the limiter's token estimate paid at `tpm / 60` a second after a first
/// second's worth; the slower of the two. It assumes the server keeps up (the caps are below
/// its limit) and that the concurrency is enough to fill the pace.
pub async fn dry_run(
    input: &Path,
    output: &Path,
    caps: Caps,
    retry_failed: bool,
) -> Result<DryRun, FileError> {
    let previous = output::previous(output).await?;
    let mut reader = Reader::open(input).await?;
    let mut seen = IdSet::default();
    let mut report = DryRun::default();
    while let Some(line) = reader.next().await? {
        let Some((custom_id, body)) = line.into_parts() else {
            continue;
        };
        let body = match body {
            Ok(body) => Some(body),
            Err((line, why)) => {
                report.invalid += 1;
                if report.invalid_lines.len() < LISTED {
                    report.invalid_lines.push(InvalidLine { line, why });
                }
                None
            }
        };
        report.lines += 1;
        if !seen.insert(&custom_id) {
            report.duplicates += 1;
            continue;
        }
        report.distinct_ids += 1;
        match previous.get(&custom_id) {
            Some(Last::Answered | Last::Final) => report.done += 1,
            Some(Last::Retryable) if !retry_failed => report.waiting += 1,
            _ => {
                if let Some(body) = body {
                    report.count(&body);
                }
            }
        }
    }
    report.estimate = estimate(report.to_send, report.limiter_tokens, caps);
    Ok(report)
}

impl DryRun {
    /// Adds a request a run would send.
    fn count(&mut self, body: &Value) {
        self.to_send += 1;
        let text: usize = body["messages"]
            .as_array()
            .map_or(0, |messages| messages.iter().map(content_len).sum());
        self.prompt_tokens += (text as u64).div_ceil(4);
        let max = ["max_tokens", "max_completion_tokens"]
            .iter()
            .find_map(|key| body[key].as_u64());
        self.completion_tokens += max.unwrap_or(0);
        self.without_max_tokens += u64::from(max.is_none());
        let bytes = serde_json::to_vec(body).map_or(0, |b| b.len() as u64);
        self.limiter_tokens += (bytes.div_ceil(4) + max.unwrap_or(0)).max(1);
    }
}

/// The bytes of text of a message: its `content` string, or its text parts.
fn content_len(message: &Value) -> usize {
    match &message["content"] {
        Value::String(text) => text.len(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .map(str::len)
            .sum(),
        _ => 0,
    }
}

/// The time `requests` requests costing `tokens` take at `caps`, and the cap that binds.
fn estimate(requests: u64, tokens: u64, caps: Caps) -> Option<(Duration, &'static str)> {
    let by_requests = match (caps.rpm, caps.reported_per_second) {
        (Some(rpm), _) => Some((requests as f64 * 60.0 / f64::from(rpm), "--rpm")),
        (None, Some(rate)) if rate > 0.0 && caps.tpm.is_none() => {
            Some((requests as f64 / rate, "the limit the server reported"))
        }
        _ => None,
    };
    let by_tokens = caps.tpm.map(|tpm| {
        let per_second = f64::from(tpm) / 60.0;
        let after_first_second = (tokens as f64 - per_second).max(0.0);
        (after_first_second / per_second, "--tpm")
    });
    let slower = match (by_requests, by_tokens) {
        (Some(r), Some(t)) => Some(if t.0 > r.0 { t } else { r }),
        (r, t) => r.or(t),
    }?;
    Some((Duration::from_secs_f64(slower.0), slower.1))
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} lines, {} distinct ids, {} duplicates, {} invalid lines",
            self.lines, self.distinct_ids, self.duplicates, self.invalid
        )?;
        for invalid in &self.invalid_lines {
            writeln!(f, "  {}", invalid.why)?;
        }
        if self.invalid > self.invalid_lines.len() as u64 {
            writeln!(
                f,
                "  ... and {} more",
                self.invalid - self.invalid_lines.len() as u64
            )?;
        }
        writeln!(
            f,
            "already done in the output: {}; failed lines waiting for --retry-failed: {}",
            self.done, self.waiting
        )?;
        writeln!(
            f,
            "to send: {} requests, about {} prompt tokens and at most {} completion tokens{}",
            self.to_send,
            self.prompt_tokens,
            self.completion_tokens,
            if self.without_max_tokens > 0 {
                format!(" ({} requests have no max_tokens)", self.without_max_tokens)
            } else {
                String::new()
            }
        )?;
        match self.estimate {
            Some((time, by)) => write!(f, "estimated time: {} (bound by {by})", hms(time)),
            None => write!(
                f,
                "estimated time: unknown (give --rpm or --tpm, or a server that reports its limit)"
            ),
        }
    }
}

/// `1h 02m 03s`, `2m 03s` or `3.4s`.
fn hms(time: Duration) -> String {
    let secs = time.as_secs();
    match secs {
        0..60 => format!("{:.1}s", time.as_secs_f64()),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m {:02}s", secs / 3600, secs / 60 % 60, secs % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slower_cap_binds() {
        let caps = |rpm, tpm| Caps {
            rpm,
            tpm,
            reported_per_second: None,
        };
        let (time, by) = estimate(120, 0, caps(Some(60), None)).unwrap();
        assert_eq!((time, by), (Duration::from_secs(120), "--rpm"));
        // 6000 tokens at 60 a second: 100 s, less the first second's worth.
        let (time, by) = estimate(10, 6000, caps(Some(600), Some(3600))).unwrap();
        assert_eq!((time, by), (Duration::from_secs(99), "--tpm"));
        assert_eq!(estimate(10, 10, caps(None, None)), None);
        assert_eq!(hms(Duration::from_secs(3723)), "1h 02m 03s");
    }
}
