//! `trade.csv` and `rejects.csv`: RFC 4180, UTF-8, `\n` line ends, values as exact
//! decimals (never `1.135e9`), and text cells that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@`, tab, CR first) prefixed with `'`.

use std::path::Path;

use super::{CleanTable, RejectRow, COLUMNS};

/// Neutralises a text cell that a spreadsheet would take for a formula.
pub fn safe_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

pub fn write_clean(path: &Path, t: &CleanTable) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_path(path)?;
    w.write_record(COLUMNS)?;
    for i in 0..t.len() {
        let month = t.month[i].map(|m| m.to_string()).unwrap_or_default();
        let year = t.year[i].to_string();
        w.write_record([
            t.reporter[i],
            t.partner[i],
            t.flow[i],
            year.as_str(),
            month.as_str(),
            &safe_text(&t.commodity[i]),
            t.value_text[i].as_str(),
            &safe_text(&t.source[i]),
            &safe_text(&t.source_ref[i]),
            t.flags[i].as_str(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

pub fn write_rejects(path: &Path, rows: &[RejectRow]) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_path(path)?;
    w.write_record(["source", "source_ref", "reporter", "partner", "flow", "year", "raw_value", "rule", "severity", "message"])?;
    for r in rows {
        w.write_record([
            &r.source,
            &r.source_ref,
            &r.reporter,
            &r.partner,
            &r.flow,
            &r.year,
            &r.raw_value,
            &r.rule,
            &r.severity,
            &r.message,
        ].map(|s| safe_text(s)).iter().map(|c| c.as_ref()))?;
    }
    w.flush()?;
    Ok(())
}
