use retry_core::retry;

#[retry(backoff = "decorrelated", jitter = "full")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
