//! [`Classify`](crate::Classify) for the error types retried most often.

mod chain;
mod io;
mod status;

#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "anyhow")]
mod anyhow;

pub use chain::classify_chain;
