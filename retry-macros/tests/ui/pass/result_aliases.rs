//! Any alias of `Result`: `io::Result<T>`, `anyhow::Result<T>`, a crate's own alias.
use retry_core::retry;
use std::io;

#[retry(on = "connect", initial = "1ms")]
async fn io_result() -> io::Result<u8> {
    Ok(1)
}

#[retry(initial = "1ms", attempt_timeout = "1s")]
async fn anyhow_result(calls: &mut u32) -> anyhow::Result<u8> {
    *calls += 1;
    if *calls < 2 {
        // The chain holds an io::Error of a transient kind: retried.
        return Err(anyhow::Error::new(io::Error::from(io::ErrorKind::TimedOut)));
    }
    Ok(2)
}

#[retry(on = "any", initial = "1ms")]
fn anyhow_any() -> anyhow::Result<u8> {
    anyhow::ensure!(true, "never");
    Ok(3)
}

type MyResult<T> = Result<T, String>;

#[retry(on = "any", initial = "1ms")]
fn own_alias() -> MyResult<u8> {
    Ok(4)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(io_result().await.unwrap(), 1);
    let mut calls = 0;
    assert_eq!(anyhow_result(&mut calls).await.unwrap(), 2);
    assert_eq!(calls, 2);
    assert_eq!(anyhow_any().unwrap(), 3);
    assert_eq!(own_alias().unwrap(), 4);
}
