use retry_core::retry;

#[retry]
fn fetch() -> impl std::future::Future<Output = std::io::Result<()>> {
    async { Ok(()) }
}

fn main() {}
