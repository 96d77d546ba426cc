use retry_core::retry;

#[retry(initial = 500)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
