//! `on = "any"` retries every error, so its type needs no `Classify` (nor `Debug`).
use retry_core::retry;

struct Opaque(u32);

#[retry(on = "any", attempts = 3, initial = "1ms")]
async fn flaky(calls: &mut u32) -> Result<u32, Opaque> {
    *calls += 1;
    if *calls < 3 {
        return Err(Opaque(*calls));
    }
    Ok(*calls)
}

#[retry(on = "any", attempts = 2, initial = "1ms")]
fn always_fails() -> Result<(), Opaque> {
    Err(Opaque(0))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut calls = 0;
    assert_eq!(flaky(&mut calls).await.ok(), Some(3));
    assert_eq!(always_fails().err().map(|e| e.0), Some(0));
}
