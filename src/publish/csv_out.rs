//! `trade.csv`, `trade_summary.csv` and `rejects.csv`: RFC 4180, UTF-8, `\n` line ends,
//! values as exact decimals (never `1.135e9`), optionally a BOM and `;` for spreadsheets
//! in comma-decimal locales. Text cells that a spreadsheet would run as a formula (`=`,
//! `+`, `-`, `@`, tab, CR first) are prefixed with `'`; numeric columns never are.

use std::io::Write;
use std::path::Path;

use super::{CleanTable, RejectRow, COLUMNS, REJECT_COLUMNS, SUMMARY_COLUMNS};
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

pub fn write_clean(
    path: &Path,
    t: &CleanTable,
    o: &OutputOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::model::push_int;
    let mut w = writer(path, o)?;
    w.write_record(COLUMNS)?;
    let mut b = super::RowTexts::default();
    let (mut year, mut month) = (String::new(), String::new());
    for i in 0..t.len() {
        t.row_texts(i, &mut b);
        t.value_texts(i, &mut b);
        year.clear();
        push_int(&mut year, t.year[i]);
        month.clear();
        if let Some(m) = t.month[i] {
            push_int(&mut month, m);
        }
        w.write_record([
            t.reporter[i],
            t.partner[i],
            t.flow[i],
            year.as_str(),
            month.as_str(),
            &safe_text(t.commodity(i)),
            b.value.as_str(),
            &safe_text(t.source(i)),
            &safe_text(&b.source_ref),
            b.flags.as_str(),
            b.millions.as_str(),
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
    w.write_record(REJECT_COLUMNS)?;
    for r in rows {
        w.write_record(r.fields().map(safe_text).iter().map(|c| c.as_ref()))?;
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
        // value_usd_millions is written with Display: the shortest round-trip form
        let plain = |x: f64| format!("{x}");
        assert_eq!(plain(1135.0), "1135");
        assert_eq!(plain(0.00001), "0.00001");
        assert_eq!(plain(1e21), "1000000000000000000000");
    }
}
