//! Reading a batch file: one `{"custom_id": "...", "body": {...}}` object a line, from a
//! file or, for `-`, from standard input.

use std::path::Path;

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use super::FileError;

/// What failed, for the error message.
const READING: &str = "cannot read input file";

/// The lines of the input, numbered from 1, read as bytes so that a line that is not UTF-8
/// becomes an invalid line rather than an error of the whole run.
pub(crate) struct Reader {
    source: Box<dyn AsyncBufRead + Unpin + Send>,
    path: std::path::PathBuf,
    number: u64,
    buffer: Vec<u8>,
}

impl Reader {
    /// Opens `path` (`-`: standard input).
    pub(crate) async fn open(path: &Path) -> Result<Reader, FileError> {
        let source: Box<dyn AsyncBufRead + Unpin + Send> = if is_stdin(path) {
            Box::new(BufReader::new(tokio::io::stdin()))
        } else {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| FileError::new(READING, path, e))?;
            Box::new(BufReader::new(file))
        };
        Ok(Reader {
            source,
            path: path.to_owned(),
            number: 0,
            buffer: Vec::new(),
        })
    }

    /// The next line's bytes, newline included; `false` at the end.
    async fn next_raw(&mut self) -> Result<bool, FileError> {
        self.buffer.clear();
        let read = self
            .source
            .read_until(b'\n', &mut self.buffer)
            .await
            .map_err(|e| FileError::new(READING, &self.path, e))?;
        self.number += u64::from(read > 0);
        Ok(read > 0)
    }

    /// The next line, parsed; `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Line>, FileError> {
        if !self.next_raw().await? {
            return Ok(None);
        }
        let number = self.number;
        Ok(Some(match std::str::from_utf8(&self.buffer) {
            Ok(text) => parse(number, text.trim_end_matches(['\n', '\r'])),
            Err(_) => Line::Invalid {
                custom_id: line_id(number),
                line: number,
                why: format!("line {number} is not UTF-8"),
            },
        }))
    }
}

/// Whether `path` names standard input.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Non-blank lines of the file, streamed (for the progress bar's length); `None` for
/// standard input, which can be read only once.
pub(crate) async fn count_lines(path: &Path) -> Result<Option<u64>, FileError> {
    if is_stdin(path) {
        return Ok(None);
    }
    let mut reader = Reader::open(path).await?;
    let mut count = 0;
    while reader.next_raw().await? {
        count += u64::from(!reader.buffer.trim_ascii().is_empty());
    }
    Ok(Some(count))
}

/// One line of the input, read.
#[derive(Debug)]
pub(crate) enum Line {
    /// A request to send.
    Request { custom_id: String, body: Value },
    /// A line that is not a request: becomes an error line in the output, never a crash.
    Invalid {
        custom_id: String,
        line: u64,
        why: String,
    },
    /// A blank line: skipped.
    Blank,
}

/// An invalid line: its number, and why.
pub(crate) type Invalid = (u64, String);

impl Line {
    /// The line's `custom_id`, and its body or why it is invalid; `None` for a blank line.
    pub(crate) fn into_parts(self) -> Option<(String, Result<Value, Invalid>)> {
        match self {
            Line::Blank => None,
            Line::Request { custom_id, body } => Some((custom_id, Ok(body))),
            Line::Invalid {
                custom_id,
                line,
                why,
            } => Some((custom_id, Err((line, why)))),
        }
    }
}

/// Parses line `number` (1-based) of the input.
pub(crate) fn parse(number: u64, text: &str) -> Line {
    if text.trim().is_empty() {
        return Line::Blank;
    }
    let invalid = |custom_id: String, why: String| Line::Invalid {
        custom_id,
        line: number,
        why,
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return invalid(line_id(number), format!("line {number} is not JSON: {e}")),
    };
    let custom_id = match value.get("custom_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return invalid(
                line_id(number),
                format!("line {number}: `custom_id` must be a non-empty string"),
            );
        }
        None => return invalid(line_id(number), format!("line {number} has no `custom_id`")),
    };
    match value.get("body") {
        Some(body @ Value::Object(_)) => Line::Request {
            custom_id,
            body: body.clone(),
        },
        Some(_) => invalid(
            custom_id,
            format!("line {number}: `body` must be a JSON object"),
        ),
        None => invalid(custom_id, format!("line {number} has no `body`")),
    }
}

/// The id given to a line whose own id cannot be read.
pub(crate) fn line_id(number: u64) -> String {
    format!("line-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requests_and_explains_bad_lines() {
        assert!(matches!(
            parse(1, r#"{"custom_id":"a","body":{"model":"m"}}"#),
            Line::Request { custom_id, .. } if custom_id == "a"
        ));
        assert!(matches!(parse(2, "   "), Line::Blank));
        let bad = [
            (3, "{not json", "line-3", "not JSON"),
            (4, r#"{"body":{}}"#, "line-4", "no `custom_id`"),
            (5, r#"{"custom_id":"x"}"#, "x", "no `body`"),
            (6, r#"{"custom_id":"y","body":[1]}"#, "y", "JSON object"),
            (7, r#"{"custom_id":"","body":{}}"#, "line-7", "non-empty"),
        ];
        for (number, text, id, fragment) in bad {
            match parse(number, text) {
                Line::Invalid {
                    custom_id,
                    line,
                    why,
                } => {
                    assert_eq!((custom_id.as_str(), line), (id, number));
                    assert!(why.contains(fragment), "{why}");
                }
                other => panic!("line {number} parsed as {other:?}"),
            }
        }
    }
}
