use retry_core::retry;

#[retry(attempts = 0)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
