//! The client and the middleware pair against the simulator end to end: every hint dialect,
//! the server family, every fault through every front end.

#[path = "../kit/mod.rs"]
mod kit;

#[cfg(feature = "sim")]
mod e2e_sim;
#[cfg(feature = "sim")]
mod fault_matrix;
#[cfg(feature = "sim")]
mod fault_support;
#[cfg(feature = "sim")]
mod free_tier;
#[cfg(feature = "sim")]
mod limiter_family;
#[cfg(feature = "sim")]
mod limiter_fleet;
