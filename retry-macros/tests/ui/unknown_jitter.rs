use retry_core::retry;

#[retry(jitter = "random")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
