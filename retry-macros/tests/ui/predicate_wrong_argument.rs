use retry_core::retry;

fn is_busy(error: &String) -> bool {
    error.contains("busy")
}

#[retry(on = is_busy)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
