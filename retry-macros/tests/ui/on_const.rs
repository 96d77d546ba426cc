use retry_core::retry;

#[retry]
const LIMIT: u32 = 3;

fn main() {}
