use retry_core::retry;

#[retry(initial = "10s", max_delay = "2s")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
