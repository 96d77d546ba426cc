//! The test kit: what more than one test binary of this package uses, defined once. Each
//! binary includes it with `#[path = "../kit/mod.rs"] mod kit;`.
#![allow(dead_code)]

pub mod client;
#[cfg(feature = "sim")]
pub mod sim;

/// The model the simulator's tests ask for.
pub const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";

/// A reqwest client with no timers of its own: a paused test clock jumps to the next pending
/// timer whenever the runtime idles, so reqwest's 90 s pool-idle timer would skip 90 s of the
/// simulator's clock while a request is on the loopback socket.
pub fn untimed_http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}
