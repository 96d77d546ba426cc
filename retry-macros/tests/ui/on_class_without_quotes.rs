use retry_core::retry;

#[retry(on = rate_limit)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
