use retry_core::retry;

#[retry(on = "rate_limited")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
