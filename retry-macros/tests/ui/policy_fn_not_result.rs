use retry_core::{Policy, retry};

const FAST: Policy = Policy::constant();

#[retry(policy = FAST, on = "timeout")]
async fn count() -> Option<u32> {
    Some(1)
}

fn main() {}
