use retry_core::retry;

struct Client;

impl Client {
    #[retry]
    async fn send(self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {}
