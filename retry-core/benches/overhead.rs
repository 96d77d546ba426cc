//! The cost of retry machinery on a call that succeeds the first time: a plain async fn, the
//! same fn under `#[retry]`, under `retry_fn`, under backon's `.retry()` and under tokio-retry.
//!
//! Each future is polled once, by hand, with a no-op waker: it completes on that poll, so the
//! figures are the machinery's own cost, with no runtime or scheduler in them.
//!
//! Run: `cargo bench -p retry-core --bench overhead`

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use retry_core::{Policy, RetryOn, retry, retry_fn};

/// Polls a future that is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future should complete on its first poll"),
    }
}

async fn plain(x: u64) -> io::Result<u64> {
    Ok(black_box(x))
}

#[retry]
async fn retried(x: u64) -> io::Result<u64> {
    Ok(black_box(x))
}

const NO_DEADLINE: Policy = Policy::new().no_deadline();

#[retry(policy = NO_DEADLINE)]
async fn retried_no_deadline(x: u64) -> io::Result<u64> {
    Ok(black_box(x))
}

fn plain_sync(x: u64) -> io::Result<u64> {
    Ok(black_box(x))
}

#[retry]
fn retried_sync(x: u64) -> io::Result<u64> {
    Ok(black_box(x))
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("success_path");
    group.bench_function("plain async fn", |b| b.iter(|| ready(plain(black_box(7)))));
    group.bench_function("#[retry] async fn", |b| {
        b.iter(|| ready(retried(black_box(7))))
    });
    group.bench_function("#[retry(policy = no deadline)] async fn", |b| {
        b.iter(|| ready(retried_no_deadline(black_box(7))))
    });
    group.bench_function("retry_fn", |b| {
        b.iter(|| {
            let x = black_box(7);
            ready(retry_fn(
                Policy::default(),
                RetryOn::TRANSIENT,
                || async move { Ok::<_, io::Error>(black_box(x)) },
            ))
        })
    });
    group.bench_function("backon .retry()", |b| {
        b.iter(|| {
            let x = black_box(7);
            let builder = ExponentialBuilder::default()
                .with_jitter()
                .with_min_delay(Duration::from_millis(500))
                .with_max_times(4);
            ready((|| async move { Ok::<_, io::Error>(black_box(x)) }).retry(builder))
        })
    });
    group.bench_function("tokio-retry Retry::start", |b| {
        b.iter(|| {
            let x = black_box(7);
            let strategy = tokio_retry::strategy::ExponentialBackoff::from_millis(2)
                .factor(250)
                .map(tokio_retry::strategy::jitter)
                .take(4);
            ready(tokio_retry::Retry::start(strategy, || async move {
                Ok::<_, io::Error>(black_box(x))
            }))
        })
    });
    group.bench_function("plain sync fn", |b| b.iter(|| plain_sync(black_box(7))));
    group.bench_function("#[retry] sync fn", |b| {
        b.iter(|| retried_sync(black_box(7)))
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
