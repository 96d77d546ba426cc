use retry_core::retry;

#[retry]
async fn ping() {}

fn main() {}
