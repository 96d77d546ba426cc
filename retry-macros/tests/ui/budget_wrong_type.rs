use retry_core::retry;

static LIMIT: u32 = 10;

#[retry(budget = LIMIT)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
