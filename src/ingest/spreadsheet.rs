//! Workbooks through calamine: xlsx, xlsm, xlsb, xls, ods. Every visible sheet is read
//! (or the one the config names); numbers stay numbers, text stays text, error cells
//! (`#N/A`) become their text so normalise can say what they were.
//!
//! Memory stays bounded on hostile files: an xlsx archive whose entries would inflate
//! beyond a limit (a zip bomb) is refused before it is opened, and xlsx sheets are
//! streamed cell by cell into sparse rows (never a dense grid sized by the farthest cell),
//! with a cap on the cells of a sheet.

use calamine::{open_workbook, open_workbook_auto, DataType, Reader, SheetVisible, Xlsx};
use std::path::Path;

use super::{grid, Cell, Row, Table};
use crate::config::{SheetSel, Source};
use crate::error::{Error, Result};
use crate::model::RefStyle;

/// A calamine cell (owned or borrowed) as ours.
fn cell(d: &impl DataType) -> Cell {
    if let Some(i) = d.get_int() {
        Cell::Number(i as f64)
    } else if let Some(f) = d.get_float() {
        Cell::Number(f)
    } else if let Some(s) = d.get_string().or(d.get_datetime_iso()).or(d.get_duration_iso()) {
        Cell::Text(s.to_string())
    } else if let Some(b) = d.get_bool() {
        Cell::Text(b.to_string())
    } else if let Some(dt) = d.get_datetime() {
        Cell::Number(dt.as_f64())
    } else if let Some(e) = d.get_error() {
        Cell::Text(format!("{e}"))
    } else {
        Cell::Empty
    }
}

/// Most cells read from one sheet.
pub const MAX_CELLS: usize = 50_000_000;
/// Largest inflated size of one archive entry, and largest inflation ratio of a big one.
pub const MAX_ENTRY_BYTES: u64 = 4 << 30;
const MAX_RATIO: u64 = 200;

/// Refuses zip archives whose entries would inflate absurdly.
fn check_archive(path: &Path) -> std::result::Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        let (size, packed) = (f.size(), f.compressed_size().max(1));
        if size > MAX_ENTRY_BYTES || (size > 100 << 20 && size / packed > MAX_RATIO) {
            return Err(format!(
                "the archive entry {} would inflate from {packed} to {size} bytes: refused as a zip bomb",
                f.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"))
            ));
        }
    }
    Ok(())
}

/// An xlsx sheet, streamed into sparse rows; a gap between rows becomes one blank row.
fn stream_sheet<RS: std::io::Read + std::io::Seek>(wb: &mut Xlsx<RS>, name: &str) -> std::result::Result<Vec<Row>, String> {
    let mut reader = wb.worksheet_cells_reader(name).map_err(|e| format!("sheet {name:?}: {e}"))?;
    let mut rows: Vec<Row> = Vec::new();
    let mut cells = 0usize;
    while let Some(c) = reader.next_cell().map_err(|e| format!("sheet {name:?}: {e}"))? {
        let (r, col) = c.get_position();
        let v = cell(c.get_value());
        if v.is_empty() {
            continue;
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(format!("sheet {name:?} holds more than {MAX_CELLS} cells: refused to bound memory"));
        }
        if rows.last().is_none_or(|l| l.pos != r) {
            if rows.last().is_some_and(|l| l.pos + 1 < r) {
                rows.push(Row { pos: r - 1, cells: Vec::new() });
            }
            rows.push(Row { pos: r, cells: Vec::new() });
        }
        let row = rows.last_mut().expect("a row was pushed");
        let col = col as usize;
        if row.cells.len() <= col {
            row.cells.resize(col + 1, Cell::Empty);
        }
        row.cells[col] = v;
    }
    Ok(rows)
}

/// The tables of a workbook's sheets.
///
/// # Errors
/// [`Error::Source`] when the workbook cannot be opened, or the sheet the config names
/// does not exist (the message lists the sheets that do).
pub fn tables(src: &Source, path: &Path) -> Result<Vec<Table>> {
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    if matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "ods") {
        check_archive(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    }
    if matches!(ext.as_str(), "xlsx" | "xlsm") {
        let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
        let meta = wb.sheets_metadata().to_vec();
        let mut out = Vec::new();
        for name in chosen_sheets(src, &meta).map_err(fail)? {
            let rows = stream_sheet(&mut wb, &name).map_err(fail)?;
            out.extend(grid::tables(&rows, &name, Some(&name), RefStyle::Cell));
        }
        return Ok(out);
    }
    let mut wb = open_workbook_auto(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    let meta = wb.sheets_metadata().to_vec();
    let chosen = chosen_sheets(src, &meta).map_err(fail)?;
    let mut out = Vec::new();
    for name in chosen {
        let range = wb.worksheet_range(&name).map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
        let Some((r0, c0)) = range.start() else { continue };
        let rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, r)| {
                let mut cells = vec![Cell::Empty; c0 as usize];
                cells.extend(r.iter().map(cell));
                Row { pos: r0 + i as u32, cells }
            })
            .collect();
        out.extend(grid::tables(&rows, &name, Some(&name), RefStyle::Cell));
    }
    Ok(out)
}

/// The sheets to read: the one the config names, else every visible one.
fn chosen_sheets(src: &Source, meta: &[calamine::Sheet]) -> std::result::Result<Vec<String>, String> {
    let names: Vec<String> = meta.iter().map(|s| s.name.clone()).collect();
    Ok(match &src.sheet {
        Some(SheetSel::Name(n)) => match names.iter().find(|s| *s == n || s.trim().eq_ignore_ascii_case(n.trim())) {
            Some(s) => vec![s.clone()],
            None => return Err(format!("no sheet {n:?}; the workbook has {}", quoted(&names))),
        },
        Some(SheetSel::Index(i)) => match names.get(*i) {
            Some(s) => vec![s.clone()],
            None => return Err(format!("no sheet at index {i}; the workbook has {} sheets: {}", names.len(), quoted(&names))),
        },
        None => meta.iter().filter(|s| s.visible == SheetVisible::Visible).map(|s| s.name.clone()).collect(),
    })
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}
