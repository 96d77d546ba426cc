use retry_core::retry;

#[retry(on = ["timeout", "connect", "timeout"])]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
