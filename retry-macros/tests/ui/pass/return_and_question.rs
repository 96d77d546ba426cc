//! `return` and `?` in the body end one attempt, not the whole call.
use retry_core::retry;
use std::io;

fn step(calls: u32) -> io::Result<u32> {
    if calls < 2 {
        Err(io::ErrorKind::ConnectionReset.into())
    } else {
        Ok(calls)
    }
}

#[retry(on = "connect", attempts = 4, initial = "1ms")]
async fn with_question_mark(calls: &mut u32) -> io::Result<u32> {
    *calls += 1;
    let value = step(*calls)?;
    if value == 2 {
        return Ok(value * 10);
    }
    Ok(value)
}

#[retry(on = "connect", attempts = 4, initial = "1ms")]
fn sync_with_return(calls: &mut u32) -> io::Result<u32> {
    *calls += 1;
    if *calls < 3 {
        return Err(io::ErrorKind::ConnectionAborted.into());
    }
    let parsed: u32 = "7".parse().map_err(|_| io::Error::other("bad number"))?;
    Ok(parsed)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut calls = 0;
    assert_eq!(with_question_mark(&mut calls).await.unwrap(), 20);
    let mut calls = 0;
    assert_eq!(sync_with_return(&mut calls).unwrap(), 7);
    assert_eq!(calls, 3);
}
