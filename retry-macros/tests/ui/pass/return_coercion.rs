//! The body's `Ok(..)`/`Err(..)` coerce to the declared return type, as in a plain fn, in
//! sync and async fns alike: `Ok(&self.name)` for `Result<&str, _>`, `Err(Box::new(e))` for
//! `Box<dyn Error>`, and `?` converts into the declared error type.
use retry_core::retry;
use std::error::Error;
use std::fmt;

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
}

impl Named {
    #[retry(on = "any", attempts = 2, initial = "1ms")]
    async fn async_name(&self) -> Result<&str, Broken> {
        if self.name.is_empty() {
            return Err(Broken);
        }
        Ok(&self.name)
    }

    #[retry(on = "any", attempts = 2, initial = "1ms")]
    fn sync_name(&self) -> Result<&str, Broken> {
        Ok(&self.name)
    }
}

#[retry(on = "any", attempts = 2, initial = "1ms")]
async fn async_boxed(fail: bool) -> Result<(), Box<dyn Error + Send + Sync>> {
    if fail {
        return Err(Box::new(Broken));
    }
    let _: u32 = "7".parse()?;
    Err(Box::new(Broken))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let named = Named { name: "n".to_owned() };
    assert_eq!(named.async_name().await.unwrap(), "n");
    assert_eq!(named.sync_name().unwrap(), "n");
    assert_eq!(async_boxed(true).await.unwrap_err().to_string(), "broken");
}
