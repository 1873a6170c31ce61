//! What the golden-trace tests share: reading the traces their scripts recorded.
#![allow(dead_code)] // each test file uses its own part

use serde_json::Value;

/// Numbers, or numbers written as strings (the traces: Rust's parser is correctly
/// rounded, serde_json's default float reader is not always).
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| match x {
            Value::String(s) => s.parse().unwrap(),
            x => x.as_f64().unwrap(),
        })
        .collect()
}
