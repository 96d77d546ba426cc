//! Runnable examples of `retry-core` and `together-client`: see `examples/` and run one with `cargo run --example NAME`.
