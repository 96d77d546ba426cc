use retry_core::retry;

#[derive(Debug)]
struct MyError;

#[retry(on = "any")]
async fn fetch() -> Result<u32, MyError> {
    let n: u32 = "7".parse()?;
    Ok(n)
}

fn main() {}
