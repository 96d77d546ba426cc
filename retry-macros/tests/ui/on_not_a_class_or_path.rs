use retry_core::retry;

#[retry(on = 429)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
