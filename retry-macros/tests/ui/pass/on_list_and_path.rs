//! `on` as a list of classes, and as a path to a predicate.
use retry_core::retry;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

static LIST_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(on = ["timeout", "connect"], initial = "1ms")]
async fn listed() -> io::Result<u32> {
    if LIST_CALLS.fetch_add(1, Ordering::Relaxed) == 0 {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(1)
}

mod checks {
    pub fn is_interrupted(error: &std::io::Error) -> bool {
        error.kind() == std::io::ErrorKind::Interrupted
    }
}

static PATH_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(on = checks::is_interrupted, initial = "1ms")]
async fn by_path() -> io::Result<u32> {
    match PATH_CALLS.fetch_add(1, Ordering::Relaxed) {
        0 => Err(io::ErrorKind::Interrupted.into()),
        1 => Err(io::ErrorKind::NotFound.into()),
        _ => Ok(2),
    }
}

#[derive(Debug)]
struct Plain(bool);

fn plain_is_retryable(error: &Plain) -> bool {
    error.0
}

// A predicate needs no `Classify`.
#[retry(on = plain_is_retryable, attempts = 2, initial = "1ms")]
fn sync_by_path(calls: &mut u32) -> Result<(), Plain> {
    *calls += 1;
    Err(Plain(true))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(listed().await.unwrap(), 1);
    assert_eq!(LIST_CALLS.load(Ordering::Relaxed), 2);
    // NotFound is not interrupted: the second error is final.
    assert_eq!(by_path().await.unwrap_err().kind(), io::ErrorKind::NotFound);
    let mut calls = 0;
    assert!(sync_by_path(&mut calls).is_err());
    assert_eq!(calls, 2);
}
