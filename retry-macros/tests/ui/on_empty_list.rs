use retry_core::retry;

#[retry(on = [])]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
