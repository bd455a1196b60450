//! Ingest: files become tables, tables become raw figures. Knows formats and layouts,
//! nothing about money: values stay as the file holds them (a number cell or a text).
//!
//! One file per format (`markdown`, `spreadsheet`, `delimited`), one table finder for cell
//! grids (`grid`), and one layout reader (`layout`) shared by every format, so a table
//! means the same whether it arrived as xlsx, CSV or Markdown.

pub mod comtrade;
pub mod delimited;
pub mod fetch;
pub mod grid;
pub mod html;
pub mod json;
pub mod layout;
pub mod markdown;
pub mod spreadsheet;

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::config::{Location, Source};
use crate::error::{Error, Result};
use crate::model::{Provenance, RawFigures, RefStyle, SourceInfo, TableInfo};

/// A cell as a file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            Cell::Number(_) => false,
        }
    }

    /// The cell as text: numbers in their shortest form (`2016`, `1.18`).
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.trim().to_string(),
            // a whole number (a year, a month, a code) without the float formatter
            Cell::Number(x)
                if x.fract() == 0.0 && x.abs() < 1e15 && !(*x == 0.0 && x.is_sign_negative()) =>
            {
                itoa::Buffer::new().format(*x as i64).to_string()
            }
            Cell::Number(x) => format!("{x}"),
        }
    }
}

/// A row of a table with its 0-based position in the file (sheet row or text line).
#[derive(Debug, Clone)]
pub struct Row {
    pub pos: u32,
    pub cells: Vec<Cell>,
}

/// A table found in a file: its title lines, header, data rows and notes.
#[derive(Debug, Clone)]
pub struct Table {
    /// Sheet name or caption label, as shown in `source_ref` (`Kazakhstan`, `Table 2`).
    pub label: String,
    pub style: RefStyle,
    /// The sheet the table is on, if any.
    pub sheet: Option<String>,
    /// Title and caption lines above the header.
    pub titles: Vec<String>,
    pub header: Row,
    pub rows: Vec<Row>,
    /// Footer lines: `Source: ...`, `Note: ...`.
    pub notes: Vec<String>,
    /// Columns where the first data column starts (0 for text tables).
    pub col_offset: u32,
    /// Rows of the table that continue it after a page break.
    pub continued_at: Vec<u32>,
}

/// What ingest found in one source: its tables and how each was read.
#[derive(Debug, Clone)]
pub struct SourceRead {
    pub sha256: String,
    pub bytes: u64,
    pub tables: Vec<layout::TableReading>,
}

/// `str::trim`, without decoding characters when the text starts and ends with a visible
/// ASCII character, as nearly every field of a data file does: such a text has no
/// whitespace to trim at either end.
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Reads one source into tables and appends its raw figures.
///
/// # Errors
/// [`Error::Source`] naming the source and why it could not be read.
pub fn read_source(
    src: &Source,
    local: &Path,
    prov: &mut Provenance,
    out: &mut RawFigures,
) -> Result<SourceRead> {
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let bytes = std::fs::read(local).map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.is_empty() {
        return Err(fail("the file is empty (0 bytes)".into()));
    }
    // the file's sha256 on the other core while this one reads it
    std::thread::scope(|scope| {
        let sha256 = scope.spawn(|| crate::config::hex(&Sha256::digest(&bytes)));
        let read = read_figures(src, &bytes, local, prov, out);
        let sha256 = sha256
            .join()
            .map_err(|_| fail("hashing the file failed".into()))?;
        read.map(|tables| SourceRead {
            sha256,
            bytes: bytes.len() as u64,
            tables,
        })
    })
}

/// The figures of a file's tables, into `out`; how each table was read.
fn read_figures(
    src: &Source,
    bytes: &[u8],
    local: &Path,
    prov: &mut Provenance,
    out: &mut RawFigures,
) -> Result<Vec<layout::TableReading>> {
    let source_ix = prov.sources.len() as u16;
    let mut readings = Vec::new();
    let register =
        |t: &Table, prov: &mut Provenance, out: &mut RawFigures| -> (u32, layout::TableReading) {
            let table_ix = prov.tables.len() as u32;
            prov.tables.push(TableInfo {
                source: source_ix,
                label: t.label.clone(),
                style: t.style,
            });
            (table_ix, layout::read_table(t, src, table_ix, out))
        };
    let (tables, stream) = read_tables(src, local, bytes)?;
    prov.sources.push(SourceInfo {
        id: src.id.clone(),
        display: src.display.clone(),
    });
    for (k, t) in tables.iter().enumerate() {
        let (table_ix, mut reading) = register(t, prov, out);
        if let Some((text, tail)) = stream.as_ref().filter(|(_, tl)| tl.table == k) {
            // the rest of a long table: record by record, never held as cells
            let headers: Vec<String> = t.header.cells.iter().map(Cell::text).collect();
            if let Some(reader) = layout::LongReader::new(t, src, table_ix, &headers) {
                let n = delimited::stream(src, text, tail, out, |out, rec, line| {
                    reader.push_record(src, rec, line, out)
                })?;
                reading.data_rows += n;
                reading.figures += n;
            }
        }
        readings.push(reading);
    }
    Ok(readings)
}

/// The format a file holds, from its extension, checked against its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Markdown,
    Spreadsheet,
    Delimited,
    Html,
    Json,
}

fn kind_of(src: &Source, path: &Path, bytes: &[u8]) -> Result<Kind> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let zip = bytes.starts_with(b"PK\x03\x04");
    let cfb = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let looks_html = {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
        head.trim_start().starts_with("<!doctype html") || head.trim_start().starts_with("<html")
    };
    match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "ods" => {
            if cfb {
                return Err(fail("the workbook is encrypted (password-protected); save it without a password".into()));
            }
            if !zip {
                let what = if looks_html { "an HTML page" } else { "not a zip archive" };
                return Err(fail(format!("the extension says .{ext} but the content is {what}")));
            }
            Ok(Kind::Spreadsheet)
        }
        "xls" => {
            if !cfb {
                return Err(fail(format!(
                    "the extension says .xls but the content is {}",
                    if zip { "a zip archive (an .xlsx renamed?)" } else if looks_html { "an HTML page" } else { "not an Excel 97 file" }
                )));
            }
            Ok(Kind::Spreadsheet)
        }
        "md" | "markdown" => Ok(Kind::Markdown),
        "html" | "htm" => Ok(Kind::Html),
        "json" => Ok(Kind::Json),
        "csv" | "tsv" | "txt" | "tab" => {
            if zip || cfb {
                return Err(fail(format!("the extension says .{ext} but the content is a binary (spreadsheet?) file")));
            }
            Ok(Kind::Delimited)
        }
        other => Err(fail(format!(
            "unsupported file type {:?} (supported: .xlsx .xlsm .xlsb .xls .ods .csv .tsv .txt .md .html .htm .json)",
            if other.is_empty() { "(none)" } else { other }
        ))),
    }
}

/// A delimited file's text and where the rest of its long table starts.
/// The text of a CSV file (borrowed from its bytes when they are UTF-8 already) and
/// where its long table's records still to be streamed start.
type Stream<'a> = (std::borrow::Cow<'a, str>, delimited::Tail);

/// The tables of a file; for a long CSV table, also the part still to be streamed.
fn read_tables<'a>(
    src: &Source,
    path: &Path,
    bytes: &'a [u8],
) -> Result<(Vec<Table>, Option<Stream<'a>>)> {
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let text = || {
        delimited::decode_with(bytes, src.encoding)
            .map(|(t, _)| t)
            .map_err(fail)
    };
    let label = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tables, stream) = match kind_of(src, path, bytes)? {
        Kind::Markdown => (markdown::tables(&text()?), None),
        Kind::Spreadsheet => (spreadsheet::tables(src, path)?, None),
        Kind::Delimited => {
            let text = text()?;
            let (tables, tail) = delimited::tables(src, &text)?;
            (tables, tail.map(|t| (text, t)))
        }
        Kind::Html => (html::tables(&text()?), None),
        Kind::Json => (json::tables(&text()?, &label).map_err(fail)?, None),
    };
    if tables.is_empty() {
        return Err(fail(
            "no table found: no header row followed by rows of figures".into(),
        ));
    }
    Ok((tables, stream))
}

/// The local file a source reads: its path, or its cached download.
pub fn local_path(
    src: &Source,
    cache_dir: &Path,
    offline: bool,
    http: &crate::config::HttpOptions,
) -> Result<std::path::PathBuf> {
    match (&src.location, &src.comtrade) {
        (Location::File(p), _) => Ok(p.clone()),
        (Location::Url(u), Some(q)) => comtrade::fetch(src, q, u, cache_dir, offline, http),
        (Location::Url(u), None) => fetch::fetch(src, u, cache_dir, offline, http),
    }
}

#[cfg(test)]
mod text_tests {
    use super::Cell;

    #[test]
    fn whole_numbers_read_as_the_float_formatter_writes_them() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut cases = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            2016.0,
            52.0,
            1e14,
            999_999_999_999_999.0,
            1e15,
            2.5,
            -7.25e-3,
            1e21,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % 2_000_000_000_000_000) as f64 - 1e15);
            cases.push((x % 100_000) as f64);
        }
        for c in cases {
            assert_eq!(Cell::Number(c).text(), format!("{c}"), "{c:e}");
        }
    }
}

#[cfg(test)]
mod trim_tests {
    #[test]
    fn trims_exactly_as_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "82.414",
            " 765820.541 ",
            "\u{a0}12\u{a0}",
            "x\u{3000}",
            "\u{feff}1",
            "Türkiye",
            "Турция ",
            "a b",
        ] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }
}
