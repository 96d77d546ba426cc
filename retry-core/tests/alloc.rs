//! The success path of a retried function allocates nothing: a counting global allocator
//! watches an annotated fn succeed on its first attempt, polled by hand without a runtime.
//!
//! A binary of its own: the `#[global_allocator]` is process-wide, and would count (and slow)
//! every other test it shared a process with.

#[path = "support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use retry_core::{Class, Classify, Policy, retry};
use support::Fail;

/// Counts the allocations made on each thread, so that tests running in parallel do not see
/// each other's.
struct Counting;

thread_local! {
    // `const` and without a destructor: touching it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: allocations also happen while a thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns what it returned and how many allocations it made on this thread.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = allocations();
    let value = f();
    (value, allocations() - before)
}

/// Polls `future` to completion with a no-op waker: no runtime, no allocation of our own.
fn poll_to_end<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
    panic!("the future did not finish without a runtime")
}

#[retry]
async fn defaults(input: &str, fail_with: Option<&Fail>) -> Result<usize, Fail> {
    match fail_with {
        Some(e) => Err(e.clone()),
        None => Ok(input.len()),
    }
}

#[retry(on = "any", attempts = 3, initial = "10ms", on_retry = hook)]
async fn any(input: &[u8]) -> Result<u8, Fail> {
    std::future::ready(()).await;
    Ok(input[0])
}

fn hook(_: &retry_core::RetryDetails) {}

fn retryable(e: &Fail) -> bool {
    e.class() != Class::Permanent
}

#[retry(on = retryable, backoff = "decorrelated", deadline = "5s")]
async fn predicate(input: &u64) -> Result<u64, Fail> {
    Ok(*input * 2)
}

#[retry(policy = Policy::linear().attempts(4).initial(Duration::from_millis(5)))]
async fn runtime_policy(input: &u32) -> Result<u32, Fail> {
    Ok(*input + 1)
}

#[retry(policy = Policy::constant(), on = "connect")]
async fn io_runtime_policy(input: &u32) -> std::io::Result<u32> {
    Ok(*input + 2)
}

/// Pending once, then ready: an attempt that waits, which starts the deadline's clock.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[retry(deadline = "1s", attempt_timeout = "1s")]
async fn waits(input: &str) -> Result<usize, std::io::Error> {
    YieldOnce(false).await;
    Ok(input.len())
}

#[retry(deadline = "1s")]
async fn waits_without_timeout(input: &str) -> Result<usize, Fail> {
    YieldOnce(false).await;
    Ok(input.len())
}

#[retry(attempts = 4, initial = "1ms")]
fn sync_fn(input: &str) -> Result<usize, Fail> {
    Ok(input.len())
}

#[test]
fn the_success_path_of_an_async_fn_makes_no_allocation() {
    let (result, n) = allocations_in(|| poll_to_end(defaults("abc", None)));
    assert_eq!(result, Ok(3));
    assert_eq!(n, 0, "default #[retry]");

    let (result, n) = allocations_in(|| poll_to_end(any(b"x")));
    assert_eq!(result, Ok(b'x'));
    assert_eq!(n, 0, "on = \"any\" with a hook");

    let (result, n) = allocations_in(|| poll_to_end(predicate(&21)));
    assert_eq!(result, Ok(42));
    assert_eq!(n, 0, "on = path");

    let (result, n) = allocations_in(|| poll_to_end(runtime_policy(&1)));
    assert_eq!(result, Ok(2));
    assert_eq!(n, 0, "policy = EXPR");

    let (result, n) = allocations_in(|| poll_to_end(io_runtime_policy(&1)));
    assert_eq!(result.unwrap(), 3);
    assert_eq!(
        n, 0,
        "policy = EXPR with an error that converts from Elapsed"
    );

    let (result, n) = allocations_in(|| poll_to_end(waits_without_timeout("abc")));
    assert_eq!(result, Ok(3));
    assert_eq!(n, 0, "an attempt that waits");

    // The counter does count.
    let (_, n) = allocations_in(|| std::hint::black_box(String::from("counted")).len());
    assert_eq!(n, 1, "the allocation counter is broken");
}

#[test]
fn the_success_path_of_a_sync_fn_makes_no_allocation() {
    let (result, n) = allocations_in(|| sync_fn("abcd"));
    assert_eq!(result, Ok(4));
    assert_eq!(n, 0);
}

#[tokio::test(start_paused = true)]
async fn the_success_path_under_a_runtime_makes_no_allocation() {
    // Warm up the runtime's own lazily made state (its timer wheel, the task's context).
    waits("warm").await.unwrap();
    let before = allocations();
    assert_eq!(waits("abc").await.unwrap(), 3);
    assert_eq!(waits_without_timeout("abcd").await, Ok(4));
    assert_eq!(allocations() - before, 0);
}

#[test]
fn repeated_calls_stay_allocation_free() {
    let (_, n) = allocations_in(|| {
        for i in 0..100_u32 {
            assert_eq!(poll_to_end(runtime_policy(&i)), Ok(i + 1));
            assert_eq!(sync_fn("x"), Ok(1));
        }
    });
    assert_eq!(n, 0);
}
