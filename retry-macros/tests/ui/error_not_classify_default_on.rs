use retry_core::retry;

#[derive(Debug)]
struct MyError;

#[retry]
fn fetch() -> Result<(), MyError> {
    Err(MyError)
}

fn main() {}
