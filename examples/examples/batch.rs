//! Runs a JSONL batch file (`{"custom_id": "...", "body": {chat request}}` a line) at the best
//! rate the account allows, writing `{"custom_id", "response" | "error"}` lines: the
//! `together-batch` command (`cargo install --path together-client --features cli`), same
//! flags. Re-running with the same output file resumes; `--retry-failed` runs retryable
//! failures again; `--dry-run` says what the file holds and how long it takes; `--rpm` and
//! `--tpm` cap the pace. The key and base URL come from `TOGETHER_API_KEY` and
//! `TOGETHER_BASE_URL`; `--redis-url` (or `TOGETHER_RATE_LIMIT_REDIS`) shares the rate limit
//! with every process on one Redis.
//!
//! Run: `cargo run --release --example batch -- --input requests.jsonl --output results.jsonl`
//!
//! Exit code 0 when every line is answered, 2 when the run finished with failed lines, 1 when
//! it stopped (the server unreachable, a bad key, an unreadable file).

fn main() -> std::process::ExitCode {
    together_client::batch::cli::main()
}
