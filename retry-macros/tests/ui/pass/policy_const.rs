//! `policy = CONST`, `policy = expression`, with `on` and `on_retry` beside it.
use retry_core::{Policy, RetryDetails, retry};
use std::time::Duration;

const FAST: Policy = Policy::constant()
    .attempts(3)
    .initial(Duration::from_millis(1));

fn log(_: &RetryDetails) {}

#[retry(policy = FAST, on = "any", on_retry = log)]
async fn with_const(calls: &mut u32) -> Result<u32, String> {
    *calls += 1;
    Err(format!("failed {calls} times"))
}

#[retry(policy = Policy::exponential().attempts(2).attempt_timeout(Duration::from_secs(1)))]
async fn with_expression(calls: &mut u32) -> std::io::Result<()> {
    *calls += 1;
    Err(std::io::ErrorKind::ConnectionReset.into())
}

fn runtime_policy() -> Policy {
    Policy::linear().attempts(2).initial(Duration::from_millis(1))
}

#[retry(policy = runtime_policy())]
fn sync_with_call(calls: &mut u32) -> std::io::Result<()> {
    *calls += 1;
    Err(std::io::ErrorKind::ConnectionRefused.into())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut calls = 0;
    assert_eq!(with_const(&mut calls).await.unwrap_err(), "failed 3 times");
    let mut calls = 0;
    assert!(with_expression(&mut calls).await.is_err());
    assert_eq!(calls, 2);
    let mut calls = 0;
    assert!(sync_with_call(&mut calls).is_err());
    assert_eq!(calls, 2);
}
