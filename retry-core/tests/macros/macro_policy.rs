//! `#[retry]` at run time: how often and how long: the number of attempts and the error
//! returned, `attempt_timeout`, `policy = EXPR`, `on_retry`, every backoff kind on a paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::{Fail, bump, ms};
use retry_core::{Class, Classify, Jitter, Policy, RetryDetails, retry};
use tokio::time::{Instant, sleep};

// ---- The number of attempts and the error returned -----------------------------------------

#[retry(attempts = 7, initial = "1ms")]
async fn seven(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::ServerError, bump(calls)))
}

#[retry(attempts = 1)]
async fn once(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::ServerError, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn a_call_makes_at_most_attempts_calls_and_returns_the_last_error() {
    let calls = AtomicU32::new(0);
    assert_eq!(seven(&calls).await, Err(Fail::new(Class::ServerError, 7)));
    assert_eq!(calls.load(Ordering::Relaxed), 7);

    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(once(&calls).await, Err(Fail::new(Class::ServerError, 1)));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[retry]
async fn defaults(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::Overloaded, bump(calls)))
}

static DEFAULT_DELAYS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn note_default_delay(d: &RetryDetails) {
    DEFAULT_DELAYS.lock().unwrap().push(d.delay);
}

#[retry(on_retry = note_default_delay)]
async fn defaults_hooked(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::Overloaded, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn bare_retry_uses_the_default_policy() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    defaults(&calls).await.unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 5);
    // Full jitter over 500 ms, 1 s, 2 s, 4 s.
    assert!(start.elapsed() <= ms(7500), "{:?}", start.elapsed());

    let calls = AtomicU32::new(0);
    let start = Instant::now();
    defaults_hooked(&calls).await.unwrap_err();
    let delays = DEFAULT_DELAYS.lock().unwrap().clone();
    assert_eq!(delays.len(), 4);
    for (delay, bound) in delays.iter().zip([500, 1000, 2000, 4000]) {
        assert!(*delay <= ms(bound), "{delay:?} > {bound} ms");
    }
    assert_slept(start, &delays);
}

/// The time since `start` is what `delays` add up to, each rounded up to tokio's 1 ms tick.
fn assert_slept(start: Instant, delays: &[Duration]) {
    let sum: Duration = delays.iter().sum();
    let elapsed = start.elapsed();
    assert!(
        sum <= elapsed && elapsed <= sum + ms(1) * delays.len() as u32,
        "slept {elapsed:?} for delays {delays:?}"
    );
}

// ---- attempt_timeout ---------------------------------------------------------------------

/// Counts the attempts dropped before they finished.
struct DropGuard<'a>(&'a AtomicU32);

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[retry(
    attempts = 3,
    attempt_timeout = "100ms",
    backoff = "constant",
    initial = "50ms",
    jitter = "none"
)]
async fn hangs(calls: &AtomicU32, dropped: &AtomicU32, hang_until: u32) -> Result<u32, Fail> {
    let n = bump(calls);
    let guard = DropGuard(dropped);
    if n < hang_until {
        std::future::pending::<()>().await;
    }
    std::mem::forget(guard);
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_is_abandoned_and_retried() {
    let (calls, dropped) = (AtomicU32::new(0), AtomicU32::new(0));
    let start = Instant::now();
    assert_eq!(hangs(&calls, &dropped, 2).await, Ok(2));
    assert_eq!(start.elapsed(), ms(100 + 50));
    assert_eq!(dropped.load(Ordering::Relaxed), 1);

    // Every attempt hangs: the error comes from `From<Elapsed>`.
    let (calls, dropped) = (AtomicU32::new(0), AtomicU32::new(0));
    let start = Instant::now();
    let err = hangs(&calls, &dropped, u32::MAX).await.unwrap_err();
    assert!(err.elapsed);
    assert_eq!(err.class(), Class::Timeout);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(dropped.load(Ordering::Relaxed), 3);
    assert_eq!(start.elapsed(), ms(100 + 50 + 100 + 50 + 100));
}

#[retry(on = ["rate_limit"], attempts = 3, attempt_timeout = "100ms")]
async fn hang_not_retried(calls: &AtomicU32) -> std::io::Result<()> {
    bump(calls);
    std::future::pending().await
}

#[retry(on = "timeout", attempts = 3, attempt_timeout = "1s", initial = "10ms")]
async fn hang_io(calls: &AtomicU32) -> std::io::Result<()> {
    bump(calls);
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_a_timeout_failure() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let err = hang_not_retried(&calls).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(start.elapsed(), ms(100));

    let calls = AtomicU32::new(0);
    let err = hang_io(&calls).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

static TIMEOUT_CLASSES: Mutex<Vec<Option<Class>>> = Mutex::new(Vec::new());

fn note_timeout_class(d: &RetryDetails) {
    TIMEOUT_CLASSES.lock().unwrap().push(d.class);
}

fn never(_: &Fail) -> bool {
    false
}

#[retry(on = "any", attempts = 3, attempt_timeout = "100ms", initial = "1ms", on_retry = note_timeout_class)]
async fn hang_any(calls: &AtomicU32) -> Result<(), Fail> {
    bump(calls);
    std::future::pending().await
}

#[retry(on = never, attempts = 3, attempt_timeout = "100ms", initial = "1ms")]
async fn hang_never(calls: &AtomicU32) -> Result<(), Fail> {
    bump(calls);
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn timeouts_under_any_and_a_predicate() {
    let calls = AtomicU32::new(0);
    assert!(hang_any(&calls).await.unwrap_err().elapsed);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(
        *TIMEOUT_CLASSES.lock().unwrap(),
        [Some(Class::Timeout), Some(Class::Timeout)]
    );

    // The predicate sees the error made from the timeout, and here refuses it.
    let calls = AtomicU32::new(0);
    assert!(hang_never(&calls).await.unwrap_err().elapsed);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

// ---- policy = EXPR -----------------------------------------------------------------------

const FAST: Policy = Policy::constant()
    .attempts(4)
    .initial(Duration::from_millis(30))
    .jitter(Jitter::None);

#[retry(policy = FAST)]
async fn const_policy(calls: &AtomicU32) -> Result<(), Fail> {
    Err(Fail::new(Class::Connect, bump(calls)))
}

static RUNTIME_ATTEMPTS: AtomicU32 = AtomicU32::new(2);

fn runtime_policy() -> Policy {
    Policy::linear()
        .attempts(RUNTIME_ATTEMPTS.load(Ordering::Relaxed))
        .initial(Duration::from_millis(100))
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_millis(250))
}

#[retry(policy = runtime_policy(), on = ["timeout", "connect"])]
async fn runtime(calls: &AtomicU32, hang: bool) -> Result<(), Fail> {
    let n = bump(calls);
    if hang {
        std::future::pending::<()>().await;
    }
    Err(Fail::new(Class::Connect, n))
}

/// The policy may even come from an argument.
#[retry(policy = *policy)]
async fn policy_from_argument(calls: &AtomicU32, policy: &Policy) -> Result<(), Fail> {
    Err(Fail::new(Class::Connect, bump(calls)))
}

#[tokio::test(start_paused = true)]
async fn policy_expressions_are_obeyed() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(
        const_policy(&calls).await,
        Err(Fail::new(Class::Connect, 4))
    );
    assert_eq!(start.elapsed(), ms(90));

    // Read at each call: 3 attempts, linear 100 ms then 200 ms.
    RUNTIME_ATTEMPTS.store(3, Ordering::Relaxed);
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(
        runtime(&calls, false).await,
        Err(Fail::new(Class::Connect, 3))
    );
    assert_eq!(start.elapsed(), ms(300));

    // The run-time policy's attempt_timeout applies, since `Fail: From<Elapsed>`.
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let err = runtime(&calls, true).await.unwrap_err();
    assert!(err.elapsed);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(start.elapsed(), ms(250 + 100 + 250 + 200 + 250));

    for attempts in [1, 2, 6] {
        let calls = AtomicU32::new(0);
        let policy = Policy::constant().attempts(attempts).initial(ms(5));
        policy_from_argument(&calls, &policy).await.unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), attempts);
    }
}

// ---- on_retry ----------------------------------------------------------------------------

static SEEN: Mutex<Vec<RetryDetails>> = Mutex::new(Vec::new());

fn see(details: &RetryDetails) {
    SEEN.lock().unwrap().push(*details);
}

#[retry(
    attempts = 4,
    backoff = "exponential",
    initial = "100ms",
    jitter = "none",
    on_retry = see
)]
async fn observed(calls: &AtomicU32) -> Result<u32, Fail> {
    let n = bump(calls);
    sleep(ms(10)).await;
    match n {
        1 => Err(Fail::new(Class::ServerError, n)),
        2 => Err(Fail::hinted(Class::RateLimited, n, ms(700))),
        3 => Err(Fail::new(Class::Timeout, n)),
        _ => Ok(n),
    }
}

#[tokio::test(start_paused = true)]
async fn on_retry_gets_the_details_of_each_retry() {
    let calls = AtomicU32::new(0);
    assert_eq!(observed(&calls).await, Ok(4));
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for d in &seen {
        assert!(d.function.ends_with("::observed"), "{}", d.function);
        assert!(
            d.function.starts_with("macros::macro_policy::"),
            "{}",
            d.function
        );
    }
    let summary: Vec<_> = seen
        .iter()
        .map(|d| (d.attempt, d.delay, d.class, d.hint, d.elapsed))
        .collect();
    assert_eq!(
        summary,
        [
            (1, ms(100), Some(Class::ServerError), None, ms(10)),
            (2, ms(700), Some(Class::RateLimited), Some(ms(700)), ms(120)),
            // The curve goes by retry number, hinted retries included: 100 ms * 2^2.
            (3, ms(400), Some(Class::Timeout), None, ms(830)),
        ]
    );
}

// ---- Every backoff through the attribute, on a paused clock --------------------------------

static SCHEDULE: Mutex<Vec<(&'static str, Duration)>> = Mutex::new(Vec::new());

fn schedule(d: &RetryDetails) {
    SCHEDULE.lock().unwrap().push((d.function, d.delay));
}

macro_rules! curve {
    ($name:ident, $($knobs:tt)*) => {
        #[retry($($knobs)*, attempts = 6, initial = "100ms", max_delay = "1s", on_retry = schedule)]
        async fn $name() -> Result<(), Fail> {
            Err(Fail::new(Class::Overloaded, 0))
        }
    };
}

curve!(exponential_none, backoff = "exponential", jitter = "none");
curve!(exponential_full, backoff = "exponential", jitter = "full");
curve!(exponential_equal, backoff = "exponential", jitter = "equal");
curve!(
    exponential_factor3,
    backoff = "exponential",
    factor = 3.0,
    jitter = "none"
);
curve!(constant_none, backoff = "constant", jitter = "none");
curve!(linear_none, backoff = "linear", jitter = "none");
curve!(linear_equal, backoff = "linear", jitter = "equal");
curve!(fibonacci_none, backoff = "fibonacci", jitter = "none");
curve!(fibonacci_full, backoff = "fibonacci", jitter = "full");
curve!(decorrelated, backoff = "decorrelated");

fn delays_of(name: &str) -> Vec<Duration> {
    SCHEDULE
        .lock()
        .unwrap()
        .iter()
        .filter(|(f, _)| f.ends_with(&format!("::{name}")))
        .map(|(_, d)| *d)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_backoff_through_the_attribute_sleeps_what_it_says() {
    let calls: [(&str, fn() -> _); 10] = [
        ("exponential_none", || {
            Box::pin(exponential_none()) as std::pin::Pin<Box<dyn Future<Output = _>>>
        }),
        ("exponential_full", || Box::pin(exponential_full())),
        ("exponential_equal", || Box::pin(exponential_equal())),
        ("exponential_factor3", || Box::pin(exponential_factor3())),
        ("constant_none", || Box::pin(constant_none())),
        ("linear_none", || Box::pin(linear_none())),
        ("linear_equal", || Box::pin(linear_equal())),
        ("fibonacci_none", || Box::pin(fibonacci_none())),
        ("fibonacci_full", || Box::pin(fibonacci_full())),
        ("decorrelated", || Box::pin(decorrelated())),
    ];
    for (name, call) in calls {
        let start = Instant::now();
        call().await.unwrap_err();
        let delays = delays_of(name);
        assert_eq!(delays.len(), 5, "{name}");
        // Every sleep the hook announced was slept, and nothing else.
        assert_slept(start, &delays);
        assert!(delays.iter().all(|d| *d <= ms(1000)), "{name}: {delays:?}");
    }
    let exact = |v: [u64; 5]| v.map(ms).to_vec();
    assert_eq!(
        delays_of("exponential_none"),
        exact([100, 200, 400, 800, 1000])
    );
    assert_eq!(
        delays_of("exponential_factor3"),
        exact([100, 300, 900, 1000, 1000])
    );
    assert_eq!(delays_of("constant_none"), exact([100; 5]));
    assert_eq!(delays_of("linear_none"), exact([100, 200, 300, 400, 500]));
    assert_eq!(
        delays_of("fibonacci_none"),
        exact([100, 100, 200, 300, 500])
    );
    let within = |name: &str, low: [u64; 5], high: [u64; 5]| {
        for ((d, lo), hi) in delays_of(name).iter().zip(low).zip(high) {
            assert!(
                ms(lo) <= *d && *d <= ms(hi),
                "{name}: {d:?} not in [{lo}, {hi}] ms"
            );
        }
    };
    within("exponential_full", [0; 5], [100, 200, 400, 800, 1000]);
    within(
        "exponential_equal",
        [50, 100, 200, 400, 800],
        [100, 200, 400, 800, 1000],
    );
    within(
        "linear_equal",
        [50, 100, 150, 200, 250],
        [100, 200, 300, 400, 500],
    );
    within("fibonacci_full", [0; 5], [100, 100, 200, 300, 500]);
    let mut previous = ms(100);
    for d in delays_of("decorrelated") {
        assert!(
            ms(100) <= d && d <= (previous * 3).min(ms(1000)),
            "{d:?} after {previous:?}"
        );
        previous = d;
    }
}
