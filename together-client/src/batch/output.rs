//! Writing results, and reading back a previous run's output to resume it.
//!
//! The output is append-only: a later line for an id replaces what an earlier one said (so
//! `--retry-failed` appends the new outcome of a line rather than editing the file).

use std::io::SeekFrom;
use std::path::Path;

use serde_json::{Value, json};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use super::FileError;
use super::ids::{IdStates, Last};

const READING: &str = "cannot read output file (to resume from it)";
const OPENING: &str = "cannot open output file for appending";
const WRITING: &str = "cannot write to output file";

/// The state of every id a previous run wrote, by its last line. A missing file is an empty
/// set; a torn last line (the run was killed mid-write) is ignored, and its id runs again.
pub(crate) async fn previous(path: &Path) -> Result<IdStates, FileError> {
    let io = |e| FileError::new(READING, path, e);
    let file = match File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IdStates::default()),
        Err(e) => return Err(io(e)),
    };
    let mut ids = IdStates::default();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).await.map_err(io)? > 0 {
        if let Ok(value) = serde_json::from_slice::<Value>(&line)
            && let Some(Value::String(id)) = value.get("custom_id")
        {
            let last = match value.get("error") {
                None => Last::Answered,
                Some(error) if error["retryable"] == true => Last::Retryable,
                Some(_) => Last::Final,
            };
            ids.set(id, last);
        }
        line.clear();
    }
    Ok(ids)
}

/// Whether the file at `path` exists and does not end with a newline (reads one byte).
async fn ends_torn(path: &Path) -> std::io::Result<bool> {
    let mut file = match File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if file.metadata().await?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1)).await?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last).await?;
    Ok(last[0] != b'\n')
}

/// Appends result lines to the output file, one JSON object a line, flushed as they come so
/// a killed run loses at most the lines in flight.
pub(crate) struct Writer {
    file: BufWriter<File>,
    path: std::path::PathBuf,
}

impl Writer {
    /// Opens `path` for appending (creating it), first ending a torn last line with a newline
    /// so the next record starts on a line of its own.
    pub(crate) async fn open(path: &Path) -> Result<Writer, FileError> {
        let io = |e| FileError::new(OPENING, path, e);
        let torn = ends_torn(path).await.map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(io)?;
        let mut writer = Writer {
            file: BufWriter::new(file),
            path: path.to_owned(),
        };
        if torn {
            writer.write(b"\n").await?;
        }
        Ok(writer)
    }

    /// Writes `{"custom_id", "response"}`.
    pub(crate) async fn response(
        &mut self,
        custom_id: &str,
        response: Value,
    ) -> Result<(), FileError> {
        self.line(json!({ "custom_id": custom_id, "response": response }))
            .await
    }

    /// Writes `{"custom_id", "error": {"message", ..., "retryable"}}`.
    pub(crate) async fn error(
        &mut self,
        custom_id: &str,
        mut error: Value,
        retryable: bool,
    ) -> Result<(), FileError> {
        if let Value::Object(fields) = &mut error {
            fields.insert("retryable".into(), Value::Bool(retryable));
        }
        self.line(json!({ "custom_id": custom_id, "error": error }))
            .await
    }

    async fn line(&mut self, value: Value) -> Result<(), FileError> {
        let mut text = value.to_string();
        text.push('\n');
        self.write(text.as_bytes()).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        let io = |e| FileError::new(WRITING, &self.path, e);
        self.file.write_all(bytes).await.map_err(io)?;
        self.file.flush().await.map_err(io)
    }
}
