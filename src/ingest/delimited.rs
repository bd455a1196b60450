//! CSV, TSV and other delimited text: the delimiter is sniffed (`,` `;` tab `|`), quotes
//! and ragged rows are handled, a BOM is dropped, and the text is decoded from UTF-8 or
//! UTF-16 (by BOM). The grid then goes through the same table finder as a sheet.

use super::{grid, Cell, Row, Table};
use crate::config::Source;
use crate::error::{Error, Result};
use crate::model::RefStyle;

/// Decodes a text file: a BOM says UTF-8 or UTF-16; otherwise valid UTF-8 is taken as
/// such, and anything else goes to a detector (Windows-1251, Windows-1254, Latin-1, CP866,
/// KOI8-R, ...). `declared` (the source's `encoding`) overrides all of it. Returns the
/// text and the encoding's name.
///
/// # Errors
/// A message when the bytes are not text in any encoding that can be told.
pub fn decode_with<'a>(
    bytes: &'a [u8],
    declared: Option<&'static encoding_rs::Encoding>,
) -> std::result::Result<(std::borrow::Cow<'a, str>, &'static str), String> {
    if let Some(enc) = declared {
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(format!(
                "not valid {} (the declared `encoding`)",
                enc.name()
            ));
        }
        return Ok((text, enc.name()));
    }
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, bad) = enc.decode_without_bom_handling(&bytes[bom..]);
        if bad {
            return Err(format!(
                "the file starts with a {} byte-order mark but is not valid {}",
                enc.name(),
                enc.name()
            ));
        }
        return Ok((text, enc.name()));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.into(), "UTF-8"));
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    let enc = det.guess(None, chardetng::Utf8Detection::Deny);
    let (text, bad) = enc.decode_without_bom_handling(bytes);
    let controls = text
        .chars()
        .filter(|c| (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || *c == '\u{fffd}')
        .count();
    if bad || controls > 0 {
        return Err(format!(
            "cannot tell the text's encoding (the best guess, {}, gives {} control or invalid characters); declare `encoding` in the source",
            enc.name(),
            controls
        ));
    }
    Ok((text, enc.name()))
}

/// The delimiter that splits the first lines most consistently.
pub fn sniff(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l.bytes().filter(|b| *b == d).count())
            .collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        let consistent = counts.iter().filter(|&&c| c == max).count();
        let score = if max == 0 { 0 } else { consistent * 100 + max };
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// Records read before deciding whether the rest of a file can be streamed.
pub const HEAD_RECORDS: usize = 256;

/// Where the rest of a long table starts, to be streamed record by record.
#[derive(Debug, Clone)]
pub struct Tail {
    /// Index of the table (in the returned list) the records continue.
    pub table: usize,
    /// Byte offset and line of the first record not read yet.
    pub byte: usize,
    pub line: u64,
    pub delimiter: u8,
}

fn reader(text: &str, delim: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

fn row_of(rec: &csv::StringRecord, pos: u32) -> Row {
    Row {
        pos,
        cells: rec
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_string())
                }
            })
            .collect(),
    }
}

/// The tables of a delimited text. A file whose first records make one long table that
/// runs on past them is not held cell by cell: its tables are returned from the head,
/// with a [`Tail`] saying where the rest of the table's records start.
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn tables(src: &Source, text: &str) -> Result<(Vec<Table>, Option<Tail>)> {
    let delim = sniff(text);
    let label = std::path::Path::new(&src.display)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        Error::source(&src.id, format!("{} line {line}", src.display), e)
    };
    let mut rdr = reader(text, delim);
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut next_byte = 0usize;
    let mut next_line = 0u64;
    let mut at_end = false;
    while rows.len() < HEAD_RECORDS {
        if !rdr.read_record(&mut rec).map_err(fail)? {
            at_end = true;
            break;
        }
        let pos = rec
            .position()
            .map(|p| p.line().saturating_sub(1) as u32)
            .unwrap_or(rows.len() as u32);
        rows.push(row_of(&rec, pos));
    }
    if !at_end {
        next_byte = rdr.position().byte() as usize;
        next_line = rdr.position().line();
    }
    let tables = grid::tables(&rows, &label, None, RefStyle::Line);
    if at_end {
        return Ok((tables, None));
    }
    // stream only a long table that runs to the end of the head
    let last_pos = rows.last().map(|r| r.pos);
    let streamable = tables.len() == 1
        && tables[0].rows.last().map(|r| r.pos) == last_pos
        && super::layout::is_long(
            &tables[0]
                .header
                .cells
                .iter()
                .map(Cell::text)
                .collect::<Vec<_>>(),
        );
    if streamable {
        return Ok((
            tables,
            Some(Tail {
                table: 0,
                byte: next_byte,
                line: next_line,
                delimiter: delim,
            }),
        ));
    }
    // anything else: read the whole file into the grid
    while rdr.read_record(&mut rec).map_err(fail)? {
        let pos = rec
            .position()
            .map(|p| p.line().saturating_sub(1) as u32)
            .unwrap_or(rows.len() as u32);
        rows.push(row_of(&rec, pos));
    }
    Ok((grid::tables(&rows, &label, None, RefStyle::Line), None))
}

/// Streams the records of a [`Tail`] to `each` with their 0-based line, stopping at the
/// first blank or footer record (the end of the table).
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn stream(
    src: &Source,
    text: &str,
    tail: &Tail,
    mut each: impl FnMut(&csv::StringRecord, u32),
) -> Result<usize> {
    use std::sync::mpsc::sync_channel;
    /// Records parsed per batch handed over.
    const BATCH: usize = 1024;
    let rest = &text[tail.byte.min(text.len())..];
    // the CSV is parsed on another core, in batches of records whose buffers come back
    // to be refilled; this thread turns them into figures
    /// Batches in flight: each is parsed into, handed over, typed and handed back, so
    /// the records' buffers are allocated once and reused to the end of the file.
    const BATCHES: usize = 8;
    let (full_tx, full_rx) = sync_channel::<Vec<(csv::StringRecord, u32)>>(BATCHES);
    let (empty_tx, empty_rx) = sync_channel::<Vec<(csv::StringRecord, u32)>>(BATCHES);
    for _ in 0..BATCHES {
        let _ = empty_tx.send(Vec::new());
    }
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || -> Result<()> {
            let mut rdr = reader(rest, tail.delimiter);
            // a batch comes back once typed; none comes back only if the typing side
            // has stopped, and then nothing more is needed
            while let Ok(mut batch) = empty_rx.recv() {
                // a record sized for a typical row, so few grow as they are filled
                batch.resize_with(BATCH, || (csv::StringRecord::with_capacity(256, 16), 0));
                let mut filled = 0;
                let mut done = false;
                while filled < BATCH {
                    let (rec, line) = &mut batch[filled];
                    let more = rdr.read_record(rec).map_err(|e| {
                        let line = e.position().map(|p| p.line() + tail.line - 1).unwrap_or(0);
                        Error::source(&src.id, format!("{} line {line}", src.display), e)
                    })?;
                    let first = rec.iter().find(|f| !super::trim(f).is_empty());
                    // a footer is a lone text (counted first: most records have more)
                    let footer = first.is_none_or(|f| {
                        rec.iter().filter(|f| !super::trim(f).is_empty()).count() == 1
                            && super::markdown::is_footer(f)
                    });
                    if !more || footer {
                        done = true;
                        break;
                    }
                    *line = rec
                        .position()
                        .map(|p| p.line() + tail.line - 2)
                        .unwrap_or(0) as u32;
                    filled += 1;
                }
                batch.truncate(filled);
                if full_tx.send(batch).is_err() || done {
                    return Ok(());
                }
            }
            Ok(())
        });
        let mut n = 0;
        for batch in full_rx {
            for (rec, line) in &batch {
                each(rec, *line);
            }
            n += batch.len();
            // sent back with its records, whose buffers the parser refills
            let _ = empty_tx.send(batch);
        }
        parser.join().map_err(|_| {
            Error::source(&src.id, &src.display, "the CSV parser failed".to_string())
        })??;
        Ok(n)
    })
}
