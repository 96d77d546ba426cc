use retry_core::retry;

#[retry(jitter = 0.5)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
