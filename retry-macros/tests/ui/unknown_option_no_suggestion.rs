use retry_core::retry;

#[retry(verbose = true)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
