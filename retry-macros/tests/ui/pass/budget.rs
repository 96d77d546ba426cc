//! `budget = PATH` with knobs, with a run-time policy, through a module path, on a sync fn.
use retry_core::{Policy, RetryBudget, retry};

static BUDGET: RetryBudget = RetryBudget::new();

mod limits {
    pub static SHARED: retry_core::RetryBudget = retry_core::RetryBudget::new().percent(10);
}

#[retry(budget = BUDGET, attempts = 3)]
async fn with_knobs() -> std::io::Result<u32> {
    Ok(1)
}

struct Client {
    policy: Policy,
}

impl Client {
    #[retry(policy = self.policy, budget = limits::SHARED)]
    async fn with_policy(&self) -> std::io::Result<u32> {
        Ok(2)
    }
}

#[retry(budget = crate::limits::SHARED)]
fn sync_call() -> std::io::Result<u32> {
    Ok(3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = Client { policy: Policy::default() };
    let sum = with_knobs().await.unwrap() + client.with_policy().await.unwrap() + sync_call().unwrap();
    assert_eq!(sum, 6);
    assert_eq!(BUDGET.calls(), 1);
    assert_eq!(limits::SHARED.calls(), 2);
}
