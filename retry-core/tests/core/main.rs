//! retry-core's behaviour through its own API, one module per area: the policy and its
//! backoff, classification, the budget, the deadline, the closure front end, cancellation,
//! the circuit breaker, and what each retry makes visible.
//!
//! Process-wide state: none is installed. `observability` captures events with a thread-local
//! `tracing` subscriber (`set_default`) and counters with a thread-local `metrics` recorder,
//! so the tests that run beside it on other threads neither see nor feed them; the `static`
//! budgets and counters are each used by one test.

#[path = "../support/mod.rs"]
mod support;

mod backoff_bounds;
mod breaker;
mod budget;
#[cfg(feature = "reqwest")]
mod cancellation;
mod classify;
mod deadline;
mod observability;
mod policy_defaults;
mod retry_fn;
