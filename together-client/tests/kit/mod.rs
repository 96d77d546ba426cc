//! The test kit: what more than one test binary of this package uses, defined once. Each
//! binary includes it with `#[path = "../kit/mod.rs"] mod kit;`.
#![allow(dead_code)]

pub mod client;
#[cfg(feature = "sim")]
pub mod on_the_wire;
#[cfg(feature = "sim")]
pub mod sim;

/// The model the simulator's tests ask for.
pub const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";

/// A scratch directory of the test's own (its name, the process's id and a count, so no two
/// tests share one), removed at the end.
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("together-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A batch run's files: a scratch directory, its `in.jsonl` holding `input`, and its
    /// `out.jsonl` (not written yet).
    pub fn batch(
        name: &str,
        input: impl AsRef<[u8]>,
    ) -> (Scratch, std::path::PathBuf, std::path::PathBuf) {
        let dir = Scratch::new(name);
        let (input_path, output) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
        std::fs::write(&input_path, input).unwrap();
        (dir, input_path, output)
    }

    pub fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A reqwest client with no timers of its own: a paused test clock jumps to the next pending
/// timer whenever the runtime idles, so reqwest's 90 s pool-idle timer would skip 90 s of the
/// simulator's clock while a request is on the loopback socket.
pub fn untimed_http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}
