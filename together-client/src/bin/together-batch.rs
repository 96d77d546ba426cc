//! `together-batch`: runs a Together chat batch file (JSONL) with retries, client-side rate
//! limiting, resume and retry of failed lines. `together-batch --help` for the flags and the
//! exit codes; see `together_client::batch::cli`.

fn main() -> std::process::ExitCode {
    together_client::batch::cli::main()
}
