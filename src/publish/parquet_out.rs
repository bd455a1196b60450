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

/// Every Parquet file's compression: zstd at its default level.
const COMPRESSION: ParquetCompression = ParquetCompression::Zstd(None);

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
        .with_compression(COMPRESSION)
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

/// Row groups encoded and compressed at a time, on every core, before they are
/// written in order: bounds what is held to a few batches' texts and pages.
const WINDOW: usize = 4;

/// The table in batches of [`BATCH`] rows, each a row group. polars' batched writer
/// compresses the pages on the thread that writes the file; here each batch's frame is
/// built, encoded and compressed on a core of its own ([`WINDOW`] batches at a time),
/// and the writer only appends the finished pages, in order. Same encodings, statistics
/// and compression as the batched writer's, so the bytes are the same.
fn write_table(
    path: &Path,
    t: &CleanTable,
    without: &[&str],
    manifest: &serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    use polars_parquet::write::{Version, WriteOptions};
    use rayon::prelude::*;
    let schema = frame(t, 0, 0, without)?.schema().clone();
    let file = std::fs::File::create(path)?;
    let mut w = ParquetWriter::new(file)
        .with_compression(COMPRESSION)
        .with_statistics(StatisticsOptions::default())
        .with_key_value_metadata(metadata(manifest))
        .batched(&schema)?;
    let fields = w.parquet_schema().fields().to_vec();
    let mut encodings: Vec<Vec<polars_parquet::write::Encoding>> =
        polars::io::parquet::write::get_encodings(&schema.to_arrow(CompatLevel::newest())).to_vec();
    // source_ref differs on every row: polars would estimate its cardinality on every
    // batch only to find a dictionary not worth it (beyond 75% distinct) and write it
    // plain; it is written plain from the start
    if let Some(at) = schema.index_of(COLUMNS[8]) {
        encodings[at] = vec![polars_parquet::write::Encoding::Plain];
    }
    // what the batched writer would encode and compress with
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: COMPRESSION.into(),
        data_page_size: None,
    };
    let starts: Vec<usize> = (0..t.len()).step_by(BATCH).collect();
    for window in starts.chunks(WINDOW) {
        let groups: Vec<Result<RowGroup, String>> = window
            .par_iter()
            .map(|&lo| {
                let mut df =
                    frame(t, lo, (lo + BATCH).min(t.len()), without).map_err(|e| e.to_string())?;
                // one record batch per row group
                df.rechunk_mut();
                encode(&df, &fields, &encodings, options).map_err(|e| e.to_string())
            })
            .collect();
        for g in groups {
            let (rows, pages) = g?;
            w.write_row_group(rows, &pages)?;
        }
    }
    w.finish()?;
    Ok(())
}

/// A row group's rows and each column's compressed pages.
type RowGroup = (u64, Vec<Vec<polars_parquet::write::CompressedPage>>);

/// One batch's columns (each in one chunk) encoded into pages (dictionary where polars
/// would choose it) and compressed.
fn encode(
    df: &DataFrame,
    fields: &[polars_parquet::write::ParquetType],
    encodings: &[Vec<polars_parquet::write::Encoding>],
    options: polars_parquet::write::WriteOptions,
) -> Result<RowGroup, Box<dyn std::error::Error>> {
    use polars_parquet::write::{array_to_columns, compress};
    let mut pages = Vec::with_capacity(fields.len());
    for chunk in df.iter_chunks(CompatLevel::newest(), false) {
        for ((array, field), encoding) in chunk.columns().iter().zip(fields).zip(encodings) {
            for column in array_to_columns(array, field.clone(), options, encoding)? {
                pages.push(
                    column
                        .map(|page| Ok(compress(page?, Vec::new(), options.compression)?))
                        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?,
                );
            }
        }
    }
    Ok((df.height() as u64, pages))
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
    let f = |g: fn(&SummaryRow) -> Option<rust_decimal::Decimal>| -> Vec<Option<f64>> {
        rows.iter()
            .map(|r| g(r).map(|d| tradeflow_kernels::decimal::to_f64(d, 0)))
            .collect()
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
