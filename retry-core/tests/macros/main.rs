//! `#[retry]` at run time, one module per concern: the errors it retries (`on`), how often and
//! how long (attempts, timeouts, policies, `on_retry`), the shapes of function it accepts, and
//! how a body's returned values coerce.

#[path = "../support/mod.rs"]
mod support;

mod macro_coercion;
mod macro_on;
mod macro_policy;
mod macro_shapes;
