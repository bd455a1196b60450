//! The shared vocabulary of every stage: a raw figure as ingest reads it, a typed figure
//! as normalise makes it, and the provenance both carry.
//!
//! Figures are kept column-wise (one `Vec` per field) rather than as a `Vec` of structs,
//! and repeated texts (a header, a partner name, a sheet name) are interned once in a
//! [`Dict`] and referred to by a `u32`. Nothing here reads files or decides anything
//! about money: that belongs to the stages.

use std::fmt;

mod routed;
pub use routed::{BucketOf, Routed, Router};

/// Marks an absent interned text.
pub const NONE: u32 = u32::MAX;

/// An interner: each distinct text is stored once and named by its index. The texts lie
/// end to end in one buffer (no allocation per text); the table holds each text's index
/// with its length and first 8 bytes, so a lookup of a short text (a code, a year, an ISO
/// code) is decided in the table without reading the buffer, and a text is not kept a
/// second time as a map key.
#[derive(Debug, Default, Clone)]
pub struct Dict {
    table: hashbrown::HashTable<Entry>,
    /// Every text, one after the other.
    text: String,
    /// Where each text ends in `text` (it starts where the one before it ends).
    ends: Vec<usize>,
}

/// The text a field of a run of records interned last, for [`Dict::intern_repeated`]:
/// its index, length and first 8 bytes.
#[derive(Debug, Clone, Copy)]
pub struct Last {
    id: u32,
    len: u32,
    head: u64,
}

impl Default for Last {
    fn default() -> Last {
        Last {
            id: NONE,
            len: 0,
            head: 0,
        }
    }
}

/// A text's index, length and first 8 bytes (zero-padded), in a [`Dict`]'s table.
#[derive(Debug, Clone, Copy)]
struct Entry {
    head: u64,
    id: u32,
    len: u32,
}

/// A text's first 8 bytes as an integer, zero-padded: read as whole words where a copy
/// of a few bytes into a zeroed buffer was a call to `memcpy` and a read of what it had
/// just written, which the processor could not forward (stalled: half of interning a
/// CSV's fields).
#[inline]
fn head(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    let word = |k: usize| u64::from(u32::from_le_bytes(b[k..k + 4].try_into().expect("4")));
    match n {
        8.. => u64::from_le_bytes(b[..8].try_into().expect("8")),
        // two words that overlap: the bytes they share are the same bytes
        4..=7 => word(0) | word(n - 4) << (8 * (n - 4)),
        // the first, middle and last bytes are every byte of a text of 1 to 3
        1..=3 => {
            u64::from(b[0])
                | u64::from(b[n / 2]) << (8 * (n / 2))
                | u64::from(b[n - 1]) << (8 * (n - 1))
        }
        0 => 0,
    }
}

fn text_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// Text `i` of a dict's buffer and ends.
#[inline]
fn item<'a>(text: &'a str, ends: &[usize], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

impl Dict {
    /// Index of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        self.intern_head(s, head(s))
    }

    /// [`Dict::intern`] of `s` whose first 8 bytes are `h`.
    fn intern_head(&mut self, s: &str, h: u64) -> u32 {
        let hash = text_hash(s);
        if let Some(i) = self.find_hashed(hash, s, h) {
            return i;
        }
        let i = self.ends.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        let (text, ends) = (&self.text, &self.ends);
        let entry = Entry {
            head: h,
            id: i,
            len: s.len() as u32,
        };
        self.table
            .insert_unique(hash, entry, |e| text_hash(item(text, ends, e.id as usize)));
        i
    }

    /// Index of `s` when it was interned, without adding it.
    pub fn find(&self, s: &str) -> Option<u32> {
        self.find_hashed(text_hash(s), s, head(s))
    }

    fn find_hashed(&self, hash: u64, s: &str, h: u64) -> Option<u32> {
        let (text, ends) = (&self.text, &self.ends);
        let len = s.len();
        self.table
            .find(hash, |e| {
                e.head == h
                    && e.len as usize == len
                    && (len <= 8 || item(text, ends, e.id as usize) == s)
            })
            .map(|e| e.id)
    }

    /// Index of `s` when present, else [`NONE`].
    pub fn intern_opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NONE, |s| self.intern(s))
    }

    /// [`Dict::intern_opt`] for one field of a run of records, checking first whether
    /// the field repeats its last text (`last`): a title or a reporter repeated down a
    /// table costs one comparison, not a hash lookup, and a different text of up to 8
    /// bytes (a code, a year) is told by its length and first bytes alone.
    pub fn intern_repeated(&mut self, last: &mut Last, s: Option<&str>) -> u32 {
        let Some(s) = s else { return NONE };
        let h = head(s);
        if last.id != NONE
            && last.head == h
            && last.len as usize == s.len()
            && (s.len() <= 8 || self.get(last.id) == Some(s))
        {
            return last.id;
        }
        let id = self.intern_head(s, h);
        *last = Last {
            id,
            len: s.len() as u32,
            head: h,
        };
        id
    }

    /// The text behind an index; `None` for [`NONE`].
    #[inline]
    pub fn get(&self, i: u32) -> Option<&str> {
        let i = i as usize;
        (i < self.ends.len()).then(|| item(&self.text, &self.ends, i))
    }

    /// Every text, in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| item(&self.text, &self.ends, i))
    }

    /// Number of distinct texts.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when nothing has been interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// The direction of a figure, from the reporter's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Export,
    Import,
    ReExport,
    ReImport,
}

impl Flow {
    /// Every flow.
    pub const ALL: [Flow; 4] = [Flow::Export, Flow::Import, Flow::ReExport, Flow::ReImport];

    /// The contract's spelling: `export`, `import`, `re_export`, `re_import`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Export => "export",
            Flow::Import => "import",
            Flow::ReExport => "re_export",
            Flow::ReImport => "re_import",
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a place inside a table is written in `source_ref`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStyle {
    /// Spreadsheet cells: `B7`.
    Cell,
    /// Text files: `line 42, column 3`.
    Line,
    /// Records and HTML rows: `row 3, column 2`.
    Record,
}

/// One table read from a source: a sheet, a Markdown table, a CSV file.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Index of the source in [`Provenance::sources`].
    pub source: u16,
    /// Sheet name or table caption, as shown in `source_ref`.
    pub label: String,
    pub style: RefStyle,
}

/// One input of the run.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The source's id (`source` column).
    pub id: String,
    /// The path as the config gave it, or the URL.
    pub display: String,
}

/// Where every figure came from: the sources and tables that places point into.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub sources: Vec<SourceInfo>,
    pub tables: Vec<TableInfo>,
}

/// A figure's place: a table and a 0-based row and column inside the file
/// (spreadsheet row and column, or text line and table column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub table: u32,
    pub row: u32,
    pub col: u32,
}

impl Provenance {
    /// The source index of a place.
    pub fn source_of(&self, p: Place) -> usize {
        self.tables[p.table as usize].source as usize
    }

    /// The source id of a place.
    pub fn source_id(&self, p: Place) -> &str {
        &self.sources[self.source_of(p)].id
    }

    /// `raw/x.xlsx [Kazakhstan] B7` or `raw/x.md [Table 2] line 57, column 3`.
    pub fn source_ref(&self, p: Place) -> String {
        let mut s = String::new();
        self.push_source_ref(&mut s, p);
        s
    }

    /// Appends [`Provenance::source_ref`] to `out`, allocating nothing.
    pub fn push_source_ref(&self, out: &mut String, p: Place) {
        self.push_ref_table(out, p.table);
        self.push_ref_place(out, p);
    }

    /// The part of a `source_ref` that is the same for every place of `table`.
    pub fn push_ref_table(&self, out: &mut String, table: u32) {
        let t = &self.tables[table as usize];
        for s in [
            &self.sources[t.source as usize].display,
            " [",
            &t.label,
            "] ",
        ] {
            out.push_str(s);
        }
    }

    /// The rest of a `source_ref`: the place inside its table.
    pub fn push_ref_place(&self, out: &mut String, p: Place) {
        let t = &self.tables[p.table as usize];
        let (row, word) = match t.style {
            RefStyle::Cell => {
                push_column_letters(out, p.col);
                push_int(out, p.row + 1);
                return;
            }
            RefStyle::Line => (p.row + 1, "line "),
            RefStyle::Record => (p.row, "row "),
        };
        out.push_str(word);
        push_int(out, row);
        out.push_str(", column ");
        push_int(out, p.col + 1);
    }
}

/// `(0, 0)` is `A1`; `(6, 27)` is `AB7`.
pub fn cell_name(row: u32, col: u32) -> String {
    let mut s = String::new();
    push_column_letters(&mut s, col);
    s.push_str(&(row + 1).to_string());
    s
}

/// Appends an integer in decimal.
pub fn push_int(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends the letters of a 0-based column: `0` is `A`, `27` is `AB`.
fn push_column_letters(out: &mut String, col: u32) {
    let mut letters = [0u8; 8];
    let (mut at, mut c) = (letters.len(), col + 1);
    while c > 0 {
        at -= 1;
        letters[at] = b'A' + ((c - 1) % 26) as u8;
        c = (c - 1) / 26;
    }
    out.extend(letters[at..].iter().map(|&b| b as char));
}

/// A value as found in the file, before any interpretation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// An empty cell.
    Empty,
    /// A numeric spreadsheet cell.
    Number(f64),
    /// Text, by its index among the figures' value texts (see [`RawFigures::text_value`]).
    Text(u32),
    /// A text of plain digits, held in the value itself (see [`Digits`]).
    Digits(Digits),
}

/// A value text of plain digits (`-?(0|[1-9][0-9]*)(\.[0-9]+)?`, its digits as a number
/// below 2^43, so any of 12 digits, and at most 15 after the point) held as its digits, where the point was and its sign, in
/// 48 bits: it reads back as the very text it was, and takes no room among the value
/// texts (at 10M figures of the peers' data, three in five values; each text took its
/// bytes and 8 more for where it ends). What the text means (a decimal point or a
/// thousands separator) is still normalise's to say, from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits(u64);

impl Digits {
    const NEGATIVE: u64 = 1 << 47;
    const POINT_SHIFT: u32 = 43;
    const MANTISSA: u64 = (1 << 43) - 1;
    /// The longest text: a sign, `0.` and 15 digits.
    pub const LONGEST: usize = 18;

    /// `s` as digits, if it is a text of plain digits that reads back as itself.
    pub fn of(s: &str) -> Option<Digits> {
        let b = s.as_bytes();
        let start = usize::from(b.first() == Some(&b'-'));
        // no more than 18 digits: the mantissa cannot overflow below
        if b.len() <= start || b.len() > Self::LONGEST {
            return None;
        }
        let (mut mantissa, mut point) = (0u64, None);
        for (i, &c) in b.iter().enumerate().skip(start) {
            match c {
                b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(c - b'0'),
                b'.' if point.is_none() => point = Some(i),
                _ => return None,
            }
        }
        let int_end = point.unwrap_or(b.len());
        let after = point.map_or(0, |p| b.len() - p - 1);
        // digits before the point, with no leading zero ("0.5" is held, "00.5" and ".5"
        // are not), and after it if there is one: then the text reads back as it was
        let int = int_end - start;
        if int == 0 || int > 1 && b[start] == b'0' || point.is_some() && after == 0 {
            return None;
        }
        if after > 15 || mantissa > Self::MANTISSA {
            return None;
        }
        let d = Digits(
            (u64::from(start == 1) * Self::NEGATIVE)
                | ((after as u64) << Self::POINT_SHIFT)
                | mantissa,
        );
        debug_assert_eq!(d.text(&mut [0; Self::LONGEST]), s);
        Some(d)
    }

    /// The text, written into `buf`.
    pub fn text(self, buf: &mut [u8; Self::LONGEST]) -> &str {
        let point = ((self.0 >> Self::POINT_SHIFT) & 0xF) as usize;
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.0 & Self::MANTISSA).as_bytes();
        let mut n = 0;
        let mut put = |b: &[u8]| {
            buf[n..n + b.len()].copy_from_slice(b);
            n += b.len();
        };
        if self.0 & Self::NEGATIVE != 0 {
            put(b"-");
        }
        if point == 0 {
            put(digits);
        } else if digits.len() > point {
            let (int, frac) = digits.split_at(digits.len() - point);
            put(int);
            put(b".");
            put(frac);
        } else {
            // fewer digits than go after the point: "0." and zeros before them
            put(b"0.");
            put(&b"000000000000000"[..point - digits.len()]);
            put(digits);
        }
        // SAFETY: only ASCII digits, '.' and '-' were written to `buf[..n]`
        unsafe { std::str::from_utf8_unchecked(&buf[..n]) }
    }

    /// The number the text is where it can mean nothing else: digits without a point, or
    /// with a point declared the decimal mark (the same mantissa and scale as reading the
    /// text gives). `None` where the text is to be read: a point under a declared `,`
    /// (a thousands separator) or under no declaration (`1.234` can be either), and a
    /// negative zero.
    #[inline]
    pub fn exact(self, decimal: Option<char>) -> Option<rust_decimal::Decimal> {
        let point = ((self.0 >> Self::POINT_SHIFT) & 0xF) as u32;
        let mantissa = (self.0 & Self::MANTISSA) as i64;
        let negative = self.0 & Self::NEGATIVE != 0;
        if point > 0 && decimal != Some('.') || negative && mantissa == 0 {
            return None;
        }
        Some(rust_decimal::Decimal::new(
            if negative { -mantissa } else { mantissa },
            point,
        ))
    }

    /// The 48 bits.
    fn bits(self) -> u64 {
        self.0
    }

    fn from_bits(bits: u64) -> Digits {
        Digits(bits & ((1 << 48) - 1))
    }
}

/// A [`RawValue`] in 8 bytes where the enum takes 16 (at 10M figures, 80 MB of the raw
/// figures): a number is its `f64` (any NaN the one quiet NaN: they all read `NaN`), a
/// text's index and an empty cell are NaNs of their own, which no number is then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedRaw(u64);

const RAW_NAN: u64 = 0x7FF8_0000_0000_0000;
const RAW_TEXT: u64 = 0xFFF9_0000_0000_0000;
const RAW_EMPTY: u64 = 0xFFFA_0000_0000_0000;
const RAW_DIGITS: u64 = 0xFFFB_0000_0000_0000;

impl From<RawValue> for PackedRaw {
    fn from(v: RawValue) -> PackedRaw {
        PackedRaw(match v {
            RawValue::Empty => RAW_EMPTY,
            RawValue::Number(x) if x.is_nan() => RAW_NAN,
            RawValue::Number(x) => x.to_bits(),
            RawValue::Text(t) => RAW_TEXT | u64::from(t),
            RawValue::Digits(d) => RAW_DIGITS | d.bits(),
        })
    }
}

impl PackedRaw {
    pub fn get(self) -> RawValue {
        match self.0 {
            RAW_EMPTY => RawValue::Empty,
            b if b & !u64::from(u32::MAX) == RAW_TEXT => RawValue::Text(b as u32),
            b if b >> 48 == RAW_DIGITS >> 48 => RawValue::Digits(Digits::from_bits(b)),
            b => RawValue::Number(f64::from_bits(b)),
        }
    }
}

impl RawValue {
    /// The value as a person would read it in the file, a text's by `text` (from memory,
    /// or read back from the disk).
    fn shown<E>(&self, text: impl FnOnce(u32) -> Result<String, E>) -> Result<String, E> {
        match *self {
            RawValue::Empty => Ok(String::new()),
            RawValue::Number(x) => Ok(format!("{x}")),
            RawValue::Text(t) => text(t),
            RawValue::Digits(d) => Ok(d.text(&mut [0; Digits::LONGEST]).to_string()),
        }
    }
}

/// Where a dimension of a table was read (reporter, partner, unit); `inspect` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Cell,
    Column,
    Title,
    Sheet,
    Config,
    Default,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Cell => "cell",
            Origin::Column => "column header",
            Origin::Title => "table title",
            Origin::Sheet => "sheet name",
            Origin::Config => "config",
            Origin::Default => "default",
        }
    }
}

/// Raw figures, column-wise: the texts of every dimension, as interned ids into `dict`,
/// with the unit context at each level and the place. Ingest fills it; normalise reads it.
#[derive(Debug, Default, Clone)]
pub struct RawFigures {
    pub dict: Dict,
    /// Text ids, narrow while the texts are few (see [`Ids`]).
    pub reporter: Ids,
    pub partner: Ids,
    pub flow: Ids,
    pub year: Ids,
    pub month: Ids,
    pub commodity: Ids,
    pub value: Vec<PackedRaw>,
    /// Each figure's place, and the unit texts and decimal mark around its value.
    pub places: Places,
    /// Value texts, one after another (nearly every one is distinct: not interned).
    value_buf: String,
    /// End of each value text in `value_buf`.
    value_ends: Vec<u64>,
    /// The last text of each interned field, for [`Dict::intern_repeated`].
    last: [Last; 9],
    /// Where the columns only rejects read went, once [`RawFigures::set_aside_behind`].
    spilled: Option<Spilled>,
    /// Where the figures go once there are many (see [`Router`]).
    router: routed::Slot,
}

/// The columns of raw figures that only rejects read, in a file of their own: one record
/// a figure (its reporter, partner, flow and year text ids, each as wide as its column is
/// in memory, then its packed value: 13 bytes at 10M rows of the peers' data, where four
/// ids of 4 bytes and a value's kind and payload took 32), then the end of each value
/// text (8 bytes), then the texts.
/// Figures from `from` on and texts from `texts_from` on are in the file, the others
/// still in memory (all of them once set aside to the first figure).
#[derive(Debug, Clone)]
struct Spilled {
    file: std::sync::Arc<std::fs::File>,
    figures: u64,
    texts: u64,
    from: usize,
    texts_from: usize,
    /// Whether every figure's text comes after the texts of the figures before it (as
    /// ingest makes them): then the texts can go with their figures, from the end.
    in_order: bool,
    /// Bytes of the reporter, partner, flow and year ids in a record (as their columns
    /// held them when the first figures were set aside: no column widens after ingest).
    widths: [usize; 4],
}

impl Spilled {
    /// Bytes of a figure's record: its four ids, then its packed value (8 bytes).
    fn record(&self) -> u64 {
        self.widths.iter().sum::<usize>() as u64 + 8
    }
}

/// What a reject shows of its raw figure: the reporter, partner, flow and year texts (as
/// ids into the figures' texts) and the value as read.
#[derive(Debug, Clone, PartialEq)]
pub struct RawShown {
    pub reporter: u32,
    pub partner: u32,
    pub flow: u32,
    pub year: u32,
    pub value: String,
}

/// What the figures of one table column have in common: the unit texts around their
/// values (column header, table title, source config: ids into the figures' texts), the
/// declared decimal mark, the table and the column. A file has few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Context {
    pub unit_column: u32,
    pub unit_title: u32,
    pub unit_config: u32,
    /// Declared decimal separator for text numbers (from config), if any.
    pub decimal: Option<char>,
    pub table: u32,
    pub col: u32,
}

/// The raw figures' places, and the context of each, each context once: a figure's row
/// and the index of its context. The rows are held as runs: figures whose rows go on one
/// by one (a long table's) or stay on one row (a wide table's columns) are a run of 12
/// bytes, where a row each took 4 bytes a figure; rows that follow no such run are held
/// one by one in plain segments (never more than 4 bytes a figure, with 24 bytes, counting
/// the runs). The context indices take a byte a figure while there are fewer than 255
/// contexts (a CSV with a unit column has one per unit met). At 10M rows of a CSV, 70 MB
/// less than a row and an index of 4 bytes each.
#[derive(Debug, Default, Clone)]
pub struct Places {
    /// Each run or plain segment of rows, by its first figure.
    runs: Vec<Run>,
    /// The figures held.
    len: usize,
    /// The rows of the figures of the plain segments, one after another.
    plain_rows: Vec<u32>,
    /// Each figure's context index.
    context: Ids,
    contexts: Vec<Context>,
    /// Each context's index, to find a context met before.
    ids: rustc_hash::FxHashMap<Context, u32>,
    /// For every [`BLOCK`]-th figure, the index of its run, made at the first lookup after
    /// the last figure was added: a lookup searches the runs of its block alone (a bulk
    /// file whose rows are set aside here and there has a run every ten figures).
    blocks: std::sync::OnceLock<Vec<u32>>,
}

/// Figures a block of [`Places::blocks`] spans.
const BLOCK: u32 = 256;

/// Figures from `first` to the next run's first: rows from `row` on, each `step` (0 or 1)
/// after the one before; or, with `step == PLAIN`, a plain segment whose rows are in the
/// plain rows from index `row` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: u32,
    row: u32,
    step: u32,
}

/// The `step` of a run of one figure so far.
const OPEN: u32 = 2;
/// The `step` of a plain segment.
const PLAIN: u32 = 3;

/// A run closed shorter than this goes into a plain segment: a run takes 12 bytes, a plain
/// row 4, so runs of 6 or more between plain segments (12 bytes each) never take more
/// than 4 bytes a figure.
const SHORTEST_RUN: u32 = 6;

/// A column of `u32`s (text ids, context indices) in one byte each while every one is
/// below 255, then two while below 65,535, then four: a column widens when a larger one
/// comes. [`NONE`] (no text) is held as 0, each other value as itself plus one, so a
/// column of absent texts stays narrow.
#[derive(Debug, Clone)]
pub enum Ids {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for Ids {
    fn default() -> Ids {
        Ids::U8(Vec::new())
    }
}

impl Ids {
    /// An empty column, room for `capacity` values, as wide as ids below `bound` (and
    /// [`NONE`]) need: they are pushed without widening.
    pub fn for_ids(bound: usize, capacity: usize) -> Ids {
        match bound {
            b if b < (1 << 8) - 1 => Ids::U8(Vec::with_capacity(capacity)),
            b if b < (1 << 16) - 1 => Ids::U16(Vec::with_capacity(capacity)),
            _ => Ids::U32(Vec::with_capacity(capacity)),
        }
    }

    #[inline]
    pub fn push(&mut self, v: u32) {
        let held = v.wrapping_add(1);
        match self {
            Ids::U8(c) if held < 1 << 8 => c.push(held as u8),
            Ids::U16(c) if held < 1 << 16 => c.push(held as u16),
            Ids::U32(c) => c.push(held),
            _ => self.widen_and_push(held),
        }
    }

    /// Widens the column to hold `held` (a value plus one), and pushes it.
    #[cold]
    #[inline(never)]
    fn widen_and_push(&mut self, held: u32) {
        *self = match self {
            Ids::U8(c) if held < 1 << 16 => Ids::U16(Self::widened(c, u16::from)),
            Ids::U8(c) => Ids::U32(Self::widened(c, u32::from)),
            Ids::U16(c) => Ids::U32(Self::widened(c, u32::from)),
            Ids::U32(c) => Ids::U32(std::mem::take(c)),
        };
        self.push(held.wrapping_sub(1));
    }

    /// `c` in a wider type, with its room for more.
    fn widened<T: Copy, U>(c: &[T], wide: impl Fn(T) -> U) -> Vec<U> {
        let mut w = Vec::with_capacity(c.len().max(16) * 2);
        w.extend(c.iter().map(|&x| wide(x)));
        w
    }

    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Ids::U8(c) => u32::from(c[i]),
            Ids::U16(c) => u32::from(c[i]),
            Ids::U32(c) => c[i],
        }
        .wrapping_sub(1)
    }

    pub fn last(&self) -> Option<u32> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }

    pub fn len(&self) -> usize {
        match self {
            Ids::U8(c) => c.len(),
            Ids::U16(c) => c.len(),
            Ids::U32(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes a value takes in this column.
    pub fn width(&self) -> usize {
        match self {
            Ids::U8(_) => 1,
            Ids::U16(_) => 2,
            Ids::U32(_) => 4,
        }
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn reserve(&mut self, more: usize) {
        match self {
            Ids::U8(c) => c.reserve_exact(more),
            Ids::U16(c) => c.reserve_exact(more),
            Ids::U32(c) => c.reserve_exact(more),
        }
    }

    /// Keeps the first `len` and gives back the room past them.
    pub fn cut(&mut self, len: usize) {
        fn cut<T>(c: &mut Vec<T>, len: usize) {
            c.truncate(len);
            c.shrink_to_fit();
        }
        match self {
            Ids::U8(c) => cut(c, len),
            Ids::U16(c) => cut(c, len),
            Ids::U32(c) => cut(c, len),
        }
    }
}

impl Ids {
    /// Appends `other`'s values after these, the column widened to the wider of the two.
    pub fn append(&mut self, other: Ids) {
        fn extend<T, U: From<T>>(to: &mut Vec<U>, from: Vec<T>) {
            to.reserve_exact(from.len());
            to.extend(from.into_iter().map(U::from));
        }
        let wider = |a: &Ids| match a {
            Ids::U8(_) => 0,
            Ids::U16(_) => 1,
            Ids::U32(_) => 2,
        };
        if wider(&other) > wider(self) {
            *self = match (std::mem::take(self), wider(&other)) {
                (Ids::U8(c), 1) => Ids::U16(Self::widened(&c, u16::from)),
                (Ids::U8(c), _) => Ids::U32(Self::widened(&c, u32::from)),
                (Ids::U16(c), _) => Ids::U32(Self::widened(&c, u32::from)),
                (c, _) => c,
            };
        }
        match (self, other) {
            (Ids::U8(to), Ids::U8(from)) => extend(to, from),
            (Ids::U16(to), Ids::U8(from)) => extend(to, from),
            (Ids::U16(to), Ids::U16(from)) => extend(to, from),
            (Ids::U32(to), Ids::U8(from)) => extend(to, from),
            (Ids::U32(to), Ids::U16(from)) => extend(to, from),
            (Ids::U32(to), Ids::U32(from)) => extend(to, from),
            _ => unreachable!("widened above"),
        }
    }

    /// The values at `idx`, in that order and this column's width, made on every core.
    pub fn gather(&self, idx: &[u32]) -> Ids {
        use rayon::prelude::*;
        fn at<T: Copy + Send + Sync>(c: &[T], idx: &[u32]) -> Vec<T> {
            idx.par_iter().map(|&i| c[i as usize]).collect()
        }
        match self {
            Ids::U8(c) => Ids::U8(at(c, idx)),
            Ids::U16(c) => Ids::U16(at(c, idx)),
            Ids::U32(c) => Ids::U32(at(c, idx)),
        }
    }
}

/// A value a [`Narrow`] column holds, as the `u32` an [`Ids`] holds for it.
pub trait Narrowed: Copy {
    fn to_id(self) -> u32;
    fn from_id(id: u32) -> Self;
}

/// A year, as its distance from 1800: one byte from 1799 to 2054, two for any other year
/// within 65,000 of it; every `i32` reads back as it was.
impl Narrowed for i32 {
    #[inline]
    fn to_id(self) -> u32 {
        self.wrapping_sub(1800) as u32
    }
    #[inline]
    fn from_id(id: u32) -> i32 {
        (id as i32).wrapping_add(1800)
    }
}

/// A month or none: none is [`NONE`], so held as 0.
impl Narrowed for Option<u8> {
    #[inline]
    fn to_id(self) -> u32 {
        self.map_or(NONE, u32::from)
    }
    #[inline]
    fn from_id(id: u32) -> Option<u8> {
        (id != NONE).then_some(id as u8)
    }
}

/// An index into a table of texts.
impl Narrowed for u32 {
    #[inline]
    fn to_id(self) -> u32 {
        self
    }
    #[inline]
    fn from_id(id: u32) -> u32 {
        id
    }
}

/// A column of years, months or text indices in one byte each while they are few or
/// near (see [`Ids`]), where a `Vec<i32>` took four bytes a figure, `Option<u8>` two.
#[derive(Debug, Clone)]
pub struct Narrow<T> {
    ids: Ids,
    of: std::marker::PhantomData<T>,
}

impl<T> Default for Narrow<T> {
    fn default() -> Narrow<T> {
        Narrow {
            ids: Ids::default(),
            of: std::marker::PhantomData,
        }
    }
}

impl<T: Narrowed> Narrow<T> {
    #[inline]
    pub fn push(&mut self, v: T) {
        self.ids.push(v.to_id());
    }

    #[inline]
    pub fn get(&self, i: usize) -> T {
        T::from_id(self.ids.get(i))
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn reserve(&mut self, more: usize) {
        self.ids.reserve(more);
    }

    pub fn append(&mut self, other: Narrow<T>) {
        self.ids.append(other.ids);
    }

    /// The values at `idx`, in that order, made on every core.
    pub fn gather(&self, idx: &[u32]) -> Narrow<T> {
        Narrow {
            ids: self.ids.gather(idx),
            of: std::marker::PhantomData,
        }
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Values `range`, in order.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Vec<T> {
        range.map(|i| self.get(i)).collect()
    }

    /// Value `v` as a column of words holds it (for a file of them, see
    /// [`Narrow::of_words`]).
    pub fn word_of(v: T) -> u32 {
        v.to_id().wrapping_add(1)
    }

    /// A column of the values whose [`Narrow::word_of`]s are `words` (four bytes each: no
    /// value looked at, for columns read back a part at a time).
    pub fn of_words(words: Vec<u32>) -> Narrow<T> {
        Narrow {
            ids: Ids::U32(words),
            of: std::marker::PhantomData,
        }
    }
}

impl<T: Narrowed> FromIterator<T> for Narrow<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Narrow<T> {
        let mut n = Narrow::default();
        for v in it {
            n.push(v);
        }
        n
    }
}

impl Places {
    /// The places of figures `idx`, in that order. The contexts are these places' (each
    /// figure's context index the same): only the rows are pushed.
    pub fn take(&self, idx: &[u32]) -> Places {
        let mut p = Places {
            contexts: self.contexts.clone(),
            ids: self.ids.clone(),
            context: Ids::for_ids(self.contexts.len(), idx.len()),
            ..Places::default()
        };
        for &i in idx {
            let (row, k) = self.locate(i as usize);
            p.context.push(k);
            p.push_row(row);
        }
        p
    }

    /// A context's index, added when new.
    fn intern(&mut self, c: Context) -> u32 {
        *self.ids.entry(c).or_insert_with(|| {
            self.contexts.push(c);
            self.contexts.len() as u32 - 1
        })
    }

    #[inline]
    fn push(&mut self, c: Context, row: u32) {
        // a figure's context is nearly always its predecessor's
        let id = match self.context.last() {
            Some(last) if self.contexts[last as usize] == c => last,
            _ => self.intern(c),
        };
        self.context.push(id);
        self.push_row(row);
    }

    /// Appends a figure's row.
    fn push_row(&mut self, row: u32) {
        if self.blocks.get().is_some() {
            self.blocks = std::sync::OnceLock::new();
        }
        let at = self.len as u32;
        self.len += 1;
        if let Some(last) = self.runs.last_mut() {
            if last.step != PLAIN {
                let n = at - last.first;
                if last.step == OPEN && (row == last.row || Some(row) == last.row.checked_add(1)) {
                    last.step = row - last.row;
                    return;
                }
                if last.step != OPEN && Some(row) == last.row.checked_add(n * last.step) {
                    return;
                }
                if n < SHORTEST_RUN {
                    // too short to be a run: its rows go plain
                    let last = *last;
                    self.runs.pop();
                    let step = last.step % OPEN;
                    self.plain(last.first, (0..n).map(|j| last.row + j * step));
                }
            }
        }
        self.runs.push(Run {
            first: at,
            row,
            step: OPEN,
        });
    }

    /// Appends rows of figures from `first` on, to the last segment if it is plain.
    fn plain(&mut self, first: u32, rows: impl Iterator<Item = u32>) {
        if self.blocks.get().is_some() {
            self.blocks = std::sync::OnceLock::new();
        }
        if self.runs.last().is_none_or(|r| r.step != PLAIN) {
            self.runs.push(Run {
                first,
                row: self.plain_rows.len() as u32,
                step: PLAIN,
            });
        }
        self.plain_rows.extend(rows);
    }

    /// Appends `other`'s places, its unit texts renumbered by `ids` (their indices in
    /// the figures these are appended to).
    fn append(&mut self, other: Places, ids: &[u32]) {
        let to: Vec<u32> = other
            .contexts
            .iter()
            .map(|c| {
                self.intern(Context {
                    unit_column: renumbered(ids, c.unit_column),
                    unit_title: renumbered(ids, c.unit_title),
                    unit_config: renumbered(ids, c.unit_config),
                    ..*c
                })
            })
            .collect();
        self.context.reserve(other.len);
        for i in 0..other.len {
            self.context.push(to[other.context.get(i) as usize]);
        }
        // the rows as if pushed here: one by one until the last run here goes on as
        // `other`'s, then the rest of that run at once
        for (k, r) in other.runs.iter().enumerate() {
            let end = other.runs.get(k + 1).map_or(other.len as u32, |n| n.first);
            let len = end - r.first;
            if r.step == PLAIN {
                for j in 0..len {
                    self.push_row(other.plain_rows[(r.row + j) as usize]);
                }
                continue;
            }
            let step = r.step % OPEN;
            for j in 0..len {
                self.push_row(r.row + j * step);
                let at = self.len as u32 - 1;
                let joined = self.runs.last().is_some_and(|l| {
                    l.step == r.step
                        && l.row.checked_add((at - l.first) * step) == Some(r.row + j * step)
                });
                if joined && r.step != OPEN {
                    self.len += (len - j - 1) as usize;
                    break;
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Figure `i`'s row and context index.
    #[inline]
    fn locate(&self, i: usize) -> (u32, u32) {
        let at = i as u32;
        // a long table's places are one run
        let r = match self.runs[..] {
            [only] => only,
            _ => {
                let blocks = self.blocks.get_or_init(|| {
                    (0..=(self.len as u32) / BLOCK)
                        .map(|b| {
                            let first = b * BLOCK;
                            (self.runs.partition_point(|r| r.first <= first) - 1) as u32
                        })
                        .collect()
                });
                let b = (at / BLOCK) as usize;
                let lo = blocks[b] as usize;
                let hi = blocks
                    .get(b + 1)
                    .map_or(self.runs.len(), |&h| h as usize + 1);
                self.runs[lo + self.runs[lo..hi].partition_point(|r| r.first <= at) - 1]
            }
        };
        let row = match r.step {
            PLAIN => self.plain_rows[(r.row + (at - r.first)) as usize],
            step => r.row + (at - r.first) * (step % OPEN),
        };
        (row, self.context.get(i))
    }

    /// The index of figure `i`'s context (the contexts are few: figures share them).
    pub fn context_id(&self, i: usize) -> u32 {
        self.context.get(i)
    }

    /// How many contexts the figures have.
    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Context `k` (an index below [`Places::context_count`]).
    pub fn context_at(&self, k: u32) -> &Context {
        &self.contexts[k as usize]
    }

    /// Figure `i`'s context.
    pub fn context(&self, i: usize) -> &Context {
        &self.contexts[self.context_id(i) as usize]
    }

    /// Figure `i`'s place.
    #[inline]
    pub fn get(&self, i: usize) -> Place {
        let (row, k) = self.locate(i);
        let c = &self.contexts[k as usize];
        Place {
            table: c.table,
            row,
            col: c.col,
        }
    }
}

/// Where each of a set of figures was read: the index of its raw figure (4 bytes a figure),
/// looked up in the raw figures' [`Places`], shared (a long table's are a few runs; at 10M
/// rows of the clean table, 40 MB less than a row and a table-and-column index each).
#[derive(Debug, Clone, Default)]
pub struct PlaceColumn {
    raw: Vec<u32>,
    places: std::sync::Arc<Places>,
}

impl PlaceColumn {
    /// The places of figures `idx`, whose raw indices `raw` gives, among `places`.
    pub fn of(places: std::sync::Arc<Places>, mut idx: Vec<u32>, raw: &[u32]) -> PlaceColumn {
        use rayon::prelude::*;
        // each index becomes its raw figure's in place: no second column of them
        idx.par_iter_mut().for_each(|j| *j = raw[*j as usize]);
        PlaceColumn { raw: idx, places }
    }

    /// The places of the raw figures `raw` (by their indices) among `places`.
    pub fn of_raw(places: std::sync::Arc<Places>, raw: Vec<u32>) -> PlaceColumn {
        PlaceColumn { raw, places }
    }

    /// Each row's raw figure (its index among the places).
    pub fn raw(&self) -> &[u32] {
        &self.raw
    }

    /// Appends a place (for tables made by hand and read back: the pipeline's are made by
    /// [`PlaceColumn::of`]).
    pub fn push(&mut self, p: Place) {
        let places = std::sync::Arc::make_mut(&mut self.places);
        self.raw.push(places.len() as u32);
        places.push(
            Context {
                unit_column: NONE,
                unit_title: NONE,
                unit_config: NONE,
                decimal: None,
                table: p.table,
                col: p.col,
            },
            p.row,
        );
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Figure `i`'s place.
    #[inline]
    pub fn get(&self, i: usize) -> Place {
        self.places.get(self.raw[i] as usize)
    }

    /// The places of every raw figure, by its index (shared).
    pub fn places(&self) -> std::sync::Arc<Places> {
        std::sync::Arc::clone(&self.places)
    }

    /// The places at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> PlaceColumn {
        PlaceColumn {
            raw: idx.iter().map(|&i| self.raw[i]).collect(),
            places: self.places.clone(),
        }
    }
}

/// Text id `i` of figures appended to others, as `ids` renumbers their texts ([`NONE`]
/// stays).
fn renumbered(ids: &[u32], i: u32) -> u32 {
    if i == NONE {
        NONE
    } else {
        ids[i as usize]
    }
}

/// The texts of one raw figure, borrowed for pushing.
#[derive(Debug, Clone, Copy)]
pub struct RawFigureRef<'a> {
    pub reporter: Option<&'a str>,
    pub partner: Option<&'a str>,
    pub flow: Option<&'a str>,
    pub year: Option<&'a str>,
    pub month: Option<&'a str>,
    pub commodity: Option<&'a str>,
    pub unit_column: Option<&'a str>,
    pub unit_title: Option<&'a str>,
    pub unit_config: Option<&'a str>,
    pub decimal: Option<char>,
}

impl RawFigures {
    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Appends one figure.
    pub fn push(&mut self, f: RawFigureRef<'_>, value: RawValue, place: Place) {
        let (d, l) = (&mut self.dict, &mut self.last);
        self.reporter.push(d.intern_repeated(&mut l[0], f.reporter));
        self.partner.push(d.intern_repeated(&mut l[1], f.partner));
        self.flow.push(d.intern_repeated(&mut l[2], f.flow));
        self.year.push(d.intern_repeated(&mut l[3], f.year));
        self.month.push(d.intern_repeated(&mut l[4], f.month));
        self.commodity
            .push(d.intern_repeated(&mut l[5], f.commodity));
        let context = Context {
            unit_column: d.intern_repeated(&mut l[6], f.unit_column),
            unit_title: d.intern_repeated(&mut l[7], f.unit_title),
            unit_config: d.intern_repeated(&mut l[8], f.unit_config),
            decimal: f.decimal,
            table: place.table,
            col: place.col,
        };
        self.places.push(context, place.row);
        self.value.push(value.into());
    }

    /// Appends `other`'s figures after this set's, as if they had been pushed here: each
    /// of its texts is interned in its own order, so a text new to this set gets the index
    /// it would have got then. Each of `other`'s columns is freed once copied. Then, with
    /// a router, the held figures may go to their buckets ([`RawFigures::route_held`]).
    pub fn append(&mut self, mut other: RawFigures) {
        let ids: Vec<u32> = (0..other.dict.len() as u32)
            .map(|i| self.dict.intern(other.dict.get(i).unwrap_or_default()))
            .collect();
        other.dict = Dict::default();
        let n = self.len() + other.len();
        for (to, from) in [
            (&mut self.reporter, &mut other.reporter),
            (&mut self.partner, &mut other.partner),
            (&mut self.flow, &mut other.flow),
            (&mut self.year, &mut other.year),
            (&mut self.month, &mut other.month),
            (&mut self.commodity, &mut other.commodity),
        ] {
            to.reserve(n - to.len());
            for i in std::mem::take(from).iter() {
                to.push(renumbered(&ids, i));
            }
        }
        let texts = self.value_ends.len() as u32;
        self.value.reserve_exact(n - self.value.len());
        self.value.extend(
            std::mem::take(&mut other.value)
                .into_iter()
                .map(|v| match v.get() {
                    RawValue::Text(t) => RawValue::Text(t + texts).into(),
                    _ => v,
                }),
        );
        let base = self.value_buf.len() as u64;
        self.value_buf
            .push_str(&std::mem::take(&mut other.value_buf));
        self.value_ends.extend(
            std::mem::take(&mut other.value_ends)
                .into_iter()
                .map(|e| e + base),
        );
        self.places.append(std::mem::take(&mut other.places), &ids);
        self.route_held();
    }

    /// The columns of text ids: reporter, partner, flow, year, month, commodity.
    fn id_columns(&mut self) -> [&mut Ids; 6] {
        [
            &mut self.reporter,
            &mut self.partner,
            &mut self.flow,
            &mut self.year,
            &mut self.month,
            &mut self.commodity,
        ]
    }

    /// Stores a value text and returns the value that refers to it.
    pub fn text_value(&mut self, s: &str) -> RawValue {
        if let Some(d) = Digits::of(s) {
            return RawValue::Digits(d);
        }
        self.value_buf.push_str(s);
        self.value_ends.push(self.value_buf.len() as u64);
        RawValue::Text(self.value_ends.len() as u32 - 1)
    }

    /// Where value text `t` starts in `value_buf` (where the one before it ends).
    fn text_start(&self, t: usize) -> usize {
        t.checked_sub(1).map_or(0, |p| self.value_ends[p] as usize)
    }

    /// The text of a [`RawValue::Text`] or [`RawValue::Digits`] (written into `buf`); none
    /// for a number or an empty cell.
    pub fn text_of<'a>(
        &'a self,
        v: &RawValue,
        buf: &'a mut [u8; Digits::LONGEST],
    ) -> Option<&'a str> {
        match *v {
            RawValue::Text(t) => Some(self.value_str(t)),
            RawValue::Digits(d) => Some(d.text(buf)),
            _ => None,
        }
    }

    /// The text of a [`RawValue::Text`].
    pub fn value_str(&self, t: u32) -> &str {
        let t = t as usize;
        let start = self.text_start(t);
        let end = self.value_ends.get(t).map_or(start, |e| *e as usize);
        &self.value_buf[start..end]
    }

    /// Sets the columns only rejects read (the reporter, partner, flow and year text
    /// ids, the values and their texts, as `Spilled` says) of figures `lo..` aside
    /// to an unnamed file in `dir`, gone with the process, and lets them go from memory,
    /// with the month and commodity columns of those figures (which only normalise
    /// reads): normalise calls it behind itself, from the end, so that the raw figures
    /// shrink as the normalised ones grow. Once set aside from the first figure, the
    /// columns are empty; [`RawFigures::shown`] reads the figures from where they are.
    ///
    /// # Errors
    /// The file cannot be made or written; the figures not yet written are then as they
    /// were, and those written are read from the file.
    pub fn set_aside_behind(&mut self, dir: &std::path::Path, lo: usize) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let hi = self.value.len();
        if lo >= hi {
            return Ok(());
        }
        if self.spilled.is_none() {
            let texts = self.value_ends.len();
            // each figure's text after those of the figures before it, none shared
            let mut next = 0;
            let in_order = self.value.iter().all(|v| match v.get() {
                RawValue::Text(t) => t as usize >= std::mem::replace(&mut next, t as usize + 1),
                _ => true,
            });
            self.spilled = Some(Spilled {
                file: std::sync::Arc::new(tempfile::tempfile_in(dir)?),
                figures: hi as u64,
                texts: texts as u64,
                from: hi,
                texts_from: texts,
                in_order,
                widths: [&self.reporter, &self.partner, &self.flow, &self.year].map(Ids::width),
            });
        }
        let sp = self.spilled.as_ref().expect("made above");
        debug_assert_eq!(sp.from, hi, "set aside from the end");
        // the texts of figures lo.. are the texts from the first of them on, when in order
        let t_lo = if lo == 0 {
            0
        } else if sp.in_order {
            self.value[lo..hi]
                .iter()
                .find_map(|v| match v.get() {
                    RawValue::Text(t) => Some(t as usize),
                    _ => None,
                })
                .unwrap_or(sp.texts_from)
        } else {
            sp.texts_from
        };
        let t_hi = sp.texts_from;
        let mut f: &std::fs::File = &sp.file;
        let record = sp.record();
        f.seek(std::io::SeekFrom::Start(lo as u64 * record))?;
        // the records of figures lo..hi, made in blocks of about a megabyte
        let ids = [&self.reporter, &self.partner, &self.flow, &self.year];
        debug_assert_eq!(
            ids.map(Ids::width),
            sp.widths,
            "no column widens after ingest"
        );
        let per_block = ((1 << 20) / record as usize).max(1);
        let mut block = Vec::with_capacity(per_block * record as usize);
        for at in (lo..hi).step_by(per_block) {
            block.clear();
            for i in at..hi.min(at + per_block) {
                for (col, &w) in ids.iter().zip(&sp.widths) {
                    // the id as its column holds it (plus one, so no text is 0)
                    block.extend_from_slice(&col.get(i).wrapping_add(1).to_le_bytes()[..w]);
                }
                block.extend_from_slice(&self.value[i].0.to_le_bytes());
            }
            f.write_all(&block)?;
        }
        drop(block);
        let ends = sp.figures * record;
        let text_start = |t: usize| self.text_start(t);
        if t_lo < t_hi {
            f.seek(std::io::SeekFrom::Start(ends + t_lo as u64 * 8))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            for e in &self.value_ends[t_lo..t_hi] {
                w.write_all(&e.to_le_bytes())?;
            }
            w.flush()?;
            drop(w);
            let (a, b) = (text_start(t_lo), self.value_ends[t_hi - 1] as usize);
            f.seek(std::io::SeekFrom::Start(ends + sp.texts * 8 + a as u64))?;
            f.write_all(&self.value_buf.as_bytes()[a..b])?;
        }
        // written: let go (a shrunken column is given back where it was mapped alone)
        let buf_len = text_start(t_lo);
        fn cut<T>(col: &mut Vec<T>, len: usize) {
            col.truncate(len);
            col.shrink_to_fit();
        }
        for col in self.id_columns() {
            col.cut(lo);
        }
        cut(&mut self.value, lo);
        cut(&mut self.value_ends, t_lo);
        self.value_buf.truncate(buf_len);
        self.value_buf.shrink_to_fit();
        let sp = self.spilled.as_mut().expect("made above");
        sp.from = lo;
        sp.texts_from = t_lo;
        Ok(())
    }

    /// What a reject shows of figure `i`, from memory or from the spill file.
    ///
    /// # Errors
    /// The spill file cannot be read back.
    pub fn shown(&self, i: usize) -> std::io::Result<RawShown> {
        let Some(sp) = self.spilled.as_ref().filter(|sp| i >= sp.from) else {
            return Ok(RawShown {
                reporter: self.reporter.get(i),
                partner: self.partner.get(i),
                flow: self.flow.get(i),
                year: self.year.get(i),
                value: self.value_text(i),
            });
        };
        // reads at offsets of the unnamed file (a seek and a read: rejects are few)
        let read = |at: u64, buf: &mut [u8]| -> std::io::Result<()> {
            use std::io::{Read, Seek};
            let mut f: &std::fs::File = &sp.file;
            f.seek(std::io::SeekFrom::Start(at))?;
            f.read_exact(buf)
        };
        let u64_at = |at: u64| -> std::io::Result<u64> {
            let mut b = [0u8; 8];
            read(at, &mut b)?;
            Ok(u64::from_le_bytes(b))
        };
        let size = sp.record();
        let mut record = [0u8; 24];
        let record = &mut record[..size as usize];
        read(i as u64 * size, record)?;
        // the four ids, each as wide as it was written, then the packed value
        let mut ids = [0u32; 4];
        let mut at = 0;
        for (id, &w) in ids.iter_mut().zip(&sp.widths) {
            let mut b = [0u8; 4];
            b[..w].copy_from_slice(&record[at..at + w]);
            *id = u32::from_le_bytes(b).wrapping_sub(1);
            at += w;
        }
        let value = PackedRaw(u64::from_le_bytes(record[at..].try_into().expect("8"))).get();
        let value = value.shown(|t| {
            if (t as usize) < sp.texts_from {
                return Ok(self.value_str(t).to_string());
            }
            let (t, ends) = (u64::from(t), sp.figures * size);
            // where the text before ends: in the file, or still in memory
            let start = match t.checked_sub(1) {
                None => 0,
                Some(p) if (p as usize) < sp.texts_from => self.value_ends[p as usize],
                Some(p) => u64_at(ends + p * 8)?,
            };
            let end = u64_at(ends + t * 8)?;
            let mut text = vec![0u8; end.saturating_sub(start) as usize];
            read(ends + sp.texts * 8 + start, &mut text)?;
            String::from_utf8(text)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?;
        let [reporter, partner, flow, year] = ids;
        Ok(RawShown {
            reporter,
            partner,
            flow,
            year,
            value,
        })
    }

    /// The value as a person would read it in the file.
    pub fn value_text(&self, i: usize) -> String {
        match self.value[i]
            .get()
            .shown(|t| Ok::<_, std::convert::Infallible>(self.value_str(t).into()))
        {
            Ok(s) => s,
            Err(never) => match never {},
        }
    }
}

/// Bit flags a clean figure carries into the report.
/// Exact values in dollars (`None` where the file marks one missing), 8 bytes each where
/// an `Option<Decimal>` takes 20: a value is its signed mantissa and its scale packed in
/// one integer, and the few that do not fit (a mantissa of 2^57 or more, a negative zero)
/// are kept aside whole. Every value reads back as the very `Decimal` it was (same
/// mantissa, scale and sign). At 10M rows the clean table's values took 200 MB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    packed: Vec<i64>,
    /// The values that do not fit, by index (`packed` holds the index).
    wide: Vec<rust_decimal::Decimal>,
}

/// Values gathered by [`Values::spill_gathered`], in a file until read back.
#[derive(Debug)]
pub struct GatheredValues {
    file: std::fs::File,
    len: usize,
    wide: Vec<rust_decimal::Decimal>,
}

/// Values gathered, written and read back at a time: 512 KB of them (in the tests, a
/// few: many blocks).
const SPILL_BLOCK: usize = if cfg!(test) { 64 } else { 1 << 16 };

impl GatheredValues {
    /// The values, read back from the file.
    ///
    /// # Errors
    /// The file cannot be read (the values are then lost).
    pub fn read_back(mut self) -> std::io::Result<Values> {
        use std::io::Read;
        let mut back = Vec::with_capacity(self.len);
        let mut bytes = vec![0u8; SPILL_BLOCK * 8];
        let mut left = self.len;
        while left > 0 {
            let n = left.min(SPILL_BLOCK);
            self.file.read_exact(&mut bytes[..n * 8])?;
            back.extend(
                bytes[..n * 8]
                    .chunks_exact(8)
                    .map(|b| i64::from_ne_bytes(b.try_into().expect("8 bytes"))),
            );
            left -= n;
        }
        Ok(Values {
            packed: back,
            wide: self.wide,
        })
    }
}

/// The low bits of a packed value: its scale (0 to 28), or one of these.
const VALUE_TAG: i64 = 63;
const VALUE_NONE: i64 = 62;
const VALUE_WIDE: i64 = 61;

impl Values {
    /// The packed form of a value that fits, else `None`.
    fn pack(v: Option<rust_decimal::Decimal>) -> Option<i64> {
        let Some(d) = v else {
            return Some(VALUE_NONE);
        };
        let m = d.mantissa();
        let negative_zero = m == 0 && d.is_sign_negative();
        (!negative_zero && m.unsigned_abs() < 1 << 57)
            .then(|| ((m as i64) << 6) | i64::from(d.scale()))
    }

    pub fn with_capacity(n: usize) -> Values {
        Values {
            packed: Vec::with_capacity(n),
            wide: Vec::new(),
        }
    }

    pub fn push(&mut self, v: Option<rust_decimal::Decimal>) {
        let p = Self::pack(v).unwrap_or_else(|| {
            self.wide.push(v.unwrap_or_default());
            ((self.wide.len() as i64 - 1) << 6) | VALUE_WIDE
        });
        self.packed.push(p);
    }

    /// Room for `more` values.
    pub fn reserve(&mut self, more: usize) {
        self.packed.reserve_exact(more);
    }

    /// `other`'s values after these.
    pub fn append(&mut self, other: Values) {
        let base = self.wide.len();
        (self.packed).extend(
            other
                .packed
                .into_iter()
                .map(|p| Values::word_moved(p, base)),
        );
        self.wide.extend(other.wide);
    }

    /// The values at `idx`, in that order (on every core).
    pub fn gather(&self, idx: &[u32]) -> Values {
        use rayon::prelude::*;
        Values {
            packed: idx.par_iter().map(|&i| self.packed[i as usize]).collect(),
            wide: self.wide.clone(),
        }
    }

    /// [`Values::gather`] for a column too large to hold twice, in two steps: the values
    /// at `idx` are written to an unnamed file in `dir` as they are gathered and these
    /// are let go; [`GatheredValues::read_back`] reads them back, once the other columns
    /// have been gathered in the room these leave. The two columns are never in memory at
    /// once (at 10M figures, 80 MB), and no other column is gathered beside either. The
    /// file is the system's page cache to give back, not this process's memory.
    ///
    /// # Errors
    /// The file cannot be made or written: these values come back, untouched.
    pub fn spill_gathered(
        self,
        idx: &[u32],
        dir: &std::path::Path,
    ) -> Result<GatheredValues, (Values, std::io::Error)> {
        use rayon::prelude::*;
        use std::io::{Seek, Write};
        let written = (|| -> std::io::Result<std::fs::File> {
            let mut file = tempfile::tempfile_in(dir)?;
            let mut values: Vec<i64> = Vec::with_capacity(SPILL_BLOCK);
            let mut bytes: Vec<u8> = Vec::with_capacity(SPILL_BLOCK * 8);
            for block in idx.chunks(SPILL_BLOCK) {
                block
                    .par_iter()
                    .map(|&i| self.packed[i as usize])
                    .collect_into_vec(&mut values);
                bytes.clear();
                bytes.extend(values.iter().flat_map(|v| v.to_ne_bytes()));
                file.write_all(&bytes)?;
            }
            file.rewind()?;
            Ok(file)
        })();
        match written {
            Ok(file) => Ok(GatheredValues {
                file,
                len: idx.len(),
                wide: self.wide,
            }),
            Err(e) => Err((self, e)),
        }
    }

    /// The values at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> Values {
        Values {
            packed: idx.iter().map(|&i| self.packed[i]).collect(),
            wide: self.wide.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Value `i`'s word as held (8 bytes, for a file of them), and the values kept aside
    /// whole, which a word may name (see [`Values::of_words`]).
    pub fn word(&self, i: usize) -> i64 {
        self.packed[i]
    }

    /// The values kept aside whole, which [`Values::word`]s name.
    pub fn wide(&self) -> &[rust_decimal::Decimal] {
        &self.wide
    }

    /// Values of `words` ([`Values::word`]s), whose aside are `wide`.
    pub fn of_words(words: Vec<i64>, wide: &[rust_decimal::Decimal]) -> Values {
        Values {
            packed: words,
            wide: wide.to_vec(),
        }
    }

    /// A [`Values::word`] of values whose aside come `by` after the first of another
    /// set's: the same value among that set's.
    pub fn word_moved(word: i64, by: usize) -> i64 {
        if word & VALUE_TAG == VALUE_WIDE {
            (((word >> 6) + by as i64) << 6) | VALUE_WIDE
        } else {
            word
        }
    }

    /// Value `i` as its signed mantissa and scale, when it is held packed (most are):
    /// `None` for a missing value and for the few kept aside whole.
    #[inline]
    pub fn parts(&self, i: usize) -> Option<(i64, u32)> {
        let p = self.packed[i];
        match p & VALUE_TAG {
            VALUE_NONE | VALUE_WIDE => None,
            scale => Some((p >> 6, scale as u32)),
        }
    }

    /// Value `i`, exactly as it was pushed.
    pub fn get(&self, i: usize) -> Option<rust_decimal::Decimal> {
        if let Some((m, scale)) = self.parts(i) {
            // the parts straight, without the general constructor's checks: a magnitude
            // below 2^57 and a scale of at most 28, as packed
            let magnitude = m.unsigned_abs();
            return Some(rust_decimal::Decimal::from_parts(
                magnitude as u32,
                (magnitude >> 32) as u32,
                0,
                m < 0,
                scale,
            ));
        }
        let p = self.packed[i];
        (p & VALUE_TAG == VALUE_WIDE).then(|| self.wide[(p >> 6) as usize])
    }
}

pub mod flags {
    /// A figure's flags, a bit each (13 so far: two bytes a figure).
    pub type Flags = u16;

    /// The cell's own unit overrode the column header's (`1.135 Billion` under millions).
    pub const UNIT_CELL_OVERRIDES_HEADER: Flags = 1 << 0;
    /// The column header's unit overrode the table title's.
    pub const UNIT_HEADER_OVERRIDES_TITLE: Flags = 1 << 1;
    /// The config's unit disagreed with the file and the file won.
    pub const UNIT_FILE_OVERRIDES_CONFIG: Flags = 1 << 2;
    /// An ambiguous separator (`1.180`) was decided by the column's other cells.
    pub const DECIMAL_FROM_COLUMN: Flags = 1 << 3;
    /// An ambiguous separator was decided by plausibility against the unit.
    pub const DECIMAL_FROM_PLAUSIBILITY: Flags = 1 << 4;
    /// A spreadsheet float was snapped to the precision it displays.
    pub const SNAPPED_FLOAT: Flags = 1 << 5;
    /// Part of a year-on-year jump beyond the configured factor.
    pub const JUMP: Flags = 1 << 6;
    /// Equal to the other flow of the same partner and year.
    pub const EQUAL_FLOWS: Flags = 1 << 7;
    /// A missing-value marker (`..`, `n/a`, empty): the value is null, never zero.
    pub const MISSING: Flags = 1 << 8;
    /// Beyond the mirror band against the partner's own figure.
    pub const MIRROR_GAP: Flags = 1 << 9;
    /// The same value several years running.
    pub const REPEATED: Flags = 1 << 10;
    /// Negative, kept because negatives are allowed or the rule is a warning.
    pub const NEGATIVE: Flags = 1 << 11;
    /// Outside the year range or above the plausible maximum, kept by a warning rule.
    pub const OUT_OF_RANGE: Flags = 1 << 12;
    /// Converted into US dollars from another currency with a declared rate (`[[rates]]`:
    /// the manifest and the report name each rate and its source).
    pub const CONVERTED_CURRENCY: Flags = 1 << 13;
    /// An ambiguous separator was decided by the other cells of its table.
    pub const DECIMAL_FROM_TABLE: Flags = 1 << 14;
    /// An ambiguous separator was decided by the other cells of its source (one file is
    /// written one way).
    pub const DECIMAL_FROM_SOURCE: Flags = 1 << 15;

    /// Names of the flags set in `bits`, for people.
    /// Appends the names of the flags set, space-separated.
    pub fn push_names(out: &mut String, bits: Flags) {
        if bits == 0 {
            return;
        }
        for (k, n) in set(bits).enumerate() {
            if k > 0 {
                out.push(' ');
            }
            out.push_str(n);
        }
    }

    pub fn names(bits: Flags) -> Vec<&'static str> {
        set(bits).collect()
    }

    fn set(bits: Flags) -> impl Iterator<Item = &'static str> {
        const ALL: [(Flags, &str); 16] = [
            (UNIT_CELL_OVERRIDES_HEADER, "unit_cell_overrides_header"),
            (UNIT_HEADER_OVERRIDES_TITLE, "unit_header_overrides_title"),
            (UNIT_FILE_OVERRIDES_CONFIG, "unit_file_overrides_config"),
            (DECIMAL_FROM_COLUMN, "decimal_from_column"),
            (DECIMAL_FROM_PLAUSIBILITY, "decimal_from_plausibility"),
            (SNAPPED_FLOAT, "snapped_float"),
            (JUMP, "yoy_jump"),
            (EQUAL_FLOWS, "equal_flows"),
            (MISSING, "missing_value"),
            (MIRROR_GAP, "mirror_gap"),
            (REPEATED, "repeated_value"),
            (NEGATIVE, "negative_value"),
            (OUT_OF_RANGE, "out_of_range"),
            (CONVERTED_CURRENCY, "converted_currency"),
            (DECIMAL_FROM_TABLE, "decimal_from_table"),
            (DECIMAL_FROM_SOURCE, "decimal_from_source"),
        ];
        ALL.iter()
            .filter(move |(b, _)| bits & b != 0)
            .map(|(_, n)| *n)
    }
}

/// Typed figures, column-wise, as normalise makes them. `raw` points back into the
/// [`RawFigures`] each was made from.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    /// Reporter and partner as indices into `countries` (2 bytes a figure each, where the
    /// texts took 16: the codes are the country table's, a few hundred).
    pub reporter: Vec<u16>,
    pub partner: Vec<u16>,
    /// The country codes the figures name (the country table's own texts).
    pub countries: Vec<&'static str>,
    pub flow: Vec<Flow>,
    pub year: Narrow<i32>,
    pub month: Narrow<Option<u8>>,
    /// `TOTAL` or an HS code, interned in `commodities`.
    pub commodity: Narrow<u32>,
    pub commodities: Dict,
    /// Exact value in US dollars; `None` where the file marks it missing.
    pub value: Values,
    pub flags: Vec<flags::Flags>,
    pub raw: Vec<u32>,
}

impl Figures {
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Room for `more` figures in every column.
    pub fn reserve(&mut self, more: usize) {
        self.reporter.reserve_exact(more);
        self.partner.reserve_exact(more);
        self.flow.reserve_exact(more);
        self.year.reserve(more);
        self.month.reserve(more);
        self.commodity.reserve(more);
        self.value.reserve(more);
        self.flags.reserve_exact(more);
        self.raw.reserve_exact(more);
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    pub fn commodity_str(&self, i: usize) -> &str {
        self.commodities
            .get(self.commodity.get(i))
            .unwrap_or("TOTAL")
    }

    /// Figure `i`'s reporter code.
    pub fn reporter(&self, i: usize) -> &'static str {
        self.countries[self.reporter[i] as usize]
    }

    /// Figure `i`'s partner code.
    pub fn partner(&self, i: usize) -> &'static str {
        self.countries[self.partner[i] as usize]
    }

    /// The index of a country code in `countries`, added when new; `seen` finds a code
    /// by its address (the country tables' texts have one each: a few hundred, a test of
    /// the kernels' `countries` keeps them below `u16::MAX`).
    pub fn country_id(
        &mut self,
        seen: &mut rustc_hash::FxHashMap<(usize, usize), u16>,
        code: &'static str,
    ) -> u16 {
        let countries = &mut self.countries;
        *seen
            .entry((code.as_ptr() as usize, code.len()))
            .or_insert_with(|| {
                countries.push(code);
                (countries.len() - 1) as u16
            })
    }
}

/// A figure that was not accepted: which raw figure, by which rule, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reject {
    pub raw: u32,
    pub rule: &'static str,
    pub message: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_head_is_the_first_eight_bytes_zero_padded() {
        let padded = |s: &str| {
            let mut x = [0u8; 8];
            let n = s.len().min(8);
            x[..n].copy_from_slice(&s.as_bytes()[..n]);
            u64::from_le_bytes(x)
        };
        let text = "Türkiye 0123456789";
        for a in 0..text.len() {
            for b in a..=text.len() {
                if let Some(s) = text.get(a..b) {
                    assert_eq!(super::head(s), padded(s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn a_place_column_gives_back_the_places_it_was_made_of() {
        let places: Vec<Place> = (0..50u32)
            .map(|i| Place {
                table: i % 3,
                row: i * 7,
                col: [2, 5][i as usize % 2],
            })
            .collect();
        let mut c = PlaceColumn::default();
        for &p in &places {
            c.push(p);
        }
        assert_eq!(c.len(), places.len());
        for (i, &p) in places.iter().enumerate() {
            assert_eq!(c.get(i), p);
        }
        let idx = [49, 0, 17, 17, 3];
        let t = c.take(&idx);
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(t.get(k), places[i]);
        }
        // gathered from the raw figures' places through their indices
        let raw = mixed_figures();
        let ids: Vec<u32> = (0..raw.len() as u32).rev().collect();
        let clean: Vec<u32> = (0..raw.len() as u32).step_by(4).collect();
        let g = PlaceColumn::of(std::sync::Arc::new(raw.places.clone()), clean.clone(), &ids);
        for (k, &j) in clean.iter().enumerate() {
            assert_eq!(g.get(k), raw.places.get(ids[j as usize] as usize));
        }
    }

    /// A context of table 0 at column `col`.
    fn context_of_col(col: u32) -> Context {
        Context {
            unit_column: NONE,
            unit_title: NONE,
            unit_config: NONE,
            decimal: None,
            table: 0,
            col,
        }
    }

    proptest::proptest! {
        /// Places held as runs and plain segments read back as pushed, figure by figure,
        /// whether pushed into one set or into pieces appended one after another, and
        /// their rows take no more than 4 bytes a figure. Each step: a column (its context) and how
        /// far the row moves (mostly one on, as in a long table).
        #[test]
        fn places_read_back_as_pushed_in_runs_or_pieces(
            steps in proptest::collection::vec((0u32..4, proptest::prop_oneof![
                6 => proptest::strategy::Just(1u32), 1 => 0u32..3, 1 => 2u32..9]), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..4),
        ) {
            let mut row = 0u32;
            let figures: Vec<(Context, u32)> = steps
                .iter()
                .map(|&(col, by)| {
                    row += by;
                    (context_of_col(col), row)
                })
                .collect();
            let mut whole = Places::default();
            for &(c, r) in &figures {
                whole.push(c, r);
            }
            // the same figures pushed into pieces, appended in order
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(figures.len())).collect();
            cuts.sort_unstable();
            cuts.push(figures.len());
            let mut pieces = Places::default();
            let mut from = 0;
            for &to in &cuts {
                let mut piece = Places::default();
                for &(c, r) in &figures[from..to] {
                    piece.push(c, r);
                }
                pieces.append(piece, &[]);
                from = to;
            }
            for set in [&whole, &pieces] {
                proptest::prop_assert_eq!(set.len(), figures.len());
                for (i, &(c, r)) in figures.iter().enumerate() {
                    proptest::prop_assert_eq!(set.get(i), Place { table: 0, row: r, col: c.col });
                    proptest::prop_assert_eq!(*set.context(i), c);
                }
                let bytes = set.runs.len() * std::mem::size_of::<Run>() + 4 * set.plain_rows.len();
                // the last plain segment's and the open run's 12 bytes aside
                proptest::prop_assert!(bytes <= 4 * figures.len() + 24, "{bytes} bytes for {}", figures.len());
            }
        }
    }

    #[test]
    fn ids_read_back_as_pushed_and_widen_only_for_large_ones() {
        let mut ids = Ids::default();
        let small = [NONE, 0, 7, 254, NONE];
        for v in small {
            ids.push(v);
        }
        assert!(
            matches!(ids, Ids::U8(_)),
            "no text and ids below 255 take a byte"
        );
        ids.push(255);
        assert!(matches!(ids, Ids::U16(_)));
        ids.push(65_534);
        assert!(matches!(ids, Ids::U16(_)));
        ids.push(65_535);
        ids.push(u32::MAX - 1);
        assert!(matches!(ids, Ids::U32(_)));
        let all: Vec<u32> = ids.iter().collect();
        assert_eq!(
            all,
            [NONE, 0, 7, 254, NONE, 255, 65_534, 65_535, u32::MAX - 1]
        );
        assert_eq!(ids.last(), Some(u32::MAX - 1));
        ids.cut(2);
        assert_eq!(ids.iter().collect::<Vec<_>>(), [NONE, 0]);
    }

    #[test]
    fn values_gathered_through_the_disk_are_those_gathered_in_memory() {
        use rust_decimal::Decimal;
        let mut v = Values::default();
        // packed, missing, and kept aside whole (a mantissa past 57 bits, a negative zero)
        for k in 0..3000i64 {
            v.push(match k % 7 {
                0 => None,
                1 => Some(Decimal::from_i128_with_scale(i128::from(k) << 70, 3)),
                2 => Some(Decimal::from_i128_with_scale(0, 2) * Decimal::NEGATIVE_ONE),
                _ => Some(Decimal::new(k * 1_000_003 - 77, (k % 5) as u32)),
            });
        }
        let dir = tempfile::tempdir().unwrap();
        // a subset in another order: every third, backwards, then some of the rest
        let mut idx: Vec<u32> = (0..3000).rev().step_by(3).collect();
        idx.extend((1..3000).step_by(3));
        for idx in [idx, Vec::new(), (0..3000).collect()] {
            let want = v.gather(&idx);
            let got = v
                .clone()
                .spill_gathered(&idx, dir.path())
                .unwrap()
                .read_back()
                .unwrap();
            assert_eq!(got, want);
            let shown = |x: &Values| (0..x.len()).map(|i| x.get(i)).collect::<Vec<_>>();
            assert_eq!(
                shown(&got),
                idx.iter().map(|&i| v.get(i as usize)).collect::<Vec<_>>()
            );
        }
        // a folder that is not there: the values come back whole
        let (back, _) = v
            .clone()
            .spill_gathered(&[0, 1], &dir.path().join("gone"))
            .unwrap_err();
        assert_eq!(back, v);
    }

    #[test]
    fn narrow_columns_read_back_years_months_and_indices_as_pushed() {
        let years = [2016, 1799, 2054, i32::MIN, 2055, -1, 1800, i32::MAX, 2020];
        let mut y: Narrow<i32> = Narrow::default();
        for &v in &years[..3] {
            y.push(v);
        }
        assert!(matches!(y.ids, Ids::U8(_)), "1799..=2054 take a byte each");
        for &v in &years[3..] {
            y.push(v);
        }
        assert_eq!(y.iter().collect::<Vec<_>>(), years);
        let months = [Some(1), None, Some(12), Some(0), Some(255), None];
        let m: Narrow<Option<u8>> = months.into_iter().collect();
        assert_eq!(m.iter().collect::<Vec<_>>(), months);
        assert_eq!(m.slice(1..3), [None, Some(12)]);
        // appended each way round: the column takes the wider width, values unchanged
        for (a, b) in [
            (vec![1u32, 2, NONE], vec![300, 70_000]),
            (vec![70_000, 3], vec![4, NONE, 5]),
        ] {
            let mut to: Narrow<u32> = a.iter().copied().collect();
            to.append(b.iter().copied().collect());
            let all: Vec<u32> = a.iter().chain(&b).copied().collect();
            assert_eq!(to.iter().collect::<Vec<_>>(), all);
            assert!(matches!(to.ids, Ids::U32(_)));
            let idx = [4u32, 0, 2, 2];
            let picked: Vec<u32> = idx.iter().map(|&i| all[i as usize]).collect();
            assert_eq!(to.gather(&idx).iter().collect::<Vec<_>>(), picked);
        }
        let mut small: Narrow<u32> = [1u32, 2].into_iter().collect();
        small.append([300u32].into_iter().collect());
        assert!(matches!(small.ids, Ids::U16(_)));
        assert_eq!(small.iter().collect::<Vec<_>>(), [1, 2, 300]);
    }

    #[test]
    fn context_indices_widen_past_one_byte_and_two() {
        let mut p = Places::default();
        let cols = 70_000u32;
        for col in 0..cols {
            p.push(context_of_col(col), col / 3);
        }
        assert!(matches!(p.context, Ids::U32(_)));
        for col in (0..cols).step_by(7) {
            assert_eq!(
                p.get(col as usize),
                Place {
                    table: 0,
                    row: col / 3,
                    col
                }
            );
        }
    }

    #[test]
    fn a_long_table_s_places_are_one_run() {
        let mut p = Places::default();
        for row in 3..100_003 {
            p.push(context_of_col(6), row);
        }
        assert_eq!(p.runs.len(), 1);
        assert!(p.plain_rows.is_empty());
        assert_eq!(p.get(99_999).row, 100_002);
    }

    #[test]
    fn digit_texts_are_held_as_digits_only_when_they_read_back_as_written() {
        let mut texts: Vec<String> = [
            "",
            "-",
            "+5",
            " 5",
            "5 ",
            ".5",
            "5.",
            "-.5",
            "--5",
            "1e5",
            "1,234",
            "1.2.3",
            "0x1",
            "٣",
            "00",
            "-00",
            "007",
            "00.5",
            "8796093022208",
            "0.0000000000000001",
            "12345678901234",
        ]
        .map(String::from)
        .to_vec();
        for int in ["0", "1", "10", "905", "8796093022207", "1234567890123"] {
            for frac in ["", ".0", ".5", ".05", ".50", ".000", ".123456789012345"] {
                for sign in ["", "-"] {
                    texts.push(format!("{sign}{int}{frac}"));
                }
            }
        }
        let plain = |s: &str| {
            let s = s.strip_prefix('-').unwrap_or(s);
            let (int, frac) = s.split_once('.').unwrap_or((s, "1"));
            let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
            digits(int) && digits(frac) && (int == "0" || !int.starts_with('0'))
        };
        let mut held = 0;
        for s in &texts {
            match Digits::of(s) {
                Some(d) => {
                    held += 1;
                    assert!(plain(s), "{s:?} is not plain digits");
                    assert_eq!(d.text(&mut [0; Digits::LONGEST]), s);
                    let back = PackedRaw::from(RawValue::Digits(d)).get();
                    assert_eq!(back, RawValue::Digits(d), "{s:?}");
                }
                // those left as texts are not plain, or their digits or those after the
                // point are more than 48 bits hold
                None => {
                    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
                    let after = s.split_once('.').map_or(0, |(_, f)| f.len());
                    assert!(
                        !plain(s)
                            || digits.parse::<u64>().map_or(true, |m| m >= 1 << 43)
                            || after > 15,
                        "{s:?} could be held"
                    );
                }
            }
        }
        assert!(held >= 50, "{held}");
        // a set of raw figures keeps no text for them, and shows them as written
        let mut set = RawFigures::default();
        for s in ["82.414", "3.5 mn", "-0.05", "1,234"] {
            let v = set.text_value(s);
            set.value.push(v.into());
        }
        assert_eq!(
            set.value_ends.len(),
            2,
            "only the two texts that are not plain"
        );
        let shown: Vec<String> = (0..4).map(|i| set.value_text(i)).collect();
        assert_eq!(shown, ["82.414", "3.5 mn", "-0.05", "1,234"]);
    }

    #[test]
    fn digits_taken_as_numbers_are_what_reading_their_text_gives() {
        use tradeflow_kernels::number::{parse, Parsed, Reading};
        let mut texts: Vec<String> = Vec::new();
        for int in [
            "0",
            "1",
            "7",
            "10",
            "905",
            "1000",
            "8796093022207",
            "1234567890123",
        ] {
            for frac in [
                "",
                ".0",
                ".5",
                ".05",
                ".50",
                ".000",
                ".123",
                ".123456789012345",
            ] {
                for sign in ["", "-"] {
                    texts.push(format!("{sign}{int}{frac}"));
                }
            }
        }
        let mut taken = 0;
        for s in &texts {
            let Some(d) = Digits::of(s) else { continue };
            for decimal in [None, Some('.'), Some(',')] {
                let point = s.contains('.');
                let negative_zero =
                    s.starts_with('-') && s.bytes().all(|b| !(b'1'..=b'9').contains(&b));
                match d.exact(decimal) {
                    Some(v) => {
                        taken += 1;
                        let Parsed::Number(Reading {
                            value,
                            scale: None,
                            alt: None,
                            foreign_currency: false,
                            evidence,
                        }) = parse(s, decimal)
                        else {
                            panic!("{s:?} under {decimal:?} is not a plain reading");
                        };
                        // undeclared, such a text says nothing of its column's mark
                        assert!(decimal.is_some() || evidence.is_none(), "{s:?}");
                        // the very decimal: mantissa, scale and sign
                        assert_eq!(v.serialize(), value.serialize(), "{s:?} under {decimal:?}");
                    }
                    // only what can mean something else, and a negative zero, are left
                    None => assert!(
                        point && decimal != Some('.') || negative_zero,
                        "{s:?} under {decimal:?} could be taken"
                    ),
                }
            }
        }
        assert!(taken >= 100, "{taken}");
    }

    #[test]
    fn raw_values_read_back_packed_as_they_were() {
        let all = [
            RawValue::Empty,
            RawValue::Text(0),
            RawValue::Text(7),
            RawValue::Text(u32::MAX),
            RawValue::Digits(Digits::of("0").unwrap()),
            RawValue::Digits(Digits::of("-8796093022.207").unwrap()),
            RawValue::Number(0.0),
            RawValue::Number(-0.0),
            RawValue::Number(1135000000.0),
            RawValue::Number(-82.414),
            RawValue::Number(f64::MIN_POSITIVE / 4.0),
            RawValue::Number(f64::MAX),
            RawValue::Number(f64::INFINITY),
            RawValue::Number(f64::NEG_INFINITY),
        ];
        for v in all {
            let back = PackedRaw::from(v.clone()).get();
            match (&v, &back) {
                (RawValue::Number(a), RawValue::Number(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(back, v),
            }
        }
        // any NaN, whatever its bits (those of the texts' and the empty cell's too), is a
        // number that reads NaN
        for bits in [
            0x7FF8_0000_0000_0000u64,
            0xFFF9_0000_0000_0007,
            0xFFFA_0000_0000_0000,
            0x7FF0_0000_0000_0001,
        ] {
            let x = f64::from_bits(bits);
            match PackedRaw::from(RawValue::Number(x)).get() {
                RawValue::Number(y) => assert!(y.is_nan()),
                other => panic!("{bits:x}: {other:?}"),
            }
        }
    }

    #[test]
    fn values_read_back_as_the_very_decimals_pushed() {
        use rust_decimal::Decimal;
        let d = |m: i128, s: u32| Some(Decimal::from_i128_with_scale(m, s));
        let big = (1i128 << 96) - 1;
        let mut all = vec![
            None,
            d(0, 0),
            d(0, 5),
            Some(-Decimal::ZERO),
            {
                let mut z = Decimal::from_i128_with_scale(0, 3);
                z.set_sign_negative(true);
                Some(z)
            },
            d(1135000000, 0),
            d(-7, 0),
            d(82414, 3),
            d((1 << 57) - 1, 2),
            d(-((1 << 57) - 1), 28),
            d(1 << 57, 0),
            d(-(1 << 57), 4),
            d(big, 0),
            d(-big, 28),
            Some(Decimal::MAX),
            Some(Decimal::MIN),
        ];
        // and a spread of mantissas and scales, both signs
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = i128::from(x >> (x % 64)) * if x.is_multiple_of(3) { -1 } else { 1 };
            all.push(d(m, (x % 29) as u32));
        }
        let mut v = Values::with_capacity(all.len());
        for &a in &all {
            v.push(a);
        }
        let bits = |a: Option<Decimal>| a.map(|a| a.serialize());
        assert_eq!(v.len(), all.len());
        for (i, &a) in all.iter().enumerate() {
            assert_eq!(bits(v.get(i)), bits(a), "{a:?}");
        }
        // the edge cases above went aside, most of the others packed
        assert!(
            v.wide.len() >= 6 && v.wide.len() < all.len() / 5,
            "{}",
            v.wide.len()
        );
        // gathered and taken in another order, the same values
        let idx: Vec<u32> = (0..all.len() as u32).rev().step_by(3).collect();
        let g = v.gather(&idx);
        let t = v.take(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
        for (j, &i) in idx.iter().enumerate() {
            assert_eq!(bits(g.get(j)), bits(all[i as usize]));
            assert_eq!(bits(t.get(j)), bits(all[i as usize]));
        }
        // appended to values with some aside of their own, the same values
        let mut joined = t.clone();
        joined.append(v.clone());
        assert_eq!(joined.len(), t.len() + v.len());
        for k in 0..joined.len() {
            let want = if k < t.len() {
                t.get(k)
            } else {
                v.get(k - t.len())
            };
            assert_eq!(bits(joined.get(k)), bits(want));
        }
    }

    use super::*;

    /// Values empty, numbers (a fraction, a negative, a huge one) and texts (empty, of
    /// several bytes a character, long, plain digits), across a figure set appended from
    /// another.
    fn mixed_figures() -> RawFigures {
        let mut a = RawFigures::default();
        let mut b = RawFigures::default();
        let texts = [
            "1 234,5",
            "",
            "двести",
            "..",
            &"9".repeat(300),
            "-0.050",
            "12.5 Billion",
        ];
        for i in 0..40u32 {
            let set = if i < 25 { &mut a } else { &mut b };
            let value = match i % 3 {
                0 => RawValue::Empty,
                1 => RawValue::Number([0.1, -7.0, 1.5e300][i as usize / 3 % 3]),
                _ => set.text_value(texts[i as usize % texts.len()]),
            };
            let f = annual(
                ["TUR", "Türkiye"][i as usize % 2],
                ["KAZ", "Казахстан", "AZE"][i as usize % 3],
                Some("export"),
                ["2019", "2020"][i as usize % 2],
            );
            set.push(
                f,
                value,
                Place {
                    table: 0,
                    row: i,
                    col: 3,
                },
            );
        }
        a.append(b);
        a
    }

    /// The texts of an annual figure with no commodity and no units.
    fn annual<'a>(
        reporter: &'a str,
        partner: &'a str,
        flow: Option<&'a str>,
        year: &'a str,
    ) -> RawFigureRef<'a> {
        RawFigureRef {
            reporter: Some(reporter),
            partner: Some(partner),
            flow,
            year: Some(year),
            month: None,
            commodity: None,
            unit_column: None,
            unit_title: None,
            unit_config: None,
            decimal: None,
        }
    }

    #[test]
    fn spilled_figures_show_what_they_showed_in_memory() {
        let mut a = mixed_figures();
        let held: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
        let dir = tempfile::tempdir().unwrap();
        a.set_aside_behind(dir.path(), 0).unwrap();
        assert!(a.value.is_empty() && a.reporter.is_empty());
        assert_eq!(a.len(), 40);
        let spilled: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
        assert_eq!(held, spilled);
        assert_eq!(a.dict.get(spilled[4].partner), Some("Казахстан"));
        assert!(spilled.iter().any(|s| s.value == "двести"));
        assert!(spilled.iter().any(|s| s.value == "0.1"));
        assert!(spilled.iter().any(|s| s.value == "-0.050"));
        // the file is unnamed: nothing is left in the folder
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn spilled_ids_keep_their_columns_widths_and_absent_texts() {
        // partners in two bytes (300 texts), flows in one with some absent, years in one
        let mut a = RawFigures::default();
        let partners: Vec<String> = (0..300).map(|k| format!("partner {k}")).collect();
        for i in 0..600u32 {
            let value = a.text_value(&format!("{i} thousand"));
            let f = annual(
                "TUR",
                &partners[i as usize % 300],
                (i % 7 != 0).then_some("export"),
                ["2019", "2020"][i as usize % 2],
            );
            a.push(
                f,
                value,
                Place {
                    table: 0,
                    row: i,
                    col: 1,
                },
            );
        }
        assert_eq!(
            [&a.reporter, &a.partner, &a.flow].map(Ids::width),
            [1, 2, 1]
        );
        let held: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
        let dir = tempfile::tempdir().unwrap();
        a.set_aside_behind(dir.path(), 250).unwrap();
        a.set_aside_behind(dir.path(), 0).unwrap();
        let spilled: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
        assert_eq!(held, spilled);
        assert_eq!(a.dict.get(spilled[299].partner), Some("partner 299"));
        assert_eq!(spilled[7].flow, NONE);
        assert_eq!(spilled[599].value, "599 thousand");
    }

    #[test]
    fn figures_routed_in_steps_read_back_by_bucket_as_they_were_read() {
        // figures appended in parts to a set that routes them once 250 are held (text
        // values, plain digits, absent texts, places in runs and not), by their partner
        let (mut all, mut routed) = (RawFigures::default(), RawFigures::default());
        let dir = tempfile::tempdir().unwrap();
        let by_partner: BucketOf = Box::new(|_, _, partner| partner % 3);
        routed.route_with(Router::new(dir.path(), 3, 250, by_partner));
        for part in 0..4u32 {
            let mut p = RawFigures::default();
            for i in part * 150..(part + 1) * 150 {
                let text = if i % 5 == 0 {
                    format!("{i} thousand")
                } else {
                    i.to_string()
                };
                let value = p.text_value(&text);
                let mut f = annual(
                    "TUR",
                    ["KAZ", "AZE", "UZB", "KGZ"][i as usize % 4],
                    None,
                    "2020",
                );
                f.commodity = (i % 7 != 0).then_some("0101");
                let row = if i % 11 == 0 { i * 3 } else { i };
                p.push(
                    f,
                    value,
                    Place {
                        table: part,
                        row,
                        col: 2,
                    },
                );
            }
            all.append(p.clone());
            routed.append(p);
            // routed once 250 are held, then at every part
            assert_eq!(routed.held(), [150, 0, 0, 0][part as usize], "part {part}");
        }
        let buckets = routed.routed().unwrap().expect("routed");
        assert_eq!(routed.len(), 600);
        let mut seen = vec![false; 600];
        for b in 0..buckets.len() {
            let (part, raw) = buckets.read(b, &routed.dict, &routed.places).unwrap();
            assert_eq!(part.len(), buckets.figures(b));
            assert!(raw.windows(2).all(|w| w[0] < w[1]), "raw order");
            for (k, &r) in raw.iter().enumerate() {
                let r = r as usize;
                seen[r] = true;
                assert_eq!(part.shown(k).unwrap(), all.shown(r).unwrap());
                assert_eq!(part.places.get(k), all.places.get(r));
                assert_eq!(part.places.context(k), all.places.context(r));
                assert_eq!(part.commodity.get(k), all.commodity.get(r));
                assert_eq!(part.partner.get(k) % 3, b as u32);
            }
        }
        assert!(seen.iter().all(|&s| s));
        // the commodities named: one text, and none
        let c = all.dict.find("0101").unwrap();
        assert_eq!(buckets.commodities(), [c, NONE]);
    }

    /// Raw figures that route with `router`: one figure pushed, then routed if it says.
    fn one_figure_routed_by(router: Router) -> RawFigures {
        let mut raw = RawFigures::default();
        raw.route_with(router);
        let value = raw.text_value("5");
        raw.push(
            annual("TUR", "KAZ", None, "2020"),
            value,
            Place {
                table: 0,
                row: 1,
                col: 1,
            },
        );
        raw.route_held();
        raw
    }

    #[test]
    fn a_router_that_cannot_make_its_files_says_so_and_holds_the_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = one_figure_routed_by(Router::new(
            &dir.path().join("gone"),
            2,
            1,
            Box::new(|_, _, _| 1),
        ));
        assert_eq!(raw.held(), 1, "the figure stays held");
        let e = raw.routed().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn a_router_below_its_threshold_routes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = one_figure_routed_by(Router::new(dir.path(), 2, 10, Box::new(|_, _, _| 1)));
        assert!(raw.routed().unwrap().is_none());
        assert_eq!(raw.held(), 1);
    }

    #[test]
    fn figures_set_aside_from_the_end_in_steps_show_what_they_showed() {
        let dir = tempfile::tempdir().unwrap();
        // texts in the order of their figures; and a text two figures share, which keeps
        // every text in memory to the last step
        let mut shared = mixed_figures();
        shared.value[38] = shared.value[2];
        for mut a in [mixed_figures(), shared] {
            let held: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
            let texts = a.value_ends.len();
            for lo in [33, 20, 20, 7, 0] {
                a.set_aside_behind(dir.path(), lo).unwrap();
                assert_eq!(
                    (a.value.len(), a.reporter.len(), a.month.len()),
                    (lo, lo, lo)
                );
                // some figures in memory, the others read back
                let now: Vec<RawShown> = (0..a.len()).map(|i| a.shown(i).unwrap()).collect();
                assert!(now == held, "set aside from {lo}");
            }
            assert!(a.value_buf.is_empty() && a.value_ends.is_empty() && texts > 10);
        }
    }

    #[test]
    fn a_repeated_field_gets_the_index_interning_gives() {
        // texts alike in length and first 8 bytes, short and long, repeated and not
        let texts = [
            "2019",
            "2019",
            "2020",
            "Kazakhstan",
            "Kazakhstan",
            "Kazakhstam",
            "Kazakhstan",
            "12345678",
            "12345679",
            "12345678",
            "",
            "",
            "Kazakhstan",
        ];
        let (mut d, mut last) = (Dict::default(), Last::default());
        let mut plain = Dict::default();
        for t in texts {
            assert_eq!(
                d.intern_repeated(&mut last, Some(t)),
                plain.intern(t),
                "{t:?}"
            );
        }
        assert_eq!(d.intern_repeated(&mut last, None), NONE);
        assert_eq!(d.len(), plain.len());
    }

    #[test]
    fn a_dict_gives_each_text_one_index_and_gives_it_back() {
        let mut d = Dict::default();
        // texts of at most 8 bytes are told apart in the table; longer ones sharing
        // their first 8 bytes by the buffer
        let texts = [
            "Türkiye",
            "",
            "1.135 Billion",
            "Türkiye",
            "Турция",
            "",
            "x",
            "12345678",
            "123456789",
            "12345678x",
            "123456789",
            "1234567",
            "12345678",
        ];
        let ids: Vec<u32> = texts.iter().map(|t| d.intern(t)).collect();
        assert_eq!(ids, [0, 1, 2, 0, 3, 1, 4, 5, 6, 7, 6, 8, 5]);
        assert_eq!(d.len(), 9);
        for (t, &i) in texts.iter().zip(&ids) {
            assert_eq!(d.get(i), Some(*t));
            assert_eq!(d.find(t), Some(i));
        }
        assert_eq!(d.find("Turkey"), None);
        assert_eq!(d.get(NONE), None);
        assert_eq!(d.get(9), None);
        // many texts: every one found again after the table has grown
        let many: Vec<String> = (0..20_000)
            .map(|i| format!("{}", i * 7919 % 10_007))
            .collect();
        let mut d = Dict::default();
        let ids: Vec<u32> = many.iter().map(|t| d.intern(t)).collect();
        assert_eq!(d.len(), 10_007);
        for (t, &i) in many.iter().zip(&ids) {
            assert_eq!(d.get(i), Some(t.as_str()));
        }
    }
}
