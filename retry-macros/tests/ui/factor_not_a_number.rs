use retry_core::retry;

#[retry(factor = "2")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
