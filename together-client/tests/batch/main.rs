//! Batch runs: the engine (`batch::run_with`), the `together-batch` command's logic against
//! the simulator, and the binary itself as a process.

#[path = "../kit/mod.rs"]
mod kit;

mod batch_engine;
#[cfg(all(feature = "sim", feature = "cli"))]
mod binary;
#[cfg(all(feature = "sim", feature = "cli"))]
mod sim_runs;
mod support;
