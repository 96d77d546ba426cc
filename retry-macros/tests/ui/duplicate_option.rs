use retry_core::retry;

#[retry(attempts = 3, initial = "1s", attempts = 5)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
