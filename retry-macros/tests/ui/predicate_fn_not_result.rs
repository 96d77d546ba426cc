use retry_core::retry;

fn never(_: &u32) -> bool {
    false
}

#[retry(on = never)]
fn count() -> u32 {
    1
}

fn main() {}
