use retry_core::retry;

#[retry(on = ["rate_limit", "any"])]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
