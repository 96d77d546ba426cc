//! `RetryBudget` through every front end: the Retrier, `#[retry(budget = ...)]` (with knobs and
//! with a run-time policy), `retry_fn`, and `RetryMiddleware::budget`. Each test has a budget
//! of its own (`static`s are shared by the whole test binary) and counts the attempts made.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::Fail;
use retry_core::{
    Class, Decision, Failure, GiveUpReason, Jitter, Policy, Retrier, RetryBudget, RetryOn, retry,
    retry_fn,
};

/// 20 % of calls, no floor: exactly one retry per five calls.
const fn strict() -> RetryBudget {
    RetryBudget::new().percent(20).min_per_second(0)
}

#[tokio::test(start_paused = true)]
async fn the_retrier_gives_up_when_the_budget_is_spent() {
    static BUDGET: RetryBudget = strict();
    const POLICY: Policy = Policy::exponential().attempts(5).budget(&BUDGET);
    let mut decisions = Vec::new();
    for _ in 0..10 {
        let mut retrier = Retrier::new(&POLICY);
        decisions.push(retrier.decide(&Failure::new(true)));
    }
    let retries = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Retry(_)))
        .count();
    // Ten calls deposited before each one's failure: 1 retry after the 5th, 2 by the 10th.
    assert_eq!(retries, 2, "{decisions:?}");
    assert_eq!(
        decisions[0],
        Decision::GiveUp(GiveUpReason::BudgetExhausted)
    );
    assert_eq!((BUDGET.calls(), BUDGET.retries()), (10, 2));
    // A failure not worth retrying spends nothing.
    let mut retrier = Retrier::new(&POLICY);
    assert_eq!(
        retrier.decide(&Failure::new(false)),
        Decision::GiveUp(GiveUpReason::NotRetryable)
    );
    assert_eq!(BUDGET.retries(), 2);
}

static MACRO_BUDGET: RetryBudget = strict();
static MACRO_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(budget = MACRO_BUDGET, attempts = 5, initial = "10ms", jitter = "none")]
async fn always_overloaded() -> Result<(), Fail> {
    MACRO_CALLS.fetch_add(1, Ordering::Relaxed);
    Err(Fail::new(Class::Overloaded, 0))
}

#[tokio::test(start_paused = true)]
async fn a_budgeted_function_stops_multiplying_an_outage() {
    for _ in 0..50 {
        assert!(always_overloaded().await.is_err());
    }
    // Without the budget: 250 attempts. With it: 50 calls and 10 retries.
    assert_eq!(MACRO_CALLS.load(Ordering::Relaxed), 60);
    assert_eq!(MACRO_BUDGET.retries(), 10);
}

static RUNTIME_BUDGET: RetryBudget = strict();
static RUNTIME_CALLS: AtomicU32 = AtomicU32::new(0);

struct Api {
    policy: Policy,
}

impl Api {
    #[retry(policy = self.policy, budget = RUNTIME_BUDGET)]
    async fn call(&self) -> Result<(), Fail> {
        RUNTIME_CALLS.fetch_add(1, Ordering::Relaxed);
        Err(Fail::new(Class::ServerError, 0))
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_time_policy_takes_the_budget_too() {
    let api = Api {
        policy: Policy::constant()
            .attempts(3)
            .initial(Duration::from_millis(5))
            .jitter(Jitter::None),
    };
    for _ in 0..10 {
        assert!(api.call().await.is_err());
    }
    assert_eq!(RUNTIME_CALLS.load(Ordering::Relaxed), 12);
}

#[tokio::test(start_paused = true)]
async fn the_floor_lets_a_quiet_caller_retry_and_the_window_refills() {
    static BUDGET: RetryBudget = RetryBudget::new()
        .percent(0)
        .min_per_second(1)
        .window(Duration::from_secs(2));
    const POLICY: Policy = Policy::constant()
        .attempts(10)
        .initial(Duration::from_millis(100))
        .jitter(Jitter::None)
        .budget(&BUDGET);
    let attempts = AtomicU32::new(0);
    let call = || {
        retry_fn(POLICY, RetryOn::TRANSIENT, || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            Err::<(), _>(Fail::new(Class::Timeout, 0))
        })
    };
    assert!(call().await.is_err());
    // The floor: 1 a second over a 2 s window, so 2 retries, then nothing.
    assert_eq!(attempts.swap(0, Ordering::Relaxed), 3);
    assert!(call().await.is_err());
    assert_eq!(attempts.swap(0, Ordering::Relaxed), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(call().await.is_err());
    assert_eq!(
        attempts.load(Ordering::Relaxed),
        3,
        "the old retries left the window"
    );
}

#[cfg(feature = "reqwest")]
#[tokio::test(start_paused = true)]
async fn the_middleware_returns_at_once_past_the_budget() {
    use crate::support::sim::{Scripted, respond};
    use retry_core::middleware::RetryMiddleware;
    use test_kit::Counter;

    static BUDGET: RetryBudget = strict();
    let counter = Counter::default();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            RetryMiddleware::new(Policy::exponential().attempts(5).jitter(Jitter::None))
                .budget(&BUDGET),
        )
        .with(counter.clone())
        .with(Scripted::new(|_| respond(503, &[])))
        .build();
    for _ in 0..20 {
        let response = client.get("http://api.test/").send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
    assert_eq!(
        counter.get(),
        24,
        "20 requests and 4 retries, not 100 attempts"
    );
}
