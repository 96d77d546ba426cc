use retry_core::retry;

#[retry]
struct Client {
    url: String,
}

fn main() {}
