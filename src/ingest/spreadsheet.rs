//! Workbooks through calamine: xlsx, xlsm, xlsb, xls, ods. Every visible sheet is read
//! (or the one the config names); numbers stay numbers, text stays text, error cells
//! (`#N/A`) become their text so normalise can say what they were.

use calamine::{open_workbook_auto, Data, Reader, SheetVisible};
use std::path::Path;

use super::{grid, Cell, Row, Table};
use crate::config::{SheetSel, Source};
use crate::error::{Error, Result};
use crate::model::RefStyle;

fn cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(dt) => Cell::Number(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("{e}")),
    }
}

/// The tables of a workbook's sheets.
///
/// # Errors
/// [`Error::Source`] when the workbook cannot be opened, or the sheet the config names
/// does not exist (the message lists the sheets that do).
pub fn tables(src: &Source, path: &Path) -> Result<Vec<Table>> {
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let mut wb = open_workbook_auto(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    let meta = wb.sheets_metadata().to_vec();
    let names: Vec<String> = meta.iter().map(|s| s.name.clone()).collect();
    let chosen: Vec<String> = match &src.sheet {
        Some(SheetSel::Name(n)) => match names.iter().find(|s| *s == n || s.trim().eq_ignore_ascii_case(n.trim())) {
            Some(s) => vec![s.clone()],
            None => return Err(fail(format!("no sheet {n:?}; the workbook has {}", quoted(&names)))),
        },
        Some(SheetSel::Index(i)) => match names.get(*i) {
            Some(s) => vec![s.clone()],
            None => return Err(fail(format!("no sheet at index {i}; the workbook has {} sheets: {}", names.len(), quoted(&names)))),
        },
        None => meta.iter().filter(|s| s.visible == SheetVisible::Visible).map(|s| s.name.clone()).collect(),
    };
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

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}
