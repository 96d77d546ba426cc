//! Processes sharing one rate limit through Redis (needs `REDIS_URL`; skipped without it):
//! a fleet of workers, and workers whose clocks are skewed.

#[cfg(all(feature = "sim", feature = "redis"))]
#[path = "../kit/mod.rs"]
mod kit;
#[cfg(all(feature = "sim", feature = "redis"))]
mod redis_fleet;
#[cfg(all(feature = "sim", feature = "redis"))]
mod redis_skew;
#[cfg(all(feature = "sim", feature = "redis"))]
mod redis_support;
