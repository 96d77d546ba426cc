//! What the rate limit cost a run, from the run's own figures: no tier table to go stale.
//!
//! By Little's law the requests in flight or waiting, on average, are `(waited + busy) /
//! elapsed`; each spends `busy / answered` on the wire, so with no limit the job would have
//! answered `answered * (waited + busy) / (elapsed * busy)` a second: the rate it demanded.
//! Raising the limit `k` times raises the rate achieved `k` times, up to that demand:
//!
//! ```text
//! time at k x the limit = max(elapsed / k, elapsed * busy / (waited + busy))
//! ```

use std::fmt;
use std::time::Duration;

/// Below this share of the requests' time spent waiting, the limit did not slow the job.
const NEGLIGIBLE: f64 = 0.05;

/// A run's figures, enough to say what the limit cost ([`LimitCost::new`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunFigures {
    /// How long the run took (wall time).
    pub elapsed: Duration,
    /// Requests answered with a success.
    pub answered: u64,
    /// Time requests spent waiting on the rate limiter, added up over requests.
    pub waited: Duration,
    /// Time requests spent on the wire, added up over requests.
    pub busy: Duration,
}

impl RunFigures {
    /// The figures of a run that took `elapsed`, answered `answered` requests, whose requests
    /// waited `waited` on the limiter and `busy` on the wire in all.
    pub fn new(elapsed: Duration, answered: u64, waited: Duration, busy: Duration) -> Self {
        RunFigures {
            elapsed,
            answered,
            waited,
            busy,
        }
    }

    /// Requests answered per second over the run.
    pub fn achieved(&self) -> f64 {
        per_second(self.answered, self.elapsed)
    }

    /// The share of the requests' time spent waiting on the limit, 0 to 1.
    pub fn waiting_share(&self) -> f64 {
        let all = (self.waited + self.busy).as_secs_f64();
        if all > 0.0 {
            self.waited.as_secs_f64() / all
        } else {
            0.0
        }
    }

    /// The rate the job would have been answered at with no limit (requests per second), by
    /// Little's law; `None` with nothing answered or no time on the wire.
    pub fn demanded(&self) -> Option<f64> {
        let share = 1.0 - self.waiting_share();
        (self.answered > 0 && self.busy > Duration::ZERO && share > 0.0)
            .then(|| self.achieved() / share)
    }

    /// How long the run would have taken with the limit `factor` times higher (a factor of
    /// `f64::INFINITY`: no limit).
    pub fn time_at(&self, factor: f64) -> Duration {
        let elapsed = self.elapsed.as_secs_f64();
        let factor = if factor.is_nan() {
            1.0
        } else {
            factor.max(1.0)
        };
        let unlimited = elapsed * (1.0 - self.waiting_share());
        Duration::from_secs_f64((elapsed / factor).max(unlimited).min(elapsed))
    }
}

/// What the limit cost a run, as one sentence (its `Display`).
///
/// ```
/// use std::time::Duration;
/// use together_client::report::{LimitCost, RunFigures};
///
/// // 11 minutes for 16,368 answers, the requests waiting 75 % of their time.
/// let figures = RunFigures::new(
///     Duration::from_secs(660),
///     16_368,
///     Duration::from_secs(3 * 3_000),
///     Duration::from_secs(3_000),
/// );
/// assert_eq!(
///     LimitCost::new(&figures).to_string(),
///     "limited to 24.8 req/s; at twice the limit this job would have taken 5.5 min instead of 11 min \
///      (its requests spent 75 % of their time waiting on the limit)"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitCost {
    figures: RunFigures,
}

impl LimitCost {
    /// The cost of the limit in `figures`.
    pub fn new(figures: &RunFigures) -> Self {
        LimitCost { figures: *figures }
    }

    /// Whether the limit slowed the run at all (its requests spent 5 % or more of their time
    /// waiting on it).
    pub fn binding(&self) -> bool {
        self.figures.answered > 0 && self.figures.waiting_share() >= NEGLIGIBLE
    }
}

impl fmt::Display for LimitCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = &self.figures;
        let share = Percent(run.waiting_share());
        if run.answered == 0 {
            return f.write_str("no request was answered: nothing to tell of the limit");
        }
        if !self.binding() {
            return write!(
                f,
                "the limit did not slow this job: {:.1} req/s answered, its requests spent {share} \
                 of their time waiting on the limit",
                run.achieved()
            );
        }
        write!(
            f,
            "limited to {:.1} req/s; at twice the limit this job would have taken {} instead of {} \
             (its requests spent {share} of their time waiting on the limit)",
            run.achieved(),
            Human(run.time_at(2.0)),
            Human(run.elapsed),
        )
    }
}

fn per_second(n: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs > 0.0 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let n = n as f64;
        n / secs
    } else {
        0.0
    }
}

/// A share as a whole percentage.
pub(crate) struct Percent(pub(crate) f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0} %", (self.0 * 100.0).clamp(0.0, 100.0))
    }
}

/// A duration at a human scale: `42 s`, `5.5 min`, `2.5 h` (seconds below two minutes,
/// minutes below two hours).
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs_f64();
        let (value, unit) = if secs < 120.0 {
            (secs, "s")
        } else if secs < 120.0 * 60.0 {
            (secs / 60.0, "min")
        } else {
            (secs / 3600.0, "h")
        };
        if value >= 10.0 {
            write!(f, "{value:.0} {unit}")
        } else {
            let text = format!("{value:.1}");
            write!(f, "{} {unit}", text.trim_end_matches(".0"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn twice_the_limit_halves_a_job_that_only_waited() {
        // 100 s for 2,500 answers; 95 % of the requests' time was waiting.
        let run = RunFigures::new(100 * S, 2_500, 950 * S, 50 * S);
        assert!((run.achieved() - 25.0).abs() < 1e-9);
        assert_eq!(run.time_at(2.0), 50 * S);
        assert_eq!(run.time_at(f64::INFINITY), 5 * S);
        assert!((run.demanded().unwrap() - 500.0).abs() < 1e-6);
        assert_eq!(
            LimitCost::new(&run).to_string(),
            "limited to 25.0 req/s; at twice the limit this job would have taken 50 s instead of \
             100 s (its requests spent 95 % of their time waiting on the limit)"
        );
    }

    #[test]
    fn a_job_that_waited_little_gains_little() {
        // 40 % waiting: with no limit at all it takes 60 % of the time, not half.
        let run = RunFigures::new(600 * S, 6_000, 400 * S, 600 * S);
        assert_eq!(run.time_at(2.0), 360 * S);
        assert!(
            LimitCost::new(&run)
                .to_string()
                .contains("6 min instead of 10 min")
        );
    }

    #[test]
    fn a_limit_that_never_bound_says_so() {
        let run = RunFigures::new(10 * S, 100, S / 100, 10 * S);
        let cost = LimitCost::new(&run);
        assert!(!cost.binding());
        assert_eq!(
            cost.to_string(),
            "the limit did not slow this job: 10.0 req/s answered, its requests spent 0 % of their \
             time waiting on the limit"
        );
        assert!(
            run.time_at(2.0) > 9 * S,
            "a limit that barely bound saves next to nothing"
        );
    }

    #[test]
    fn nothing_answered_or_no_time_never_divides_by_zero() {
        let empty = RunFigures::default();
        assert_eq!(empty.achieved(), 0.0);
        assert_eq!(empty.demanded(), None);
        assert_eq!(empty.time_at(2.0), Duration::ZERO);
        assert_eq!(empty.time_at(f64::NAN), Duration::ZERO);
        assert!(LimitCost::new(&empty).to_string().starts_with("no request"));
        let instant = RunFigures::new(Duration::ZERO, 5, Duration::ZERO, Duration::ZERO);
        assert_eq!(instant.achieved(), 0.0);
        assert!(!LimitCost::new(&instant).binding());
    }

    #[test]
    fn durations_read_at_a_human_scale() {
        let h = |secs: f64| Human(Duration::from_secs_f64(secs)).to_string();
        assert_eq!(h(5.0), "5 s");
        assert_eq!(h(7.3), "7.3 s");
        assert_eq!(h(42.0), "42 s");
        assert_eq!(h(330.0), "5.5 min");
        assert_eq!(h(660.0), "11 min");
        assert_eq!(h(90.0), "90 s");
        assert_eq!(h(4.0 * 3600.0), "4 h");
    }
}
