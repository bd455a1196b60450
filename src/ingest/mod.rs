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
pub mod headers;
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
    /// The decimal mark the file's locale signals say, and which signal: the weakest
    /// evidence for an ambiguous number, after every cell's (see [`locale_hint`]).
    pub decimal_hint: Option<(char, String)>,
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
    let mut read = read_source_tables(src, local, prov, out)?;
    if src.decimal.is_none() {
        read.decimal_hint = locale_hint(src, local, &read.tables);
    }
    Ok(read)
}

/// The decimal mark a file's locale signals point to, with the signal: a `;` between its
/// fields (written where `,` is the decimal mark), a Cyrillic or Turkish code page, or
/// headers and titles in Russian, Kazakh, Kyrgyz or Turkish (all of which write `,`).
/// English headers say nothing: many write English headers over numbers of any locale.
pub fn locale_hint(
    src: &Source,
    local: &Path,
    tables: &[layout::TableReading],
) -> Option<(char, String)> {
    use std::io::Read;
    let ext = local
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "csv" | "tsv" | "txt" | "tab") {
        let mut head = Vec::new();
        if let Ok(f) = std::fs::File::open(local) {
            let _ = f.take(64 << 10).read_to_end(&mut head);
        }
        // whole lines: a UTF-8 text is not cut inside a character
        if head.len() == 64 << 10 {
            if let Some(nl) = memchr::memrchr(b'\n', &head) {
                head.truncate(nl + 1);
            }
        }
        if let Ok((text, encoding)) = delimited::decode_with(&head, src.encoding) {
            if delimited::sniff(&text) == b';' {
                return Some((',', "its fields are separated by `;`".into()));
            }
            if matches!(
                encoding,
                "windows-1251" | "windows-1254" | "IBM866" | "KOI8-R" | "KOI8-U" | "ISO-8859-9"
            ) {
                return Some((',', format!("it is written in {encoding}")));
            }
        }
    }
    let words: String = tables
        .iter()
        .flat_map(|t| t.titles.iter().chain(t.columns.iter().map(|c| &c.header)))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if words
        .chars()
        .any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
    {
        return Some((',', "its headers are in Cyrillic letters".into()));
    }
    if words
        .chars()
        .any(|c| matches!(c, 'ı' | 'İ' | 'ğ' | 'Ğ' | 'ş' | 'Ş'))
    {
        return Some((',', "its headers are in Turkish".into()));
    }
    None
}

fn read_source_tables(
    src: &Source,
    local: &Path,
    prov: &mut Provenance,
    out: &mut RawFigures,
) -> Result<SourceRead> {
    if let Some(read) = stream_source(src, local, true, prov, out)? {
        return Ok(read);
    }
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
            decimal_hint: None,
        })
    })
}

/// Files longer than this may be read in blocks; their first this many bytes say whether
/// they can be (see [`stream_source`]).
const HEAD_BYTES: usize = 1 << 20;

/// A long CSV table typed from its file a block of [`delimited::BLOCK`] bytes at a time,
/// never held whole (at ten million rows the text was half of the ingest's memory): the
/// head's tables are found as for the whole text, then the rest of the table is typed
/// block by block while another thread hashes the file. With `map` the file's pages are
/// mapped and typed where they are, let go behind (see [`map_input`]); without it, or
/// where they cannot be, that thread reads the blocks into memory. Only a file in UTF-8
/// (declared, marked, or found so) whose head makes one long table that runs on past it;
/// anything else, and a file found not to be UTF-8 further on (its figures dropped,
/// `prov` and `out` as they were), is `Ok(None)`: read whole.
fn stream_source(
    src: &Source,
    local: &Path,
    map: bool,
    prov: &mut Provenance,
    out: &mut RawFigures,
) -> Result<Option<SourceRead>> {
    use std::io::Read;
    if src.encoding.is_some_and(|e| e != encoding_rs::UTF_8) {
        return Ok(None);
    }
    // what cannot be opened or read here is said by the whole-file reading
    let Ok(mut file) = std::fs::File::open(local) else {
        return Ok(None);
    };
    if file
        .metadata()
        .map_or(true, |m| m.len() <= HEAD_BYTES as u64)
    {
        return Ok(None);
    }
    let mapped = map.then(|| map_input(&file)).flatten();
    let mut read_head = Vec::new();
    let head: &[u8] = match &mapped {
        Some(map) => &map[..HEAD_BYTES],
        None => {
            read_head.reserve_exact(HEAD_BYTES);
            if (&mut file)
                .take(HEAD_BYTES as u64)
                .read_to_end(&mut read_head)
                .is_err()
            {
                return Ok(None);
            }
            &read_head
        }
    };
    if kind_of(src, local, head)? != Kind::Delimited {
        return Ok(None);
    }
    let bom = match encoding_rs::Encoding::for_bom(head) {
        None => 0,
        Some((enc, n)) if enc == encoding_rs::UTF_8 => n,
        Some(_) => return Ok(None),
    };
    // the head may end inside a character
    let text = match std::str::from_utf8(&head[bom..]) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[bom..bom + e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Ok(None),
    };
    let (tables, tail) = delimited::tables(src, text)?;
    // a tail inside the head: the head's records ended before the head did, so they are
    // those of the whole text
    let Some(tail) = tail.filter(|t| t.byte < text.len()) else {
        return Ok(None);
    };
    let start = bom + tail.byte;
    let (sources, tables_before) = (prov.sources.len(), prov.tables.len());
    // into `out` when nothing is there yet, else apart and appended once read
    let pristine = out.is_empty() && out.dict.is_empty();
    let mut apart = RawFigures::default();
    let into = if pristine { &mut *out } else { &mut apart };
    let (readings, hashed) = match mapped {
        Some(map) => {
            let bytes = crate::mapped::Bytes::Mapped(map);
            std::thread::scope(|scope| {
                // hashed on the other core as the rest is typed, each pass letting the
                // pages behind it go (where they are behind the other, it maps them
                // again from the kernel's cache)
                let hasher = scope.spawn(|| (bytes.sha256(), bytes.len() as u64));
                let rest = |reader: &layout::LongReader, out: &mut RawFigures| {
                    let mut pass = crate::mapped::Pass::over(&bytes);
                    delimited::stream_held(
                        src,
                        &bytes[start..],
                        &tail,
                        (delimited::FIRST_BLOCK, delimited::BLOCK),
                        out,
                        |out, rec, line| reader.push_record(src, rec, line, out),
                        |k| pass.reached(start + k),
                    )
                };
                let readings = figures_of(src, &tables, prov, into, Some((tail.table, rest)));
                (readings, hasher.join().map_err(drop))
            })
        }
        None => {
            let first = &read_head[start..];
            read_blocks(src, file, &read_head, first, &tail, &tables, prov, into)
        }
    };
    let readings = readings?;
    match (readings, hashed) {
        (Some(tables), Ok((sha256, bytes))) => {
            if !pristine {
                out.append(apart);
            }
            Ok(Some(SourceRead {
                sha256,
                bytes,
                tables,
                decimal_hint: None,
            }))
        }
        _ => {
            // not UTF-8 after all (or the reader failed): as if never read
            prov.sources.truncate(sources);
            prov.tables.truncate(tables_before);
            if pristine {
                out.forget();
            }
            Ok(None)
        }
    }
}

/// A file's pages mapped, so that its text is read where the kernel holds it: no copy,
/// no fresh memory (reading the 1M-row CSV, 58 MB, into fresh blocks cleared 61 MB of
/// pages first). `None` when it cannot be mapped, or is no longer than its head: then it
/// is read.
pub(crate) fn map_input(file: &std::fs::File) -> Option<memmap2::Mmap> {
    // SAFETY: the mapping is only read, through shared references that live while it
    // does. A file cut shorter while mapped faults on the next read of a page past its new
    // end (SIGBUS): the binary makes that an error of the source (exit 3, see
    // `crate::cli::fail_on_files_cut_short`) before anything is published. A file
    // rewritten in place is read as its pages are when read, as reading it in blocks would
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    (map.len() > HEAD_BYTES).then_some(map)
}

/// A file's sha256 (hex) and size, or why not: the reading stopped.
type Hashed = std::result::Result<(String, u64), ()>;

/// The reading thread of [`stream_source`] for a file not mapped: blocks read into
/// memory (used again once typed) and hashed, typed as they come.
#[allow(clippy::too_many_arguments)]
fn read_blocks(
    src: &Source,
    mut file: std::fs::File,
    head: &[u8],
    first: &[u8],
    tail: &delimited::Tail,
    tables: &[Table],
    prov: &mut Provenance,
    into: &mut RawFigures,
) -> (Result<Option<Vec<layout::TableReading>>>, Hashed) {
    use std::io::Read;
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || {
            let mut sha = Sha256::new();
            sha.update(head);
            let mut bytes = head.len() as u64;
            loop {
                // a block typed before serves again: its memory is not fresh (the kernel
                // clears each fresh page first, about 1 ms a megabyte here)
                let mut b = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(delimited::ROOM + delimited::BLOCK));
                b.clear();
                b.resize(delimited::ROOM, 0);
                // the first block smaller: the cores start on it while the next is read
                let size = if bytes == head.len() as u64 {
                    delimited::FIRST_BLOCK
                } else {
                    delimited::BLOCK
                };
                match (&mut file).take(size as u64).read_to_end(&mut b) {
                    Ok(0) => return Ok((crate::config::hex(&sha.finalize()), bytes)),
                    Ok(k) => {
                        sha.update(&b[delimited::ROOM..]);
                        bytes += k as u64;
                        if full_tx.send(Ok(b)).is_err() {
                            // the reading stopped: nothing more is wanted
                            return Err(());
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        return Err(());
                    }
                }
            }
        });
        let blocks = delimited::Blocks {
            next: move || match full_rx.recv() {
                Ok(Ok(b)) => Ok(Some(b)),
                Ok(Err(e)) => Err(e),
                Err(_) => Ok(None),
            },
            done: move |b: Vec<u8>| {
                let _ = empty_tx.send(b);
            },
            room: delimited::ROOM,
        };
        // the blocks are dropped with the closure or when typed: the channel closes once
        // the rest is read (or if it is not), and the reader ends
        let rest = |reader: &layout::LongReader, out: &mut RawFigures| {
            delimited::stream_blocks(
                src,
                first,
                blocks,
                tail,
                delimited::BLOCK,
                out,
                |out, rec, line| reader.push_record(src, rec, line, out),
            )
        };
        let readings = figures_of(src, tables, prov, into, Some((tail.table, rest)));
        (readings, reader.join().unwrap_or(Err(())))
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
    let (tables, stream) = read_tables(src, local, bytes)?;
    let rest = stream.as_ref().map(|(text, tail)| {
        let rest = move |reader: &layout::LongReader, out: &mut RawFigures| {
            delimited::stream(src, text, tail, out, |out, rec, line| {
                reader.push_record(src, rec, line, out)
            })
            .map(Some)
        };
        (tail.table, rest)
    });
    let readings = figures_of(src, &tables, prov, out, rest)?;
    Ok(readings.unwrap_or_default())
}

/// Registers a file's tables and reads their figures into `out`; with `rest` naming a
/// table, that table's records past its head come from it, typed by the table's reader.
/// How each table was read; `None` when `rest` says the file must be read again whole.
fn figures_of(
    src: &Source,
    tables: &[Table],
    prov: &mut Provenance,
    out: &mut RawFigures,
    rest: Option<(
        usize,
        impl FnOnce(&layout::LongReader, &mut RawFigures) -> Result<Option<usize>>,
    )>,
) -> Result<Option<Vec<layout::TableReading>>> {
    let (streamed, mut rest) = rest.unzip();
    let source_ix = prov.sources.len() as u16;
    prov.sources.push(SourceInfo {
        id: src.id.clone(),
        display: src.display.clone(),
    });
    let mut readings = Vec::new();
    for (k, t) in tables.iter().enumerate() {
        let table_ix = prov.tables.len() as u32;
        prov.tables.push(TableInfo {
            source: source_ix,
            label: t.label.clone(),
            style: t.style,
        });
        let mut reading = layout::read_table(t, src, table_ix, out);
        if streamed == Some(k) {
            // the rest of a long table: record by record, never held as cells
            let headers: Vec<String> = t.header.cells.iter().map(Cell::text).collect();
            let reader = layout::LongReader::new(t, src, table_ix, &headers);
            if let Some((reader, rest)) = reader.zip(rest.take()) {
                let before = out.len();
                let Some(n) = rest(&reader, out)? else {
                    return Ok(None);
                };
                reading.data_rows += n;
                reading.figures += out.len() - before;
                reading.add_set_aside(&reader);
            }
        }
        readings.push(reading);
    }
    Ok(Some(readings))
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

/// Whether a compound file (the container of Excel 97 workbooks) is an encrypted Office
/// Open XML package: it holds a stream named `EncryptedPackage` (UTF-16 in its directory).
fn is_encrypted_package(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.windows(name.len()).any(|w| w == name.as_slice())
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
            if cfb && is_encrypted_package(bytes) {
                return Err(fail("the workbook is encrypted (password-protected); save it without a password".into()));
            }
            if cfb {
                // an Excel 97 workbook saved under a newer name: read by what it is
                return Ok(Kind::Spreadsheet);
            }
            if !zip {
                let what = if looks_html { "an HTML page" } else { "not a zip archive" };
                return Err(fail(format!("the extension says .{ext} but the content is {what}")));
            }
            Ok(Kind::Spreadsheet)
        }
        "xls" => {
            if zip {
                // a newer workbook under an Excel 97 name: read by what it is
                return Ok(Kind::Spreadsheet);
            }
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

#[cfg(test)]
mod stream_tests {
    use super::*;

    /// A long CSV table of `rows` records: names beyond ASCII, quoted fields, `\r\n`.
    fn long_csv(rows: usize) -> String {
        let mut t = String::from("reporter,partner,year,flow,value\n");
        for i in 0..rows {
            let partner = [
                "Azerbaijan",
                "\"Kyrgyz, Republic\"",
                "Türkmenistan",
                "Казахстан",
            ][i % 4];
            let end = if i % 3 == 0 { "\r\n" } else { "\n" };
            t.push_str(&format!(
                "Türkiye,{partner},{},Export,\"{i}.5\"{end}",
                2000 + i % 20
            ));
        }
        t
    }

    type Seen = Vec<(Vec<Option<String>>, String, crate::model::Place)>;

    /// Every figure with its texts resolved, comparable across two readings.
    fn seen(raw: &RawFigures) -> Seen {
        (0..raw.len())
            .map(|i| {
                let text = |id: u32| raw.dict.get(id).map(str::to_string);
                let ids = [
                    raw.reporter.get(i),
                    raw.partner.get(i),
                    raw.year.get(i),
                    raw.flow.get(i),
                ];
                (ids.map(text).to_vec(), raw.value_text(i), raw.places.get(i))
            })
            .collect()
    }

    /// A file of `bytes` read as a run reads it (`before` read first, if any), and read
    /// whole: the figures, the tables' labels and the rows each reading counted.
    fn both(bytes: &[u8], before: Option<&str>) -> [(Seen, Vec<String>, Vec<usize>); 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.csv");
        std::fs::write(&path, bytes).unwrap();
        let src = Source::for_file(&path);
        let start = |prov: &mut Provenance, raw: &mut RawFigures| {
            if let Some(t) = before {
                let small = dir.path().join("small.csv");
                std::fs::write(&small, t).unwrap();
                read_source(&Source::for_file(&small), &small, prov, raw).unwrap();
            }
        };
        let labels = |p: &Provenance| p.tables.iter().map(|t| t.label.clone()).collect();
        let (mut p1, mut r1) = (Provenance::default(), RawFigures::default());
        start(&mut p1, &mut r1);
        let read = read_source(&src, &path, &mut p1, &mut r1).unwrap();
        assert_eq!(read.bytes, bytes.len() as u64);
        assert_eq!(read.sha256, crate::config::hex(&Sha256::digest(bytes)));
        let rows1 = read.tables.iter().map(|t| t.data_rows).collect();
        let (mut p2, mut r2) = (Provenance::default(), RawFigures::default());
        start(&mut p2, &mut r2);
        let rows2 = read_figures(&src, bytes, &path, &mut p2, &mut r2)
            .unwrap()
            .iter()
            .map(|t| t.data_rows)
            .collect();
        [
            (seen(&r1), labels(&p1), rows1),
            (seen(&r2), labels(&p2), rows2),
        ]
    }

    #[test]
    fn a_long_file_read_in_blocks_reads_as_a_whole_one() {
        let text = long_csv(60_000);
        assert!(text.len() > 2 * HEAD_BYTES);
        // the file qualifies for blocks
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.csv");
        std::fs::write(&path, &text).unwrap();
        for map in [true, false] {
            let (mut prov, mut raw) = (Provenance::default(), RawFigures::default());
            let src = Source::for_file(&path);
            let read = stream_source(&src, &path, map, &mut prov, &mut raw)
                .unwrap()
                .unwrap();
            assert_eq!(read.tables[0].data_rows, 60_000);
            assert_eq!(read.bytes, text.len() as u64);
            assert_eq!(read.sha256, crate::config::hex(&Sha256::digest(&text)));
            // mapped or read in blocks, the same figures
            let mut whole = (Provenance::default(), RawFigures::default());
            read_figures(&src, text.as_bytes(), &path, &mut whole.0, &mut whole.1).unwrap();
            assert!(seen(&raw) == seen(&whole.1), "mapped: {map}");
        }
        // the same figures, texts, places and counts as the whole text gives, alone, after
        // another source, and after a byte-order mark
        for before in [None, Some("reporter,partner,year,value\nTUR,KAZ,2019,1\n")] {
            let [a, b] = both(text.as_bytes(), before);
            assert_eq!(a.0.len(), 60_000 + usize::from(before.is_some()));
            assert!(a == b, "before {before:?}");
        }
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        let [a, b] = both(&bom, None);
        assert!(a == b && a.0.len() == 60_000);
    }

    #[test]
    fn a_long_file_not_utf8_further_on_is_read_whole() {
        // Windows-1254 from the middle on: ASCII at the start
        let mut bytes = long_csv(40_000)
            .replace("Türkiye", "Turkey")
            .replace("Türkmenistan", "Turkmenistan")
            .replace("Казахстан", "Kazakhstan")
            .into_bytes();
        let at = bytes.len() * 2 / 3;
        let nl = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
        bytes.splice(
            nl..nl,
            b"T\xfcrkiye,Azerbaijan,2001,Export,5\n".iter().copied(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.csv");
        std::fs::write(&path, &bytes).unwrap();
        for map in [true, false] {
            let (mut prov, mut raw) = (Provenance::default(), RawFigures::default());
            let src = Source::for_file(&path);
            let read = stream_source(&src, &path, map, &mut prov, &mut raw).unwrap();
            // nothing kept from the blocks read before the byte that is not UTF-8
            assert!(read.is_none(), "mapped: {map}");
            assert!(prov.sources.is_empty() && prov.tables.is_empty());
            assert_eq!((raw.len(), raw.dict.len()), (0, 0));
        }
        // and a run reads it whole, its encoding told
        let [a, b] = both(&bytes, None);
        assert!(a == b && a.0.len() == 40_001);
        assert!(a.0.iter().any(|f| f.0[0].as_deref() == Some("Türkiye")));
    }
}
