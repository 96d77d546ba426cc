//! [`Timeline`]: a run sampled at a fixed interval from [`Together::usage`], turned into
//! rates per interval ([`Timeline::rates`]) and, with feature `report`, drawn as SVG.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::client::Together;
use crate::usage::ModelUsage;

/// One sample of a run: the client's totals so far and the limiter's pace.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// When, from the first sample.
    pub at: Duration,
    /// Every model's figures added up, since the client was built.
    pub totals: ModelUsage,
    /// The pace the client's limiter had learned, in requests per second.
    pub pace: Option<f64>,
}

/// What happened in one interval of a [`Timeline`], per second.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Rates {
    /// The end of the interval, in seconds from the first sample.
    pub at: f64,
    /// Requests sent (every attempt).
    pub sent: f64,
    /// Requests answered with a success.
    pub answered: f64,
    /// Requests answered with a 429.
    pub rate_limited: f64,
    /// Tokens, prompt and completion.
    pub tokens: f64,
    /// The limiter's pace at the end of the interval (requests per second).
    pub pace: Option<f64>,
    /// The request limit the server reported last (`x-ratelimit-limit`), as sent.
    pub server_limit: Option<f64>,
}

/// A run's figures over time, from which [`Timeline::rates`] (and with feature `report`,
/// `Timeline::to_svg`) are drawn.
///
/// Feed it yourself with [`push`](Self::push), or let [`Timeline::record`] sample a client
/// every interval on a task of its own:
///
/// ```
/// use std::time::Duration;
/// use together_client::report::Timeline;
/// use together_client::Together;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = Together::builder().api_key("k").build().unwrap();
/// let recording = Timeline::record(&client, Duration::from_secs(1));
/// // ... the run ...
/// let timeline = recording.finish();
/// assert!(timeline.rates().iter().all(|r| r.sent == 0.0)); // nothing was sent
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    samples: Vec<Sample>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Timeline::default()
    }

    /// Adds a sample; one earlier than the last, or with totals that went down, is ignored.
    pub fn push(&mut self, sample: Sample) {
        if let Some(last) = self.samples.last()
            && (sample.at <= last.at || sample.totals.requests < last.totals.requests)
        {
            return;
        }
        self.samples.push(sample);
    }

    /// Samples `client` now: its usage and its limiter's pace, at `at`.
    pub fn sample(&mut self, client: &Together, at: Duration) {
        let pace = client
            .rate_limiter()
            .and_then(|limiter| limiter.pace(client.base_url()));
        self.push(Sample {
            at,
            totals: client.usage().total(),
            pace,
        });
    }

    /// The samples, in order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The rates in each interval between two samples.
    pub fn rates(&self) -> Vec<Rates> {
        self.samples
            .windows(2)
            .map(|pair| {
                let (a, b) = (&pair[0], &pair[1]);
                let secs = (b.at - a.at).as_secs_f64();
                #[allow(clippy::cast_precision_loss)] // counts far below 2^52
                let rate = |x: u64, y: u64| y.saturating_sub(x) as f64 / secs;
                let tokens = |u: &ModelUsage| u.prompt_tokens.saturating_add(u.completion_tokens);
                #[allow(clippy::cast_precision_loss)]
                let server_limit = b.totals.request_limit.map(|l| l as f64);
                Rates {
                    at: b.at.as_secs_f64(),
                    sent: rate(a.totals.requests, b.totals.requests),
                    answered: rate(a.totals.successes, b.totals.successes),
                    rate_limited: rate(a.totals.rate_limited, b.totals.rate_limited),
                    tokens: rate(tokens(&a.totals), tokens(&b.totals)),
                    pace: b.pace,
                    server_limit,
                }
            })
            .collect()
    }

    /// Samples `client` every `every` (at least 10 ms) on a task of its own, from now until
    /// [`Recording::finish`]. Needs a tokio runtime.
    pub fn record(client: &Together, every: Duration) -> Recording {
        let every = every.max(Duration::from_millis(10));
        let timeline = Arc::new(Mutex::new(Timeline::new()));
        let start = tokio::time::Instant::now();
        let sample = {
            let (client, timeline) = (client.clone(), Arc::clone(&timeline));
            move || {
                let mut timeline = timeline.lock().unwrap_or_else(PoisonError::into_inner);
                timeline.sample(&client, start.elapsed());
            }
        };
        sample();
        let task = tokio::spawn({
            let sample = sample.clone();
            async move {
                let mut ticks = tokio::time::interval_at(start + every, every);
                loop {
                    ticks.tick().await;
                    sample();
                }
            }
        });
        Recording {
            timeline,
            task,
            sample: Box::new(sample),
        }
    }
}

/// A [`Timeline`] being recorded by [`Timeline::record`]; stops when finished or dropped.
pub struct Recording {
    timeline: Arc<Mutex<Timeline>>,
    task: tokio::task::JoinHandle<()>,
    sample: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").finish_non_exhaustive()
    }
}

impl Recording {
    /// The timeline so far.
    pub fn snapshot(&self) -> Timeline {
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops sampling, after one last sample, and returns the timeline.
    pub fn finish(self) -> Timeline {
        self.task.abort();
        (self.sample)();
        self.snapshot()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: u64, requests: u64, successes: u64, tokens: u64) -> Sample {
        let totals = ModelUsage {
            requests,
            successes,
            rate_limited: requests - successes,
            prompt_tokens: tokens,
            request_limit: Some(5),
            ..ModelUsage::default()
        };
        Sample {
            at: Duration::from_secs(secs),
            totals,
            pace: Some(9.5),
        }
    }

    #[test]
    fn rates_are_differences_per_second() {
        let mut timeline = Timeline::new();
        timeline.push(sample(0, 0, 0, 0));
        timeline.push(sample(2, 24, 20, 400));
        timeline.push(sample(1, 99, 99, 99)); // out of order: ignored
        timeline.push(sample(3, 34, 30, 600));
        let rates = timeline.rates();
        assert_eq!(rates.len(), 2);
        assert_eq!(
            (rates[0].at, rates[0].sent, rates[0].answered),
            (2.0, 12.0, 10.0)
        );
        assert_eq!((rates[0].rate_limited, rates[0].tokens), (2.0, 200.0));
        assert_eq!((rates[1].sent, rates[1].rate_limited), (10.0, 0.0));
        assert_eq!(
            (rates[1].pace, rates[1].server_limit),
            (Some(9.5), Some(5.0))
        );
    }
}
