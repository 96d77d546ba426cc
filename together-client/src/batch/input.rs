//! Reading a batch file: one `{"custom_id": "...", "body": {...}}` object a line.

use serde_json::Value;

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
