//! [`RunSummary`]: the end of a run in a few lines, from [`Together::usage`](crate::Together::usage).

use std::fmt;
use std::time::Duration;

use super::cost::{Human, LimitCost, Percent, RunFigures};
use crate::usage::{ClientUsage, ModelUsage};

/// What a run used and what the limit cost it: tokens, requests, time waited on the limit
/// against time working, the limit observed and the rate demanded. Its `Display` is a
/// short report for a terminal.
///
/// ```
/// use std::time::Duration;
/// use together_client::ClientUsage;
/// use together_client::report::RunSummary;
///
/// # let usage = ClientUsage::default();
/// // `usage` is `client.usage()` at the end of the run (minus `usage()` at its start, if the
/// // client did other work before: see `RunSummary::between`).
/// let summary = RunSummary::new(&usage, Duration::from_secs(12));
/// println!("{summary}");
/// assert_eq!(summary.totals.requests, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunSummary {
    /// How long the run took (wall time).
    pub elapsed: Duration,
    /// Every model's figures added up.
    pub totals: ModelUsage,
    /// The pace the client's limiter had learned at the end, in requests per second, if
    /// known ([`RateLimitMiddleware::pace`](retry_core::middleware::RateLimitMiddleware::pace)).
    pub pace: Option<f64>,
}

impl RunSummary {
    /// The summary of a run that took `elapsed`, from the client's usage at its end.
    pub fn new(usage: &ClientUsage, elapsed: Duration) -> Self {
        RunSummary {
            elapsed,
            totals: usage.total(),
            pace: None,
        }
    }

    /// The summary of the run between two snapshots of one client's usage.
    pub fn between(start: &ClientUsage, end: &ClientUsage, elapsed: Duration) -> Self {
        let (a, b) = (start.total(), end.total());
        let mut totals = b;
        totals.requests = b.requests.saturating_sub(a.requests);
        totals.successes = b.successes.saturating_sub(a.successes);
        totals.rate_limited = b.rate_limited.saturating_sub(a.rate_limited);
        totals.prompt_tokens = b.prompt_tokens.saturating_sub(a.prompt_tokens);
        totals.completion_tokens = b.completion_tokens.saturating_sub(a.completion_tokens);
        totals.waited = b.waited.saturating_sub(a.waited);
        totals.busy = b.busy.saturating_sub(a.busy);
        RunSummary {
            elapsed,
            totals,
            pace: None,
        }
    }

    /// With the limiter's learned pace (requests per second), for the report.
    #[must_use]
    pub fn with_pace(mut self, pace: Option<f64>) -> Self {
        self.pace = pace.filter(|p| p.is_finite() && *p > 0.0);
        self
    }

    /// The figures [`LimitCost`] reads.
    pub fn figures(&self) -> RunFigures {
        let t = &self.totals;
        RunFigures::new(self.elapsed, t.successes, t.waited, t.busy)
    }

    /// What the limit cost the run.
    pub fn limit_cost(&self) -> LimitCost {
        LimitCost::new(&self.figures())
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        let figures = self.figures();
        writeln!(
            f,
            "requests: {} sent, {} answered in {} ({:.1}/s), {} rate-limited (429)",
            t.requests,
            t.successes,
            Human(self.elapsed),
            figures.achieved(),
            t.rate_limited,
        )?;
        let tokens = t.prompt_tokens.saturating_add(t.completion_tokens);
        let secs = self.elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // token counts far below 2^52
        let per_second = if secs > 0.0 {
            tokens as f64 / secs
        } else {
            0.0
        };
        writeln!(
            f,
            "tokens: {} in, {} out ({per_second:.0}/s)",
            t.prompt_tokens, t.completion_tokens
        )?;
        writeln!(
            f,
            "time of the requests: {} waiting on the limit ({}), {} working ({})",
            Percent(figures.waiting_share()),
            Human(t.waited),
            Percent(1.0 - figures.waiting_share()),
            Human(t.busy),
        )?;
        let observed = match (t.request_limit, t.token_limit) {
            (Some(r), Some(k)) => format!("{r} requests, {k} tokens (as the server reports them)"),
            (Some(r), None) => format!("{r} requests (as the server reports it)"),
            (None, Some(k)) => format!("{k} tokens (as the server reports it)"),
            (None, None) => "none reported".to_owned(),
        };
        write!(f, "limit observed: {observed}")?;
        if let Some(pace) = self.pace {
            write!(f, "; the limiter's pace {pace:.1} req/s")?;
        }
        match figures.demanded() {
            Some(demand) => writeln!(f, "; rate demanded: {demand:.1} req/s")?,
            None => writeln!(f)?,
        }
        write!(f, "{}", self.limit_cost())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn usage(requests: u64, successes: u64, waited: Duration, busy: Duration) -> ClientUsage {
        let model = ModelUsage {
            requests,
            successes,
            rate_limited: requests - successes,
            prompt_tokens: 10 * successes,
            completion_tokens: 20 * successes,
            waited,
            busy,
            request_limit: Some(25),
            ..ModelUsage::default()
        };
        let mut usage = ClientUsage::default();
        usage.models.insert("m".into(), model);
        usage
    }

    #[test]
    fn the_summary_names_every_figure() {
        let summary =
            RunSummary::new(&usage(310, 300, 90 * S, 30 * S), 12 * S).with_pace(Some(24.7));
        let text = summary.to_string();
        let want = "requests: 310 sent, 300 answered in 12 s (25.0/s), 10 rate-limited (429)\n\
                    tokens: 3000 in, 6000 out (750/s)\n\
                    time of the requests: 75 % waiting on the limit (90 s), 25 % working (30 s)\n\
                    limit observed: 25 requests (as the server reports it); the limiter's pace \
                    24.7 req/s; rate demanded: 100.0 req/s\n\
                    limited to 25.0 req/s; at twice the limit this job would have taken 6 s \
                    instead of 12 s (its requests spent 75 % of their time waiting on the limit)";
        assert_eq!(text, want);
    }

    #[test]
    fn between_two_snapshots_counts_only_the_run() {
        let start = usage(10, 10, S, S);
        let end = usage(110, 100, 11 * S, 5 * S);
        let summary = RunSummary::between(&start, &end, 10 * S);
        assert_eq!(summary.totals.requests, 100);
        assert_eq!(summary.totals.successes, 90);
        assert_eq!(summary.totals.waited, 10 * S);
        assert_eq!(summary.totals.request_limit, Some(25));
        // Snapshots the wrong way round give zeros, not a panic.
        assert_eq!(RunSummary::between(&end, &start, S).totals.requests, 0);
    }

    #[test]
    fn an_empty_run_prints_without_dividing_by_zero() {
        let text = RunSummary::new(&ClientUsage::default(), Duration::ZERO).to_string();
        assert!(text.contains("limit observed: none reported\n"), "{text}");
        assert!(text.ends_with("no request was answered: nothing to tell of the limit"));
    }
}
