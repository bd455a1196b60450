//! `trade.xlsx`: a `Data` sheet holding the clean table as an Excel Table (filter
//! buttons, banded rows, frozen header, whole-dollar number format), then `Validation`
//! (the report's findings, worst first) and `Rejects`. The creation time can be pinned
//! with `SOURCE_DATE_EPOCH` so two runs give identical files.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Table, TableColumn, Workbook, Worksheet, XlsxError};
use std::path::Path;

use super::{csv_out::safe_text, Publication, COLUMNS};

fn header(ws: &mut Worksheet, names: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, h) in names.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

pub fn write(path: &Path, p: &Publication<'_>) -> Result<(), XlsxError> {
    let t = p.clean;
    let mut wb = Workbook::new();
    let mut props = DocProperties::new()
        .set_title(&p.title)
        .set_comment(format!("Published by tradeflow {}", env!("CARGO_PKG_VERSION")))
        .set_author("tradeflow");
    if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<i64>().ok()) {
        props = props.set_creation_datetime(&ExcelDateTime::from_timestamp(secs)?);
    }
    wb.set_properties(&props);
    let money = Format::new().set_num_format("#,##0");
    let bold = Format::new().set_bold();

    let ws = wb.add_worksheet().set_name("Data")?;
    for i in 0..t.len() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, t.reporter[i])?;
        ws.write_string(r, 1, t.partner[i])?;
        ws.write_string(r, 2, t.flow[i])?;
        ws.write_number(r, 3, t.year[i])?;
        if let Some(m) = t.month[i] {
            ws.write_number(r, 4, m)?;
        }
        ws.write_string(r, 5, safe_text(&t.commodity[i]))?;
        if let Some(v) = t.value_usd[i] {
            ws.write_number_with_format(r, 6, v, &money)?;
        }
        ws.write_string(r, 7, safe_text(&t.source[i]))?;
        ws.write_string(r, 8, safe_text(&t.source_ref[i]))?;
        ws.write_string(r, 9, &t.flags[i])?;
    }
    if t.is_empty() {
        header(ws, &COLUMNS, &bold)?;
    } else {
        let cols: Vec<TableColumn> = COLUMNS.iter().map(|h| TableColumn::new().set_header(*h)).collect();
        ws.add_table(0, 0, t.len() as u32, COLUMNS.len() as u16 - 1, &Table::new().set_columns(&cols))?;
        ws.set_freeze_panes(1, 0)?;
    }
    for (c, w) in [9, 9, 10, 7, 7, 11, 16, 16, 48, 28].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }

    let ws = wb.add_worksheet().set_name("Validation")?;
    header(ws, &["check", "severity", "finding", "where"], &bold)?;
    let mut checks: Vec<&serde_json::Value> = p.report["checks"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let rank = |s: &str| match s {
        "error" => 0,
        "warn" => 1,
        _ => 2,
    };
    checks.sort_by_key(|c| rank(c["severity"].as_str().unwrap_or("")));
    let mut r = 1u32;
    for c in checks {
        for f in c["findings"].as_array().into_iter().flatten() {
            ws.write_string(r, 0, c["id"].as_str().unwrap_or(""))?;
            ws.write_string(r, 1, c["severity"].as_str().unwrap_or(""))?;
            ws.write_string(r, 2, safe_text(f["message"].as_str().unwrap_or("")))?;
            let refs: Vec<&str> = f["refs"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
            ws.write_string(r, 3, safe_text(&refs.join("; ")))?;
            r += 1;
        }
    }
    for (c, w) in [14, 9, 80, 60].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }

    let ws = wb.add_worksheet().set_name("Rejects")?;
    let names = ["source", "source_ref", "reporter", "partner", "flow", "year", "raw_value", "rule", "severity", "message"];
    header(ws, &names, &bold)?;
    for (i, rj) in p.rejects.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, v) in [&rj.source, &rj.source_ref, &rj.reporter, &rj.partner, &rj.flow, &rj.year, &rj.raw_value, &rj.rule, &rj.severity, &rj.message]
            .iter()
            .enumerate()
        {
            ws.write_string(r, c as u16, safe_text(v))?;
        }
    }
    wb.save(path)
}
