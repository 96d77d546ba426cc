use retry_core::retry;

#[retry(crate = my_retry)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
