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
    let cols = (0..COLUMNS.len())
        .filter(|&k| !drop.contains(&COLUMNS[k]))
        .map(|k| column(t, lo..hi, k))
        .collect();
    DataFrame::new(hi - lo, cols)
}

/// Column `k` of the contract (see [`COLUMNS`]) for rows `r`.
fn column(t: &CleanTable, r: std::ops::Range<usize>, k: usize) -> Column {
    let name = COLUMNS[k].into();
    // a row's text made in a reused buffer, copied into the column
    let texts = |push: &dyn Fn(&mut String, usize)| {
        let mut b = StringChunkedBuilder::new(COLUMNS[k].into(), r.len());
        let mut s = String::new();
        for i in r.clone() {
            s.clear();
            push(&mut s, i);
            b.append_value(&s);
        }
        b.finish().into_column()
    };
    match k {
        0 => Column::new(name, &r.map(|i| t.reporter(i)).collect::<Vec<_>>()),
        1 => Column::new(name, &r.map(|i| t.partner(i)).collect::<Vec<_>>()),
        2 => Column::new(name, &r.map(|i| t.flow(i)).collect::<Vec<_>>()),
        3 => Column::new(name, &t.year.slice(r)),
        4 => Column::new(
            name,
            &r.map(|i| t.month.get(i).map(|m| m as i8))
                .collect::<Vec<_>>(),
        ),
        5 => Column::new(name, &r.map(|i| t.commodity(i)).collect::<Vec<_>>()),
        6 => Column::new(name, &r.map(|i| t.value_usd(i)).collect::<Vec<_>>()),
        7 => Column::new(name, &r.map(|i| t.source(i)).collect::<Vec<_>>()),
        8 => texts(&|s, i| t.provenance.push_source_ref(s, t.place.get(i))),
        9 => texts(&|s, i| crate::model::flags::push_names(s, t.flags[i])),
        _ => Column::new(name, &r.map(|i| t.millions(i)).collect::<Vec<_>>()),
    }
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
) -> Result<(String, u64), Box<dyn std::error::Error>> {
    // through a buffer: the Parquet writer writes each thrift field of the page headers
    // and statistics (a few bytes, or one `source_ref` text) by itself, 27,000 writes to
    // the file for a million rows unbuffered
    let mut file = super::HashedFile::buffered(path)?;
    ParquetWriter::new(&mut file)
        .with_compression(COMPRESSION)
        .with_statistics(StatisticsOptions::default())
        .with_key_value_metadata(meta)
        .finish(df)?;
    Ok(super::HashedFile::finish_buffered(file)?)
}

/// Writes `trade.parquet` and says its sha256 (hex) and size, hashed as it is written.
pub fn write(
    path: &Path,
    rows: super::Rows<'_>,
    manifest: &serde_json::Value,
) -> Result<(String, u64), Box<dyn std::error::Error>> {
    write_table(path, rows, &[], manifest, Tuning::Tuned)
}

/// Row groups encoded and compressed at most at a time, on every core, ahead of the one
/// the writer appends next: bounds what is held to a few batches' texts and pages.
const WINDOW: usize = 4;

/// The table in batches of [`BATCH`] rows, each a row group. polars' batched writer
/// compresses the pages on the thread that writes the file; here each batch's frame is
/// built, encoded and compressed on a core of its own, up to [`WINDOW`] of them ahead of
/// the writer, which only appends the finished pages, in order, and hands out the next
/// batch as each is appended (no wait for a window's last batch while a core idles). Same
/// encodings, statistics and compression level as the batched writer's: with
/// [`Tuning::AsPolars`] the very bytes it writes.
fn write_table(
    path: &Path,
    rows: super::Rows<'_>,
    without: &[&str],
    manifest: &serde_json::Value,
    tuning: Tuning,
) -> Result<(String, u64), Box<dyn std::error::Error>> {
    use polars_parquet::write::{Version, WriteOptions};
    let schema = frame(&rows.head(), 0, 0, without)?.schema().clone();
    let mut file = super::HashedFile::buffered(path)?;
    let mut w = ParquetWriter::new(&mut file)
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
    let group = |&lo: &usize| -> Result<RowGroup, String> {
        let hi = (lo + BATCH).min(rows.len());
        let (t, r) = rows.part(lo..hi).map_err(|e| e.to_string())?;
        let arrays = batch_arrays(&t, r.start, r.end, without).map_err(|e| e.to_string())?;
        encode(&arrays, hi - lo, &fields, &encodings, options, tuning).map_err(|e| e.to_string())
    };
    let starts: Vec<usize> = (0..rows.len()).step_by(BATCH).collect();
    in_order_ahead(&starts, WINDOW, group, |g: Result<RowGroup, String>| {
        let (rows, pages) = g?;
        w.write_row_group(rows, &pages)
            .map_err(|e| e.to_string().into())
    })?;
    w.finish()?;
    drop(w);
    Ok(super::HashedFile::finish_buffered(file)?)
}

/// `take(make(x))` for each `x` of `items`, in order, each `make` run on the pool's
/// threads up to `ahead` items before the one taken: the taking thread only waits for
/// the next result, never for a group of them. Stops at the first error `take` gives
/// (the items handed out still run to their end, their results dropped). Called on one
/// of the pool's own threads (where waiting would hold a thread the work needs), it runs
/// the items one by one on that thread.
fn in_order_ahead<X: Sync, R: Send>(
    items: &[X],
    ahead: usize,
    make: impl Fn(&X) -> R + Sync,
    mut take: impl FnMut(R) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    if rayon::current_thread_index().is_some() {
        return items.iter().try_for_each(|x| take(make(x)));
    }
    let make = &make;
    rayon::in_place_scope(|scope| {
        let mut waiting = std::collections::VecDeque::new();
        let mut next = items.iter();
        let mut hand_out = |waiting: &mut std::collections::VecDeque<_>| {
            if let Some(x) = next.next() {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                scope.spawn(move |_| {
                    let _ = tx.send(make(x));
                });
                waiting.push_back(rx);
            }
        };
        for _ in 0..ahead.max(1) {
            hand_out(&mut waiting);
        }
        while let Some(rx) = waiting.pop_front() {
            let r = rx
                .recv()
                .map_err(|_| "a Parquet batch's encoding failed".to_string())?;
            hand_out(&mut waiting);
            take(r)?;
        }
        Ok(())
    })
}

/// A row group's rows and each column's compressed pages.
type RowGroup = (u64, Vec<Vec<polars_parquet::write::CompressedPage>>);

/// A column of few distinct texts as the dictionary array polars' cast to a dictionary
/// would make of it (values in first-seen order, u32 keys, no nulls), so its pages are
/// the same bytes. Each row gives a key below `keys_below` (an index into the table its
/// texts come from: countries, commodities, sources; or flag bits) and what its text is
/// made from; the text is made once per distinct key, and equal texts of two keys share
/// one value. A key's dictionary entry is looked up in a table of `keys_below` slots where
/// that is not much more than the rows, else hashed. `None` when more than half the rows
/// are distinct: polars decides those by an estimate of the distinct share (plain beyond
/// 75%), so they are left to it.
fn dictionary<'a, V>(
    rows: impl ExactSizeIterator<Item = (usize, V)>,
    keys_below: usize,
    text: impl Fn(V) -> std::borrow::Cow<'a, str>,
) -> PolarsResult<Option<Box<dyn polars_arrow::array::Array>>> {
    use polars_arrow::array::{DictionaryArray, PrimitiveArray, Utf8ViewArray};
    use polars_arrow::datatypes::{ArrowDataType, IntegerType};
    const UNSEEN: u32 = u32::MAX;
    let n = rows.len();
    let dense = keys_below <= n.max(1024);
    let mut slots: Vec<u32> = if dense {
        vec![UNSEEN; keys_below]
    } else {
        Vec::new()
    };
    let mut by_key: rustc_hash::FxHashMap<usize, u32> = Default::default();
    let mut by_text: rustc_hash::FxHashMap<std::borrow::Cow<'a, str>, u32> = Default::default();
    let mut values: Vec<std::borrow::Cow<'a, str>> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(n);
    for (k, v) in rows {
        let seen = if dense {
            slots[k]
        } else {
            by_key.get(&k).copied().unwrap_or(UNSEEN)
        };
        let key = if seen != UNSEEN {
            seen
        } else {
            if n > 128 && (values.len() + 1) * 2 > n {
                return Ok(None);
            }
            let s = text(v);
            let key = *by_text.entry(s.clone()).or_insert_with(|| {
                values.push(s);
                values.len() as u32 - 1
            });
            if dense {
                slots[k] = key;
            } else {
                by_key.insert(k, key);
            }
            key
        };
        keys.push(key);
    }
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    let values = Utf8ViewArray::from_slice_values(&values).boxed();
    Ok(Some(
        DictionaryArray::<u32>::try_new(dtype, PrimitiveArray::from_vec(keys), values)?.boxed(),
    ))
}

/// Rows `lo..hi` as Arrow arrays in the contract's column order, without the columns
/// named in `drop`: the texts of few distinct values as dictionaries, the rest as
/// [`frame`] makes its columns.
fn batch_arrays(
    t: &CleanTable,
    lo: usize,
    hi: usize,
    drop: &[&str],
) -> PolarsResult<Vec<Box<dyn polars_arrow::array::Array>>> {
    use std::borrow::Cow;
    let r = lo..hi;
    let flag_names = |bits| {
        let mut s = String::new();
        crate::model::flags::push_names(&mut s, bits);
        Cow::Owned(s)
    };
    let mut out = Vec::new();
    for (k, name) in COLUMNS.iter().enumerate() {
        if drop.contains(name) {
            continue;
        }
        let rows = r.clone();
        let array = match k {
            0 => dictionary(
                rows.map(|i| (usize::from(t.reporter[i]), i)),
                t.countries.len(),
                |i| Cow::Borrowed(t.reporter(i)),
            )?,
            1 => dictionary(
                rows.map(|i| (usize::from(t.partner[i]), i)),
                t.countries.len(),
                |i| Cow::Borrowed(t.partner(i)),
            )?,
            2 => dictionary(
                rows.map(|i| (t.flow[i] as usize, i)),
                crate::model::Flow::ALL.len(),
                |i| Cow::Borrowed(t.flow(i)),
            )?,
            5 => dictionary(
                rows.map(|i| (t.commodity.get(i) as usize, i)),
                t.commodities.len(),
                |i| Cow::Borrowed(t.commodity(i)),
            )?,
            7 => dictionary(
                rows.map(|i| (t.provenance.source_of(t.place.get(i)), i)),
                t.provenance.sources.len(),
                |i| Cow::Borrowed(t.source(i)),
            )?,
            9 => dictionary(
                rows.map(|i| (usize::from(t.flags[i]), t.flags[i])),
                1 << crate::model::flags::Flags::BITS,
                flag_names,
            )?,
            _ => None,
        };
        // otherwise the column as polars makes it, to encode as it would
        out.push(match array {
            Some(a) => a,
            None => column(t, r.clone(), k)
                .as_materialized_series()
                .rechunk()
                .to_arrow(0, CompatLevel::newest()),
        });
    }
    Ok(out)
}

/// One batch's columns encoded into pages (dictionary where polars would choose it, or
/// already a dictionary) and compressed.
fn encode(
    arrays: &[Box<dyn polars_arrow::array::Array>],
    rows: usize,
    fields: &[polars_parquet::write::ParquetType],
    encodings: &[Vec<polars_parquet::write::Encoding>],
    options: polars_parquet::write::WriteOptions,
    tuning: Tuning,
) -> Result<RowGroup, Box<dyn std::error::Error>> {
    use polars_parquet::write::array_to_columns;
    let mut pages = Vec::with_capacity(fields.len());
    for ((array, field), encoding) in arrays.iter().zip(fields).zip(encodings) {
        // the tuning is for values; the keys of a column of few texts (short runs of small
        // integers) come out smaller at the level's own parameters, in about the same time
        let keys = matches!(array.dtype(), ArrowDataType::Dictionary(..));
        let tuning = if keys { Tuning::AsPolars } else { tuning };
        for column in array_to_columns(array, field.clone(), options, encoding)? {
            pages.push(
                column
                    .map(|page| compressed(page?, options.compression, tuning))
                    .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?,
            );
        }
    }
    Ok((rows as u64, pages))
}

/// How the pages are compressed with zstd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tuning {
    /// As polars compresses them: the level's own parameters (level 3: the `dfast` match
    /// finder, matches of 5 bytes and more). The tests' reference.
    #[cfg_attr(not(test), allow(dead_code))]
    AsPolars,
    /// The level, with a match finder suited to the clean table's plain columns: the
    /// `fast` strategy with a 2^17-entry hash table, matches of 4 bytes and more, a 256 KB
    /// window. The columns that take the time are numbers (Float64 values, whose bytes
    /// repeat in fours at most) and `source_ref` texts (a long shared beginning, then
    /// digits). On the peers' 1M-row data the three of them compressed 2% smaller in a
    /// third less time than at level 3 (`value_usd` 3.98 -> 4.05 MB, `value_usd_millions`
    /// 5.54 -> 5.64, `source_ref` 2.38 -> 1.97; 226 -> 154 ms on one core; level 1 took
    /// 138 ms for 15% more bytes). Any zstd reader reads the pages: the parameters are
    /// the compressor's choice, not the format's.
    Tuned,
}

thread_local! {
    /// This thread's zstd context, made once and used for every page it compresses.
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// A page compressed as polars-parquet's `compress` does it, byte for byte with
/// [`Tuning::AsPolars`], but with the thread's zstd context: `compress` makes a context (a
/// few MB of tables) for every page and zero-fills a fresh output buffer, and that
/// memory, touched new each time, was an eighth of a million-row run's page faults.
/// Other codecs go to `compress`.
fn compressed(
    page: polars_parquet::write::Page,
    compression: polars_parquet::write::CompressionOptions,
    tuning: Tuning,
) -> Result<polars_parquet::write::CompressedPage, Box<dyn std::error::Error>> {
    use polars_parquet::parquet::page::{CompressedDictPage, DataPageHeader};
    use polars_parquet::parquet::CowBuffer;
    use polars_parquet::write::{CompressedDataPage, CompressedPage, CompressionOptions, Page};
    let CompressionOptions::Zstd(level) = compression else {
        return Ok(polars_parquet::write::compress(
            page,
            Vec::new(),
            compression,
        )?);
    };
    let level = level.map(|l| l.compression_level()).unwrap_or_default();
    // appends `input` compressed to `out`, which has room for the worst case
    let zstd = |input: &[u8], mut out: Vec<u8>| -> std::io::Result<Vec<u8>> {
        out.reserve_exact(zstd::zstd_safe::compress_bound(input.len()));
        ZSTD.with_borrow_mut(|z| {
            if z.is_none() {
                *z = Some(zstd::bulk::Compressor::new(level)?);
            }
            let c = z.as_mut().expect("made above");
            // parameters set before stay set: back to the level's own first
            c.context_mut()
                .reset(zstd::zstd_safe::ResetDirective::Parameters)
                .map_err(|code| std::io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
            c.set_compression_level(level)?;
            if tuning == Tuning::Tuned {
                use zstd::stream::raw::CParameter;
                for p in [
                    CParameter::Strategy(zstd::zstd_safe::Strategy::ZSTD_fast),
                    CParameter::WindowLog(18),
                    CParameter::HashLog(17),
                    CParameter::MinMatch(4),
                ] {
                    c.set_parameter(p)?;
                }
            }
            c.compress_to_buffer(input, &mut out)
        })?;
        Ok(out)
    };
    Ok(match page {
        Page::Data(p) => {
            let buffer = p.buffer();
            let out = match p.header() {
                DataPageHeader::V1(_) => zstd(buffer, Vec::new())?,
                DataPageHeader::V2(h) => {
                    let levels = (h.repetition_levels_byte_length + h.definition_levels_byte_length)
                        as usize;
                    zstd(&buffer[levels..], buffer[..levels].to_vec())?
                }
            };
            let rows = p.num_rows.ok_or("a data page without its row count")?;
            CompressedPage::Data(CompressedDataPage::new(
                p.header().clone(),
                CowBuffer::Owned(out),
                compression.into(),
                buffer.len(),
                p.descriptor.clone(),
                rows,
            ))
        }
        Page::Dict(p) => CompressedPage::Dict(CompressedDictPage::new(
            CowBuffer::Owned(zstd(&p.buffer, Vec::new())?),
            compression.into(),
            p.buffer.len(),
            p.num_values,
            p.is_sorted,
        )),
    })
}

/// A partition's file: its path relative to the output folder, its rows, its sha256 and
/// size.
pub type Partition = (String, usize, super::Written);

/// Writes `<dir>/<name>/col=value/.../part-0.parquet` for each partition; returns each
/// file's path relative to `dir`, its rows, and its sha256 (hex) and size, hashed as it
/// is written. Nothing when `by` is empty.
pub fn write_partitioned(
    dir: &Path,
    name: &str,
    rows: super::Rows<'_>,
    by: &[&str],
    manifest: &serde_json::Value,
) -> Result<Vec<Partition>, Box<dyn std::error::Error>> {
    if by.is_empty() {
        return Ok(Vec::new());
    }
    // every row at once (segments read back whole: a partition's rows are anywhere)
    let (t, r) = rows.part(0..rows.len())?;
    let t = match r {
        r if r == (0..t.len()) => t,
        r => std::borrow::Cow::Owned(t.take(&r.collect::<Vec<_>>())),
    };
    let value = |col: &str, i: usize| -> String {
        match col {
            "reporter" => t.reporter(i).to_string(),
            "partner" => t.partner(i).to_string(),
            "flow" => t.flow(i).to_string(),
            _ => t.year.get(i).to_string(),
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
        let hashed = write_table(
            &path,
            super::Rows::Held(&t.take(&idx)),
            by,
            manifest,
            Tuning::Tuned,
        )?;
        out.push((rel, idx.len(), hashed));
    }
    Ok(out)
}

/// Writes `trade_summary.parquet` and says its sha256 (hex) and size, hashed as it is
/// written.
pub fn write_summary(
    path: &Path,
    rows: &[SummaryRow],
) -> Result<(String, u64), Box<dyn std::error::Error>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, Place, Provenance, RefStyle, SourceInfo, TableInfo};

    /// 3.5 batches: commodities few in the first two, nearly all distinct in the third
    /// (where polars decides against a dictionary), flags, two sources, missing months
    /// and values.
    fn table() -> CleanTable {
        let mut t = CleanTable {
            provenance: Provenance {
                sources: ["a", "b"]
                    .map(|s| SourceInfo {
                        id: s.into(),
                        display: format!("raw/{s}.csv"),
                    })
                    .to_vec(),
                tables: (0..2)
                    .map(|s| TableInfo {
                        source: s,
                        label: "t".into(),
                        style: RefStyle::Line,
                    })
                    .collect(),
            },
            ..Default::default()
        };
        let partners = ["KAZ", "AZE", "UZB", "KGZ", "TKM"];
        let n = BATCH * 3 + BATCH / 2;
        for i in 0..n {
            let r = t.country(if i % 7 == 0 { "AZE" } else { "TUR" });
            let p = t.country(partners[i % 5]);
            t.reporter.push(r);
            t.partner.push(p);
            t.flow.push([Flow::Export, Flow::Import][i % 2]);
            t.year.push(2000 + (i % 25) as i32);
            t.month.push((i % 13 != 0).then_some((i % 12 + 1) as u8));
            let c = if (2 * BATCH..3 * BATCH).contains(&i) {
                i
            } else {
                i % 40
            };
            let id = t.commodities.intern(&format!("{c:06}"));
            t.commodity.push(id);
            t.value
                .push((i % 11 != 0).then(|| rust_decimal::Decimal::new(i as i64 * 37, 2)));
            t.place.push(Place {
                table: (i % 3 == 0) as u32,
                row: i as u32,
                col: 6,
            });
            t.flags.push(if i % 5 == 0 { 1 << 6 | 1 << 9 } else { 0 });
        }
        t
    }

    #[test]
    fn items_are_taken_in_order_with_at_most_so_many_ahead() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let items: Vec<usize> = (0..60).collect();
        for ahead in [1, 3, 4] {
            let (started, taken, most) = (
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            );
            let mut got = Vec::new();
            in_order_ahead(
                &items,
                ahead,
                |&x| {
                    let s = started.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(s - taken.load(SeqCst), SeqCst);
                    // later items often finish first
                    std::thread::sleep(std::time::Duration::from_micros(
                        ((60 - x) % 7 * 150) as u64,
                    ));
                    x * 10
                },
                |r| {
                    got.push(r);
                    taken.fetch_add(1, SeqCst);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(got, items.iter().map(|x| x * 10).collect::<Vec<_>>());
            // handed out and not yet taken: at most `ahead` (counted before the one being
            // taken is marked, so one more)
            assert!(
                most.load(SeqCst) <= ahead + 1,
                "{} ahead of {ahead}",
                most.load(SeqCst)
            );
        }
        // the first error stops the taking; what was handed out still ends
        let mut taken = Vec::new();
        let e = in_order_ahead(
            &items,
            4,
            |&x| x,
            |r| {
                taken.push(r);
                if r == 9 {
                    Err("stop".into())
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "stop");
        assert_eq!(taken, (0..10).collect::<Vec<_>>());
        // on a pool thread: one by one, in order
        let got = rayon::scope(|_| {
            let mut got = Vec::new();
            in_order_ahead(
                &items,
                4,
                |&x| x + 1,
                |r| {
                    got.push(r);
                    Ok(())
                },
            )
            .unwrap();
            got
        });
        assert_eq!(got, (1..61).collect::<Vec<_>>());
    }

    #[test]
    fn row_groups_are_the_bytes_polars_batched_writer_makes() {
        let t = table();
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({"tool_version": "x"});
        let ours = dir.path().join("ours.parquet");
        let (sha256, bytes) = write_table(
            &ours,
            crate::publish::Rows::Held(&t),
            &[],
            &manifest,
            Tuning::AsPolars,
        )
        .unwrap();
        // hashed as written: what the file holds
        assert_eq!(
            (sha256, bytes),
            crate::config::sha256_file(&ours).unwrap(),
            "the hash and size said of the file"
        );
        let theirs = dir.path().join("theirs.parquet");
        let schema = frame(&t, 0, 0, &[]).unwrap().schema().clone();
        let mut w = ParquetWriter::new(std::fs::File::create(&theirs).unwrap())
            .with_compression(COMPRESSION)
            .with_statistics(StatisticsOptions::default())
            .with_key_value_metadata(metadata(&manifest))
            .batched(&schema)
            .unwrap();
        for lo in (0..t.len()).step_by(BATCH) {
            let mut df = frame(&t, lo, (lo + BATCH).min(t.len()), &[]).unwrap();
            df.rechunk_mut();
            w.write_batch(&df).unwrap();
        }
        w.finish().unwrap();
        let (a, b) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
        );
        assert!(a.len() > 100_000);
        assert!(a == b, "{} and {} bytes differ", a.len(), b.len());
    }

    #[test]
    fn tuned_pages_read_back_as_the_pages_polars_compresses() {
        let t = table();
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({"tool_version": "x"});
        let (tuned, plain) = (
            dir.path().join("tuned.parquet"),
            dir.path().join("plain.parquet"),
        );
        let (sha256, bytes) = write(&tuned, crate::publish::Rows::Held(&t), &manifest).unwrap();
        assert_eq!((sha256, bytes), crate::config::sha256_file(&tuned).unwrap());
        write_table(
            &plain,
            crate::publish::Rows::Held(&t),
            &[],
            &manifest,
            Tuning::AsPolars,
        )
        .unwrap();
        let (a, b) = (
            std::fs::read(&tuned).unwrap(),
            std::fs::read(&plain).unwrap(),
        );
        // the tuning is applied: other compressed bytes
        assert_ne!(a, b);
        // the same frame read back, column by column, nulls included
        let read = |p: &Path| {
            ParquetReader::new(std::fs::File::open(p).unwrap())
                .finish()
                .unwrap()
        };
        let (x, y) = (read(&tuned), read(&plain));
        assert_eq!(x.height(), t.len());
        assert!(x.equals_missing(&y));
        // and the same row groups, encodings and statistics
        let meta = |p: &Path| {
            let mut r = ParquetReader::new(std::fs::File::open(p).unwrap());
            let m = r.get_metadata().unwrap().clone();
            m.row_groups
                .iter()
                .map(|g| {
                    g.parquet_columns()
                        .iter()
                        .map(|c| {
                            let stats = c.statistics(&m.footer_buf).map(|s| format!("{s:?}"));
                            (g.num_rows(), c.num_values(), c.uncompressed_size(), stats)
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(meta(&tuned), meta(&plain));
    }
}
