use retry_core::{Policy, retry};

#[retry(policy = Policy::constant(), attempts = 3)]
async fn fetch() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
