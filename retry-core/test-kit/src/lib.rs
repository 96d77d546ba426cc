//! What the integration tests of `retry-core` and `together-client` share, defined once:
//! where Redis is (or why a test is skipped), a middleware that counts the requests passing
//! through it, and [`innermost!`], which makes a test's in-process server the bottom layer of
//! a middleware stack. Each crate's own kit (`retry-core/tests/support`,
//! `together-client/tests/kit`) holds what only its tests use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use http::Extensions;
    pub use reqwest::{Request, Response};
    pub use reqwest_middleware::{Middleware, Next, Result};
}

/// Says that a test is skipped, past the test harness's capture (shown even when it passes).
pub fn skipped(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// `REDIS_URL`, or `None` after saying clearly that the test is skipped.
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skipped(&format!(
                "SKIPPED {test}: REDIS_URL is not set (run `REDIS_URL=redis://127.0.0.1:6379 \
                 cargo test --workspace --all-features` with a redis-server running; CI starts one)"
            ));
            None
        }
    }
}

/// Counts the requests that pass through it: inside a retry layer it counts attempts, at the
/// bottom of a stack the requests that reach the network (connection attempts included).
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicU32>);

impl Counter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Middleware for Counter {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        next.run(req, extensions).await
    }
}

/// Makes `$server` the innermost middleware of a stack, an in-process server that answers
/// every request itself (no network, on tokio's clock): `innermost!(Server => answer)`
/// implements `Middleware` for `Server` with its inherent
/// `async fn answer(&self, req: reqwest::Request) -> http::Response<String>`; the rest of the
/// stack is never called.
#[macro_export]
macro_rules! innermost {
    ($server:ty => $answer:ident) => {
        #[$crate::__private::async_trait]
        impl $crate::__private::Middleware for $server {
            async fn handle(
                &self,
                req: $crate::__private::Request,
                _: &mut $crate::__private::Extensions,
                _: $crate::__private::Next<'_>,
            ) -> $crate::__private::Result<$crate::__private::Response> {
                Ok($crate::__private::Response::from(self.$answer(req).await))
            }
        }
    };
}
