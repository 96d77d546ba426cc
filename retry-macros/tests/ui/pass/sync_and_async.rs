//! The same body, sync and async; a sync fn sleeps between attempts.
use retry_core::retry;
use std::io;

#[retry(on = "connect", attempts = 3, initial = "1ms")]
fn sync(calls: &mut u32) -> io::Result<u32> {
    *calls += 1;
    if *calls < 3 {
        return Err(io::ErrorKind::ConnectionRefused.into());
    }
    Ok(*calls)
}

#[retry(on = "connect", attempts = 3, initial = "1ms")]
async fn asynchronous(calls: &mut u32) -> io::Result<u32> {
    *calls += 1;
    if *calls < 3 {
        return Err(io::ErrorKind::ConnectionRefused.into());
    }
    Ok(*calls)
}

// The future stays `Send` when the body's is.
fn assert_send<T: Send>(_: &T) {}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut calls = 0;
    assert_eq!(sync(&mut calls).unwrap(), 3);
    let mut calls = 0;
    let future = asynchronous(&mut calls);
    assert_send(&future);
    assert_eq!(future.await.unwrap(), 3);
}
