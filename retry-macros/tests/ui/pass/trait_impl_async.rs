//! Async fns in a trait's impl, sync methods too.
use retry_core::retry;

trait Fetch {
    async fn fetch(&self, key: &str) -> std::io::Result<String>;
    fn fetch_now(&mut self, key: String) -> std::io::Result<String>;

    // A default body can carry the attribute too.
    #[retry(on = "any", initial = "1ms")]
    async fn fetch_twice(&self, key: &str) -> std::io::Result<String> {
        Ok(format!("{}{}", self.fetch(key).await?, self.fetch(key).await?))
    }
}

struct Store {
    calls: u32,
}

impl Fetch for Store {
    #[retry(on = "any", initial = "1ms")]
    async fn fetch(&self, key: &str) -> std::io::Result<String> {
        Ok(format!("{key}={}", self.calls))
    }

    #[retry(on = "any", attempts = 3, initial = "1ms")]
    fn fetch_now(&mut self, key: String) -> std::io::Result<String> {
        self.calls += 1;
        if self.calls < 2 {
            return Err(std::io::ErrorKind::Other.into());
        }
        Ok(key)
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut store = Store { calls: 0 };
    assert_eq!(store.fetch_now("k".to_owned()).unwrap(), "k");
    assert_eq!(store.fetch("a").await.unwrap(), "a=2");
    assert_eq!(store.fetch_twice("b").await.unwrap(), "b=2b=2");
}
