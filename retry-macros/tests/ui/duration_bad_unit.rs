use retry_core::retry;

#[retry(max_delay = "5sec")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
