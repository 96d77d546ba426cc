//! The simulator (`together_client::sim`) as plain HTTP: endpoints, faults, limits and hint
//! dialects, statistics, streaming.

#[path = "../kit/mod.rs"]
mod kit;

#[cfg(feature = "sim")]
mod sim_endpoints;
#[cfg(feature = "sim")]
mod sim_faults;
#[cfg(feature = "sim")]
mod sim_limits;
#[cfg(feature = "sim")]
mod sim_stats;
#[cfg(feature = "sim")]
mod sim_streaming;
