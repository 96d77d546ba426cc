//! Owned arguments: cloned for each attempt but the last, destructured, `mut`, ignored.
use retry_core::retry;
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[retry(on = "any", attempts = 3, initial = "1ms")]
async fn consume(
    Point { x, y }: Point,
    (label, mut tags): (String, Vec<String>),
    mut buffer: Vec<u8>,
    _: u64,
    calls: &mut u32,
) -> Result<String, String> {
    *calls += 1;
    tags.push(label);
    buffer.push(1);
    if *calls < 3 {
        // Each attempt starts from a fresh clone.
        return Err(format!("{} tags, {} bytes", tags.len(), buffer.len()));
    }
    Ok(format!("{x},{y} {tags:?} {}", buffer.len()))
}

#[retry(on = "any", initial = "1ms")]
fn sync_owned(text: String, [first, ..]: [u8; 3]) -> Result<String, String> {
    Ok(format!("{text}{first}"))
}

// Owned types with elided lifetimes, trait objects and `impl Trait` are cloned too.
#[retry(on = "any", initial = "1ms")]
fn awkward_types(
    name: Cow<'_, str>,
    make: Arc<dyn Fn() -> u32 + Send + Sync>,
    pair: (impl Clone + Into<u64>, u8),
    f: fn(u32) -> u32,
) -> Result<u64, ()> {
    Ok(name.len() as u64 + u64::from(f(make())) + pair.0.into() + u64::from(pair.1))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut calls = 0;
    let point = Point { x: 1, y: 2 };
    let out = consume(point, ("l".into(), vec![]), vec![0], 9, &mut calls).await;
    assert_eq!(out.unwrap(), "1,2 [\"l\"] 2");
    assert_eq!(sync_owned("a".into(), [7, 8, 9]).unwrap(), "a7");
    let make = Arc::new(|| 1);
    assert_eq!(awkward_types("ab".into(), make, (3u8, 4), |x| x * 10).unwrap(), 19);
}
