use retry_core::retry;

#[retry(on = is_busy)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
