//! `trade.csv`, `trade_summary.csv` and `rejects.csv`: RFC 4180, UTF-8, `\n` line ends,
//! values as exact decimals (never `1.135e9`), optionally a BOM and `;` for spreadsheets
//! in comma-decimal locales. Text cells that a spreadsheet would run as a formula (`=`,
//! `+`, `-`, `@`, tab, CR first) are prefixed with `'`; numeric columns never are.

use std::io::Write;
use std::path::Path;

use super::{CleanTable, RejectRow, COLUMNS, SUMMARY_COLUMNS};
use crate::config::OutputOptions;
use crate::summarize::SummaryRow;

/// Neutralises a text cell that a spreadsheet would take for a formula.
pub fn safe_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

type Writer = csv::Writer<std::io::BufWriter<std::fs::File>>;

fn writer(path: &Path, o: &OutputOptions) -> Result<Writer, Box<dyn std::error::Error>> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    if o.csv_bom {
        file.write_all(b"\xEF\xBB\xBF")?;
    }
    Ok(csv::WriterBuilder::new()
        .delimiter(o.csv_delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(file))
}

/// A float for a CSV cell: Rust's shortest round-trip form, which never uses an exponent.
fn plain(x: f64) -> String {
    format!("{x}")
}

pub fn write_clean(
    path: &Path,
    t: &CleanTable,
    o: &OutputOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = writer(path, o)?;
    w.write_record(COLUMNS)?;
    for i in 0..t.len() {
        let month = t.month[i].map(|m| m.to_string()).unwrap_or_default();
        let year = t.year[i].to_string();
        let millions = t.millions(i).map(plain).unwrap_or_default();
        let (value, source_ref, flags) = (t.value_text(i), t.source_ref(i), t.flags_text(i));
        w.write_record([
            t.reporter[i],
            t.partner[i],
            t.flow[i],
            year.as_str(),
            month.as_str(),
            &safe_text(t.commodity(i)),
            value.as_str(),
            &safe_text(t.source(i)),
            &safe_text(&source_ref),
            flags.as_str(),
            millions.as_str(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

pub fn write_summary(
    path: &Path,
    rows: &[SummaryRow],
    o: &OutputOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = writer(path, o)?;
    w.write_record(SUMMARY_COLUMNS)?;
    let d =
        |v: Option<rust_decimal::Decimal>| v.map(|x| x.normalize().to_string()).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.reporter.to_string(),
            r.partner.to_string(),
            r.year.to_string(),
            d(r.exports),
            d(r.imports),
            d(r.volume),
            d(r.balance),
            r.growth.map(|g| format!("{g:.6}")).unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

pub fn write_rejects(
    path: &Path,
    rows: &[RejectRow],
    o: &OutputOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = writer(path, o)?;
    w.write_record([
        "source",
        "source_ref",
        "reporter",
        "partner",
        "flow",
        "year",
        "raw_value",
        "rule",
        "severity",
        "message",
    ])?;
    for r in rows {
        w.write_record(
            [
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
            ]
            .map(|s| safe_text(s))
            .iter()
            .map(|c| c.as_ref()),
        )?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_injection_is_neutralised() {
        assert_eq!(safe_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_text("+1"), "'+1");
        assert_eq!(safe_text("-2"), "'-2");
        assert_eq!(safe_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_text("\tx"), "'\tx");
        assert_eq!(safe_text("raw/x.csv"), "raw/x.csv");
    }

    #[test]
    fn floats_never_in_exponent_form() {
        assert_eq!(plain(1135.0), "1135");
        assert_eq!(plain(0.00001), "0.00001");
        assert_eq!(plain(1e21), "1000000000000000000000");
    }
}
