//! Writing results, and reading back a previous run's output to resume it.

use std::io::SeekFrom;
use std::path::Path;

use serde_json::{Value, json};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use super::ids::IdSet;

/// The ids a previous run already wrote (a `response` or an `error` line each), so a re-run
/// skips them. A missing file is an empty set; a torn last line (the run was killed
/// mid-write) is ignored, and its id runs again.
pub(crate) async fn done_ids(path: &Path) -> std::io::Result<IdSet> {
    let file = match File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IdSet::default()),
        Err(e) => return Err(e),
    };
    let mut ids = IdSet::default();
    let mut lines = BufReader::new(file).lines();
    while let Some(line) = lines.next_line().await? {
        if let Ok(value) = serde_json::from_str::<Value>(&line)
            && let Some(Value::String(id)) = value.get("custom_id")
        {
            ids.insert(id);
        }
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
}

impl Writer {
    /// Opens `path` for appending (creating it), first ending a torn last line with a newline
    /// so the next record starts on a line of its own.
    pub(crate) async fn open(path: &Path) -> std::io::Result<Writer> {
        let torn = ends_torn(path).await?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        let mut writer = Writer {
            file: BufWriter::new(file),
        };
        if torn {
            writer.file.write_all(b"\n").await?;
        }
        Ok(writer)
    }

    /// Writes `{"custom_id", "response"}`.
    pub(crate) async fn response(
        &mut self,
        custom_id: &str,
        response: Value,
    ) -> std::io::Result<()> {
        self.line(json!({ "custom_id": custom_id, "response": response }))
            .await
    }

    /// Writes `{"custom_id", "error": {"message", ...}}`.
    pub(crate) async fn error(&mut self, custom_id: &str, error: Value) -> std::io::Result<()> {
        self.line(json!({ "custom_id": custom_id, "error": error }))
            .await
    }

    async fn line(&mut self, value: Value) -> std::io::Result<()> {
        let mut text = value.to_string();
        text.push('\n');
        self.file.write_all(text.as_bytes()).await?;
        self.file.flush().await
    }
}
