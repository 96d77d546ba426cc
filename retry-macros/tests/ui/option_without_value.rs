use retry_core::retry;

#[retry(attempts)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
