//! A body's `Ok(..)`/`Err(..)` coerce to the declared return type, as in a plain fn:
//! `Ok(&self.name)` for `Result<&str, _>`, `Err(Box::new(e))` for `Box<dyn Error>`.
//!
//! The expansion runs an async body inside an `async` block, whose output type would come from
//! the body alone; `retry-macros/src/returns.rs` types each returned value so that it coerces
//! as it would in the fn itself. These cases pin that down, async and sync.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::Fail;
use retry_core::{Class, retry};

#[derive(Debug)]
struct Broken;

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broken")
    }
}

impl Error for Broken {}

struct Named {
    name: String,
    calls: AtomicU32,
}

impl Named {
    #[retry(attempts = 2, initial = "1ms")]
    fn sync_name(&self) -> Result<&str, Fail> {
        if self.calls.fetch_add(1, Ordering::Relaxed) == 0 {
            return Err(Fail::new(Class::Connect, 1));
        }
        Ok(&self.name)
    }

    #[retry(attempts = 2, initial = "1ms")]
    async fn async_name(&self) -> Result<&str, Fail> {
        if self.calls.fetch_add(1, Ordering::Relaxed) == 0 {
            return Err(Fail::new(Class::Connect, 1));
        }
        Ok(&self.name)
    }
}

#[retry(on = "any", attempts = 2, initial = "1ms")]
fn sync_boxed(calls: &AtomicU32) -> Result<(), Box<dyn Error + Send + Sync>> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Box::new(Broken))
}

#[retry(on = "any", attempts = 2, initial = "1ms")]
async fn async_boxed(calls: &AtomicU32) -> Result<(), Box<dyn Error + Send + Sync>> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Box::new(Broken))
}

#[test]
fn sync_bodies_coerce_to_the_return_type() {
    let named = Named {
        name: "n".to_owned(),
        calls: AtomicU32::new(0),
    };
    assert_eq!(named.sync_name(), Ok("n"));
    let calls = AtomicU32::new(0);
    assert_eq!(sync_boxed(&calls).unwrap_err().to_string(), "broken");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn async_bodies_coerce_to_the_return_type() {
    let named = Named {
        name: "n".to_owned(),
        calls: AtomicU32::new(0),
    };
    assert_eq!(named.async_name().await, Ok("n"));
    let calls = AtomicU32::new(0);
    assert_eq!(async_boxed(&calls).await.unwrap_err().to_string(), "broken");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}
