//! A `&mut` argument is reborrowed for each attempt, so the body may move it.
use retry_core::retry;

fn take(buffer: &mut Vec<u8>) {
    buffer.push(0);
}

#[retry(on = "any", attempts = 3, initial = "1ms")]
async fn fill(buffer: &mut Vec<u8>, mut rest: &mut [u8]) -> Result<usize, usize> {
    let moved = buffer; // moves this attempt's reborrow out of `buffer`
    take(moved);
    // A `mut` binding of a `&mut` argument may be reassigned within an attempt.
    rest[0] += 1;
    rest = &mut rest[1..];
    rest[0] += 10;
    if moved.len() < 3 {
        return Err(moved.len());
    }
    Ok(moved.len())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut buffer = Vec::new();
    let mut rest = [0, 0];
    assert_eq!(fill(&mut buffer, &mut rest).await.unwrap(), 3);
    // Each attempt saw the whole slice again.
    assert_eq!(rest, [3, 30]);
}
