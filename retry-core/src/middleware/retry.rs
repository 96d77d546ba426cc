//! [`RetryMiddleware`]: the retry engine as a reqwest-middleware layer.

use std::time::Duration;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next, Result};

use super::attempts::Attempts;
use super::exhausted;
use super::headers;
use super::metrics::LimiterWait;
use super::rate_limit::{CallDeadline, HeldByLimiter, WaitPastDeadline};
use crate::class::{Class, Classify, RetryOn};
use crate::policy::Policy;
use crate::retrier::{Decision, Failure, Retrier};

/// Retries failed requests with a [`Policy`], driving the same [`Retrier`] as `#[retry]`.
///
/// For each attempt's outcome, in this order:
/// 1. A 1xx–3xx response is returned as it is.
/// 2. A 429 whose body says the quota or credit is gone ([`QuotaExhausted`](super::QuotaExhausted),
///    read from at most 16 KiB of body, which is handed on intact) is returned at once.
/// 3. `x-should-retry: true|false` on an error response decides, whatever the status.
/// 4. Otherwise the status is classified through [`Classify`] for
///    [`http::StatusCode`] (429 rate limited; 503, 529 overloaded; 408, 504, 524 timeout; 501,
///    505 and other 4xx permanent; other 5xx server error), and a transport error through
///    `Classify for reqwest_middleware::Error` (connect, timeout, connection cut, permanent),
///    and retried if its class is in [`on`](Self::on) (default: every class but permanent).
/// 5. The delay is the server's hint when it gave one ([`delay_hint`](super::delay_hint):
///    `retry-after-ms`, `Retry-After` in seconds or as an HTTP date, and for a 429
///    `x-ratelimit-reset`), else the policy's backoff. A hint that ends past the deadline, or
///    is longer than [`MAX_HINT`](super::MAX_HINT), gives up at once: the last response
///    carries it.
///
/// Giving up returns the last outcome unchanged: a retryable status comes back as the last
/// `Ok(Response)`, not as an error. Every response carries the number of attempts made as
/// [`Attempts`] in its extensions.
///
/// - A request whose body cannot be cloned (a stream) is sent once and its outcome returned
///   as it is.
/// - The policy's deadline bounds the whole call, attempts and sleeps (tokio's clock); under a
///   [`RateLimitMiddleware`](super::RateLimitMiddleware), a retry's wait for its turn that
///   would pass it ends there, the retry unsent (the limiter reads the
///   [`CallDeadline`] this layer sets on retries), and the call returns
///   the answer it was retrying. A first attempt's wait is not cut, nor counted: it is the
///   caller's own backpressure (more calls in flight than the limit serves), and the
///   deadline counts from when the first attempt was sent, so a call queued behind many
///   others (a free tier's one request a second, 64 callers) still has its whole deadline
///   for its retries. Its
///   `attempt_timeout` bounds each attempt (`tokio::time::timeout`); a timed-out attempt is a
///   [`Class::Timeout`] failure whose error wraps tokio's `Elapsed`.
///   Under [`RateLimitMiddleware`](super::RateLimitMiddleware), an attempt's time includes its
///   wait for its turn: size the timeout for both.
/// - Each retry emits the `tracing` event and `metrics` counters of the engine, with the
///   function label `"reqwest"` (see [`name`](Self::name)).
/// - Under a [`RateLimitMiddleware`](super::RateLimitMiddleware), a 429 is answered by the
///   limiter holding the call's place: the retry does not sleep on its own, it queues at once,
///   ahead of the requests that came after it, and the limiter lets it go when its pace and
///   any shared cooldown allow. Such a retry costs no attempt (the limiter, not the server,
///   let that request through too early): only the deadline and the retry budget bound them,
///   so a call is not lost to 429s the limiter itself caused. `attempts` still bounds every
///   other failure.
///
/// ```
/// use std::time::Duration;
/// use retry_core::middleware::RetryMiddleware;
/// use retry_core::{Policy, RetryOn};
///
/// let retry = RetryMiddleware::new(Policy::exponential().attempts(4).deadline(Duration::from_secs(30)))
///     .on(RetryOn::RATE_LIMIT.with(RetryOn::OVERLOADED));
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(retry)
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryMiddleware {
    policy: Policy,
    on: RetryOn,
    name: &'static str,
    idempotency_keys: bool,
}

impl Default for RetryMiddleware {
    /// [`Policy::default`], retrying every transient class.
    fn default() -> Self {
        RetryMiddleware::new(Policy::default())
    }
}

impl RetryMiddleware {
    /// Retries with `policy`, on every transient class ([`RetryOn::TRANSIENT`]).
    pub const fn new(policy: Policy) -> Self {
        RetryMiddleware {
            policy,
            on: RetryOn::TRANSIENT,
            name: "reqwest",
            idempotency_keys: false,
        }
    }

    /// Retries only the classes in `on`.
    #[must_use]
    pub const fn on(mut self, on: RetryOn) -> Self {
        self.on = on;
        self
    }

    /// Spends retries from `budget`, shared with every policy that names it (the same as
    /// giving the policy [`Policy::budget`]): past it, a failed request is returned at once.
    ///
    /// ```
    /// use retry_core::RetryBudget;
    /// use retry_core::middleware::RetryMiddleware;
    ///
    /// static BUDGET: RetryBudget = RetryBudget::new();
    /// let retry = RetryMiddleware::default().budget(&BUDGET);
    /// assert!(retry.policy().get_budget().is_some());
    /// ```
    #[must_use]
    pub const fn budget(mut self, budget: &'static crate::RetryBudget) -> Self {
        self.policy = self.policy.budget(budget);
        self
    }

    /// Gives each call that is not idempotent by its method (POST, PATCH) and carries no
    /// `Idempotency-Key` of its own a fresh one (a random UUID), sent by every attempt: a
    /// server that deduplicates can then tell a retry from a new request, and a POST retried
    /// after a dropped connection is not done (or billed) twice. Off by default: only servers
    /// that document the header (OpenAI's, Anthropic's, Stripe-style APIs) make use of it.
    ///
    /// ```
    /// use retry_core::middleware::RetryMiddleware;
    ///
    /// let retry = RetryMiddleware::default().idempotency_keys();
    /// # let _ = retry;
    /// ```
    #[must_use]
    pub const fn idempotency_keys(mut self) -> Self {
        self.idempotency_keys = true;
        self
    }

    /// Names the calls in tracing events, metrics and hooks (default `"reqwest"`).
    #[must_use]
    pub const fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The policy in force.
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the retry loop should make of one attempt's outcome; `None` for a success.
    /// `held`: the limiter below answered a 429 by holding the call's place.
    fn judge(&self, outcome: &Result<Response>, held: bool) -> Option<Failure> {
        let response = match outcome {
            Ok(response) => response,
            Err(error) => return Some(Failure::classify(error, self.on)),
        };
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return None;
        }
        if exhausted::quota(response) {
            // Out of credit or quota: no wait cures it.
            return Some(Failure::new(false).with_class(Some(Class::Permanent)));
        }
        let class = Some(status.class());
        let rate_limited = status == http::StatusCode::TOO_MANY_REQUESTS;
        let hint = headers::hint(response.headers(), rate_limited).map(|h| h.delay);
        let failure = match headers::should_retry(response.headers()) {
            Some(retry) => Failure::new(retry).with_class(class),
            None => Failure::classify(&status, self.on),
        };
        Some(
            failure
                .with_hint(hint)
                .held_by_limiter(held && rate_limited),
        )
    }
}

const IDEMPOTENCY_KEY: http::HeaderName = http::HeaderName::from_static("idempotency-key");

/// A fresh `Idempotency-Key` on a POST or PATCH that has none.
fn add_idempotency_key(req: &mut Request) {
    let unsafe_method = matches!(*req.method(), http::Method::POST | http::Method::PATCH);
    if !unsafe_method || req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return;
    }
    let key = uuid::Uuid::new_v4().hyphenated().to_string();
    if let Ok(value) = http::HeaderValue::from_str(&key) {
        req.headers_mut().insert(IDEMPOTENCY_KEY, value);
    }
}

/// Runs one attempt under the retrier's clock and the policy's attempt timeout.
async fn attempt(
    retrier: &mut Retrier<'_>,
    req: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> Result<Response> {
    let sent = next.run(req, extensions);
    match retrier.attempt_timeout() {
        None => retrier.clocked(sent).await,
        Some(limit) => retrier
            .clocked(tokio::time::timeout(limit, sent))
            .await
            .unwrap_or_else(|elapsed| Err(Error::middleware(elapsed))),
    }
}

/// The limiter's wait reported in `extensions` so far (zero without a limiter).
fn limiter_wait(extensions: &Extensions) -> Duration {
    extensions
        .get::<LimiterWait>()
        .map_or(Duration::ZERO, |w| w.0)
}

/// Puts the attempt count on a response.
fn finish(outcome: Result<Response>, attempts: u32) -> Result<Response> {
    outcome.map(|mut response| {
        response.extensions_mut().insert(Attempts(attempts));
        response
    })
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let mut retrier = Retrier::new(&self.policy);
        let mut req = req;
        if self.idempotency_keys {
            add_idempotency_key(&mut req);
        }
        // The limiter below ends a retry's wait for its turn that would outlast the call. Not
        // a first attempt's: that wait is the caller's own backpressure, and the call's
        // deadline counts from when the first attempt was sent (set after it).
        let started = tokio::time::Instant::now();
        let mut deadline = None;
        extensions.remove::<CallDeadline>();
        // What the limiter had already reported in these extensions: each attempt's wait is
        // what it adds.
        let mut waited_so_far = limiter_wait(extensions);
        // What the retry in flight is retrying: if its wait for its turn outlasts the call,
        // the call ends with it, as when it gives up on any other failure.
        let mut previous: Option<(Result<Response>, u32)> = None;
        loop {
            // The last attempt sends the original; earlier ones keep a copy for the next.
            let spare = if retrier.is_last_attempt() {
                None
            } else {
                match req.try_clone() {
                    Some(copy) => Some(copy),
                    // A streamed body can be sent once: send it, return what comes back.
                    None => {
                        let outcome = attempt(&mut retrier, req, extensions, next.clone()).await;
                        return finish(outcome, 1);
                    }
                }
            };
            let outcome = match attempt(&mut retrier, req, extensions, next.clone()).await {
                // A 429 may say the quota is gone (read once, here or by the limiter below).
                Ok(response) => Ok(exhausted::inspect(response).await),
                // A retry the limiter below never sent: its wait would have outlasted the call.
                Err(error) if WaitPastDeadline::is(&error) => match previous.take() {
                    Some((outcome, attempts)) => return finish(outcome, attempts),
                    None => Err(error),
                },
                Err(error) => Err(error),
            };
            let attempts = retrier.attempt();
            let held = extensions.remove::<HeldByLimiter>().is_some();
            let waited = limiter_wait(extensions).saturating_sub(waited_so_far);
            waited_so_far = waited_so_far.saturating_add(waited);
            if attempts == 1 {
                deadline = (self.policy.get_deadline())
                    .and_then(|d| started.checked_add(waited.saturating_add(d)));
            }
            let judged = self.judge(&outcome, held);
            let Some(failure) = judged.map(|f| f.with_limiter_wait(waited)) else {
                return finish(outcome, attempts);
            };
            match retrier.record(self.name, &failure, |_| {}) {
                Decision::Retry(delay) => {
                    let Some(copy) = spare else {
                        return finish(outcome, attempts);
                    };
                    if !held {
                        crate::sleep::sleep(delay).await;
                    }
                    if let Some(at) = deadline {
                        extensions.insert(CallDeadline(at));
                    }
                    previous = Some((outcome, attempts));
                    req = copy;
                }
                Decision::GiveUp(_) => return finish(outcome, attempts),
            }
        }
    }
}
