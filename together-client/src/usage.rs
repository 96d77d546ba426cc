//! What a client has used since it was built, per model: [`Together::usage`](crate::Together::usage) reads it, and
//! every `metrics::` call of this crate is here, mirroring it (see the README's table).
//!
//! A model's book is found once per attempt (a short lock and a hash lookup); each figure is
//! an atomic add. Labels are bounded: the model (at most [`MAX_MODELS`] distinct names, the
//! rest counted under `other`) and the status class.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::StatusCode;
use metrics::{Counter, Gauge, SharedString};
use tokio::time::Instant;

use crate::rate_limits::RateLimits;
use crate::types::Usage;

/// How many distinct model names a client keeps apart; the requests of any further model are
/// counted under [`OTHER_MODEL`], so that a label never grows without bound.
pub const MAX_MODELS: usize = 32;

/// The model name under which requests for models past [`MAX_MODELS`] are counted.
pub const OTHER_MODEL: &str = "other";

/// The model name of requests that name none (`GET /models`).
pub const NO_MODEL: &str = "none";

/// The status classes of `together_requests_total`: `1xx` to `5xx`, then `error` (no answer).
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// A snapshot of a client's usage since it was built ([`Together::usage`](crate::Together::usage)).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ClientUsage {
    /// Time since the client was built (tokio's clock).
    pub elapsed: Duration,
    /// Per model, by name.
    pub models: BTreeMap<String, ModelUsage>,
}

impl ClientUsage {
    /// Every model's figures added up; the limits are the largest reported.
    pub fn total(&self) -> ModelUsage {
        self.models
            .values()
            .fold(ModelUsage::default(), |sum, m| ModelUsage {
                requests: sum.requests + m.requests,
                successes: sum.successes + m.successes,
                rate_limited: sum.rate_limited + m.rate_limited,
                prompt_tokens: sum.prompt_tokens + m.prompt_tokens,
                completion_tokens: sum.completion_tokens + m.completion_tokens,
                waited: sum.waited + m.waited,
                busy: sum.busy + m.busy,
                request_limit: sum.request_limit.max(m.request_limit),
                token_limit: sum.token_limit.max(m.token_limit),
            })
    }
}

/// One model's figures in a [`ClientUsage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelUsage {
    /// HTTP requests sent (every attempt, retries included).
    pub requests: u64,
    /// Requests answered with a 2xx.
    pub successes: u64,
    /// Requests answered with a 429.
    pub rate_limited: u64,
    /// Prompt tokens of the answers that reported them (`usage.prompt_tokens`).
    pub prompt_tokens: u64,
    /// Completion tokens likewise (`usage.completion_tokens`).
    pub completion_tokens: u64,
    /// Time the requests spent waiting for their turn in the client's rate limiter, added
    /// up over requests (two requests waiting one second each count two).
    pub waited: Duration,
    /// Time the requests spent on the wire (sent to answered, or to a transport error), added
    /// up over requests likewise.
    pub busy: Duration,
    /// The last request limit the server reported (`x-ratelimit-limit`, the tighter of it and
    /// its `-dynamic` variant), as sent: what it counts is the server's business.
    pub request_limit: Option<u64>,
    /// The last token limit the server reported (`x-tokenlimit-limit`, likewise).
    pub token_limit: Option<u64>,
}

/// `None` in an atomic limit.
const UNSET: u64 = u64::MAX;

/// One model's counters and metric handles.
pub(crate) struct Book {
    requests: AtomicU64,
    successes: AtomicU64,
    rate_limited: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    waited_ns: AtomicU64,
    busy_ns: AtomicU64,
    request_limit: AtomicU64,
    token_limit: AtomicU64,
    by_status: [Counter; 6],
    rate_limited_metric: Counter,
    prompt_metric: Counter,
    completion_metric: Counter,
    limit_metric: Gauge,
}

impl Book {
    fn new(model: &str) -> Self {
        let model = SharedString::from(model.to_owned());
        let by_status = STATUS_CLASSES.map(|status| {
            metrics::counter!("together_requests_total", "model" => model.clone(), "status" => status)
        });
        Book {
            requests: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            request_limit: AtomicU64::new(UNSET),
            token_limit: AtomicU64::new(UNSET),
            by_status,
            rate_limited_metric: metrics::counter!("together_rate_limited_total", "model" => model.clone()),
            prompt_metric: metrics::counter!("together_prompt_tokens_total", "model" => model.clone()),
            completion_metric: metrics::counter!("together_completion_tokens_total", "model" => model.clone()),
            limit_metric: metrics::gauge!("together_rate_limit_reported", "model" => model),
        }
    }

    /// One attempt ended: with `status`, or with no answer (`None`), after waiting `waited`
    /// in the limiter and `busy` on the wire.
    pub(crate) fn attempt(&self, status: Option<StatusCode>, waited: Duration, busy: Duration) {
        self.requests.fetch_add(1, Relaxed);
        let class = status.map_or(5, |s| usize::from(s.as_u16() / 100).clamp(1, 5) - 1);
        self.by_status[class].increment(1);
        if status.is_some_and(|s| s.is_success()) {
            self.successes.fetch_add(1, Relaxed);
        } else if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            self.rate_limited.fetch_add(1, Relaxed);
            self.rate_limited_metric.increment(1);
        }
        self.waited_ns.fetch_add(nanos(waited), Relaxed);
        self.busy_ns.fetch_add(nanos(busy), Relaxed);
    }

    /// The token counts of an answer.
    pub(crate) fn tokens(&self, usage: Option<&Usage>) {
        let Some(usage) = usage else { return };
        self.prompt_tokens.fetch_add(usage.prompt_tokens, Relaxed);
        self.completion_tokens
            .fetch_add(usage.completion_tokens, Relaxed);
        self.prompt_metric.increment(usage.prompt_tokens);
        self.completion_metric.increment(usage.completion_tokens);
    }

    /// The limits an answer reported.
    pub(crate) fn limits(&self, limits: &RateLimits) {
        let effective = limits.effective();
        if let Some(limit) = effective.limit.filter(|&l| l != UNSET) {
            self.request_limit.store(limit, Relaxed);
            #[allow(clippy::cast_precision_loss)] // a limit is far below 2^52
            self.limit_metric.set(limit as f64);
        }
        if let Some(limit) = effective.token_limit.filter(|&l| l != UNSET) {
            self.token_limit.store(limit, Relaxed);
        }
    }

    fn snapshot(&self) -> ModelUsage {
        let limit = |a: &AtomicU64| Some(a.load(Relaxed)).filter(|&l| l != UNSET);
        ModelUsage {
            requests: self.requests.load(Relaxed),
            successes: self.successes.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            prompt_tokens: self.prompt_tokens.load(Relaxed),
            completion_tokens: self.completion_tokens.load(Relaxed),
            waited: Duration::from_nanos(self.waited_ns.load(Relaxed)),
            busy: Duration::from_nanos(self.busy_ns.load(Relaxed)),
            request_limit: limit(&self.request_limit),
            token_limit: limit(&self.token_limit),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Every model's book, and when the client was built.
pub(crate) struct Ledger {
    started: Instant,
    books: Mutex<HashMap<Box<str>, Arc<Book>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Ledger {
            started: Instant::now(),
            books: Mutex::default(),
        }
    }

    /// `model`'s book (made on first use; [`OTHER_MODEL`]'s once [`MAX_MODELS`] are kept).
    pub(crate) fn book(&self, model: &str) -> Arc<Book> {
        let model = if model.is_empty() { NO_MODEL } else { model };
        let mut books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(book) = books.get(model) {
            return Arc::clone(book);
        }
        let model = if books.len() >= MAX_MODELS {
            OTHER_MODEL
        } else {
            model
        };
        let book = books
            .entry(model.into())
            .or_insert_with(|| Arc::new(Book::new(model)));
        Arc::clone(book)
    }

    pub(crate) fn snapshot(&self) -> ClientUsage {
        let books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        ClientUsage {
            elapsed: self.started.elapsed(),
            models: books
                .iter()
                .map(|(model, book)| (model.to_string(), book.snapshot()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_past_the_cap_are_counted_as_other() {
        let ledger = Ledger::new();
        for i in 0..MAX_MODELS + 5 {
            let book = ledger.book(&format!("model-{i}"));
            book.attempt(Some(StatusCode::OK), Duration::ZERO, Duration::ZERO);
        }
        let usage = ledger.snapshot();
        assert_eq!(usage.models.len(), MAX_MODELS + 1);
        assert_eq!(usage.models[OTHER_MODEL].requests, 5);
        assert_eq!(usage.total().requests, (MAX_MODELS + 5) as u64);
        assert_eq!(usage.total().successes, (MAX_MODELS + 5) as u64);
    }

    #[test]
    fn a_limit_is_kept_and_unknown_is_none() {
        let ledger = Ledger::new();
        let book = ledger.book("");
        assert_eq!(ledger.snapshot().models[NO_MODEL].request_limit, None);
        let mut headers = http::HeaderMap::new();
        headers.insert("x-ratelimit-limit", "25".parse().unwrap());
        book.limits(&RateLimits::from_headers(&headers));
        book.attempt(
            Some(StatusCode::TOO_MANY_REQUESTS),
            Duration::from_millis(5),
            Duration::from_millis(7),
        );
        let got = ledger.snapshot().models[NO_MODEL];
        assert_eq!(got.request_limit, Some(25));
        assert_eq!((got.requests, got.rate_limited, got.successes), (1, 1, 0));
        assert_eq!(got.waited, Duration::from_millis(5));
        assert_eq!(got.busy, Duration::from_millis(7));
    }
}
