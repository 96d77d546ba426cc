use retry_core::retry;

#[retry(budget = "API_BUDGET")]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
