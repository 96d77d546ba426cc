use retry_core::retry;

#[retry(attempt_timeout = "10s")]
fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
