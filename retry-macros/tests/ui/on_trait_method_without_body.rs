use retry_core::retry;

trait Fetch {
    #[retry]
    async fn fetch(&self) -> std::io::Result<()>;
}

fn main() {}
