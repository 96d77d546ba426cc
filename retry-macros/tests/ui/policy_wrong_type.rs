use retry_core::retry;

#[retry(policy = 5)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
