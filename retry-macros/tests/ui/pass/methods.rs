//! `&self` and `&mut self` methods, sync and async.
use retry_core::retry;

struct Counter {
    calls: u32,
    fail_until: u32,
}

impl Counter {
    #[retry(on = "any", initial = "1ms")]
    async fn bump(&mut self) -> Result<u32, String> {
        self.calls += 1;
        if self.calls < self.fail_until {
            return Err(format!("call {}", self.calls));
        }
        Ok(self.calls)
    }

    #[retry(on = "any", attempts = 2, initial = "1ms")]
    fn peek(&self) -> Result<u32, String> {
        if self.calls == 0 {
            Err("untouched".to_owned())
        } else {
            Ok(self.calls)
        }
    }

    #[retry(on = "any", initial = "1ms")]
    pub(crate) async fn read(&self, extra: u32) -> Result<u32, String> {
        Ok(self.calls + extra)
    }

    #[retry(on = "any", initial = "1ms")]
    fn explicit(self: &Self) -> Result<u32, String> {
        Ok(self.calls)
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut counter = Counter { calls: 0, fail_until: 3 };
    assert!(counter.peek().is_err());
    assert_eq!(counter.bump().await.unwrap(), 3);
    assert_eq!(counter.peek().unwrap(), 3);
    assert_eq!(counter.read(1).await.unwrap(), 4);
    assert_eq!(counter.explicit().unwrap(), 3);
}
