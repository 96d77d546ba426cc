use retry_core::retry;

#[derive(Debug)]
struct MyError;

#[retry(on = "rate_limit")]
async fn fetch() -> Result<(), MyError> {
    Err(MyError)
}

fn main() {}
