//! What the batch tests share: input files, the output read back.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

/// `n` lines `{"custom_id": "req-i", "body": {"i": i}}`.
pub fn requests(n: usize) -> String {
    (0..n)
        .map(|i| json!({"custom_id": format!("req-{i}"), "body": {"i": i}}).to_string() + "\n")
        .collect()
}

/// Every line of the output, parsed.
pub fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The output as id -> line, asserting each id appears once.
pub fn output(path: &Path) -> HashMap<String, Value> {
    let mut by_id = HashMap::new();
    for value in lines(path) {
        let id = value["custom_id"].as_str().unwrap().to_owned();
        assert!(
            by_id.insert(id.clone(), value).is_none(),
            "{id} written twice"
        );
    }
    by_id
}

/// The output as id -> its last line (its state).
pub fn states(path: &Path) -> HashMap<String, Value> {
    lines(path)
        .into_iter()
        .map(|value| (value["custom_id"].as_str().unwrap().to_owned(), value))
        .collect()
}
