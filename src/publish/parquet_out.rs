//! `trade.parquet`, `trade_summary.parquet` and the optional hive-partitioned `trade/`
//! dataset: typed columns (Int32 year, Int8 month, Float64 value), zstd, min, max and null-count statistics (no distinct counts, which cost a hash set per column and few readers use),
//! and the tool version, config hash and inputs hash in the key-value metadata (nothing
//! that changes between two runs on the same inputs, so the bytes are reproducible).

use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

use super::{CleanTable, COLUMNS, SUMMARY_COLUMNS};
use crate::summarize::SummaryRow;

/// Rows `lo..hi` of the clean table as a polars DataFrame, in the contract's column
/// order, without the columns named in `drop` (a partition's columns live in its path).
pub fn frame(t: &CleanTable, lo: usize, hi: usize, drop: &[&str]) -> PolarsResult<DataFrame> {
    let r = lo..hi;
    let month: Vec<Option<i8>> = t.month[r.clone()]
        .iter()
        .map(|m| m.map(|m| m as i8))
        .collect();
    let commodity: Vec<&str> = r.clone().map(|i| t.commodity(i)).collect();
    let value: Vec<Option<f64>> = r.clone().map(|i| t.value_usd(i)).collect();
    let source: Vec<&str> = r.clone().map(|i| t.source(i)).collect();
    // the texts of each row made in reused buffers, copied into the columns
    let mut source_ref = StringChunkedBuilder::new(COLUMNS[8].into(), hi - lo);
    let mut flags = StringChunkedBuilder::new(COLUMNS[9].into(), hi - lo);
    let mut b = super::RowTexts::default();
    for i in r.clone() {
        t.row_texts(i, &mut b);
        source_ref.append_value(&b.source_ref);
        flags.append_value(&b.flags);
    }
    let millions: Vec<Option<f64>> = r.clone().map(|i| t.millions(i)).collect();
    let cols = vec![
        Column::new(COLUMNS[0].into(), &t.reporter[r.clone()]),
        Column::new(COLUMNS[1].into(), &t.partner[r.clone()]),
        Column::new(COLUMNS[2].into(), &t.flow[r.clone()]),
        Column::new(COLUMNS[3].into(), &t.year[r.clone()]),
        Column::new(COLUMNS[4].into(), &month),
        Column::new(COLUMNS[5].into(), &commodity),
        Column::new(COLUMNS[6].into(), &value),
        Column::new(COLUMNS[7].into(), &source),
        source_ref.finish().into_column(),
        flags.finish().into_column(),
        Column::new(COLUMNS[10].into(), &millions),
    ];
    DataFrame::new(
        hi - lo,
        cols.into_iter()
            .filter(|c| !drop.contains(&c.name().as_str()))
            .collect(),
    )
}

/// Rows per batch written: the texts of one batch are built at a time.
const BATCH: usize = 65_536;

fn metadata(manifest: &serde_json::Value) -> Option<KeyValueMetadata> {
    let meta: Vec<(String, String)> = ["tool_version", "config_sha256", "inputs_sha256"]
        .iter()
        .filter_map(|k| {
            manifest
                .get(*k)
                .and_then(|v| v.as_str())
                .map(|v| (format!("tradeflow.{k}"), v.to_string()))
        })
        .collect();
    Some(KeyValueMetadata::from_static(meta))
}

fn write_frame(
    path: &Path,
    df: &mut DataFrame,
    meta: Option<KeyValueMetadata>,
) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::File::create(path)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .with_key_value_metadata(meta)
        .finish(df)?;
    Ok(())
}

pub fn write(
    path: &Path,
    t: &CleanTable,
    manifest: &serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    write_table(path, t, &[], manifest)
}

/// The table in batches of [`BATCH`] rows (each a row group), so the texts of only one
/// batch exist at a time.
fn write_table(
    path: &Path,
    t: &CleanTable,
    without: &[&str],
    manifest: &serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    let first = frame(t, 0, t.len().min(BATCH), without)?;
    let file = std::fs::File::create(path)?;
    let mut w = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .with_key_value_metadata(metadata(manifest))
        .batched(first.schema())?;
    w.write_batch(&first)?;
    drop(first);
    let mut lo = BATCH;
    while lo < t.len() {
        let hi = (lo + BATCH).min(t.len());
        w.write_batch(&frame(t, lo, hi, without)?)?;
        lo = hi;
    }
    w.finish()?;
    Ok(())
}

/// Writes `<dir>/<name>/col=value/.../part-0.parquet` for each partition; returns each
/// file's path relative to `dir` and its rows. Nothing when `by` is empty.
pub fn write_partitioned(
    dir: &Path,
    name: &str,
    t: &CleanTable,
    by: &[&str],
    manifest: &serde_json::Value,
) -> Result<Vec<(String, usize)>, Box<dyn std::error::Error>> {
    if by.is_empty() {
        return Ok(Vec::new());
    }
    let value = |col: &str, i: usize| -> String {
        match col {
            "reporter" => t.reporter[i].to_string(),
            "partner" => t.partner[i].to_string(),
            "flow" => t.flow[i].to_string(),
            _ => t.year[i].to_string(),
        }
    };
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for i in 0..t.len() {
        groups
            .entry(by.iter().map(|c| value(c, i)).collect())
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for (key, idx) in groups {
        let rel: String = std::iter::once(name.to_string())
            .chain(by.iter().zip(&key).map(|(c, v)| format!("{c}={v}")))
            .chain(std::iter::once("part-0.parquet".to_string()))
            .collect::<Vec<_>>()
            .join("/");
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_table(&path, &t.take(&idx), by, manifest)?;
        out.push((rel, idx.len()));
    }
    Ok(out)
}

pub fn write_summary(path: &Path, rows: &[SummaryRow]) -> Result<(), Box<dyn std::error::Error>> {
    use rust_decimal::prelude::ToPrimitive;
    let f = |g: fn(&SummaryRow) -> Option<rust_decimal::Decimal>| -> Vec<Option<f64>> {
        rows.iter().map(|r| g(r).and_then(|d| d.to_f64())).collect()
    };
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                SUMMARY_COLUMNS[0].into(),
                rows.iter().map(|r| r.reporter).collect::<Vec<_>>(),
            ),
            Column::new(
                SUMMARY_COLUMNS[1].into(),
                rows.iter().map(|r| r.partner).collect::<Vec<_>>(),
            ),
            Column::new(
                SUMMARY_COLUMNS[2].into(),
                rows.iter().map(|r| r.year).collect::<Vec<_>>(),
            ),
            Column::new(SUMMARY_COLUMNS[3].into(), f(|r| r.exports)),
            Column::new(SUMMARY_COLUMNS[4].into(), f(|r| r.imports)),
            Column::new(SUMMARY_COLUMNS[5].into(), f(|r| r.volume)),
            Column::new(SUMMARY_COLUMNS[6].into(), f(|r| r.balance)),
            Column::new(
                SUMMARY_COLUMNS[7].into(),
                rows.iter().map(|r| r.growth).collect::<Vec<_>>(),
            ),
        ],
    )?;
    write_frame(path, &mut df, None)
}
