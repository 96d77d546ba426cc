//! What the simulator saw: [`Stats`], and the per-request [`Tracker`] that fills it in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// How one request ended, as the simulator saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A complete answer: a 200, or a stream that reached `data: [DONE]`.
    Success,
    /// 429 for the request or token limit (`dynamic_request_limited`, `dynamic_token_limited`).
    RateLimited,
    /// Out of credit, in the family's words: 429 `credit_limit` (Together), 429
    /// `insufficient_quota` (OpenAI), 402 `billing_error` (Anthropic).
    CreditLimited,
    /// 503, injected ([`Fault::Overloaded`](super::Fault::Overloaded)).
    Overloaded,
    /// 500, injected ([`Fault::ServerError`](super::Fault::ServerError)).
    ServerError,
    /// The connection was closed with no response ([`Fault::Drop`](super::Fault::Drop)).
    Dropped,
    /// A stream cut mid-way ([`Fault::BreakStream`](super::Fault::BreakStream)).
    BrokenStream,
    /// A stream that carried an `error` object ([`Fault::StreamError`](super::Fault::StreamError)).
    StreamError,
    /// 401: a missing or wrong key.
    Unauthorized,
    /// Any other error status: a bad body (400), the context window (403), an unknown path
    /// (404), an injected [`Fault::Status`](super::Fault::Status).
    OtherError,
    /// The client went away before the answer was complete (or the simulator shut down).
    Cancelled,
    /// The request was completed, then its connection closed before the answer was sent
    /// ([`Fault::DropAfterCompletion`](super::Fault::DropAfterCompletion)): the work was
    /// done, the client never saw it.
    CompletedThenDropped,
}

/// One request in the time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When the limiter decided on it (tokio's clock), from the simulator's start.
    pub at: Duration,
    /// The status sent, `None` when none was ([`Outcome::Dropped`], or cancelled before it).
    /// A stream's is its status line's: 200, even when it broke later.
    pub status: Option<u16>,
    /// How it ended.
    pub outcome: Outcome,
}

/// A snapshot of the simulator's counters ([`Simulator::stats`](super::Simulator::stats)).
///
/// Every request counts once in `requests` when it arrives and once in exactly one outcome
/// counter when it ends, so with nothing in flight `requests` is the sum of the others.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received (any path, any key).
    pub requests: u64,
    /// Complete answers ([`Outcome::Success`]).
    pub successes: u64,
    /// Every 429, whatever its type (request, token and credit limits).
    pub rate_limited: u64,
    /// The answers "out of credit" (included in `rate_limited`, even as Anthropic's 402).
    pub credit_limited: u64,
    /// 503s.
    pub overloaded: u64,
    /// 500s.
    pub server_errors: u64,
    /// Connections closed with no response.
    pub dropped: u64,
    /// Streams cut mid-way.
    pub broken_streams: u64,
    /// Streams that carried an `error` object.
    pub stream_errors: u64,
    /// 401s.
    pub unauthorized: u64,
    /// Other error statuses ([`Outcome::OtherError`]).
    pub other_errors: u64,
    /// Requests the client abandoned before they completed.
    pub cancelled: u64,
    /// Requests completed, then cut before their answer was sent
    /// ([`Outcome::CompletedThenDropped`]; not in `successes`).
    pub completed_then_dropped: u64,
    /// Successes per distinct prompt: the last user message of a chat, the `prompt` of a
    /// completion (a list of prompts joined by newlines), the input of an embedding (likewise),
    /// the query of a rerank. "No request completed twice" is
    /// [`repeated_prompts`](Self::repeated_prompts) being empty.
    pub successes_by_prompt: HashMap<String, u64>,
    /// Completions per distinct prompt whose answer was cut before it was sent
    /// ([`Outcome::CompletedThenDropped`]). A prompt completed twice because its first
    /// answer was lost has one here and one in `successes_by_prompt`.
    pub completed_then_dropped_by_prompt: HashMap<String, u64>,
    /// Every request that ended, in order of [`Event::at`].
    pub log: Vec<Event>,
    /// For each `Idempotency-Key` received on a request the simulator could read, the prompts
    /// of the requests that carried it (see `successes_by_prompt`), in order of arrival: one
    /// call's retries share a key, so each key should list one prompt, however many times.
    pub idempotency_keys: HashMap<String, Vec<String>>,
}

impl Stats {
    /// How many times `prompt` was answered successfully.
    pub fn successes_for(&self, prompt: &str) -> u64 {
        self.successes_by_prompt.get(prompt).copied().unwrap_or(0)
    }

    /// The prompts answered successfully more than once, with their counts, sorted.
    pub fn repeated_prompts(&self) -> Vec<(&str, u64)> {
        let mut repeated: Vec<_> = self
            .successes_by_prompt
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(p, &n)| (p.as_str(), n))
            .collect();
        repeated.sort_unstable();
        repeated
    }

    /// The distinct prompts completed at least once, whether or not the answer reached the
    /// client (a success or a [`Outcome::CompletedThenDropped`]).
    pub fn completed_prompts(&self) -> usize {
        let lost_only = self
            .completed_then_dropped_by_prompt
            .keys()
            .filter(|p| !self.successes_by_prompt.contains_key(*p))
            .count();
        self.successes_by_prompt.len() + lost_only
    }

    /// How many requests got `status` (a 200 stream that broke later counts as 200).
    pub fn count_status(&self, status: u16) -> u64 {
        self.log.iter().filter(|e| e.status == Some(status)).count() as u64
    }

    /// How many requests ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.log.iter().filter(|e| e.outcome == outcome).count() as u64
    }
}

/// The shared, locked counters and the simulator's start.
#[derive(Debug)]
pub(crate) struct Recorder {
    start: Instant,
    stats: Mutex<Stats>,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            stats: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Stats> {
        // A panic while holding the lock leaves plain counters: still worth reading.
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time since the start, on tokio's clock.
    pub(crate) fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = self.lock().clone();
        stats.log.sort_by_key(|e| e.at);
        stats
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Stats::default();
    }

    /// Notes that a request for `prompt` carried the idempotency key `key`.
    pub(crate) fn saw_key(&self, key: &str, prompt: Option<&str>) {
        let mut stats = self.lock();
        let prompts = stats.idempotency_keys.entry(key.to_owned()).or_default();
        prompts.push(prompt.unwrap_or_default().to_owned());
    }

    /// Counts an arriving request and returns its tracker.
    pub(crate) fn arrive(self: &Arc<Self>) -> Tracker {
        self.lock().requests += 1;
        Tracker {
            recorder: Arc::clone(self),
            at: self.elapsed(),
            prompt: None,
            status: None,
            done: false,
        }
    }

    fn record(&self, event: Event, prompt: Option<String>) {
        let mut stats = self.lock();
        let counter = match event.outcome {
            Outcome::Success => &mut stats.successes,
            Outcome::RateLimited => &mut stats.rate_limited,
            Outcome::CreditLimited => {
                stats.rate_limited += 1;
                &mut stats.credit_limited
            }
            Outcome::Overloaded => &mut stats.overloaded,
            Outcome::ServerError => &mut stats.server_errors,
            Outcome::Dropped => &mut stats.dropped,
            Outcome::BrokenStream => &mut stats.broken_streams,
            Outcome::StreamError => &mut stats.stream_errors,
            Outcome::Unauthorized => &mut stats.unauthorized,
            Outcome::OtherError => &mut stats.other_errors,
            Outcome::Cancelled => &mut stats.cancelled,
            Outcome::CompletedThenDropped => &mut stats.completed_then_dropped,
        };
        *counter += 1;
        if let Some(prompt) = prompt {
            let by_prompt = match event.outcome {
                Outcome::Success => Some(&mut stats.successes_by_prompt),
                Outcome::CompletedThenDropped => Some(&mut stats.completed_then_dropped_by_prompt),
                _ => None,
            };
            if let Some(by_prompt) = by_prompt {
                *by_prompt.entry(prompt).or_default() += 1;
            }
        }
        stats.log.push(event);
    }
}

/// One request on its way: records exactly one [`Event`], when finished or, if it is dropped
/// first (the client went away, the connection was cut), as [`Outcome::Cancelled`].
#[derive(Debug)]
pub(crate) struct Tracker {
    recorder: Arc<Recorder>,
    at: Duration,
    prompt: Option<String>,
    /// The status already sent (a stream's), for a cancellation.
    status: Option<u16>,
    done: bool,
}

impl Tracker {
    /// Marks now as the moment of the decision (the event's time).
    pub(crate) fn decided(&mut self) {
        self.at = self.recorder.elapsed();
    }

    pub(crate) fn set_prompt(&mut self, prompt: Option<String>) {
        self.prompt = prompt;
    }

    /// Notes that the status line went out (a stream began).
    pub(crate) fn sent(&mut self, status: u16) {
        self.status = Some(status);
    }

    pub(crate) fn finish(mut self, status: Option<u16>, outcome: Outcome) {
        self.end(status, outcome);
    }

    fn end(&mut self, status: Option<u16>, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let event = Event {
            at: self.at,
            status,
            outcome,
        };
        self.recorder.record(event, self.prompt.take());
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.end(self.status, Outcome::Cancelled);
    }
}
