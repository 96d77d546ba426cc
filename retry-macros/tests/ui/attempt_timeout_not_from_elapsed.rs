use retry_core::{Class, Classify, retry};

#[derive(Debug)]
struct MyError;

impl Classify for MyError {
    fn class(&self) -> Class {
        Class::Timeout
    }
}

#[retry(attempt_timeout = "10s")]
async fn fetch() -> Result<(), MyError> {
    Err(MyError)
}

fn main() {}
