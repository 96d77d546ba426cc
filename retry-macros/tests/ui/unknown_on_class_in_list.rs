use retry_core::retry;

#[retry(on = ["timeout", "server_eror"])]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
