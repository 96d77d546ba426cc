//! The limiter shared through Redis (feature `redis`): atomic decisions, expiry and shared
//! state against the Redis at `REDIS_URL`, and an outage of a `redis-server` of the test's own.
//! Each test says it is skipped when what it needs is missing.
#![cfg(feature = "redis")]

#[path = "../support/mod.rs"]
mod support;

mod redis_limit;
mod redis_outage;
