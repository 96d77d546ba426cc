use retry_core::retry;

#[retry(on = "any")]
async fn count() -> Option<u32> {
    Some(1)
}

fn main() {}
