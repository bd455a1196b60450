//! `trade.parquet`: typed columns (Int32 year, Int8 month, Float64 value), zstd, with the
//! run id, tool version and config hash in the file's key-value metadata.

use polars::prelude::*;
use std::path::Path;

use super::{CleanTable, COLUMNS};

/// The clean table as a polars DataFrame, in the contract's column order.
pub fn frame(t: &CleanTable) -> PolarsResult<DataFrame> {
    let month: Vec<Option<i8>> = t.month.iter().map(|m| m.map(|m| m as i8)).collect();
    DataFrame::new_infer_height(vec![
        Column::new(COLUMNS[0].into(), &t.reporter),
        Column::new(COLUMNS[1].into(), &t.partner),
        Column::new(COLUMNS[2].into(), &t.flow),
        Column::new(COLUMNS[3].into(), &t.year),
        Column::new(COLUMNS[4].into(), &month),
        Column::new(COLUMNS[5].into(), &t.commodity),
        Column::new(COLUMNS[6].into(), &t.value_usd),
        Column::new(COLUMNS[7].into(), &t.source),
        Column::new(COLUMNS[8].into(), &t.source_ref),
        Column::new(COLUMNS[9].into(), &t.flags),
    ])
}

pub fn write(path: &Path, t: &CleanTable, manifest: &serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
    let mut df = frame(t)?;
    let meta: Vec<(String, String)> = ["run_id", "tool_version", "config_sha256"]
        .iter()
        .filter_map(|k| manifest.get(*k).and_then(|v| v.as_str()).map(|v| (format!("tradeflow.{k}"), v.to_string())))
        .collect();
    let file = std::fs::File::create(path)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(meta)))
        .finish(&mut df)?;
    Ok(())
}
