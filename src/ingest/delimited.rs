//! CSV, TSV and other delimited text: the delimiter is sniffed (`,` `;` tab `|`), quotes
//! and ragged rows are handled, a BOM is dropped, and the text is decoded from UTF-8 or
//! UTF-16 (by BOM). The grid then goes through the same table finder as a sheet.

use super::{grid, Cell, Row, Table};
use crate::config::Source;
use crate::error::{Error, Result};
use crate::model::RefStyle;

/// Decodes a text file: UTF-8 (BOM dropped) or UTF-16 with a BOM.
///
/// # Errors
/// A message when the bytes are not text in an encoding we read.
pub fn decode(bytes: &[u8]) -> std::result::Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec()).map_err(|e| format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to() + 3));
    }
    let utf16 = |le: bool, b: &[u8]| -> std::result::Result<String, String> {
        let units: Vec<u16> = b.chunks_exact(2).map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) }).collect();
        String::from_utf16(&units).map_err(|_| "invalid UTF-16".to_string())
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(true, rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(false, rest);
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!("not valid UTF-8 (first bad byte at offset {}); save the file as UTF-8", e.utf8_error().valid_up_to())
    })
}

/// The delimiter that splits the first lines most consistently.
pub fn sniff(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(20).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| l.bytes().filter(|b| *b == d).count()).collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        let consistent = counts.iter().filter(|&&c| c == max).count();
        let score = if max == 0 { 0 } else { consistent * 100 + max };
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// The tables of a delimited text.
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn tables(src: &Source, text: &str) -> Result<Vec<Table>> {
    let delim = sniff(text);
    let mut rdr = csv::ReaderBuilder::new().delimiter(delim).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Error::source(&src.id, format!("{} line {line}", src.display), e)
        })?;
        let pos = rec.position().map(|p| p.line().saturating_sub(1) as u32).unwrap_or(rows.len() as u32);
        let cells = rec.iter().map(|s| if s.trim().is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }).collect();
        rows.push(Row { pos, cells });
    }
    let label = std::path::Path::new(&src.display).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(grid::tables(&rows, &label, None, RefStyle::Line))
}
