//! The change report: the new clean table against the previous publication's, by key
//! (reporter, partner, flow, year, month, commodity): figures added, removed, and revised
//! with old value, new value and change. Revisions are normal in trade statistics; this
//! is how a data owner sees them.
//!
//! Reads the previous publication's key file (`.keys.bin`, written with every
//! publication: each key with its value, in key order), or, for a folder published
//! before there was one, its `trade.csv`.

use rust_decimal::Decimal;
use std::path::Path;

use crate::mapped::{Bytes, Pass};
use crate::model::push_int;
use crate::publish::{CleanTable, Cursor, FlushedFile, Rows};

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
/// Layout: the magic; the number of records (u64); the records, in key order; the number
/// of texts (u64); the end of each text (u64 each); the texts; where the records end
/// (u64); the xxh3-128 checksum of all that (16 bytes). Integers little-endian.
///
/// A record says what differs from the record before it (the first: from
/// [`Rec::default`]), as sorted keys repeat their reporter, partner, flow and period: a
/// head byte (bits 0-2: reporter, partner, flow index given; 3: year given; 4: month
/// given; 5: a value; 6: the value negative), the indices given (ULEB128), the year given
/// (zigzag ULEB128), the month given (a byte, 0 for none), the commodity's index
/// (ULEB128), and a value as its scale (a byte) and the magnitude of its mantissa
/// (ULEB128). About 8 bytes a figure, where fixed-width records took 40: at 10M rows
/// 320 MB less for the disk to take at every publication, and to free two later.
const MAGIC: &[u8; 8] = b"TFKEYS06";

/// One record of the key file: the indices of its reporter, partner, flow and commodity
/// texts, its period and its value (`None`: missing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Rec {
    ids: [u32; 4],
    year: i32,
    month: Option<u8>,
    value: Option<Decimal>,
}

const GIVEN_YEAR: u8 = 1 << 3;
const GIVEN_MONTH: u8 = 1 << 4;
const VALUE: u8 = 1 << 5;
const NEGATIVE: u8 = 1 << 6;

/// A ULEB128 integer of at most 14 bytes (98 bits: a Decimal's 96-bit mantissa fits).
#[inline]
fn read_uleb(b: &[u8], at: &mut usize) -> Option<u128> {
    // the first 63 bits in a u64 (every index and year, nearly every mantissa)
    let mut v = 0u64;
    for k in 0..9 {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7F) << (7 * k);
        if byte & 0x80 == 0 {
            return Some(v.into());
        }
    }
    let mut v = u128::from(v);
    for k in 9..14 {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u128::from(byte & 0x7F) << (7 * k);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Appends records in order, each written as it differs from the one before (see
/// [`MAGIC`]).
#[derive(Default)]
struct Encoder {
    last: Rec,
}

impl Encoder {
    fn push(&mut self, out: &mut Vec<u8>, r: Rec) {
        push_record(out, &self.last, &r);
        self.last = r;
    }
}

/// Appends record `r`, written as it differs from `last`.
fn push_record(out: &mut Vec<u8>, last: &Rec, r: &Rec) {
    // made on the stack, appended at once: a head byte, three indices and the
    // commodity's (5 bytes each at most), a year (5), a month, a scale, a mantissa (14)
    let mut b = [0u8; 1 + 4 * 5 + 5 + 1 + 1 + 14];
    let mut n = 1;
    let mut put = |mut v: u128| {
        while v >= 0x80 {
            b[n] = v as u8 | 0x80;
            n += 1;
            v >>= 7;
        }
        b[n] = v as u8;
        n += 1;
    };
    let mut head = 0u8;
    for j in 0..3 {
        if r.ids[j] != last.ids[j] {
            head |= 1 << j;
            put(r.ids[j].into());
        }
    }
    if r.year != last.year {
        head |= GIVEN_YEAR;
        put(((r.year << 1) ^ (r.year >> 31)) as u32 as u128);
    }
    if r.month != last.month {
        head |= GIVEN_MONTH;
        put(r.month.unwrap_or(0).into());
    }
    put(r.ids[3].into());
    if let Some(v) = r.value {
        head |= VALUE;
        if v.is_sign_negative() {
            head |= NEGATIVE;
        }
        put(v.scale().into());
        put(v.mantissa().unsigned_abs());
    }
    b[0] = head;
    out.extend_from_slice(&b[..n]);
}

/// The record at `*at`, written as it differs from `last`; `None` when the bytes are not
/// one (cut short, an index past `texts`, a month past 12, a scale or mantissa no
/// Decimal has, a head byte with its spare bit set).
fn read_record(b: &[u8], at: &mut usize, last: &Rec, texts: usize) -> Option<Rec> {
    let head = *b.get(*at)?;
    *at += 1;
    if head & 0x80 != 0 || (head & NEGATIVE != 0 && head & VALUE == 0) {
        return None;
    }
    let id = |at: &mut usize| -> Option<u32> {
        u32::try_from(read_uleb(b, at)?)
            .ok()
            .filter(|&i| (i as usize) < texts)
    };
    let mut r = *last;
    for j in 0..3 {
        if head & (1 << j) != 0 {
            r.ids[j] = id(at)?;
        }
    }
    if head & GIVEN_YEAR != 0 {
        let z = u32::try_from(read_uleb(b, at)?).ok()?;
        r.year = (z >> 1) as i32 ^ -((z & 1) as i32);
    }
    if head & GIVEN_MONTH != 0 {
        let m = *b.get(*at)?;
        *at += 1;
        r.month = match m {
            0 => None,
            1..=12 => Some(m),
            _ => return None,
        };
    }
    r.ids[3] = id(at)?;
    r.value = if head & VALUE != 0 {
        let scale = u32::from(*b.get(*at)?);
        *at += 1;
        let m = read_uleb(b, at)?;
        if scale > Decimal::MAX_SCALE || m >> 96 != 0 {
            return None;
        }
        let negative = head & NEGATIVE != 0;
        let mut v = Decimal::from_parts(
            m as u32,
            (m >> 32) as u32,
            (m >> 64) as u32,
            negative,
            scale,
        );
        // a negative zero stays one, as it was written
        v.set_sign_negative(negative);
        Some(v)
    } else {
        None
    };
    Some(r)
}

/// A figure's key: reporter, partner, flow, year, month, commodity. The clean table is
/// ordered by it, and so is the key file.
type Key<'a> = (&'a str, &'a str, &'a str, i32, Option<u8>, &'a str);

fn row_key(t: &CleanTable, i: usize) -> Key<'_> {
    (
        t.reporter(i),
        t.partner(i),
        t.flow(i),
        t.year.get(i),
        t.month.get(i),
        t.commodity(i),
    )
}

/// A key's text, the way the report lists it.
fn text_of(k: Key<'_>) -> String {
    let (mut year, mut month) = (String::new(), String::new());
    push_int(&mut year, k.3);
    if let Some(m) = k.4 {
        push_int(&mut month, m);
    }
    key_text([k.0, k.1, k.2, &year, &month, k.5])
}

/// The rows of a clean table in key order: the table's own order, which validate sorts
/// by key; should a table come unsorted, a permutation that sorts it.
pub struct Keys(Option<Vec<u32>>);

/// Rows `a` and `b` in key order, as their [`row_key`]s compare: a country or
/// commodity of the same index, or the same flow, is equal without its text being read.
fn key_cmp(t: &CleanTable, a: usize, b: usize) -> std::cmp::Ordering {
    let country = |x: u16, y: u16| {
        if x == y {
            std::cmp::Ordering::Equal
        } else {
            t.countries[x as usize].cmp(t.countries[y as usize])
        }
    };
    country(t.reporter[a], t.reporter[b])
        .then_with(|| country(t.partner[a], t.partner[b]))
        .then_with(|| {
            if t.flow[a] == t.flow[b] {
                std::cmp::Ordering::Equal
            } else {
                t.flow(a).cmp(t.flow(b))
            }
        })
        .then_with(|| (t.year.get(a), t.month.get(a)).cmp(&(t.year.get(b), t.month.get(b))))
        .then_with(|| {
            if t.commodity.get(a) == t.commodity.get(b) {
                std::cmp::Ordering::Equal
            } else {
                t.commodity(a).cmp(t.commodity(b))
            }
        })
}

impl Keys {
    pub fn of(t: &CleanTable) -> Keys {
        use rayon::prelude::*;
        let sorted = (1..t.len())
            .into_par_iter()
            .all(|i| key_cmp(t, i - 1, i).is_lt());
        if sorted {
            return Keys(None);
        }
        let mut order: Vec<u32> = (0..t.len() as u32).collect();
        order.par_sort_by(|&a, &b| key_cmp(t, a as usize, b as usize));
        Keys(Some(order))
    }

    /// The rows, of a table of `rows`.
    fn len(&self, rows: usize) -> usize {
        self.0.as_ref().map_or(rows, Vec::len)
    }

    /// The keys of `rows`. Segments are in key order as [`crate::segments::Segments::seal`]
    /// puts them (each bucket's rows sorted by key, the runs of its ordered pairs in the
    /// order of their reporter and partner codes: the first parts of the key); the tests
    /// compare every output of the partitioned run with those of the table held.
    pub fn of_rows(rows: Rows<'_>) -> Keys {
        match rows {
            Rows::Held(t) => Keys::of(t),
            Rows::Segments(_) => Keys(None),
        }
    }

    /// The row at place `k` in key order.
    fn row(&self, k: usize) -> usize {
        self.0.as_ref().map_or(k, |o| o[k] as usize)
    }
}

/// The texts a key file names, each once: the table's commodities first, then
/// reporters, partners and flows as met.
struct Texts<'a> {
    texts: Vec<&'a str>,
    index: rustc_hash::FxHashMap<&'a str, u32>,
}

impl<'a> Texts<'a> {
    /// Starts with `first` as texts 0, 1, ... (not looked up by [`Texts::id`]: a text
    /// equal to one of them gets an index of its own, which compares the same).
    fn new(first: impl Iterator<Item = &'a str>) -> Texts<'a> {
        Texts {
            texts: first.collect(),
            index: Default::default(),
        }
    }

    fn id(&mut self, s: &'a str) -> u32 {
        let next = self.texts.len() as u32;
        let id = *self.index.entry(s).or_insert(next);
        if id == next {
            self.texts.push(s);
        }
        id
    }
}

/// What follows the records: the number of texts, their ends, the texts, and where the
/// records ended (`records_end`).
fn push_tail(out: &mut Vec<u8>, texts: &[&str], records_end: u64) {
    out.extend_from_slice(&(texts.len() as u64).to_le_bytes());
    let mut end = 0u64;
    for t in texts {
        end += t.len() as u64;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for t in texts {
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&records_end.to_le_bytes());
}

/// Writes the keys of a clean table with their values, in key order, so the next run
/// compares without parsing the published CSV (and with no CSV published): about 8 bytes
/// a figure, streamed to the file a buffer at a time.
pub fn write_keys(path: &Path, rows: Rows<'_>, keys: &Keys) -> std::io::Result<()> {
    use std::io::Write;
    let head = rows.head();
    let t: &CleanTable = &head;
    // a commodity's text index is its index in the table; reporters, partners and
    // flows (static texts, a few hundred) by their index in the table's countries or
    // their flow, looked up once each: no text hashed per row
    let mut texts = Texts::new(t.commodities.iter());
    const UNSET: u32 = u32::MAX;
    let mut country_ids = vec![UNSET; t.countries.len()];
    let mut flow_ids = [UNSET; 4];
    let id_of = |slot: &mut u32, s: &'static str, texts: &mut Texts<'_>| -> u32 {
        if *slot == UNSET {
            *slot = texts.id(s);
        }
        *slot
    };
    let commodities = t.commodities.len();
    let total = rows.any_total().then(|| texts.id("TOTAL"));
    let n = keys.len(rows.len());
    let mut cursor = Cursor::new(rows);
    let mut w = Hashed {
        file: std::io::BufWriter::with_capacity(1 << 20, FlushedFile::create(path)?),
        sum: xxhash_rust::xxh3::Xxh3::new(),
    };
    w.write_all(MAGIC)?;
    w.write_all(&(n as u64).to_le_bytes())?;
    let mut records = Vec::with_capacity(1 << 16);
    let mut encoder = Encoder::default();
    // where the records end: counted as they go
    let mut end = 16u64;
    for k in 0..n {
        let (t, i) = cursor.row(keys.row(k))?;
        let c = t.commodity.get(i);
        let ids = [
            id_of(
                &mut country_ids[t.reporter[i] as usize],
                t.reporter(i),
                &mut texts,
            ),
            id_of(
                &mut country_ids[t.partner[i] as usize],
                t.partner(i),
                &mut texts,
            ),
            id_of(&mut flow_ids[t.flow[i] as usize], t.flow(i), &mut texts),
            if (c as usize) < commodities {
                c
            } else {
                total.unwrap_or_default()
            },
        ];
        let r = Rec {
            ids,
            year: t.year.get(i),
            month: t.month.get(i),
            value: t.value.get(i),
        };
        encoder.push(&mut records, r);
        if records.len() > (1 << 16) - 64 {
            end += records.len() as u64;
            w.write_all(&records)?;
            records.clear();
        }
    }
    end += records.len() as u64;
    push_tail(&mut records, &texts.texts, end);
    w.write_all(&records)?;
    let sum = w.sum.digest128();
    w.file.write_all(&sum.to_le_bytes())?;
    w.file.into_inner().map_err(|e| e.into_error())?.finish()
}

/// A file written with the checksum of what went into it.
struct Hashed {
    file: std::io::BufWriter<FlushedFile>,
    sum: xxhash_rust::xxh3::Xxh3,
}

impl Hashed {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.sum.update(b);
        self.file.write_all(b)
    }
}

/// The previous publication's keys in key order: the bytes of its key file, read in
/// place (else, for a folder published by an older version, made from its `trade.csv`).
struct Previous {
    bytes: Bytes,
    n: usize,
    /// Where the records end in `bytes` (they start at 16).
    records_end: usize,
    /// The texts, checked once as UTF-8 and copied (they are few beside the records).
    texts: String,
    /// Where each text ends in `texts`.
    ends: Vec<usize>,
}

/// The records of a key file, read in order (see [`MAGIC`]).
struct Records<'a> {
    p: &'a Previous,
    /// Where the next record starts.
    at: usize,
    left: usize,
    last: Rec,
    /// Set at bytes that are not a record.
    broken: bool,
}

impl Records<'_> {
    /// Whether every record was read, whole, and they ended where the file says.
    fn whole(&self) -> bool {
        !self.broken && self.left == 0 && self.at == self.p.records_end
    }
}

impl Iterator for Records<'_> {
    type Item = Rec;

    /// The next record; `None` after the last, or at bytes that are not one (then
    /// [`Records::whole`] says so).
    fn next(&mut self) -> Option<Rec> {
        if self.left == 0 || self.broken {
            return None;
        }
        let b = &self.p.bytes[..self.p.records_end];
        let Some(r) = read_record(b, &mut self.at, &self.last, self.p.ends.len()) else {
            self.broken = true;
            return None;
        };
        self.left -= 1;
        self.last = r;
        Some(r)
    }
}

impl Previous {
    /// Checks the file: magic, its checksum (a file cut short or changed is not used),
    /// counts, sizes, text ends in order, texts UTF-8. The records are checked as they
    /// are read, once (see [`Records::whole`]): each whole, its indices naming a text,
    /// the count of them ending where the file says.
    fn from_bytes(bytes: Bytes) -> Option<Previous> {
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let body = bytes.len().checked_sub(16)?;
        let mut sum = xxhash_rust::xxh3::Xxh3::new();
        bytes.pass_over(body, |chunk| sum.update(chunk));
        if sum.digest128().to_le_bytes() != bytes[body..] {
            return None;
        }
        let count = |at: usize| -> Option<usize> {
            usize::try_from(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)).ok()
        };
        let n = count(8)?;
        let m_at = count(body.checked_sub(8)?)?;
        if m_at < 16 {
            return None;
        }
        let m = count(m_at)?;
        let ends_at = m_at.checked_add(8)?;
        let texts_at = ends_at.checked_add(m.checked_mul(8)?)?;
        let texts = bytes.get(texts_at..body - 8)?;
        let texts = std::str::from_utf8(texts).ok()?.to_string();
        let mut ends = Vec::with_capacity(m);
        for j in 0..m {
            let at = ends_at + j * 8;
            let end = usize::try_from(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
                .ok()?;
            let from = ends.last().copied().unwrap_or(0);
            // each text a whole one: in order, in bounds, on character boundaries
            if end < from || !texts.is_char_boundary(end) || end > texts.len() {
                return None;
            }
            ends.push(end);
        }
        Some(Previous {
            bytes,
            n,
            records_end: m_at,
            texts,
            ends,
        })
    }

    fn records(&self) -> Records<'_> {
        Records {
            p: self,
            at: 16,
            left: self.n,
            last: Rec::default(),
            broken: false,
        }
    }

    fn text(&self, id: u32) -> &str {
        let id = id as usize;
        let from = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.texts[from..self.ends[id]]
    }

    fn key(&self, r: &Rec) -> Key<'_> {
        let [reporter, partner, flow, commodity] = r.ids;
        (
            self.text(reporter),
            self.text(partner),
            self.text(flow),
            r.year,
            r.month,
            self.text(commodity),
        )
    }

    /// Record `r`'s key against row `i` of `t`: as [`Self::key`] compared with
    /// [`row_key`], reading a text only where `same` does not already tell it equal.
    fn cmp(&self, r: &Rec, t: &CleanTable, i: usize, same: &Same) -> std::cmp::Ordering {
        use std::cmp::Ordering::Equal;
        let [reporter, partner, flow, commodity] = r.ids;
        let country = |id: u32, row: u32, text: &str| {
            if same.country[id as usize] == row {
                Equal
            } else {
                self.text(id).cmp(text)
            }
        };
        country(reporter, t.reporter[i].into(), t.reporter(i))
            .then_with(|| country(partner, t.partner[i].into(), t.partner(i)))
            .then_with(|| {
                if same.flow[flow as usize] == Some(t.flow[i]) {
                    Equal
                } else {
                    self.text(flow).cmp(t.flow(i))
                }
            })
            .then_with(|| (r.year, r.month).cmp(&(t.year.get(i), t.month.get(i))))
            .then_with(|| {
                if same.commodity.get(t.commodity.get(i) as usize) == Some(&commodity) {
                    Equal
                } else {
                    self.text(commodity).cmp(t.commodity(i))
                }
            })
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
        // read as a stream (a published CSV can be gigabytes): the BOM skipped and the
        // delimiter told from the header line, both seen in the reader's first buffer
        use std::io::BufRead;
        let mut text = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path).ok()?);
        if text.fill_buf().ok()?.starts_with(b"\xEF\xBB\xBF") {
            text.consume(3);
        }
        let head = text.fill_buf().ok()?;
        let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let delimiter = if first_line.contains(&b';') {
            b';'
        } else {
            b','
        };
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text);
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
        // the texts interned as read, each row a record of their ids
        let mut dict = crate::model::Dict::default();
        let mut rows: Vec<Rec> = Vec::new();
        let mut rec = csv::StringRecord::new();
        while r.read_record(&mut rec).ok()? {
            let f = cols.map(|i| rec.get(i).unwrap_or(""));
            let month = match f[4] {
                "" => None,
                m => Some(m.parse::<u8>().ok().filter(|m| (1..=12).contains(m))?),
            };
            rows.push(Rec {
                ids: [f[0], f[1], f[2], f[5]].map(|s| dict.intern(s)),
                year: f[3].parse().ok()?,
                month,
                value: rec.get(val).unwrap_or("").parse::<Decimal>().ok(),
            });
        }
        let text = |id: u32| dict.get(id).unwrap_or("");
        let key = |r: &Rec| -> Key<'_> {
            let [reporter, partner, flow, commodity] = r.ids.map(text);
            (reporter, partner, flow, r.year, r.month, commodity)
        };
        rows.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        rows.dedup_by(|a, b| key(a) == key(b));
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        let mut encoder = Encoder::default();
        for &r in &rows {
            encoder.push(&mut bytes, r);
        }
        drop(rows);
        let texts: Vec<&str> = (0..dict.len() as u32).map(text).collect();
        let records_end = bytes.len() as u64;
        push_tail(&mut bytes, &texts, records_end);
        let sum = xxhash_rust::xxh3::xxh3_128(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        Self::from_bytes(Bytes::Made(bytes))
    }
}

fn value_text(v: Option<Decimal>) -> String {
    v.map(|v| v.normalize().to_string()).unwrap_or_default()
}

/// The previous key file's texts matched with the table's own, so that equal keys are
/// told equal by integers, without their texts being read: each commodity's text index in
/// the file (by the table's commodity index), and each of the file's texts as a country
/// and as a flow of the table (by the file's text index).
struct Same {
    commodity: Vec<u32>,
    country: Vec<u32>,
    flow: Vec<Option<crate::model::Flow>>,
}

impl Same {
    fn of(prev: &Previous, t: &CleanTable) -> Same {
        let m = prev.ends.len() as u32;
        let mut commodity = vec![u32::MAX; t.commodities.len()];
        for j in 0..m {
            if let Some(c) = t.commodities.find(prev.text(j)) {
                commodity[c as usize] = j;
            }
        }
        let countries: rustc_hash::FxHashMap<&str, u32> = t
            .countries
            .iter()
            .enumerate()
            .map(|(c, &s)| (s, c as u32))
            .collect();
        Same {
            commodity,
            country: (0..m)
                .map(|j| countries.get(prev.text(j)).copied().unwrap_or(u32::MAX))
                .collect(),
            flow: (0..m)
                .map(|j| {
                    crate::model::Flow::ALL
                        .into_iter()
                        .find(|f| f.as_str() == prev.text(j))
                })
                .collect(),
        }
    }
}

/// Compares the clean table with the previous publication in `dir`: both in key order,
/// walked side by side; the first [`MAX_LISTED`] of each kind are the first met. The
/// previous publication's key file, else its `trade.csv`; nothing compared when neither
/// can be read whole.
pub fn compare(dir: &Path, rows: Rows<'_>, keys: &Keys) -> Changes {
    let walked = Previous::from_key_file(&dir.join(KEYS_FILE))
        .and_then(|prev| walk(&prev, rows, keys))
        .or_else(|| {
            Previous::from_csv(&dir.join("trade.csv")).and_then(|prev| walk(&prev, rows, keys))
        });
    let Some(mut c) = walked else {
        return Changes::default();
    };
    c.previous_run_id = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|m| m["run_id"].as_str().map(str::to_string));
    c
}

/// [`compare`] with the previous publication's keys `prev`; `None` when a record of
/// them is not whole (a key file whose checksum holds but whose records do not), or the
/// rows cannot be read back.
fn walk(prev: &Previous, rows: Rows<'_>, keys: &Keys) -> Option<Changes> {
    let mut c = Changes {
        compared: true,
        ..Default::default()
    };
    let listed = |n: usize| n < MAX_LISTED;
    let n = keys.len(rows.len());
    let same = Same::of(prev, &rows.head());
    let mut cursor = Cursor::new(rows);
    let unread = |e: std::io::Error| {
        tracing::warn!(error = %e, "the clean rows cannot be read back; no change report");
    };
    let mut records = prev.records();
    let (mut a, mut b) = (records.next(), 0usize);
    let mut pass = Pass::over(&prev.bytes);
    loop {
        use std::cmp::Ordering::*;
        pass.reached(records.at);
        // Less: a key only the previous publication has; Greater: only this one
        let side = match (&a, b < n) {
            (None, false) => break,
            (Some(r), true) => {
                let (t, i) = cursor.row(keys.row(b)).map_err(unread).ok()?;
                prev.cmp(r, t, i, &same)
            }
            (Some(_), false) => Less,
            (None, true) => Greater,
        };
        match (side, &a) {
            (Less, Some(r)) => {
                if listed(c.counts.removed) {
                    c.removed.push(format!(
                        "{} = {}",
                        text_of(prev.key(r)),
                        value_text(r.value)
                    ));
                }
                c.counts.removed += 1;
            }
            (Greater, _) => {
                let (t, i) = cursor.row(keys.row(b)).map_err(unread).ok()?;
                if listed(c.counts.added) {
                    c.added.push(format!(
                        "{} = {}",
                        text_of(row_key(t, i)),
                        value_text(t.value.get(i))
                    ));
                }
                c.counts.added += 1;
            }
            (Equal, Some(r)) => {
                let (t, i) = cursor.row(keys.row(b)).map_err(unread).ok()?;
                let (old, new) = (r.value, t.value.get(i));
                if old != new {
                    if listed(c.counts.revised) {
                        c.revised.push(revision(text_of(row_key(t, i)), old, new));
                    }
                    c.counts.revised += 1;
                }
            }
            // no previous record is Greater only
            (_, None) => {}
        }
        if side != Greater {
            a = records.next();
            if records.broken {
                return None;
            }
        }
        b += usize::from(side != Less);
    }
    records.whole().then_some(c)
}

fn revision(key: String, old: Option<Decimal>, new: Option<Decimal>) -> Revision {
    let (change, change_share) = match (old, new) {
        (Some(o), Some(n)) => (
            (n - o).normalize().to_string(),
            (!o.is_zero())
                .then(|| rust_decimal::prelude::ToPrimitive::to_f64(&(n / o - Decimal::ONE)))
                .flatten(),
        ),
        _ => (String::new(), None),
    };
    Revision {
        key,
        old: value_text(old),
        new: value_text(new),
        change,
        change_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flow;

    /// reporter, partner, flow, year, month, commodity, value (negative: missing)
    type Row<'a> = (
        &'static str,
        &'static str,
        &'static str,
        i32,
        Option<u8>,
        &'a str,
        i64,
    );

    /// A clean table of `rows`.
    fn table(rows: &[Row<'_>]) -> CleanTable {
        let mut t = CleanTable::default();
        for &(r, p, f, y, m, c, v) in rows {
            let (r, p) = (t.country(r), t.country(p));
            t.reporter.push(r);
            t.partner.push(p);
            t.flow
                .push(crate::normalize::parse_flow(f).expect("a flow"));
            t.year.push(y);
            t.month.push(m);
            let id = t.commodities.intern(c);
            t.commodity.push(id);
            t.value.push((v >= 0).then(|| Decimal::from(v)));
            t.place.push(crate::model::Place {
                table: 0,
                row: 0,
                col: 0,
            });
            t.flags.push(0);
        }
        t
    }

    #[test]
    fn rows_compare_as_their_keys() {
        // countries of the same index and of different indices with the same text (a
        // second entry for a code), equal and unequal commodity indices, months and none,
        // a TOTAL index
        let rows: Vec<Row<'_>> = vec![
            ("TUR", "KAZ", "export", 2019, Some(1), "010101", 1),
            ("TUR", "KAZ", "export", 2019, Some(1), "010101", 2),
            ("TUR", "AZE", "import", 2019, None, "TOTAL", 3),
            ("AZE", "TUR", "export", 2018, Some(12), "9", 4),
            ("TUR", "KAZ", "export", 2019, Some(1), "010102", 5),
            ("TUR", "KAZ", "import", 2019, Some(1), "010101", 6),
            ("TUR", "KAZ", "export", 2020, None, "010101", 7),
        ];
        let mut t = table(&rows);
        t.countries.push("TUR");
        t.reporter[1] = (t.countries.len() - 1) as u16;
        t.commodity.push(u32::MAX);
        let tur = t.country("TUR");
        for col in [&mut t.reporter, &mut t.partner] {
            col.push(tur);
        }
        t.flow.push(Flow::Export);
        t.year.push(2019);
        t.month.push(None);
        for a in 0..t.commodity.len() {
            for b in 0..t.commodity.len() {
                assert_eq!(
                    key_cmp(&t, a, b),
                    row_key(&t, a).cmp(&row_key(&t, b)),
                    "{a} {b}"
                );
            }
        }
    }

    fn publish(dir: &Path, t: &CleanTable) {
        write_keys(&dir.join(KEYS_FILE), Rows::Held(t), &Keys::of(t)).unwrap();
    }

    /// `t` compared with the publication in `dir`: (added, removed, revised) counted, and
    /// the changes.
    fn changes_of(dir: &Path, t: &CleanTable) -> ((usize, usize, usize), Changes) {
        let c = compare(dir, Rows::Held(t), &Keys::of(t));
        assert!(c.compared);
        ((c.counts.added, c.counts.removed, c.counts.revised), c)
    }

    #[test]
    fn a_refresh_is_compared_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let old = table(&[
            ("TUR", "AZE", "export", 2019, None, "TOTAL", 5),
            ("TUR", "AZE", "export", 2019, Some(3), "TOTAL", 1),
            ("TUR", "KAZ", "export", 2019, None, "010121", 7),
            ("TUR", "KAZ", "import", 2019, None, "TOTAL", 9),
            ("TUR", "KAZ", "import", 2020, None, "TOTAL", -1),
        ]);
        publish(dir.path(), &old);
        // written unsorted: the key order is found by sorting
        let new = table(&[
            ("TUR", "KAZ", "import", 2020, None, "TOTAL", 4),
            ("TUR", "AZE", "export", 2019, None, "TOTAL", 5),
            ("TUR", "KAZ", "export", 2019, None, "010121", 8),
            ("AZE", "TUR", "import", 2019, None, "TOTAL", 2),
        ]);
        let (counts, c) = changes_of(dir.path(), &new);
        assert_eq!(counts, (1, 2, 2));
        assert_eq!(c.added, ["AZE TUR import 2019 TOTAL = 2"]);
        assert_eq!(
            c.removed,
            [
                "TUR AZE export 2019-03 TOTAL = 1",
                "TUR KAZ import 2019 TOTAL = 9"
            ]
        );
        let revised: Vec<_> = c
            .revised
            .iter()
            .map(|r| (r.key.as_str(), r.old.as_str(), r.new.as_str()))
            .collect();
        assert_eq!(
            revised,
            [
                ("TUR KAZ export 2019 010121", "7", "8"),
                ("TUR KAZ import 2020 TOTAL", "", "4")
            ]
        );
        // the same table again: nothing changed
        publish(dir.path(), &new);
        assert_eq!(changes_of(dir.path(), &new).0, (0, 0, 0));
    }

    #[test]
    fn an_older_publication_is_read_from_its_csv_with_a_bom_and_semicolons() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trade.csv"),
            "\u{FEFF}reporter;partner;flow;year;month;commodity;value_usd;source\n\
             TUR;KAZ;import;2019;;TOTAL;9;a\n\
             TUR;AZE;export;2019;3;TOTAL;1;a\n",
        )
        .unwrap();
        let t = table(&[
            ("TUR", "AZE", "export", 2019, Some(3), "TOTAL", 2),
            ("TUR", "KAZ", "import", 2019, None, "TOTAL", 9),
        ]);
        let (counts, c) = changes_of(dir.path(), &t);
        assert_eq!(counts, (0, 0, 1));
        assert_eq!(c.revised[0].key, "TUR AZE export 2019-03 TOTAL");
    }

    #[test]
    fn a_key_file_of_many_steps_is_compared_whole() {
        // 400,000 keys (16 MB, two steps of letting go behind) against the same with a
        // revision every 1,000 rows, the last key gone and one added
        let n = 400_000;
        let codes: Vec<String> = (0..n).map(|i| format!("{i:06}")).collect();
        let rows = |bump: bool| -> Vec<Row<'_>> {
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = i as i64 + i64::from(bump && i % 1000 == 7);
                    ("TUR", "KAZ", "export", 2020, None, c.as_str(), v)
                })
                .collect()
        };
        let dir = tempfile::tempdir().unwrap();
        publish(dir.path(), &table(&rows(false)));
        let mut new = rows(true);
        new.pop();
        new.push(("TUR", "UZB", "export", 2020, None, "TOTAL", 1));
        let (counts, c) = changes_of(dir.path(), &table(&new));
        assert_eq!(counts, (1, 1, n / 1000));
        assert!(c.removed[0].contains(&codes[n - 1]), "{:?}", c.removed);
    }

    /// A key file of `records`, then the bytes `more`, then `texts`, saying it holds `n`
    /// records, with its checksum.
    fn key_file(records: &[Rec], texts: &[&str], n: usize, more: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&(n as u64).to_le_bytes());
        let mut encoder = Encoder::default();
        for &r in records {
            encoder.push(&mut b, r);
        }
        b.extend_from_slice(more);
        let end = b.len() as u64;
        push_tail(&mut b, texts, end);
        let sum = xxhash_rust::xxh3::xxh3_128(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    #[test]
    fn key_records_read_back_exactly_as_written() {
        use proptest::prelude::*;
        // any indices, years, months; values of any sign, scale and mantissa a Decimal
        // has (its 96 bits, zero and negative zero), or missing
        let value = (any::<bool>(), 0u128..(1 << 96), 0u32..=28, 0u8..4).prop_map(
            |(negative, m, scale, kind)| {
                let m = match kind {
                    0 => 0,
                    1 => m % 100_000,
                    _ => m,
                };
                let mut v = Decimal::from_i128_with_scale(m as i128, scale);
                v.set_sign_negative(negative);
                (kind != 3).then_some(v)
            },
        );
        let month = prop::option::of(1u8..=12);
        let rec = (prop::array::uniform4(0u32..40), any::<i32>(), month, value).prop_map(
            |(ids, year, month, value)| Rec {
                ids,
                year,
                month,
                value,
            },
        );
        let texts: Vec<String> = (0..40).map(|k| format!("t{k}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
        runner
            .run(&prop::collection::vec(rec, 0..50), |records| {
                let file = key_file(&records, &texts, records.len(), &[]);
                let p = Previous::from_bytes(Bytes::Made(file));
                prop_assert!(p.is_some());
                let p = p.unwrap();
                let mut read = p.records();
                let back: Vec<Rec> = read.by_ref().collect();
                prop_assert!(read.whole());
                prop_assert_eq!(&back, &records);
                // the same Decimals, not only equal ones: scale and sign kept
                let bits = |r: &[Rec]| -> Vec<Option<[u8; 16]>> {
                    r.iter().map(|r| r.value.map(|v| v.serialize())).collect()
                };
                prop_assert_eq!(bits(&back), bits(&records));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_damaged_key_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(&[
            ("TUR", "AZE", "export", 2019, None, "TOTAL", 5),
            ("TUR", "KAZ", "export", 2019, None, "TOTAL", 7),
        ]);
        publish(dir.path(), &t);
        let path = dir.path().join(KEYS_FILE);
        let good = std::fs::read(&path).unwrap();
        assert!(Previous::from_key_file(&path).is_some());
        let mut damaged: Vec<Vec<u8>> = vec![
            good[..good.len() - 1].to_vec(),
            good[..30].to_vec(),
            // the version before, whose records were 40 bytes each
            [b"TFKEYS05".as_slice(), &good[8..]].concat(),
        ];
        // a changed byte
        let mut changed = good.clone();
        changed[17] ^= 1;
        damaged.push(changed);
        // files whose checksum holds but whose records do not: a text index past the
        // texts, fewer or more records than the count, a month past 12, a scale no
        // Decimal has, a mantissa past 96 bits, the spare bit, a sign with no value, a
        // record cut short
        let texts = ["TUR", "AZE", "export", "TOTAL"];
        let rec = |ids: [u32; 4]| Rec {
            ids,
            year: 2019,
            month: None,
            value: Some(Decimal::from(5)),
        };
        let two = [rec([0, 1, 2, 3]), rec([0, 0, 2, 3])];
        let p = Previous::from_bytes(Bytes::Made(key_file(&two, &texts, 2, &[]))).unwrap();
        let mut read = p.records();
        assert_eq!(read.by_ref().count(), 2);
        assert!(read.whole());
        damaged.push(key_file(&[rec([0, 4, 2, 3])], &texts, 1, &[]));
        damaged.push(key_file(&two, &texts, 3, &[]));
        damaged.push(key_file(&two, &texts, 1, &[]));
        let mut past_96_bits = vec![VALUE, 3, 0];
        past_96_bits.extend([0xFF; 13]);
        past_96_bits.push(0x7F);
        for bytes in [
            vec![GIVEN_MONTH, 13, 3],
            vec![VALUE, 3, 29, 1],
            past_96_bits,
            vec![0x80, 3],
            vec![NEGATIVE, 3],
            vec![VALUE, 3, 2],
        ] {
            damaged.push(key_file(&[], &texts, 1, &bytes));
        }
        for (k, bytes) in damaged.into_iter().enumerate() {
            std::fs::write(&path, bytes).unwrap();
            // no trade.csv beside it either: nothing to compare with
            assert!(
                !compare(dir.path(), Rows::Held(&t), &Keys::of(&t)).compared,
                "case {k}"
            );
        }
    }
}
