//! The simulator (`together_client::sim`) as plain HTTP: endpoints, faults, limits and hint
//! dialects, statistics, streaming.
#![cfg(feature = "sim")]

#[path = "../kit/mod.rs"]
mod kit;

mod sim_endpoints;
mod sim_faults;
mod sim_limits;
mod sim_stats;
mod sim_streaming;
