use retry_core::retry;

struct Client;

#[retry]
impl Client {
    async fn send(&self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {}
