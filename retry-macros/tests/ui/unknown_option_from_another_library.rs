use retry_core::retry;

#[retry(max_retries = 3)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
