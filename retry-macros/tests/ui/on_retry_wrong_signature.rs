use retry_core::retry;

fn log(attempt: u32) {
    eprintln!("retrying after attempt {attempt}");
}

#[retry(on_retry = log)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
