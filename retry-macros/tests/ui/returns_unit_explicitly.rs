use retry_core::retry;

#[retry]
fn ping() -> () {}

fn main() {}
