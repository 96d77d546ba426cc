use retry_core::retry;

#[retry(backoff = exponential)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
