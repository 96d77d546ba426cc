//! [`Outcome`]: what a run of the command came to, its exit code and its summary.

use super::super::{BatchError, BatchReport, ChatLineError, DryRun};

/// How a run ended: the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every line of the input is answered (or the dry run read the file): exit 0.
    Complete,
    /// The run finished, with lines that are not answered (failed, invalid, or waiting for
    /// `--retry-failed`): exit 2.
    Failures,
    /// The run stopped: the server unreachable, a fatal error, a file error: exit 1.
    Stopped,
}

impl Status {
    /// The exit code: 0, 2 or 1.
    pub fn code(self) -> u8 {
        match self {
            Status::Complete => 0,
            Status::Failures => 2,
            Status::Stopped => 1,
        }
    }
}

/// What a run of the command came to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// What the batch run did, if it ran.
    pub report: Option<BatchReport>,
    /// What the dry run found, if it was one.
    pub dry_run: Option<DryRun>,
    /// The summary (or the error) for stderr. Never holds the API key.
    pub message: String,
}

impl Outcome {
    pub(crate) fn stopped(message: String, report: Option<BatchReport>) -> Outcome {
        Outcome {
            status: Status::Stopped,
            report,
            dry_run: None,
            message: format!("error: {message}"),
        }
    }

    pub(crate) fn of_run(
        result: Result<BatchReport, BatchError<ChatLineError>>,
        rate_limited: u64,
    ) -> Outcome {
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                let report = error.report().copied();
                let mut message = error.to_string();
                if let Some(report) = &report {
                    message.push_str(&format!(
                        "\n{} lines answered and {} failed before the stop",
                        report.succeeded, report.failed
                    ));
                }
                return Outcome::stopped(message, report);
            }
        };
        let mut message = format!(
            "done in {:.1} s: {} answered, {} failed ({} retryable), {} invalid lines, \
             {} already done, {} duplicate ids; {rate_limited} 429s seen",
            report.elapsed.as_secs_f64(),
            report.succeeded,
            report.failed,
            report.retryable,
            report.invalid,
            report.skipped,
            report.duplicates,
        );
        if report.retried > 0 {
            message.push_str(&format!("\n{} failed lines tried again", report.retried));
        }
        let unanswered = report.unanswered();
        let status = if unanswered == 0 {
            Status::Complete
        } else {
            let retryable = report.retryable_unanswered();
            message.push_str(&format!(
                "\n{unanswered} lines not answered: {retryable} retryable, {} final",
                unanswered - retryable
            ));
            if report.waiting > 0 {
                message.push_str(&format!(
                    "\n{} failed lines wait for --retry-failed",
                    report.waiting
                ));
            }
            if retryable > 0 {
                message.push_str("\nrun the same command with --retry-failed to try them again");
            }
            Status::Failures
        };
        Outcome {
            status,
            report: Some(report),
            dry_run: None,
            message,
        }
    }

    pub(crate) fn of_dry_run(found: DryRun, note: &str) -> Outcome {
        let mut message = format!("dry run, nothing sent\n{found}");
        if !note.is_empty() {
            message.push_str(&format!("\n({note})"));
        }
        Outcome {
            status: Status::Complete,
            report: None,
            dry_run: Some(found),
            message,
        }
    }
}
