use retry_core::retry;

#[retry(factor = 0.5)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
