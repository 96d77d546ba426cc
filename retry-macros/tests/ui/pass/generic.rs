//! Generic functions: type parameters, lifetimes, `where` clauses, `impl Trait` arguments.
use retry_core::{Classify, retry};
use std::fmt::Display;

#[retry(on = "any", initial = "1ms")]
async fn describe<T: Display + Clone>(value: T) -> Result<String, String> {
    Ok(format!("<{value}>"))
}

#[retry(initial = "1ms")]
fn first<'a, E>(items: &'a [u32], error: fn() -> E) -> Result<&'a u32, E>
where
    E: Classify,
{
    items.first().ok_or_else(error)
}

#[retry(on = "any", initial = "1ms")]
async fn length(text: impl AsRef<str> + Clone) -> Result<usize, ()> {
    Ok(text.as_ref().len())
}

#[retry(on = "any", initial = "1ms")]
fn sum<const N: usize>(values: [u32; N]) -> Result<u32, ()> {
    Ok(values.iter().sum())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(describe(5).await.unwrap(), "<5>");
    let error = || std::io::Error::from(std::io::ErrorKind::NotFound);
    assert_eq!(*first(&[4, 5], error).unwrap(), 4);
    assert_eq!(length("four").await.unwrap(), 4);
    assert_eq!(sum([1, 2, 3]).unwrap(), 6);
}
