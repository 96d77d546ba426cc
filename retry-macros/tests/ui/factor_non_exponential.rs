use retry_core::retry;

#[retry(backoff = "linear", factor = 3.0)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
