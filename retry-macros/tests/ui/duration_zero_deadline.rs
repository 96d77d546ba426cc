use retry_core::retry;

#[retry(deadline = "0s")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
