use retry_core::retry;

#[retry(backoff = "exponentail")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
