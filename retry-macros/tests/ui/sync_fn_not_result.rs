use retry_core::retry;

#[retry]
fn count() -> u32 {
    1
}

fn main() {}
