use retry_core::retry;

#[retry(attempts = "3")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
