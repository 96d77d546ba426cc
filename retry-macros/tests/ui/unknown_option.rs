use retry_core::retry;

#[retry(attemps = 3)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
