//! One deadline bounds the whole call, attempts and sleeps, on tokio's clock; server hints
//! replace the computed delay and give up at once when they end past the deadline.
//!
//! Every test runs on a paused clock, so elapsed times are exact and nothing really sleeps.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::{Fail, bump, hinted_twice, ms};
use retry_core::{
    Class, Decision, Failure, GiveUpReason, Jitter, Policy, Retrier, RetryDetails, RetryOn, retry,
    retry_fn,
};
use tokio::time::{Instant, advance, sleep};

fn retryable() -> Failure {
    Failure::new(true)
}

fn hinted(hint: Duration) -> Failure {
    Failure::new(true).with_hint(Some(hint))
}

fn constant(delay: Duration) -> Policy {
    Policy::constant().initial(delay).jitter(Jitter::None)
}

/// A retrier of `policy` whose call has started (its deadline's clock running).
fn started(policy: &Policy) -> Retrier<'_> {
    let mut retrier = Retrier::new(policy);
    retrier.start();
    retrier
}

// ---- The Retrier on its own -------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_last_sleep_is_cut_to_what_is_left() {
    let policy = constant(ms(400)).attempts(10).deadline(ms(1000));
    let mut retrier = started(&policy); // the call starts
    advance(ms(200)).await; // the first attempt took 200 ms
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(400)));
    advance(ms(400 + 200)).await; // slept, then the second attempt took 200 ms
    assert_eq!(retrier.remaining(), Some(ms(200)));
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(200)));
    advance(ms(200)).await;
    assert_eq!(retrier.remaining(), Some(Duration::ZERO));
    assert_eq!(
        retrier.decide(&retryable()),
        Decision::GiveUp(GiveUpReason::DeadlineExceeded)
    );
    assert_eq!(retrier.attempt(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_runs_past_the_deadline_ends_the_call() {
    let policy = constant(ms(10)).attempts(10).deadline(ms(1000));
    let mut retrier = started(&policy);
    advance(ms(5000)).await;
    assert_eq!(retrier.elapsed(), ms(5000));
    assert_eq!(retrier.remaining(), Some(Duration::ZERO));
    assert_eq!(
        retrier.decide(&retryable()),
        Decision::GiveUp(GiveUpReason::DeadlineExceeded)
    );
}

#[tokio::test(start_paused = true)]
async fn give_up_reasons_come_in_order_not_retryable_attempts_deadline() {
    let policy = constant(ms(10)).attempts(1).deadline(ms(100));
    let mut retrier = started(&policy);
    advance(ms(500)).await;
    assert_eq!(
        retrier.decide(&Failure::new(false)),
        Decision::GiveUp(GiveUpReason::NotRetryable)
    );
    assert_eq!(
        retrier.decide(&retryable()),
        Decision::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

#[tokio::test(start_paused = true)]
async fn a_hint_replaces_the_computed_delay_longer_or_shorter() {
    let policy = constant(ms(1000)).attempts(5);
    let mut retrier = Retrier::new(&policy);
    assert_eq!(retrier.decide(&hinted(ms(2500))), Decision::Retry(ms(2500)));
    assert_eq!(retrier.decide(&hinted(ms(10))), Decision::Retry(ms(10)));
    assert_eq!(
        retrier.decide(&hinted(Duration::ZERO)),
        Decision::Retry(Duration::ZERO)
    );
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(1000)));
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_gives_up_at_once() {
    let policy = constant(ms(10)).attempts(5).deadline(ms(1000));
    let mut retrier = Retrier::new(&policy);
    assert_eq!(
        retrier.decide(&hinted(ms(1001))),
        Decision::GiveUp(GiveUpReason::HintBeyondDeadline)
    );
    // A refused hint does not use up an attempt.
    assert_eq!(retrier.attempt(), 1);

    // A hint that ends exactly at the deadline is still worth waiting for.
    let policy = constant(ms(10)).attempts(5).deadline(ms(1000));
    let mut retrier = started(&policy);
    advance(ms(600)).await;
    assert_eq!(
        retrier.decide(&hinted(ms(401))),
        Decision::GiveUp(GiveUpReason::HintBeyondDeadline)
    );
    assert_eq!(retrier.decide(&hinted(ms(400))), Decision::Retry(ms(400)));
}

#[tokio::test(start_paused = true)]
async fn hints_are_capped_only_when_asked() {
    let policy = constant(ms(10)).attempts(5).max_delay(ms(1000));
    let mut uncapped = Retrier::new(&policy);
    assert_eq!(
        uncapped.decide(&hinted(ms(10_000))),
        Decision::Retry(ms(10_000))
    );

    let capped_policy = policy.cap_hints(true);
    let mut capped = Retrier::new(&capped_policy);
    assert_eq!(
        capped.decide(&hinted(ms(10_000))),
        Decision::Retry(ms(1000))
    );
    assert_eq!(capped.decide(&hinted(ms(300))), Decision::Retry(ms(300)));

    // The cap comes before the deadline check: a capped hint that fits is waited for.
    let capped_policy = policy.cap_hints(true).deadline(ms(5000));
    let mut capped = Retrier::new(&capped_policy);
    assert_eq!(
        capped.decide(&hinted(ms(10_000))),
        Decision::Retry(ms(1000))
    );
    let uncapped_policy = policy.deadline(ms(5000));
    let mut uncapped = Retrier::new(&uncapped_policy);
    assert_eq!(
        uncapped.decide(&hinted(ms(10_000))),
        Decision::GiveUp(GiveUpReason::HintBeyondDeadline)
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_only_attempts_bound_the_call() {
    let policy = constant(ms(400)).attempts(4).no_deadline();
    assert_eq!(policy.get_deadline(), None);
    let mut retrier = started(&policy);
    assert_eq!(retrier.remaining(), None);
    advance(Duration::from_secs(24 * 3600)).await;
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(400)));
    let day = Duration::from_secs(24 * 3600);
    assert_eq!(retrier.decide(&hinted(day)), Decision::Retry(day));
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(400)));
    assert_eq!(
        retrier.decide(&retryable()),
        Decision::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

#[tokio::test(start_paused = true)]
async fn the_clock_starts_once_when_the_call_starts() {
    let policy = constant(ms(10)).deadline(ms(1000));
    let mut retrier = Retrier::new(&policy);
    advance(Duration::from_secs(100)).await;
    retrier.start();
    assert_eq!(retrier.elapsed(), Duration::ZERO);
    advance(ms(300)).await;
    retrier.start(); // a second start does not restart the clock
    assert_eq!(retrier.elapsed(), ms(300));
    assert_eq!(retrier.remaining(), Some(ms(700)));
    assert_eq!(retrier.decide(&retryable()), Decision::Retry(ms(10)));
}

#[tokio::test(start_paused = true)]
async fn a_first_wait_in_a_limiter_queue_is_not_counted() {
    let policy = constant(ms(10)).attempts(10).deadline(ms(1000));
    let mut retrier = started(&policy);
    // The first attempt waited 5 s for its turn in a client-side limiter, then 200 ms for its
    // answer: the deadline counts from when it was sent.
    advance(ms(5_200)).await;
    let queued = retryable().with_limiter_wait(ms(5_000));
    assert_eq!(retrier.decide(&queued), Decision::Retry(ms(10)));
    assert_eq!(retrier.remaining(), Some(ms(800)));
    // A retry's wait counts: 900 ms of it spends the rest of the deadline.
    advance(ms(900)).await;
    let queued = retryable().with_limiter_wait(ms(900));
    assert_eq!(
        retrier.decide(&queued),
        Decision::GiveUp(GiveUpReason::DeadlineExceeded)
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_wait_is_never_taken_as_longer_than_the_call() {
    let policy = constant(ms(10)).attempts(10).deadline(ms(1000));
    let mut retrier = started(&policy);
    advance(ms(300)).await;
    // A wait longer than the call so far (a report that adds up several calls' waits) moves
    // the clock's start to now, not into the future.
    let queued = retryable().with_limiter_wait(Duration::from_secs(3600));
    assert_eq!(retrier.decide(&queued), Decision::Retry(ms(10)));
    assert_eq!(retrier.remaining(), Some(ms(1000)));
}

// ---- Through #[retry] ---------------------------------------------------------------------

static STARTS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static SLEPT: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn note_sleep(details: &RetryDetails) {
    SLEPT.lock().unwrap().push(details.delay);
}

/// Each attempt takes 200 ms and fails: 0–200, sleep 400, 600–800, sleep cut to 200,
/// 1000–1200, then the deadline has passed.
#[retry(
    backoff = "constant",
    initial = "400ms",
    jitter = "none",
    attempts = 10,
    deadline = "1s",
    on_retry = note_sleep
)]
async fn slow_and_failing(origin: Instant) -> Result<(), Fail> {
    STARTS.lock().unwrap().push(origin.elapsed());
    sleep(ms(200)).await;
    Err(Fail::new(
        Class::ServerError,
        STARTS.lock().unwrap().len() as u32,
    ))
}

#[tokio::test(start_paused = true)]
async fn one_deadline_covers_attempts_and_sleeps() {
    let origin = Instant::now();
    let err = slow_and_failing(origin).await.unwrap_err();
    assert_eq!(origin.elapsed(), ms(1200));
    assert_eq!(*STARTS.lock().unwrap(), [ms(0), ms(600), ms(1000)]);
    assert_eq!(*SLEPT.lock().unwrap(), [ms(400), ms(200)]);
    // No attempt started after the deadline, and the error is the last attempt's.
    assert!(STARTS.lock().unwrap().iter().all(|t| *t <= ms(1000)));
    assert_eq!(err.attempt, 3);
}

#[retry(
    backoff = "constant",
    initial = "100ms",
    jitter = "none",
    attempts = 10,
    deadline = "1s"
)]
async fn takes_700ms(calls: &AtomicU32) -> Result<(), Fail> {
    calls.fetch_add(1, Ordering::Relaxed);
    sleep(ms(700)).await;
    Err(Fail::new(Class::Timeout, 0))
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_after_the_deadline() {
    // 0–700, sleep 100, 800–1500: the second attempt ends past the deadline, and no third starts.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    takes_700ms(&calls).await.unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(start.elapsed(), ms(1500));
}

/// Attempts are instant; the 60 s default deadline ends the call, not the 100 attempts.
#[retry(backoff = "constant", initial = "7s", jitter = "none", attempts = 100)]
async fn default_deadline(calls: &AtomicU32) -> Result<(), Fail> {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    Err(Fail::new(Class::Overloaded, n))
}

#[tokio::test(start_paused = true)]
async fn the_default_deadline_is_sixty_seconds() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let err = default_deadline(&calls).await.unwrap_err();
    // Attempts at 0, 7, …, 56 s, then a sleep cut to 4 s and a last attempt at 60 s.
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert_eq!(calls.load(Ordering::Relaxed), 10);
    assert_eq!(err.attempt, 10);
}

/// A 429 to an attempt that waited this long for its turn in a client-side rate limiter.
#[derive(Debug)]
struct QueuedThenLimited(Duration);

impl std::fmt::Display for QueuedThenLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "429 after {:?} in line", self.0)
    }
}

impl retry_core::Classify for QueuedThenLimited {
    fn class(&self) -> Class {
        Class::RateLimited
    }
    fn limiter_wait(&self) -> Duration {
        self.0
    }
}

/// The first attempt waits 90 s in line (reported as `reported`), then meets a 429; the
/// second is answered.
#[retry(on = "rate_limit", jitter = "none")]
async fn queued_past_the_deadline(
    calls: &AtomicU32,
    reported: Duration,
) -> Result<u32, QueuedThenLimited> {
    let n = bump(calls);
    if n == 1 {
        sleep(Duration::from_secs(90)).await;
        return Err(QueuedThenLimited(reported));
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn a_call_queued_past_its_deadline_still_retries() {
    // The wait reported: the 60 s default deadline counts from the send, and the retry goes.
    let calls = AtomicU32::new(0);
    let answer = queued_past_the_deadline(&calls, Duration::from_secs(90)).await;
    assert_eq!(answer.unwrap(), 2);
    // Not reported (an error type that knows nothing of a limiter): the deadline is spent.
    let calls = AtomicU32::new(0);
    let answer = queued_past_the_deadline(&calls, Duration::ZERO).await;
    assert!(answer.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[retry(backoff = "constant", initial = "50ms", jitter = "none", attempts = 5)]
async fn hinted_failure(calls: &AtomicU32, hint: Duration) -> Result<u32, Fail> {
    hinted_twice(bump(calls), hint)
}

#[tokio::test(start_paused = true)]
async fn a_server_hint_replaces_the_computed_delay() {
    for hint in [ms(2500), ms(10), Duration::ZERO, Duration::from_secs(25)] {
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        assert_eq!(hinted_failure(&calls, hint).await, Ok(3));
        assert_eq!(start.elapsed(), hint * 2, "hint {hint:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_gives_up_without_sleeping() {
    // The default deadline is 60 s.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let err = hinted_failure(&calls, Duration::from_secs(61))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(err.hint, Some(Duration::from_secs(61)));

    // The second hint of 31 s would end at 62 s: given up at 31 s.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    hinted_failure(&calls, Duration::from_secs(31))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(31));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[retry(policy = constant(ms(50)).attempts(3).max_delay(ms(1000)).cap_hints(true))]
async fn capped_hints(calls: &AtomicU32) -> Result<u32, Fail> {
    hinted_twice(bump(calls), Duration::from_secs(20))
}

#[tokio::test(start_paused = true)]
async fn cap_hints_caps_a_hint_at_max_delay() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(capped_hints(&calls).await, Ok(3));
    assert_eq!(start.elapsed(), ms(2000));
}

#[tokio::test(start_paused = true)]
async fn retry_fn_keeps_the_same_deadline() {
    let policy = constant(ms(300)).attempts(100).deadline(ms(1000));
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result: Result<(), Fail> = retry_fn(policy, RetryOn::TRANSIENT, || async {
        calls.fetch_add(1, Ordering::Relaxed);
        Err(Fail::new(Class::Connect, 0))
    })
    .await;
    result.unwrap_err();
    // Attempts at 0, 300, 600, 900 and (after a sleep cut to 100 ms) 1000.
    assert_eq!(calls.load(Ordering::Relaxed), 5);
    assert_eq!(start.elapsed(), ms(1000));
}

#[tokio::test(start_paused = true)]
async fn no_deadline_lets_hints_run_long() {
    let policy = constant(ms(10)).attempts(3).no_deadline();
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let hour = Duration::from_secs(3600);
    let result: Result<(), Fail> = retry_fn(policy, RetryOn::RATE_LIMIT, || async {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        Err(Fail::hinted(Class::RateLimited, n, hour))
    })
    .await;
    assert_eq!(result.unwrap_err().attempt, 3);
    assert_eq!(start.elapsed(), hour * 2);
}
