//! The change report: the new clean table against the previous publication's, by key
//! (reporter, partner, flow, year, month, commodity): figures added, removed, and revised
//! with old value, new value and change. Revisions are normal in trade statistics; this
//! is how a data owner sees them.
//!
//! Reads the previous publication's key file (`.keys.bin`, written with every
//! publication: each key's hash, value and text, sorted by hash), or, for a folder
//! published before there was one, its `trade.csv`.

use rust_decimal::Decimal;
use std::path::Path;

use crate::model::push_int;
use crate::publish::CleanTable;

/// One revised figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revision {
    pub key: String,
    pub old: String,
    pub new: String,
    pub change: String,
    /// new / old - 1, when old is not zero.
    pub change_share: Option<f64>,
}

/// What changed since the previous publication.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Changes {
    /// False when there was no previous publication to compare with.
    pub compared: bool,
    pub previous_run_id: Option<String>,
    /// How many figures were added, removed and revised (the lists hold the first
    /// [`MAX_LISTED`] of each, in key order).
    pub counts: Counts,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub revised: Vec<Revision>,
}

/// Sizes of the three lists of changes.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub added: usize,
    pub removed: usize,
    pub revised: usize,
}

/// Most changes of each kind listed; a refresh against a very different publication
/// can change a million figures, and the report stays readable.
pub const MAX_LISTED: usize = 1000;

/// A key as 128 bits: xxh3-128 of its six fields, each with its length in front. Keys
/// are compared by it without building a text per key (a collision among a million keys
/// has a chance near 10^-27). Kept in the key file: changing it means a new magic.
fn key_hash(fields: [&[u8]; 6]) -> u128 {
    let mut buf = [0u8; 256];
    let mut at = 0;
    for f in fields {
        let need = at + 4 + f.len();
        if need > buf.len() {
            return long_key_hash(fields);
        }
        buf[at..at + 4].copy_from_slice(&(f.len() as u32).to_le_bytes());
        buf[at + 4..need].copy_from_slice(f);
        at = need;
    }
    xxhash_rust::xxh3::xxh3_128(&buf[..at])
}

fn long_key_hash(fields: [&[u8]; 6]) -> u128 {
    let mut buf = Vec::new();
    for f in fields {
        buf.extend_from_slice(&(f.len() as u32).to_le_bytes());
        buf.extend_from_slice(f);
    }
    xxhash_rust::xxh3::xxh3_128(&buf)
}

/// A key's text: `TUR KAZ export 2019 TOTAL`, `TUR KAZ export 2019-03 010121`.
fn key_text(f: [&str; 6]) -> String {
    let mut s = String::new();
    push_key_text(&mut s, f);
    s
}

fn push_key_text(out: &mut String, f: [&str; 6]) {
    for s in [f[0], " ", f[1], " ", f[2], " ", f[3]] {
        out.push_str(s);
    }
    if !f[4].is_empty() {
        out.push_str(if f[4].len() < 2 { "-0" } else { "-" });
        out.push_str(f[4]);
    }
    out.push(' ');
    out.push_str(f[5]);
}

/// The file a publication keeps its keys in, for the next run's change report.
pub const KEYS_FILE: &str = ".keys.bin";
const MAGIC: &[u8; 8] = b"TFKEYS02";
/// Bytes of one record: key hash, value, start and end of the key's text.
const RECORD: usize = 16 + 16 + 4 + 4;
/// The value bytes of a missing value (a Decimal's flags never have every bit set).
const NULL: [u8; 16] = [0xFF; 16];

/// The six key fields of a row of the clean table, with its year and month made text in
/// `year` and `month`.
fn row_fields<'a>(
    t: &'a CleanTable,
    i: usize,
    year: &'a mut String,
    month: &'a mut String,
) -> [&'a str; 6] {
    year.clear();
    push_int(year, t.year[i]);
    month.clear();
    if let Some(m) = t.month[i] {
        push_int(month, m);
    }
    [
        t.reporter[i],
        t.partner[i],
        t.flow[i],
        year.as_str(),
        month.as_str(),
        t.commodity(i),
    ]
}

/// The rows of a clean table by key hash: (hash, row), sorted.
pub struct Keys(Vec<(u128, u32)>);

impl Keys {
    /// Hashes every row's key (on every core) and sorts.
    pub fn of(t: &CleanTable) -> Keys {
        use rayon::prelude::*;
        let mut keys: Vec<(u128, u32)> = (0..t.len())
            .into_par_iter()
            .map_init(
                || (String::new(), String::new()),
                |(year, month), i| {
                    (
                        key_hash(row_fields(t, i, year, month).map(str::as_bytes)),
                        i as u32,
                    )
                },
            )
            .collect();
        keys.par_sort_unstable();
        Keys(keys)
    }
}

fn row_key_text(t: &CleanTable, i: usize) -> String {
    let (mut year, mut month) = (String::new(), String::new());
    key_text(row_fields(t, i, &mut year, &mut month))
}

/// Writes the keys of a clean table: each key's hash, value and text, sorted by hash, so
/// the next run compares without parsing the published CSV (and with no CSV published).
pub fn write_keys(path: &Path, t: &CleanTable, keys: &Keys) -> std::io::Result<()> {
    use std::io::Write;
    // the texts in row order (reading the table in order), the records in hash order,
    // streamed to the file a buffer at a time
    let mut texts = String::with_capacity(t.len() * 32);
    let mut ends = Vec::with_capacity(t.len());
    let (mut year, mut month) = (String::new(), String::new());
    for i in 0..t.len() {
        push_key_text(&mut texts, row_fields(t, i, &mut year, &mut month));
        ends.push(texts.len());
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(MAGIC)?;
    w.write_all(&(keys.0.len() as u64).to_le_bytes())?;
    let mut record = Vec::with_capacity(RECORD);
    for &(h, i) in &keys.0 {
        let i = i as usize;
        let from = if i == 0 { 0 } else { ends[i - 1] };
        record.clear();
        push_record(&mut record, h, t.value[i], (from, ends[i]))?;
        w.write_all(&record)?;
    }
    w.write_all(texts.as_bytes())?;
    w.flush()
}

/// The previous publication's keys, sorted by hash: the bytes of its key file, read in
/// place (else, for a folder published by an older version, made from its `trade.csv`).
struct Previous {
    bytes: Bytes,
    n: usize,
}

/// The bytes of a key file: mapped from the file (no copy, no fresh memory), or made in
/// memory from a published CSV.
enum Bytes {
    Mapped(memmap2::Mmap),
    Made(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Made(v) => v,
        }
    }
}

impl Previous {
    fn read(dir: &Path) -> Option<Previous> {
        Self::from_key_file(&dir.join(KEYS_FILE)).or_else(|| Self::from_csv(&dir.join("trade.csv")))
    }

    /// Checks the layout: magic, count, records, text offsets in order and in bounds, the
    /// texts UTF-8 and the hashes sorted.
    fn from_bytes(bytes: Bytes) -> Option<Previous> {
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let n = usize::try_from(u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?;
        let texts = bytes.get(16 + n.checked_mul(RECORD)?..)?;
        let texts_ok = std::str::from_utf8(texts).is_ok();
        let texts_len = texts.len();
        let p = Previous { bytes, n };
        let spans_ok = (0..n).all(|k| {
            let (from, to) = p.span(k);
            from <= to && to <= texts_len
        });
        let sorted = (1..n).all(|k| p.hash(k - 1) <= p.hash(k));
        // a text cut inside a character reads as empty, never panics
        (texts_ok && spans_ok && sorted).then_some(p)
    }

    fn record(&self, k: usize) -> &[u8] {
        &self.bytes[16 + k * RECORD..16 + (k + 1) * RECORD]
    }

    fn hash(&self, k: usize) -> u128 {
        u128::from_le_bytes(self.record(k)[..16].try_into().expect("16 bytes"))
    }

    fn value(&self, k: usize) -> Option<Decimal> {
        let v: [u8; 16] = self.record(k)[16..32].try_into().expect("16 bytes");
        (v != NULL).then(|| Decimal::deserialize(v))
    }

    fn span(&self, k: usize) -> (usize, usize) {
        let r = self.record(k);
        let at = |o: usize| u32::from_le_bytes(r[o..o + 4].try_into().expect("4 bytes")) as usize;
        (at(32), at(36))
    }

    fn text(&self, k: usize) -> &str {
        let texts = &self.bytes[16 + self.n * RECORD..];
        let (from, to) = self.span(k);
        std::str::from_utf8(&texts[from..to]).unwrap_or("")
    }

    fn from_key_file(path: &Path) -> Option<Previous> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: the key file is this tool's own output, and no run rewrites a published
        // file in place: a publication is written beside the output folder and swapped in
        // by renames, so a mapped key file is at most unlinked, never truncated, while it
        // is read; every offset read from it is checked against its length first
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        Self::from_bytes(Bytes::Mapped(map))
    }

    fn from_csv(path: &Path) -> Option<Previous> {
        let mut text = std::fs::read(path).ok()?;
        if text.starts_with(b"\xEF\xBB\xBF") {
            text.drain(..3);
        }
        let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
        let delimiter = if first_line.contains(&b';') {
            b';'
        } else {
            b','
        };
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(&text[..]);
        let h = r.headers().ok()?.clone();
        let col = |n: &str| h.iter().position(|x| x == n);
        let cols = [
            col("reporter")?,
            col("partner")?,
            col("flow")?,
            col("year")?,
            col("month")?,
            col("commodity")?,
        ];
        let val = col("value_usd")?;
        let mut keys = Vec::new();
        let mut rec = csv::StringRecord::new();
        while r.read_record(&mut rec).ok()? {
            let f = cols.map(|i| rec.get(i).unwrap_or(""));
            let value = rec.get(val).unwrap_or("").parse::<Decimal>().ok();
            keys.push((key_hash(f.map(str::as_bytes)), value, key_text(f)));
        }
        keys.sort_unstable_by_key(|k| k.0);
        let mut bytes = Vec::with_capacity(16 + keys.len() * RECORD);
        let mut texts = String::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        for (h, v, t) in keys {
            let from = texts.len();
            texts.push_str(&t);
            push_record(&mut bytes, h, v, (from, texts.len())).ok()?;
        }
        bytes.extend_from_slice(texts.as_bytes());
        Self::from_bytes(Bytes::Made(bytes))
    }
}

/// One record of the key file: the key's hash, its value, the span of its text.
fn push_record(
    out: &mut Vec<u8>,
    hash: u128,
    value: Option<Decimal>,
    text: (usize, usize),
) -> std::io::Result<()> {
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(&value.map_or(NULL, |v| v.serialize()));
    for at in [text.0, text.1] {
        let at = u32::try_from(at).map_err(|_| std::io::Error::other("key texts over 4 GiB"))?;
        out.extend_from_slice(&at.to_le_bytes());
    }
    Ok(())
}

/// Keeps the first [`MAX_LISTED`] of `v` in the order `cmp`, sorted.
fn first_sorted<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if v.len() > MAX_LISTED {
        v.select_nth_unstable_by(MAX_LISTED, &cmp);
        v.truncate(MAX_LISTED);
    }
    v.sort_unstable_by(cmp);
}

fn value_text(v: Option<Decimal>) -> String {
    v.map(|v| v.normalize().to_string()).unwrap_or_default()
}

/// Compares the clean table with the previous publication in `dir`: both sorted by key
/// hash and walked side by side.
pub fn compare(dir: &Path, t: &CleanTable, keys: &Keys) -> Changes {
    let Some(prev) = Previous::read(dir) else {
        return Changes::default();
    };
    let previous_run_id = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|m| m["run_id"].as_str().map(str::to_string));
    let mut c = Changes {
        compared: true,
        previous_run_id,
        ..Default::default()
    };
    // rows only this table has, rows only the previous one has, rows whose value changed
    let (mut added, mut removed, mut revised) = (Vec::new(), Vec::new(), Vec::new());
    let (mut a, mut b) = (0usize, 0usize);
    loop {
        use std::cmp::Ordering::*;
        // Less: a key only the previous publication has; Greater: only this one
        let side = match (a < prev.n, b < keys.0.len()) {
            (false, false) => break,
            (true, true) => prev.hash(a).cmp(&keys.0[b].0),
            (true, false) => Less,
            (false, true) => Greater,
        };
        match side {
            Less => removed.push(a),
            Greater => added.push(keys.0[b].1 as usize),
            Equal => {
                let (old, i) = (prev.value(a), keys.0[b].1 as usize);
                if old != t.value[i] {
                    revised.push((i, old));
                }
            }
        }
        a += usize::from(side != Greater);
        b += usize::from(side != Less);
    }
    c.counts = Counts {
        added: added.len(),
        removed: removed.len(),
        revised: revised.len(),
    };
    // the first MAX_LISTED of each in key order, formatted (not a text per change)
    let key_order = |&i: &usize, &j: &usize| {
        let k = |i: usize| {
            (
                t.reporter[i],
                t.partner[i],
                t.flow[i],
                t.year[i],
                t.month[i],
                t.commodity(i),
            )
        };
        k(i).cmp(&k(j))
    };
    first_sorted(&mut added, key_order);
    c.added = added
        .iter()
        .map(|&i| format!("{} = {}", row_key_text(t, i), value_text(t.value[i])))
        .collect();
    first_sorted(&mut removed, |&x, &y| prev.text(x).cmp(prev.text(y)));
    c.removed = removed
        .iter()
        .map(|&k| format!("{} = {}", prev.text(k), value_text(prev.value(k))))
        .collect();
    first_sorted(&mut revised, |x, y| key_order(&x.0, &y.0));
    c.revised = revised
        .into_iter()
        .map(|(i, old)| {
            let new = t.value[i];
            let (change, change_share) = match (old, new) {
                (Some(o), Some(n)) => (
                    (n - o).normalize().to_string(),
                    (!o.is_zero())
                        .then(|| {
                            rust_decimal::prelude::ToPrimitive::to_f64(&(n / o - Decimal::ONE))
                        })
                        .flatten(),
                ),
                _ => (String::new(), None),
            };
            Revision {
                key: row_key_text(t, i),
                old: value_text(old),
                new: value_text(new),
                change,
                change_share,
            }
        })
        .collect();
    c
}
