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

/// Appends `s` to `buf`. A short text (16 bytes or fewer: nearly every field of the clean
/// table) goes by a few word-sized copies made in line where `extend_from_slice` calls
/// `memcpy` (about eleven calls a row, 3% of a 1M-row run's samples with the calls'
/// own cost); longer ones as before.
#[inline]
fn put(buf: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 16 {
        buf.extend_from_slice(s);
        return;
    }
    buf.reserve(16);
    let at = buf.len();
    let src = s.as_ptr();
    // SAFETY: `reserve` left room for 16 bytes past `at`, and every copy below writes
    // within `at..at + n` (n <= 16) from within `s` (its first and last words overlap
    // where `n` is not a whole word); then the first `at + n` bytes are set
    unsafe {
        let dst = buf.as_mut_ptr().add(at);
        match n {
            8..=16 => {
                std::ptr::copy_nonoverlapping(src, dst, 8);
                std::ptr::copy_nonoverlapping(src.add(n - 8), dst.add(n - 8), 8);
            }
            4..=7 => {
                std::ptr::copy_nonoverlapping(src, dst, 4);
                std::ptr::copy_nonoverlapping(src.add(n - 4), dst.add(n - 4), 4);
            }
            1..=3 => {
                *dst = *src;
                *dst.add(n / 2) = *src.add(n / 2);
                *dst.add(n - 1) = *src.add(n - 1);
            }
            _ => {}
        }
        buf.set_len(at + n);
    }
}

/// Fields of one CSV record appended to a byte buffer, quoted as the `csv` crate quotes
/// them (only a field holding the delimiter, a quote, CR or LF; quotes doubled). The clean
/// table's rows are written this way: its fields are few kinds of texts and numbers, and
/// a record costs a fifth of what the general writer's state machine takes.
struct Record {
    buf: Vec<u8>,
    delimiter: u8,
    special: [bool; 256],
    first: bool,
}

impl Record {
    fn new(delimiter: u8) -> Record {
        let mut special = [false; 256];
        for b in [delimiter, b'"', b'\r', b'\n'] {
            special[b as usize] = true;
        }
        Record {
            buf: Vec::with_capacity(1 << 16),
            delimiter,
            special,
            first: true,
        }
    }

    fn needs_quotes(&self, bytes: &[u8]) -> bool {
        bytes.iter().any(|&b| self.special[b as usize])
    }

    /// A field that can hold no delimiter (`,`, `;` or tab, as the config allows), quote
    /// or line break: a number, a flow, flag names.
    fn plain(&mut self, s: &str) {
        debug_assert!(!self.needs_quotes(s.as_bytes()), "{s:?}");
        if !self.first {
            self.buf.push(self.delimiter);
        }
        self.first = false;
        put(&mut self.buf, s.as_bytes());
    }

    fn field(&mut self, s: &str) {
        if !self.first {
            self.buf.push(self.delimiter);
        }
        self.first = false;
        let bytes = s.as_bytes();
        if !self.needs_quotes(bytes) {
            put(&mut self.buf, bytes);
            return;
        }
        self.buf.push(b'"');
        for part in bytes.split_inclusive(|&b| b == b'"') {
            self.buf.extend_from_slice(part);
            if part.last() == Some(&b'"') {
                self.buf.push(b'"');
            }
        }
        self.buf.push(b'"');
    }

    /// A field known to hold no quote, in quotes when `quote`.
    fn unescaped(&mut self, parts: [&str; 2], quote: bool) {
        if !self.first {
            self.buf.push(self.delimiter);
        }
        self.first = false;
        if quote {
            self.buf.push(b'"');
        }
        for p in parts {
            put(&mut self.buf, p.as_bytes());
        }
        if quote {
            self.buf.push(b'"');
        }
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
        self.first = true;
    }
}

/// The part of `source_ref` that a table's rows share, made and checked once: as written
/// (with a formula guard if it needs one), whether it needs quotes, and whether it holds
/// a quote (then the whole text goes the general way).
type TablePrefix = (String, bool, bool);

/// Rows of the clean table formatted at a time, on one core: about 1.8 MB of CSV (in the
/// tests, a few: a test table goes in many chunks, an odd number of them).
const CHUNK_ROWS: usize = if cfg!(test) { 7 } else { 16_384 };

/// Writes `trade.csv` and says its sha256 (hex) and size, hashed as it is written.
pub fn write_clean(
    path: &Path,
    rows: super::Rows<'_>,
    o: &OutputOptions,
) -> Result<(String, u64), Box<dyn std::error::Error>> {
    let head = rows.head();
    let t: &CleanTable = &head;
    let mut file = super::HashedFile::create(path)?;
    let mut write = |buf: &[u8]| file.write_all(buf);
    let mut r = Record::new(o.csv_delimiter);
    if o.csv_bom {
        r.buf.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for c in COLUMNS {
        r.field(c);
    }
    r.end();
    write(&r.buf)?;
    let tables: Vec<TablePrefix> = (0..t.provenance.tables.len() as u32)
        .map(|k| {
            let mut p = String::new();
            t.provenance.push_ref_table(&mut p, k);
            let p = safe_text(&p).into_owned();
            let needs = r.needs_quotes(p.as_bytes());
            let quote = p.contains('"');
            (p, needs, quote)
        })
        .collect();
    // chunks of rows formatted two at a time, by this thread and a helper of its own,
    // while this thread writes and hashes the two before: the writer that ends last no
    // longer formats, writes and hashes alone while the other core idles
    let mut formatted: [Vec<u8>; 2] = Default::default();
    let mut next_two: [Vec<u8>; 2] = Default::default();
    let mut next = 0;
    let n = rows.len();
    while next < n {
        let a = next..(next + CHUNK_ROWS).min(n);
        let b = a.end..(a.end + CHUNK_ROWS).min(n);
        next = b.end;
        let [mine, theirs] = &mut next_two;
        mine.clear();
        theirs.clear();
        // each chunk's rows read (where they are on the disk) by the thread that formats
        // them
        std::thread::scope(|scope| -> std::io::Result<()> {
            let helper = (!b.is_empty()).then(|| {
                let tables = &tables;
                scope.spawn(move || -> std::io::Result<()> {
                    let (tb, b) = rows.part(b)?;
                    format_rows(&tb, b, tables, o.csv_delimiter, theirs);
                    Ok(())
                })
            });
            for buf in &formatted {
                write(buf)?;
            }
            let (ta, a) = rows.part(a)?;
            format_rows(&ta, a, &tables, o.csv_delimiter, mine);
            match helper.map(|h| h.join()) {
                Some(Err(_)) => Err(std::io::Error::other("formatting CSV rows failed")),
                Some(Ok(r)) => r,
                None => Ok(()),
            }
        })?;
        std::mem::swap(&mut formatted, &mut next_two);
    }
    for buf in &formatted {
        write(buf)?;
    }
    file.flush()?;
    Ok(file.finish()?)
}

/// The CSV records of the clean table's `rows`, appended to `out`.
fn format_rows(
    t: &CleanTable,
    rows: std::ops::Range<usize>,
    tables: &[TablePrefix],
    delimiter: u8,
    out: &mut Vec<u8>,
) {
    use crate::model::push_int;
    let mut r = Record::new(delimiter);
    r.buf = std::mem::take(out);
    let mut b = super::RowTexts::default();
    let mut number = String::new();
    let mut place = String::new();
    for i in rows {
        b.flags.clear();
        crate::model::flags::push_names(&mut b.flags, t.flags[i]);
        t.value_texts(i, &mut b);
        r.field(t.reporter(i));
        r.field(t.partner(i));
        r.plain(t.flow(i));
        number.clear();
        push_int(&mut number, t.year.get(i));
        r.plain(&number);
        number.clear();
        if let Some(m) = t.month.get(i) {
            push_int(&mut number, m);
        }
        r.plain(&number);
        r.field(&safe_text(t.commodity(i)));
        r.plain(&b.value);
        r.field(&safe_text(t.source(i)));
        let at = t.place.get(i);
        let (prefix, prefix_needs, prefix_quote) = &tables[at.table as usize];
        place.clear();
        t.provenance.push_ref_place(&mut place, at);
        if *prefix_quote || place.contains('"') {
            b.source_ref.clear();
            t.provenance.push_source_ref(&mut b.source_ref, at);
            r.field(&safe_text(&b.source_ref));
        } else {
            let needs = *prefix_needs || r.needs_quotes(place.as_bytes());
            r.unescaped([prefix, &place], needs);
        }
        r.plain(&b.flags);
        r.plain(&b.millions);
        r.end();
    }
    *out = r.buf;
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
    fn a_reject_row_gives_back_its_texts() {
        let texts = [
            "src",
            "raw/x.csv [x.csv] line 3, column 4",
            "",
            "Казахстан",
            "export",
            "",
            "1 000",
            "conflict",
            "error",
            "5 here, 6 at raw/x.csv line 2 (kept)",
        ];
        assert_eq!(RejectRow::new(texts).fields(), texts);
        assert_eq!(RejectRow::new([""; 10]).fields(), [""; 10]);
    }

    #[test]
    fn texts_put_are_the_bytes_extended() {
        // every length from 0 to 40, onto buffers of every fill against their room
        let text: Vec<u8> = (0..40u8).map(|k| b'a' + k % 26).collect();
        for len in 0..=40 {
            for before in [0, 1, 7, 15, 16, 17, 63] {
                let mut ours: Vec<u8> = Vec::with_capacity(before + 3);
                ours.extend(std::iter::repeat_n(b'.', before));
                let mut want = ours.clone();
                put(&mut ours, &text[..len]);
                put(&mut ours, b"xy");
                want.extend_from_slice(&text[..len]);
                want.extend_from_slice(b"xy");
                assert_eq!(ours, want, "{len} after {before}");
            }
        }
    }

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
    fn records_are_quoted_as_the_csv_crate_quotes_them() {
        let fields = [
            "TUR",
            "",
            "a,b",
            "say \"hi\"",
            "line\nbreak",
            "cr\rhere",
            "semi;colon",
            "\"",
            "/tmp/x.csv [x.csv] line 3, column 7",
            "'=1+2",
            "Türkiye",
        ];
        for delimiter in [b',', b';', b'\t'] {
            let mut r = Record::new(delimiter);
            for f in fields {
                r.field(f);
            }
            r.end();
            r.field("x");
            r.field("");
            r.end();
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .delimiter(delimiter)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(vec![]);
            w.write_record(fields).unwrap();
            w.write_record(["x", ""]).unwrap();
            assert_eq!(
                String::from_utf8(r.buf).unwrap(),
                String::from_utf8(w.into_inner().unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn trade_csv_is_what_the_csv_crate_writes() {
        use crate::model::{Place, Provenance, RefStyle, SourceInfo, TableInfo};
        // sources whose paths need quotes, a formula guard, or hold a quote; every style
        let displays = [
            "raw/a.csv",
            "=cmd|x.csv",
            "say \"b\".csv",
            "semi;colon.csv",
            "t\tab",
        ];
        let mut t = CleanTable {
            provenance: Provenance {
                sources: displays
                    .iter()
                    .enumerate()
                    .map(|(k, d)| SourceInfo {
                        id: format!("s{k}"),
                        display: d.to_string(),
                    })
                    .collect(),
                tables: (0..displays.len() * 3)
                    .map(|k| TableInfo {
                        source: (k / 3) as u16,
                        label: ["Sheet 1", "t,2", "x"][k % 3].into(),
                        style: [RefStyle::Cell, RefStyle::Line, RefStyle::Record][k % 3],
                    })
                    .collect(),
            },
            ..Default::default()
        };
        for c in ["TOTAL", "-12", "a,b"] {
            t.commodities.intern(c);
        }
        for i in 0..60usize {
            let (r, p) = (t.country("TUR"), t.country(["KAZ", "AZE"][i % 2]));
            t.reporter.push(r);
            t.partner.push(p);
            t.flow.push(crate::model::Flow::Export);
            t.year.push(2019);
            t.month.push((i % 4 != 0).then_some(3));
            t.commodity.push((i % 3) as u32);
            t.value
                .push((i % 7 != 0).then(|| rust_decimal::Decimal::new(i as i64 * 1234, 3)));
            t.place.push(Place {
                table: (i % 15) as u32,
                row: i as u32,
                col: 30 - (i % 30) as u32,
            });
            t.flags.push(if i % 5 == 0 { 0b11 } else { 0 });
        }
        let dir = tempfile::tempdir().unwrap();
        for delimiter in [b',', b';', b'\t'] {
            let o = OutputOptions {
                csv_delimiter: delimiter,
                csv_bom: delimiter == b';',
                ..Default::default()
            };
            let path = dir.path().join("t.csv");
            let (sha256, bytes) = write_clean(&path, crate::publish::Rows::Held(&t), &o).unwrap();
            assert_eq!((sha256, bytes), crate::config::sha256_file(&path).unwrap());
            // the general writer, field by field
            let mut w = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(if o.csv_bom {
                    b"\xEF\xBB\xBF".to_vec()
                } else {
                    vec![]
                });
            w.write_record(COLUMNS).unwrap();
            let mut b = crate::publish::RowTexts::default();
            for i in 0..t.len() {
                t.row_texts(i, &mut b);
                t.value_texts(i, &mut b);
                let (year, month) = (
                    t.year.get(i).to_string(),
                    t.month.get(i).map(|m| m.to_string()),
                );
                w.write_record([
                    t.reporter(i),
                    t.partner(i),
                    t.flow(i),
                    &year,
                    month.as_deref().unwrap_or(""),
                    &safe_text(t.commodity(i)),
                    &b.value,
                    &safe_text(t.source(i)),
                    &safe_text(&b.source_ref),
                    &b.flags,
                    &b.millions,
                ])
                .unwrap();
            }
            let want = String::from_utf8(w.into_inner().unwrap()).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
        }
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
