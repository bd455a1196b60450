//! JSON records, the shape agency APIs return: an array of objects, or such an array
//! under a `data` (or `dataset`, `records`, `results`) key. The keys become a header and
//! each object a row; the layout reader then sees a long table.

use serde_json::Value;

use super::{grid, Cell, Row, Table};
use crate::model::RefStyle;

/// The tables of a JSON document.
///
/// # Errors
/// A message when the text is not JSON or holds no array of records.
pub fn tables(text: &str, label: &str) -> Result<Vec<Table>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let records = match &v {
        Value::Array(a) => a,
        Value::Object(o) => ["data", "dataset", "records", "results", "rows"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
            .ok_or_else(|| format!("no array of records (looked at the top level and under data, dataset, records, results, rows; keys here: {})", o.keys().cloned().collect::<Vec<_>>().join(", ")))?,
        _ => return Err("the document is neither an array of records nor an object holding one".into()),
    };
    let mut keys: Vec<String> = Vec::new();
    for r in records {
        if let Value::Object(o) = r {
            for k in o.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    let cell = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Text(n.to_string()), Cell::Number),
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Bool(b)) => Cell::Text(b.to_string()),
        Some(other) => Cell::Text(other.to_string()),
    };
    let mut rows = vec![Row {
        pos: 0,
        cells: keys.iter().map(|k| Cell::Text(k.clone())).collect(),
    }];
    for (i, r) in records.iter().enumerate() {
        let o = r.as_object();
        rows.push(Row {
            pos: i as u32 + 1,
            cells: keys
                .iter()
                .map(|k| cell(o.and_then(|o| o.get(k))))
                .collect(),
        });
    }
    Ok(grid::tables(&rows, label, None, RefStyle::Record))
}
