//! Workbooks through calamine: xlsx, xlsm, xlsb, xls, ods. Every visible sheet is read
//! (or the one the config names); numbers stay numbers, text stays text, error cells
//! (`#N/A`) become their text so normalise can say what they were.
//!
//! Memory stays bounded on hostile files: an xlsx archive whose entries would inflate
//! beyond a limit (a zip bomb) is refused before it is opened, and xlsx sheets are
//! streamed cell by cell into sparse rows (never a dense grid sized by the farthest cell),
//! with a cap on the cells of a sheet.
//!
//! Merged cells (xlsx, xlsm, xls: the formats whose merges calamine reports) give their
//! value to every cell they cover, as an HTML `colspan` does: a merged `Exports` over
//! `2019 | 2020` labels both years, a partner merged down over its flows labels each row.
//! A merge that is alone on its row (a banner title) is left as a title.

use calamine::{
    open_workbook, open_workbook_auto, DataType, Dimensions, Reader, SheetVisible, Sheets, Xlsb,
    Xlsx,
};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    } else if let Some(s) = d
        .get_string()
        .or(d.get_datetime_iso())
        .or(d.get_duration_iso())
    {
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
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
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

/// Largest merged region filled in; a bigger one is decoration (or hostile) and keeps
/// its value in its first cell only.
const MAX_MERGE_AREA: u64 = 10_000;

/// Gives each merged region's value to the cells it covers (see the module note).
/// `rows` are sorted by position; rows that hold nothing are not created.
fn fill_merged(rows: &mut [Row], regions: &[Dimensions]) -> std::result::Result<(), String> {
    let mut filled = 0usize;
    for m in regions {
        let ((r0, c0), (r1, c1)) = (m.start, m.end);
        let (c0, c1) = (c0 as usize, c1 as usize);
        if r1 < r0 || c1 < c0 || m.len() < 2 || m.len() > MAX_MERGE_AREA {
            continue;
        }
        let Ok(top) = rows.binary_search_by_key(&r0, |r| r.pos) else {
            continue;
        };
        let value = match rows[top].cells.get(c0) {
            Some(v) if !v.is_empty() => v.clone(),
            _ => continue,
        };
        let banner = r0 == r1
            && rows[top]
                .cells
                .iter()
                .enumerate()
                .all(|(c, x)| (c0..=c1).contains(&c) || x.is_empty());
        if banner {
            continue;
        }
        for row in rows.iter_mut().skip(top).take_while(|r| r.pos <= r1) {
            if row.cells.len() <= c1 {
                row.cells.resize(c1 + 1, Cell::Empty);
            }
            for cell in &mut row.cells[c0..=c1] {
                if cell.is_empty() {
                    *cell = value.clone();
                    filled += 1;
                }
            }
        }
        if filled > MAX_CELLS {
            return Err(format!(
                "merged regions cover more than {MAX_CELLS} cells: refused to bound memory"
            ));
        }
    }
    Ok(())
}

/// Whether any worksheet of an xlsx archive declares merged cells (`<mergeCell`),
/// found by inflating the sheets and searching the bytes, without parsing the XML.
fn any_merges(path: &Path) -> std::result::Result<bool, String> {
    use std::io::Read;
    const NEEDLE: &[u8] = b"<mergeCell";
    let finder = memchr::memmem::Finder::new(NEEDLE);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).map_err(|e| e.to_string())?)
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        if !f
            .name()
            .is_ok_and(|n| n.starts_with("xl/worksheets/") && n.ends_with(".xml"))
        {
            continue;
        }
        // keep the needle's length minus one from the last chunk, so a match across
        // two chunks is found
        let mut kept = 0;
        loop {
            let n = f.read(&mut buf[kept..]).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            let end = kept + n;
            if finder.find(&buf[..end]).is_some() {
                return Ok(true);
            }
            kept = (NEEDLE.len() - 1).min(end);
            buf.copy_within(end - kept..end, 0);
        }
    }
    Ok(false)
}

/// An xlsx sheet, streamed into sparse rows; a gap between rows becomes one blank row.
fn stream_sheet<RS: std::io::Read + std::io::Seek>(
    wb: &mut Xlsx<RS>,
    name: &str,
) -> std::result::Result<Vec<Row>, String> {
    let mut reader = wb
        .worksheet_cells_reader(name)
        .map_err(|e| format!("sheet {name:?}: {e}"))?;
    let mut rows: Vec<Row> = Vec::new();
    let mut cells = 0usize;
    while let Some(c) = reader
        .next_cell()
        .map_err(|e| format!("sheet {name:?}: {e}"))?
    {
        let (r, col) = c.get_position();
        let v = cell(c.get_value());
        if v.is_empty() {
            continue;
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(format!(
                "sheet {name:?} holds more than {MAX_CELLS} cells: refused to bound memory"
            ));
        }
        if rows.last().is_none_or(|l| l.pos != r) {
            if rows.last().is_some_and(|l| l.pos + 1 < r) {
                rows.push(Row {
                    pos: r - 1,
                    cells: Vec::new(),
                });
            }
            rows.push(Row {
                pos: r,
                cells: Vec::new(),
            });
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
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // a workbook is read by what its bytes are, whatever its name says
    let mut head = [0u8; 4];
    let _ = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head));
    if head == [0xD0, 0xCF, 0x11, 0xE0] {
        let wb: calamine::Xls<_> = open_workbook(path)
            .map_err(|e| fail(format!("cannot open the Excel 97 workbook: {e}")))?;
        return sheets_tables(src, Sheets::Xls(wb));
    }
    let ext = if ext == "xls" && head == *b"PK\x03\x04" {
        "xlsx".to_string()
    } else {
        ext
    };
    if matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "ods") {
        check_archive(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    }
    if matches!(ext.as_str(), "xlsx" | "xlsm") {
        let open = || -> Result<Xlsx<_>> {
            open_workbook(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))
        };
        let mut wb = open()?;
        let meta = wb.sheets_metadata().to_vec();
        let chosen = chosen_sheets(src, &meta).map_err(fail)?;
        // the sheets are read on every core, each reader with its own handle on the file
        // taking the next sheet not yet taken; asking calamine for a sheet's merges parses
        // the sheet again, so meanwhile one more thread looks whether any sheet has merges
        let readers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(chosen.len());
        let next = AtomicUsize::new(0);
        // a reader stops at its first failing sheet; sheets are handed out in order and a
        // sheet taken is always read, so the failing sheet reported, the first in the
        // workbook's order, is the same on every run
        let read_with = |wb: &mut Xlsx<_>| -> Vec<(usize, Result<Vec<Row>>)> {
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = chosen.get(i) else {
                    return got;
                };
                let rows = stream_sheet(wb, name).map_err(fail);
                let failed = rows.is_err();
                got.push((i, rows));
                if failed {
                    return got;
                }
            }
        };
        let (mut sheets, has_merges) = std::thread::scope(|s| {
            let scan = s.spawn(|| any_merges(path));
            let others: Vec<_> = (1..readers)
                .map(|_| s.spawn(|| open().map(|mut wb| read_with(&mut wb))))
                .collect();
            let mut sheets = read_with(&mut wb);
            for h in others {
                match h.join() {
                    Ok(Ok(theirs)) => sheets.extend(theirs),
                    Ok(Err(e)) => sheets.push((usize::MAX, Err(e))),
                    Err(_) => sheets.push((
                        usize::MAX,
                        Err(fail("a sheet reader stopped unexpectedly".to_string())),
                    )),
                }
            }
            (sheets, scan.join().unwrap_or(Ok(true)))
        });
        let has_merges = has_merges.map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
        sheets.sort_unstable_by_key(|(i, _)| *i);
        let sheets: Vec<(usize, Vec<Row>)> = sheets
            .into_iter()
            .map(|(i, rows)| rows.map(|r| (i, r)))
            .collect::<Result<_>>()?;
        let mut out = Vec::new();
        for (i, mut rows) in sheets {
            let name = &chosen[i];
            if has_merges {
                let merges = wb
                    .merge_cells_by_sheet_name(name)
                    .map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
                fill_merged(&mut rows, &merges)
                    .map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
            }
            out.extend(grid::tables(&rows, name, Some(name), RefStyle::Cell));
        }
        return Ok(out);
    }
    if ext == "xlsb" {
        if let Some(bytes) = xlsb_in_full_records(path)
            .map_err(|e| fail(format!("cannot open the workbook: {e}")))?
        {
            let wb = Xlsb::new(std::io::Cursor::new(bytes))
                .map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
            return sheets_tables(src, Sheets::Xlsb(wb));
        }
    }
    let wb =
        open_workbook_auto(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    sheets_tables(src, wb)
}

/// The tables of a workbook opened by calamine's format-independent reader.
fn sheets_tables<RS: std::io::Read + std::io::Seek>(
    src: &Source,
    mut wb: Sheets<RS>,
) -> Result<Vec<Table>> {
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let meta = wb.sheets_metadata().to_vec();
    let chosen = chosen_sheets(src, &meta).map_err(fail)?;
    let mut out = Vec::new();
    for name in chosen {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
        let Some((r0, c0)) = range.start() else {
            continue;
        };
        let mut rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, r)| {
                let mut cells = vec![Cell::Empty; c0 as usize];
                cells.extend(r.iter().map(cell));
                Row {
                    pos: r0 + i as u32,
                    cells,
                }
            })
            .collect();
        if let Sheets::Xls(xls) = &wb {
            let merges = xls
                .merge_cells_by_sheet_name(&name)
                .map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
            fill_merged(&mut rows, &merges).map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
        }
        out.extend(grid::tables(&rows, &name, Some(&name), RefStyle::Cell));
    }
    Ok(out)
}

/// An `.xlsb` whose sheets use the short cell records (`BrtShortRk`, `BrtShortSt`, ...:
/// a cell that leaves out its column, being the one after the previous cell), rewritten
/// with every cell in the full form, which calamine reads; `None` when there are none.
///
/// Excel writes the full form; SheetJS (and the web apps built on it) writes the short
/// one for every cell after the first of a row, and calamine 0.38 skips those cells
/// silently, so this keeps a row from losing all but its first cell.
fn xlsb_in_full_records(path: &Path) -> std::result::Result<Option<Vec<u8>>, String> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).map_err(|e| e.to_string())?)
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut parts: Vec<(String, Vec<u8>)> = Vec::with_capacity(zip.len());
    let mut rewritten = false;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = f
            .name()
            .map_err(|e| format!("zip entry {i}: {e}"))?
            .into_owned();
        // the declared size is only a hint: reserve no more than 64 MiB up front
        let mut data = Vec::with_capacity(f.size().min(64 << 20) as usize);
        f.read_to_end(&mut data)
            .map_err(|e| format!("{name}: {e}"))?;
        if name.starts_with("xl/worksheets/") && name.ends_with(".bin") {
            if let Some(full) = full_cell_records(&data).map_err(|e| format!("{name}: {e}"))? {
                data = full;
                rewritten = true;
            }
        }
        parts.push((name, data));
    }
    if !rewritten {
        return Ok(None);
    }
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, data) in parts {
        out.start_file(name.as_str(), stored)
            .map_err(|e| e.to_string())?;
        out.write_all(&data).map_err(|e| e.to_string())?;
    }
    Ok(Some(out.finish().map_err(|e| e.to_string())?.into_inner()))
}

/// A sheet's records with the short cell records made full (see [`xlsb_in_full_records`]);
/// `None` when it has none. Records are a type and a length, each a 7-bit varint.
fn full_cell_records(data: &[u8]) -> std::result::Result<Option<Vec<u8>>, String> {
    fn varint(data: &[u8], at: &mut usize, max_bytes: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..max_bytes {
            let b = *data.get(*at)?;
            *at += 1;
            v |= u32::from(b & 0x7F) << (7 * k);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        Some(v)
    }
    fn put_varint(out: &mut Vec<u8>, mut v: u32) {
        loop {
            let b = (v & 0x7F) as u8;
            v >>= 7;
            out.push(if v > 0 { b | 0x80 } else { b });
            if v == 0 {
                break;
            }
        }
    }
    let mut out: Option<Vec<u8>> = None;
    let (mut at, mut col) = (0usize, 0u32);
    while at < data.len() {
        let start = at;
        let typ = varint(data, &mut at, 2).ok_or("a record cut short")?;
        let len = varint(data, &mut at, 4).ok_or("a record cut short")? as usize;
        let body = data
            .get(at..at + len)
            .ok_or("a record runs past the end of the part")?;
        at += len;
        match typ {
            // BrtRowHdr: a new row; cells with their column (BrtCellBlank..BrtFmlaError)
            0x0000 => col = u32::MAX,
            0x0001..=0x000B if body.len() >= 4 => {
                col = u32::from_le_bytes(body[..4].try_into().expect("4 bytes"))
            }
            // BrtShortBlank..BrtShortIsst: BrtCellBlank..BrtCellIsst without the column
            0x000C..=0x0012 => {
                col = col.wrapping_add(1);
                let o = out.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(data.len() + data.len() / 4);
                    v.extend_from_slice(&data[..start]);
                    v
                });
                put_varint(o, typ - 0x000B);
                put_varint(o, (len + 4) as u32);
                o.extend_from_slice(&col.to_le_bytes());
                o.extend_from_slice(body);
                continue;
            }
            _ => {}
        }
        if let Some(o) = &mut out {
            o.extend_from_slice(&data[start..at]);
        }
    }
    Ok(out)
}

/// The sheets to read: the one the config names, else every visible one.
fn chosen_sheets(
    src: &Source,
    meta: &[calamine::Sheet],
) -> std::result::Result<Vec<String>, String> {
    let names: Vec<String> = meta.iter().map(|s| s.name.clone()).collect();
    Ok(match &src.sheet {
        Some(SheetSel::Name(n)) => match names
            .iter()
            .find(|s| *s == n || s.trim().eq_ignore_ascii_case(n.trim()))
        {
            Some(s) => vec![s.clone()],
            None => {
                return Err(format!(
                    "no sheet {n:?}; the workbook has {}",
                    quoted(&names)
                ))
            }
        },
        Some(SheetSel::Index(i)) => match names.get(*i) {
            Some(s) => vec![s.clone()],
            None => {
                return Err(format!(
                    "no sheet at index {i}; the workbook has {} sheets: {}",
                    names.len(),
                    quoted(&names)
                ))
            }
        },
        None => meta
            .iter()
            .filter(|s| s.visible == SheetVisible::Visible)
            .map(|s| s.name.clone())
            .collect(),
    })
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![typ, body.len() as u8];
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn short_cell_records_get_their_columns() {
        let real = |v: f64| {
            [0u8, 0, 0, 0]
                .iter()
                .copied()
                .chain(v.to_le_bytes())
                .collect::<Vec<u8>>()
        };
        let mut sheet = record(0x00, &[0; 25]); // BrtRowHdr
        let mut full = real(625.0);
        full.splice(0..0, 2u32.to_le_bytes()); // BrtCellReal in column C
        sheet.extend(record(0x05, &full));
        sheet.extend(record(0x10, &real(1.334))); // BrtShortReal: column D
        sheet.extend(record(0x0D, &[0, 0, 0, 0, 0x0A, 0, 0, 0])); // BrtShortRk: column E
        sheet.extend(record(0x00, &[0; 25])); // the next row
        sheet.extend(record(0x10, &real(7.0))); // column A
        let fixed = full_cell_records(&sheet)
            .unwrap()
            .expect("short records were rewritten");
        let mut at = 0;
        let mut cells = Vec::new();
        while at < fixed.len() {
            let (typ, len) = (fixed[at], fixed[at + 1] as usize);
            if typ != 0 {
                cells.push((
                    typ,
                    u32::from_le_bytes(fixed[at + 2..at + 6].try_into().unwrap()),
                ));
            }
            at += 2 + len;
        }
        assert_eq!(cells, [(0x05, 2), (0x05, 3), (0x02, 4), (0x05, 0)]);
        assert_eq!(
            full_cell_records(&fixed).unwrap(),
            None,
            "a sheet in full records is left alone"
        );
        assert!(
            full_cell_records(&sheet[..sheet.len() - 3]).is_err(),
            "a record cut short is an error, not a panic"
        );
    }

    #[test]
    fn merged_regions_fill_what_they_cover_but_banners_stay_titles() {
        let row = |pos: u32, cells: &[&str]| Row {
            pos,
            cells: cells
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(c.to_string())
                    }
                })
                .collect(),
        };
        let mut rows = vec![
            row(0, &["Banner"]),
            row(1, &["Partner", "Exports", "", "Imports", ""]),
            row(2, &["", "2019", "2020", "2019", "2020"]),
        ];
        let dims = |s: (u32, u32), e: (u32, u32)| Dimensions { start: s, end: e };
        fill_merged(
            &mut rows,
            &[
                dims((0, 0), (0, 4)),
                dims((1, 0), (2, 0)),
                dims((1, 1), (1, 2)),
                dims((1, 3), (1, 4)),
                dims((5, 5), (4, 4)),
            ],
        )
        .unwrap();
        let texts = |r: &Row| r.cells.iter().map(Cell::text).collect::<Vec<_>>();
        assert_eq!(texts(&rows[0]), ["Banner"]);
        assert_eq!(
            texts(&rows[1]),
            ["Partner", "Exports", "Exports", "Imports", "Imports"]
        );
        assert_eq!(texts(&rows[2]), ["Partner", "2019", "2020", "2019", "2020"]);
    }
}
