use retry_core::retry;

fn is_busy(_: &std::io::Error) -> Option<bool> {
    Some(true)
}

#[retry(on = is_busy)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
