use retry_core::{Class, Classify, Policy, retry};
use std::time::Duration;

#[derive(Debug, Clone)]
struct E(Class);
impl Classify for E {
    fn class(&self) -> Class {
        self.0
    }
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

#[retry(on = "rate_limit", attempts = 3, initial = "10ms")]
async fn f(a: &str, b: String, c: &mut Vec<u8>) -> Result<usize, E> {
    c.push(1);
    if c.len() < 3 {
        return Err(E(Class::RateLimited));
    }
    Ok(a.len() + b.len())
}

struct S {
    n: u32,
}
impl S {
    #[retry(on = "any", attempts = 3, initial = "1ms")]
    async fn m(&mut self, (x, y): (u32, u32)) -> Result<u32, String> {
        self.n += 1;
        if self.n < 2 {
            Err("no".into())
        } else {
            Ok(x + y + self.n)
        }
    }
    #[retry(policy = Policy::constant().initial(Duration::from_millis(1)))]
    fn s(&self) -> std::io::Result<u32> {
        let _ = std::fs::read("/nonexistent")?;
        Ok(1)
    }
}

#[retry(attempt_timeout = "1s", on = ["timeout", "connect"])]
async fn t() -> std::io::Result<()> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn smoke() {
    let mut v = vec![];
    assert_eq!(f("ab", "cd".into(), &mut v).await.unwrap(), 4);
    assert_eq!(v.len(), 3);
    let mut s = S { n: 0 };
    assert_eq!(s.m((1, 2)).await.unwrap(), 5);
    assert!(s.s().is_err());
    t().await.unwrap();
    let h = tokio::spawn(async {
        let mut v = vec![];
        f("a", "b".into(), &mut v).await
    });
    h.await.unwrap().unwrap();
}
