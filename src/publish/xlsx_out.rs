//! `trade.xlsx`, for people: `Data` (the clean table as an Excel Table: filter buttons,
//! banded rows, frozen header, thousands separators; past the sheet's row limit it goes on
//! in `Data (2)`, ...), `Summary` (partner x year: exports, imports, volume, balance,
//! growth, totals, and two native charts), `Validation` (findings, worst first),
//! `Rejects` and `Sources`. Data sheets are written in constant memory. The creation
//! time can be pinned with `SOURCE_DATE_EPOCH` so two runs give identical files.

use crate::config::Severity;
use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, ExcelDateTime, Format, Table, TableColumn, Workbook,
    Worksheet, XlsxError,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{csv_out::safe_text, Publication, COLUMNS, REJECT_COLUMNS};

fn header(ws: &mut Worksheet, row: u32, names: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, bold)?;
    }
    Ok(())
}

fn widths(ws: &mut Worksheet, w: &[f64]) -> Result<(), XlsxError> {
    for (c, w) in w.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

/// Writes `trade.xlsx` and says its sha256 (hex) and size, hashed as it is written.
pub fn write(path: &Path, p: &Publication<'_>) -> Result<(String, u64), XlsxError> {
    let mut wb = Workbook::new();
    // zip level 2 rather than 6: about 0.6 of the time to save for a file about a
    // tenth bigger (rust_xlsxwriter's own measurements); a million-row sheet is mostly
    // compression time
    wb.set_zip_compression_level(2);
    let mut props = DocProperties::new()
        .set_title(&p.title)
        .set_subject("Clean trade figures, validation findings and provenance")
        .set_comment(format!(
            "Published by tradeflow {}",
            env!("CARGO_PKG_VERSION")
        ))
        .set_author(format!("tradeflow {}", env!("CARGO_PKG_VERSION")));
    if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        props = props.set_creation_datetime(&ExcelDateTime::from_timestamp(secs)?);
    }
    wb.set_properties(&props);
    let money = Format::new().set_num_format("#,##0");
    let millions = Format::new().set_num_format("#,##0.00");
    let pct = Format::new().set_num_format("0.0%");
    let bold = Format::new().set_bold();

    data_sheets(&mut wb, p, &money, &millions)?;
    summary_sheet(&mut wb, p, &money, &pct, &bold)?;

    let ws = wb.add_worksheet().set_name("Validation")?;
    header(ws, 0, &["check", "severity", "finding", "where"], &bold)?;
    ws.set_freeze_panes(1, 0)?;
    // errors, then warnings, then the rest, each in their order
    let report = p.report.wait();
    let raw = |raw| report.refs.text(raw);
    let mut checks: Vec<&crate::validate::Check> = report.checks.iter().collect();
    checks.sort_by_key(|c| match c.severity {
        Severity::Error => 0,
        Severity::Warn => 1,
        _ => 2,
    });
    let mut r = 1u32;
    for c in checks {
        for f in &c.findings {
            ws.write_string(r, 0, c.id)?;
            ws.write_string(r, 1, c.severity.as_str())?;
            ws.write_string(r, 2, safe_text(f.message()))?;
            ws.write_string(r, 3, safe_text(&f.refs_joined(&raw)))?;
            r += 1;
        }
    }
    widths(ws, &[16.0, 9.0, 90.0, 70.0])?;

    let ws = wb.add_worksheet().set_name("Rejects")?;
    header(ws, 0, &REJECT_COLUMNS, &bold)?;
    ws.set_freeze_panes(1, 0)?;
    for (i, rj) in p.rejects.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, v) in rj.fields().iter().enumerate() {
            ws.write_string(r, c as u16, safe_text(v))?;
        }
    }
    widths(
        ws,
        &[16.0, 48.0, 10.0, 12.0, 10.0, 8.0, 14.0, 18.0, 9.0, 80.0],
    )?;

    let ws = wb.add_worksheet().set_name("Changes")?;
    header(
        ws,
        0,
        &["change", "figure", "old value", "new value", "difference"],
        &bold,
    )?;
    ws.set_freeze_panes(1, 0)?;
    let ch = &p.report.wait()["changes"];
    let mut r = 1u32;
    let num = |s: &str| s.parse::<f64>().ok();
    for v in ch["revised"].as_array().into_iter().flatten() {
        ws.write_string(r, 0, "revised")?;
        ws.write_string(r, 1, safe_text(v["key"].as_str().unwrap_or("")))?;
        for (c, k) in [(2u16, "old"), (3, "new"), (4, "change")] {
            match num(v[k].as_str().unwrap_or("")) {
                Some(x) => ws.write_number_with_format(r, c, x, &money)?,
                None => ws.write_string(r, c, v[k].as_str().unwrap_or(""))?,
            };
        }
        r += 1;
    }
    for kind in ["added", "removed"] {
        for v in ch[kind].as_array().into_iter().flatten() {
            ws.write_string(r, 0, kind)?;
            ws.write_string(r, 1, safe_text(v.as_str().unwrap_or("")))?;
            r += 1;
        }
    }
    if ch["compared"] != true {
        ws.write_string(1, 0, "no previous publication to compare with")?;
    }
    let listed = |k: &str| ch[k].as_array().map_or(0, Vec::len) as u64;
    if ["added", "removed", "revised"]
        .iter()
        .any(|k| ch["counts"][k].as_u64().is_some_and(|n| n > listed(k)))
    {
        ws.write_string(
            r + 1,
            0,
            format!(
                "the first {} of each kind are listed; report.json has the counts",
                crate::changes::MAX_LISTED
            ),
        )?;
    }
    widths(ws, &[10.0, 60.0, 16.0, 16.0, 16.0])?;

    let ws = wb.add_worksheet().set_name("Sources")?;
    header(ws, 0, &["id", "location", "sha256", "bytes"], &bold)?;
    for (i, s) in p.manifest["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let r = i as u32 + 1;
        ws.write_string(r, 0, safe_text(s["id"].as_str().unwrap_or("")))?;
        ws.write_string(r, 1, safe_text(s["location"].as_str().unwrap_or("")))?;
        ws.write_string(r, 2, s["sha256"].as_str().unwrap_or(""))?;
        ws.write_number(r, 3, s["bytes"].as_f64().unwrap_or(0.0))?;
    }
    let r = p.manifest["inputs"].as_array().map_or(0, Vec::len) as u32 + 2;
    for (k, (label, key)) in [
        ("tool", "tool_version"),
        ("config", "config"),
        ("config sha256", "config_sha256"),
        ("inputs sha256", "inputs_sha256"),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(r + k as u32, 0, *label, &bold)?;
        ws.write_string(
            r + k as u32,
            1,
            safe_text(p.manifest[*key].as_str().unwrap_or("")),
        )?;
    }
    widths(ws, &[20.0, 48.0, 66.0, 12.0])?;
    // the zip's bytes hashed and flushed to the disk as they are written (a million rows
    // make about 150 MB): not read back for the hash, nor all left to the last flush
    let mut file = super::HashedFile::buffered(path)?;
    wb.save_to_writer(&mut file)?;
    Ok(super::HashedFile::finish_buffered(file)?)
}

/// Most rows of a data sheet made an Excel table.
const MAX_TABLE_ROWS: usize = 100_000;

/// `Data`, `Data (2)`, ...: at most `xlsx_max_rows` rows each, in constant memory.
fn data_sheets(
    wb: &mut Workbook,
    p: &Publication<'_>,
    money: &Format,
    millions: &Format,
) -> Result<(), XlsxError> {
    let n = p.rows.len();
    let per = p.options.xlsx_max_rows.max(1);
    let chunks = n.div_ceil(per).max(1);
    for k in 0..chunks {
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(if k == 0 {
            "Data".to_string()
        } else {
            format!("Data ({})", k + 1)
        })?;
        widths(
            ws,
            &[9.0, 9.0, 10.0, 7.0, 7.0, 11.0, 16.0, 16.0, 52.0, 30.0, 14.0],
        )?;
        let lo = k * per;
        let hi = ((k + 1) * per).min(n);
        let cols: Vec<TableColumn> = COLUMNS
            .iter()
            .map(|h| TableColumn::new().set_header(*h))
            .collect();
        // the table first: in constant memory rows are written in order, the header first.
        // A big sheet gets a header row and an autofilter instead of an Excel table:
        // rust_xlsxwriter keeps an entry for every cell of a table (11 million for a
        // million rows, about 400 MB)
        let last = (hi - lo).max(1) as u32;
        let last_col = COLUMNS.len() as u16 - 1;
        if hi - lo <= MAX_TABLE_ROWS {
            ws.add_table(0, 0, last, last_col, &Table::new().set_columns(&cols))?;
        } else {
            let bold = Format::new().set_bold();
            for (c, h) in COLUMNS.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, *h, &bold)?;
            }
            ws.autofilter(0, 0, last, last_col)?;
        }
        ws.set_freeze_panes(1, 0)?;
        let mut b = super::RowTexts::default();
        for part in p.rows.parts(lo..hi, 65_536) {
            let (at, t, rows) = part.map_err(XlsxError::IoError)?;
            for (j, i) in rows.enumerate() {
                let r = (at + j - lo) as u32 + 1;
                row(ws, r, &t, i, &mut b, money, millions)?;
            }
        }
    }
    Ok(())
}

/// Row `i` of `t`, in sheet row `r`.
fn row(
    ws: &mut Worksheet,
    r: u32,
    t: &super::CleanTable,
    i: usize,
    b: &mut super::RowTexts,
    money: &Format,
    millions: &Format,
) -> Result<(), XlsxError> {
    t.row_texts(i, b);
    ws.write_string(r, 0, t.reporter(i))?;
    ws.write_string(r, 1, t.partner(i))?;
    ws.write_string(r, 2, t.flow(i))?;
    ws.write_number(r, 3, t.year.get(i))?;
    if let Some(m) = t.month.get(i) {
        ws.write_number(r, 4, m)?;
    }
    ws.write_string(r, 5, safe_text(t.commodity(i)))?;
    if let Some(v) = t.value_usd(i) {
        ws.write_number_with_format(r, 6, v, money)?;
    }
    ws.write_string(r, 7, safe_text(t.source(i)))?;
    ws.write_string(r, 8, safe_text(&b.source_ref))?;
    ws.write_string(r, 9, &b.flags)?;
    if let Some(m) = t.millions(i) {
        ws.write_number_with_format(r, 10, m, millions)?;
    }
    Ok(())
}

/// `Summary`: the derived table, totals per year, and the data behind two charts.
fn summary_sheet(
    wb: &mut Workbook,
    p: &Publication<'_>,
    money: &Format,
    pct: &Format,
    bold: &Format,
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet().set_name("Summary")?;
    let f = |d: Option<rust_decimal::Decimal>| d.map(|x| tradeflow_kernels::decimal::to_f64(x, 0));
    ws.write_string_with_format(0, 0, "Trade by partner and year, US dollars", bold)?;
    let names = [
        "reporter",
        "partner",
        "year",
        "exports",
        "imports",
        "volume",
        "balance",
        "volume growth",
    ];
    header(ws, 2, &names, bold)?;
    let mut r = 3u32;
    let write_row = |ws: &mut Worksheet,
                     r: u32,
                     vals: [Option<f64>; 4],
                     growth: Option<f64>|
     -> Result<(), XlsxError> {
        for (c, v) in vals.iter().enumerate() {
            if let Some(v) = v {
                ws.write_number_with_format(r, 3 + c as u16, *v, money)?;
            }
        }
        if let Some(g) = growth {
            ws.write_number_with_format(r, 7, g, pct)?;
        }
        Ok(())
    };
    for s in p.summary {
        ws.write_string(r, 0, s.reporter)?;
        ws.write_string(r, 1, s.partner)?;
        ws.write_number(r, 2, s.year)?;
        write_row(
            ws,
            r,
            [f(s.exports), f(s.imports), f(s.volume), f(s.balance)],
            s.growth,
        )?;
        r += 1;
    }
    // totals per year over every partner
    let mut totals: BTreeMap<i32, [f64; 4]> = BTreeMap::new();
    for s in p.summary {
        let e = totals.entry(s.year).or_default();
        for (k, v) in [f(s.exports), f(s.imports), f(s.volume), f(s.balance)]
            .iter()
            .enumerate()
        {
            e[k] += v.unwrap_or(0.0);
        }
    }
    for (y, v) in &totals {
        ws.write_string_with_format(r, 0, "all", bold)?;
        ws.write_string_with_format(r, 1, "all partners", bold)?;
        ws.write_number_with_format(r, 2, *y, bold)?;
        write_row(
            ws,
            r,
            [Some(v[0]), Some(v[1]), Some(v[2]), Some(v[3])],
            None,
        )?;
        r += 1;
    }
    widths(
        ws,
        &[
            10.0, 13.0, 7.0, 16.0, 16.0, 16.0, 16.0, 14.0, 3.0, 8.0, 16.0, 16.0, 16.0, 16.0, 16.0,
            16.0,
        ],
    )?;

    // chart data: volume by year (rows) and partner (columns), from column J
    let partners: Vec<&str> = p
        .summary
        .iter()
        .map(|s| s.partner)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let years: Vec<i32> = p
        .summary
        .iter()
        .map(|s| s.year)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if partners.is_empty() || years.is_empty() {
        return Ok(());
    }
    let c0: u16 = 9;
    ws.write_string_with_format(2, c0, "year", bold)?;
    for (k, par) in partners.iter().enumerate() {
        ws.write_string_with_format(2, c0 + 1 + k as u16, *par, bold)?;
    }
    for (yi, y) in years.iter().enumerate() {
        let row = 3 + yi as u32;
        ws.write_number(row, c0, *y)?;
        for (k, par) in partners.iter().enumerate() {
            let vol: f64 = p
                .summary
                .iter()
                .filter(|s| s.partner == *par && s.year == *y)
                .filter_map(|s| f(s.volume))
                .sum();
            ws.write_number_with_format(row, c0 + 1 + k as u16, vol, money)?;
        }
    }
    let last_year_row = 3 + years.len() as u32 - 1;
    let mut line = Chart::new(ChartType::Line);
    line.title()
        .set_name("Trade volume by partner (US dollars)");
    for k in 0..partners.len() {
        let col = c0 + 1 + k as u16;
        line.add_series()
            .set_name(("Summary", 2, col))
            .set_categories(("Summary", 3, c0, last_year_row, c0))
            .set_values(("Summary", 3, col, last_year_row, col));
    }
    line.y_axis().set_num_format("#,##0,,\" m\"");
    ws.insert_chart(r + 2, 0, &line)?;

    // exports and imports per partner over the whole period
    let e0 = last_year_row + 3;
    let (y0, y1) = (years[0], years[years.len() - 1]);
    ws.write_string_with_format(e0, c0, format!("{y0}-{y1}"), bold)?;
    ws.write_string_with_format(e0, c0 + 1, "exports", bold)?;
    ws.write_string_with_format(e0, c0 + 2, "imports", bold)?;
    for (k, par) in partners.iter().enumerate() {
        let row = e0 + 1 + k as u32;
        let sum = |g: fn(&crate::summarize::SummaryRow) -> Option<rust_decimal::Decimal>| -> f64 {
            p.summary
                .iter()
                .filter(|s| s.partner == *par)
                .filter_map(|s| f(g(s)))
                .sum()
        };
        ws.write_string(row, c0, *par)?;
        ws.write_number_with_format(row, c0 + 1, sum(|s| s.exports), money)?;
        ws.write_number_with_format(row, c0 + 2, sum(|s| s.imports), money)?;
    }
    let last = e0 + partners.len() as u32;
    let mut col = Chart::new(ChartType::Column);
    col.title().set_name(&format!(
        "Exports and imports by partner, {y0}-{y1} (US dollars)"
    ));
    for k in 1..=2u16 {
        col.add_series()
            .set_name(("Summary", e0, c0 + k))
            .set_categories(("Summary", e0 + 1, c0, last, c0))
            .set_values(("Summary", e0 + 1, c0 + k, last, c0 + k));
    }
    col.y_axis().set_num_format("#,##0,,\" m\"");
    ws.insert_chart(r + 2, 8, &col)?;
    Ok(())
}
