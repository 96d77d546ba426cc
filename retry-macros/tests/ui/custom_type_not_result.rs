use retry_core::retry;

struct Reply {
    body: String,
}

fn never(_: &Reply) -> bool {
    false
}

#[retry(on = never)]
fn fetch() -> Reply {
    Reply { body: String::new() }
}

fn main() {}
