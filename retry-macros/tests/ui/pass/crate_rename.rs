//! `crate = ...` when retry_core is known by another name.
extern crate retry_core as my_retry;

use my_retry::retry;

#[retry(crate = my_retry, initial = "1ms")]
async fn relative() -> std::io::Result<u32> {
    Ok(1)
}

#[retry(crate = ::my_retry, on = "any", attempt_timeout = "1s")]
async fn absolute() -> std::io::Result<u32> {
    Ok(2)
}

mod inner {
    #[my_retry::retry(crate = ::my_retry)]
    pub fn sync() -> std::io::Result<u32> {
        Ok(3)
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(relative().await.unwrap(), 1);
    assert_eq!(absolute().await.unwrap(), 2);
    assert_eq!(inner::sync().unwrap(), 3);
}
