use retry_core::retry;

#[retry(crate = "retry_core")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
