//! CSV, TSV and other delimited text: the delimiter is sniffed (`,` `;` tab `|`), quotes
//! and ragged rows are handled, a BOM is dropped, and the text is decoded from UTF-8 or
//! UTF-16 (by BOM). The grid then goes through the same table finder as a sheet.

use super::{grid, Cell, Row, Table};
use crate::config::Source;
use crate::error::{Error, Result};
use crate::model::{RawFigures, RefStyle};

/// Decodes a text file: a BOM says UTF-8 or UTF-16; otherwise valid UTF-8 is taken as
/// such, and anything else goes to a detector (Windows-1251, Windows-1254, Latin-1, CP866,
/// KOI8-R, ...). `declared` (the source's `encoding`) overrides all of it. Returns the
/// text and the encoding's name.
///
/// # Errors
/// A message when the bytes are not text in any encoding that can be told.
pub fn decode_with<'a>(
    bytes: &'a [u8],
    declared: Option<&'static encoding_rs::Encoding>,
) -> std::result::Result<(std::borrow::Cow<'a, str>, &'static str), String> {
    if let Some(enc) = declared {
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(format!(
                "not valid {} (the declared `encoding`)",
                enc.name()
            ));
        }
        return Ok((text, enc.name()));
    }
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, bad) = enc.decode_without_bom_handling(&bytes[bom..]);
        if bad {
            return Err(format!(
                "the file starts with a {} byte-order mark but is not valid {}",
                enc.name(),
                enc.name()
            ));
        }
        return Ok((text, enc.name()));
    }
    if let Ok(s) = simdutf8::basic::from_utf8(bytes) {
        return Ok((s.into(), "UTF-8"));
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    let enc = det.guess(None, chardetng::Utf8Detection::Deny);
    let (text, bad) = enc.decode_without_bom_handling(bytes);
    let controls = text
        .chars()
        .filter(|c| (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || *c == '\u{fffd}')
        .count();
    if bad || controls > 0 {
        return Err(format!(
            "cannot tell the text's encoding (the best guess, {}, gives {} control or invalid characters); declare `encoding` in the source",
            enc.name(),
            controls
        ));
    }
    Ok((text, enc.name()))
}

/// The delimiter that splits the first lines most consistently.
pub fn sniff(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l.bytes().filter(|b| *b == d).count())
            .collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        let consistent = counts.iter().filter(|&&c| c == max).count();
        let score = if max == 0 { 0 } else { consistent * 100 + max };
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// Records read before deciding whether the rest of a file can be streamed.
pub const HEAD_RECORDS: usize = 256;

/// Where the rest of a long table starts, to be streamed record by record.
#[derive(Debug, Clone)]
pub struct Tail {
    /// Index of the table (in the returned list) the records continue.
    pub table: usize,
    /// Byte offset of the first record not read yet, and the line (1-based) that offset
    /// is on.
    pub byte: usize,
    pub line: u64,
    pub delimiter: u8,
}

/// A streamed record's fields as texts. The records are parsed as bytes: the text they
/// come from is UTF-8 already (decoded or checked whole), and a record is cut only at
/// ASCII bytes (delimiter, quote, line end) and loses only ASCII quotes, so every field is
/// UTF-8 too, and checking each record again (as `csv::StringRecord` does) would only
/// repeat the work. A record without a quote points into the text itself; a quoted one
/// into the bytes its quotes were taken from.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    data: &'a [u8],
    /// Where each field starts and ends in `data`.
    fields: &'a [(usize, usize)],
}

impl<'a> Record<'a> {
    /// Field `i`, if the record has it.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let data = self.data;
        self.fields.get(i).map(|&(s, e)| as_text(&data[s..e]))
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let data = self.data;
        self.fields.iter().map(move |&(s, e)| as_text(&data[s..e]))
    }
}

/// Records parsed from a piece's text and handed over together: each record's fields
/// as bounds, into the text or (a quoted record's) into `unquoted`.
#[derive(Default)]
struct Batch {
    /// Per record: whether its fields are in `unquoted`, its first field in `fields`, its
    /// field count and its line (0-based).
    records: Vec<(bool, usize, usize, u32)>,
    fields: Vec<(usize, usize)>,
    unquoted: Vec<u8>,
}

impl Batch {
    fn clear(&mut self) {
        self.records.clear();
        self.fields.clear();
        self.unquoted.clear();
    }

    fn record<'a>(&'a self, text: &'a [u8], k: usize) -> (Record<'a>, u32) {
        let (quoted, first, n, line) = self.records[k];
        let data = if quoted { &self.unquoted[..] } else { text };
        let fields = &self.fields[first..first + n];
        (Record { data, fields }, line)
    }
}

/// A piece's records one after the other, as the `csv` crate reads them (flexible, no
/// header, `"` quotes doubled inside, `\r`, `\n` or `\r\n` ending a record, blank lines
/// skipped): a line without a quote is cut at its delimiters, its fields left in the text
/// (`csv_core`'s state machine took each byte in turn, and the `csv` reader copied every
/// field); a record with a quote goes through `csv_core`.
struct Splitter<'a> {
    text: &'a [u8],
    /// The first byte not read yet.
    at: usize,
    delimiter: u8,
    /// The bytes a line's pass stops at: the delimiter, `"`, `\r`, `\n`.
    special: [bool; 256],
    core: csv_core::Reader,
    /// `csv_core`'s output for a quoted record: its fields' bytes and where each ends.
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl<'a> Splitter<'a> {
    fn new(text: &'a [u8], delimiter: u8) -> Splitter<'a> {
        let mut special = [false; 256];
        for b in [delimiter, b'"', b'\r', b'\n'] {
            special[b as usize] = true;
        }
        Splitter {
            text,
            at: 0,
            delimiter,
            special,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            out: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// The next record's fields pushed onto `batch.fields` (a quoted record's bytes onto
    /// `batch.unquoted`): whether it was quoted, and the offset of its first byte; `None`
    /// at the end of the text.
    fn next(&mut self, batch: &mut Batch) -> Option<(bool, usize)> {
        let t = self.text;
        while self.at < t.len() && matches!(t[self.at], b'\n' | b'\r') {
            self.at += 1;
        }
        if self.at >= t.len() {
            return None;
        }
        let start = self.at;
        // one pass over the line: its delimiters, its end, or a quote (then it goes the
        // other way), eight bytes at a time: in each, the bytes that are delimiters and
        // those that end the pass found at once, the delimiters before the first end
        // taken in turn (a field of a few bytes cost a branch the processor could not
        // foresee, a fifth of reading the file); the last few bytes one at a time
        let (first, mut from, mut at) = (batch.fields.len(), start, start);
        let quoted = loop {
            if let Some(word) = t.get(at..at + 8) {
                let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                let stops = bytes_equal(w, b'"') | bytes_equal(w, b'\r') | bytes_equal(w, b'\n');
                let mut delimiters = bytes_equal(w, self.delimiter);
                if stops != 0 {
                    // the delimiters before the first stop
                    delimiters &= (stops & stops.wrapping_neg()) - 1;
                }
                while delimiters != 0 {
                    let k = at + (delimiters.trailing_zeros() / 8) as usize;
                    batch.fields.push((from, k));
                    from = k + 1;
                    delimiters &= delimiters - 1;
                }
                if stops != 0 {
                    at += (stops.trailing_zeros() / 8) as usize;
                    break t[at] == b'"';
                }
                at += 8;
                continue;
            }
            let Some(&b) = t.get(at) else {
                break false;
            };
            if self.special[b as usize] {
                if b == self.delimiter {
                    batch.fields.push((from, at));
                    from = at + 1;
                } else if b == b'"' {
                    break true;
                } else {
                    break false;
                }
            }
            at += 1;
        };
        if !quoted {
            batch.fields.push((from, at));
            self.at = at;
            return Some((false, start));
        }
        batch.fields.truncate(first);
        // a quoted field may run over lines: `csv_core` reads the record from its start
        // (between records there, as every record before ended where this one starts)
        let (mut n_out, mut n_ends) = (0, 0);
        loop {
            use csv_core::ReadRecordResult::*;
            let input = &t[self.at..];
            let (result, n_in, out, ends) =
                self.core
                    .read_record(input, &mut self.out[n_out..], &mut self.ends[n_ends..]);
            self.at += n_in;
            n_out += out;
            n_ends += ends;
            match result {
                InputEmpty if input.is_empty() => break,
                InputEmpty => {}
                OutputFull => self.out.resize(self.out.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record => break,
                End => return None,
            }
        }
        let base = batch.unquoted.len();
        batch.unquoted.extend_from_slice(&self.out[..n_out]);
        let mut from = 0;
        for &to in &self.ends[..n_ends] {
            batch.fields.push((base + from, base + to));
            from = to;
        }
        Some((true, start))
    }
}

/// The high bit of each byte of `w` that is `b`, no other bit: exact per byte (no carry
/// from one byte into the next), unlike the test for whether any byte is.
#[inline]
fn bytes_equal(w: u64, b: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (0x0101_0101_0101_0101 * u64::from(b));
    !(((x & LOW7) + LOW7) | x) & !LOW7
}

/// A field of a record parsed from a `&str` (see [`Record`]).
fn as_text(b: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(b).is_ok());
    // SAFETY: `b` is a field of a record the csv reader parsed from a `&str`: a run of
    // that text between ASCII bytes, less ASCII quotes, so UTF-8 (see `Record`)
    unsafe { std::str::from_utf8_unchecked(b) }
}

/// Line numbers of a text as an editor shows them (`\n`, `\r\n` or a lone `\r` ends a
/// line), found for offsets met in increasing order. The `csv` crate's record positions
/// count `\n` bytes up to where it started reading a record, which lags after `\r\n`
/// and blank lines (rust-csv issue #395); a record's line is worked out here from the
/// offset of its first byte instead.
struct Lines<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    /// Counting from `line`, the line of `text`'s first byte.
    fn new(text: &'a str, line: u64) -> Lines<'a> {
        Lines {
            text: text.as_bytes(),
            byte: 0,
            line,
        }
    }

    /// The line `byte` is on.
    fn at(&mut self, byte: usize) -> u64 {
        let byte = byte.clamp(self.byte, self.text.len());
        let span = &self.text[self.byte..byte];
        // a long span with no `\r`: its `\n` counted on every lane, not met one by one (a
        // block's piece starts, found before its pieces are typed)
        if span.len() >= 4096 && !scan::any(span, b'\r') {
            self.line += scan::count(span, b'\n') as u64;
            self.byte = byte;
            return self.line;
        }
        for p in memchr::memchr2_iter(b'\n', b'\r', span) {
            let p = self.byte + p;
            // `\r\n` counted at its `\n`
            if self.text[p] == b'\n' || self.text.get(p + 1) != Some(&b'\n') {
                self.line += 1;
            }
        }
        self.byte = byte;
        self.line
    }

    /// The line of a record the `csv` reader placed at `byte`: where its first byte is,
    /// past the line ends and blank lines the reader had not counted yet.
    fn of_record(&mut self, byte: u64) -> u64 {
        let mut start = (byte as usize).max(self.byte);
        while self
            .text
            .get(start)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            start += 1;
        }
        self.at(start)
    }
}

fn reader(text: &str, delim: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

fn row_of(rec: &csv::StringRecord, pos: u32) -> Row {
    Row {
        pos,
        cells: rec
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_string())
                }
            })
            .collect(),
    }
}

/// The tables of a delimited text. A file whose first records make one long table that
/// runs on past them is not held cell by cell: its tables are returned from the head,
/// with a [`Tail`] saying where the rest of the table's records start.
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn tables(src: &Source, text: &str) -> Result<(Vec<Table>, Option<Tail>)> {
    let delim = sniff(text);
    let label = std::path::Path::new(&src.display)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        Error::source(&src.id, format!("{} line {line}", src.display), e)
    };
    let mut rdr = reader(text, delim);
    let mut lines = Lines::new(text, 1);
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut at_end = false;
    let line_of = |rec: &csv::StringRecord, lines: &mut Lines<'_>| {
        rec.position()
            .map_or(0, |p| lines.of_record(p.byte()).saturating_sub(1) as u32)
    };
    while rows.len() < HEAD_RECORDS {
        if !rdr.read_record(&mut rec).map_err(fail)? {
            at_end = true;
            break;
        }
        rows.push(row_of(&rec, line_of(&rec, &mut lines)));
    }
    let next_byte = rdr.position().byte() as usize;
    let tables = grid::tables(&rows, &label, None, RefStyle::Line);
    if at_end {
        return Ok((tables, None));
    }
    // stream only a long table that runs to the end of the head
    let last_pos = rows.last().map(|r| r.pos);
    let streamable = tables.len() == 1
        && tables[0].rows.last().map(|r| r.pos) == last_pos
        && super::layout::is_long(
            &tables[0]
                .header
                .cells
                .iter()
                .map(Cell::text)
                .collect::<Vec<_>>(),
        );
    if streamable {
        return Ok((
            tables,
            Some(Tail {
                table: 0,
                byte: next_byte,
                line: lines.at(next_byte),
                delimiter: delim,
            }),
        ));
    }
    // anything else: read the whole file into the grid
    while rdr.read_record(&mut rec).map_err(fail)? {
        rows.push(row_of(&rec, line_of(&rec, &mut lines)));
    }
    Ok((grid::tables(&rows, &label, None, RefStyle::Line), None))
}

/// Rest of a file below which it is read in one piece: splitting pays off only when each
/// piece is large enough to outweigh a thread's start. At 4 MB the first block of a
/// mapped file (8 MB) went in one piece, on one core; at 1 MB it is shared: the 1M-row
/// file's ingest, 8 alternating runs, medians 0.284 s (4 MB), 0.275 s (2 MB), 0.266 s
/// (1 MB).
const MIN_PIECE: usize = 1 << 20;

/// Streams the records of a [`Tail`] into `out`, typing each with `each` and its 0-based
/// line, stopping at the first blank or footer record (the end of the table). A long rest
/// is cut at record boundaries into one piece per core; each piece is parsed and typed on
/// its own into figures of its own, appended to `out` in file order: the same figures,
/// texts and indices as one pass (records after the end of the table are dropped).
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn stream(
    src: &Source,
    text: &str,
    tail: &Tail,
    out: &mut RawFigures,
    each: impl Fn(&mut RawFigures, Record<'_>, u32) + Sync,
) -> Result<usize> {
    let rest = &text[tail.byte.min(text.len())..];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let starts = shared_starts(rest.as_bytes(), tail.delimiter, cores, MIN_PIECE);
    let mut lines = Lines::new(rest, tail.line);
    stream_pieces(src, rest, &mut lines, tail.delimiter, &starts, out, &each).map(|(n, _)| n)
}

/// Bytes of a table's rest typed at a time when it is read from the file in blocks
/// (in the tests, small: a test file of a few MB goes in many blocks). Each block's
/// pieces are typed on every core and joined before the next: 8 MB blocks took a 1M-row
/// ingest 0.40 s, 32 MB ones 0.34 s (six alternating runs each), for 20 MB more.
pub const BLOCK: usize = if cfg!(test) { 64 << 10 } else { 32 << 20 };

/// The first block's bytes, fewer: the cores type it while the reader reads the next, where
/// they waited 35 to 60 ms for a first block of 32 MB (on the 1M-row file, 58 MB).
pub const FIRST_BLOCK: usize = if cfg!(test) { 16 << 10 } else { 8 << 20 };

/// Bytes the reader of a file leaves free at the front of each block it hands to
/// [`stream_blocks`]: the start of a record the block before ended inside goes there, so
/// a block is typed where it was read, not copied behind that record first. At least the
/// head a file's first block follows (see `ingest`), so that it goes there too.
pub const ROOM: usize = 1 << 20;

/// Where [`stream_blocks`] gets a file's next bytes: `next` hands over blocks of `room`
/// bytes of room followed by the bytes (`None` at the end of the file), and `done` takes
/// each back once typed, so that its memory serves again.
pub struct Blocks<N, D> {
    pub next: N,
    pub done: D,
    pub room: usize,
}

/// [`stream`] over the rest of a file still being read, never held whole: `first`, the
/// bytes of the rest already read, then the blocks of `blocks`. Each block is typed as it
/// comes, with the record the block before ended inside put in its room: cut after its
/// last record (as [`piece_starts`] cuts), checked to be UTF-8 and typed as [`stream`]
/// types a text, in pieces on every core, so the figures, texts and indices are those of
/// one pass over the whole text. When that record does not fit the room, or a block has
/// no cut that is safe, bytes are gathered until about `block` of them can be cut. After the end of the table the rest is only
/// checked, as a whole text is. `Ok(None)` when a block is not UTF-8 (a file in another
/// encoding, ASCII at its start): then the file must be read whole and its encoding told,
/// and `out` holds figures to drop.
///
/// # Errors
/// [`Error::Source`] when a record or the file cannot be read.
pub fn stream_blocks(
    src: &Source,
    first: &[u8],
    blocks: Blocks<impl FnMut() -> std::io::Result<Option<Vec<u8>>>, impl FnMut(Vec<u8>)>,
    tail: &Tail,
    block: usize,
    out: &mut RawFigures,
    each: impl Fn(&mut RawFigures, Record<'_>, u32) + Sync,
) -> Result<Option<usize>> {
    let Blocks {
        mut next,
        mut done,
        room,
    } = blocks;
    // the bytes read and not yet typed; they start at a record
    let mut carry = first.to_vec();
    let mut typer = Typer::new(tail);
    let mut step = |text: &[u8], cut: usize| typer.step(src, text, cut, out, &each);
    let unread =
        |e: std::io::Error| Error::source(&src.id, &src.display, format!("cannot read: {e}"));
    // bytes to hold before cutting: a block, or more while no cut is safe
    let mut want = block;
    loop {
        let Some(mut b) = next().map_err(unread)? else {
            let all = carry.len();
            return Ok(step(&carry, all)?.then_some(typer.n));
        };
        if carry.len() <= room {
            // the carried bytes go into the block's room: the block is typed in place
            let s = room - carry.len();
            b[s..room].copy_from_slice(&carry);
            carry.clear();
            let text = &b[s..];
            if let Some(cut) = block_cut(text, tail.delimiter) {
                if !step(text, cut)? {
                    return Ok(None);
                }
                carry.extend_from_slice(&text[cut..]);
                want = block;
            } else {
                carry.extend_from_slice(text);
                want = carry.len() + block;
            }
            done(b);
            continue;
        }
        carry.extend_from_slice(&b[room.min(b.len())..]);
        done(b);
        if carry.len() < want {
            continue;
        }
        if let Some(cut) = block_cut(&carry, tail.delimiter) {
            if !step(&carry, cut)? {
                return Ok(None);
            }
            carry.drain(..cut);
            want = block;
        } else {
            want = carry.len() + block;
        }
    }
}

/// Types a table's rest a block at a time, counting its figures and its lines on: each
/// block in pieces on every core.
struct Typer {
    cores: usize,
    delimiter: u8,
    /// Figures so far.
    n: usize,
    /// The line the next block starts on.
    line: u64,
    /// Whether the table ended (the rest is only checked to be UTF-8).
    ended: bool,
}

impl Typer {
    fn new(tail: &Tail) -> Typer {
        Typer {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            delimiter: tail.delimiter,
            n: 0,
            line: tail.line,
            ended: false,
        }
    }

    /// Types `text[..cut]` (records of the table at `tail`): `false` when it is not UTF-8.
    fn step(
        &mut self,
        src: &Source,
        text: &[u8],
        cut: usize,
        out: &mut RawFigures,
        each: &(impl Fn(&mut RawFigures, Record<'_>, u32) + Sync),
    ) -> Result<bool> {
        let delimiter = self.delimiter;
        // checked on every SIMD lane (std's check took 6 to 9 ms of a 32 MB block of names
        // in several scripts, before its pieces could start)
        let Some(text) = scan::utf8(&text[..cut]) else {
            return Ok(false);
        };
        if !self.ended {
            let starts = shared_starts(text.as_bytes(), delimiter, self.cores, MIN_PIECE);
            let mut lines = Lines::new(text, self.line);
            let (k, e) = stream_pieces(src, text, &mut lines, delimiter, &starts, out, each)?;
            self.n += k;
            self.ended = e;
            // counted on from the last piece's first byte
            self.line = lines.at(cut);
        }
        Ok(true)
    }
}

/// [`stream_blocks`] over a rest the process holds already, whole (a file's mapped
/// pages): typed a block at a time, a first of `first` bytes then of `block`, each cut
/// after its last record; `passed(k)` is told once the first `k` bytes are typed, so that
/// their pages can go. The same figures, texts and indices as one pass over the text;
/// `Ok(None)` when a block is not UTF-8.
///
/// # Errors
/// [`Error::Source`] when a record cannot be read.
pub fn stream_held(
    src: &Source,
    text: &[u8],
    tail: &Tail,
    (first, block): (usize, usize),
    out: &mut RawFigures,
    each: impl Fn(&mut RawFigures, Record<'_>, u32) + Sync,
    mut passed: impl FnMut(usize),
) -> Result<Option<usize>> {
    let mut typer = Typer::new(tail);
    let (mut at, mut want) = (0, first.max(1));
    loop {
        let rest = &text[at..];
        if rest.len() <= want {
            let all = rest.len();
            let typed = typer.step(src, rest, all, out, &each)?;
            passed(text.len());
            return Ok(typed.then_some(typer.n));
        }
        let b = &rest[..want];
        match block_cut(b, tail.delimiter) {
            Some(cut) => {
                if !typer.step(src, b, cut, out, &each)? {
                    return Ok(None);
                }
                at += cut;
                passed(at);
                want = block.max(1);
            }
            // no record ends in it that surely does: more bytes
            None => want += block.max(1),
        }
    }
}

/// Where to cut `b` (a CSV text starting at a record) for `cores` threads that take the
/// pieces as they come free: a core's share first (it is typed into the figures
/// themselves, not copied after), then pieces of about a quarter of that, so that the
/// cores end within a small piece of each other. Pieces of at least [`MIN_PIECE`] bytes.
fn shared_starts(b: &[u8], delim: u8, cores: usize, min: usize) -> Vec<usize> {
    const SMALLER: usize = 4;
    let starts = piece_starts(b, delim, cores * SMALLER, min);
    let first = starts.len().div_ceil(cores.max(1));
    let mut shared = vec![0];
    shared.extend_from_slice(&starts[first.max(1)..]);
    shared
}

/// Where a block of records (starting at a record) can be cut: after its last newline
/// outside quotes, when its quotes are plain (see [`piece_starts`]). `None` when no
/// newline, or no newline that surely ends a record.
fn block_cut(b: &[u8], delim: u8) -> Option<usize> {
    let quotes = scan::count(b, b'"');
    if quotes == 0 {
        return memchr::memrchr(b'\n', b).map(|p| p + 1);
    }
    // from the end back to the first newline with an even number of quotes before it:
    // the last one, nearly always (met one by one from the start, the newlines of the
    // 1M-row file's blocks took about 70 ms, before each block's typing could start)
    let mut after = 0usize;
    let cut = memchr::memrchr2_iter(b'"', b'\n', b).find_map(|p| {
        if b[p] == b'"' {
            after += 1;
            None
        } else {
            (quotes - after).is_multiple_of(2).then_some(p + 1)
        }
    });
    cut.filter(|&c| plain_quotes(&b[..c], delim))
}

/// Where to cut `b` (a CSV text starting at a record) into up to `pieces` pieces of at
/// least `min` bytes: offsets of the pieces' first bytes, `0` first. Each cut follows a
/// newline outside quotes, which ends a record only when every quote in the text opens or
/// closes a quoted field or doubles a quote inside one (as the `csv` crate reads them);
/// a text with any other quote (`5" disk`) is not cut.
fn piece_starts(b: &[u8], delim: u8, pieces: usize, min: usize) -> Vec<usize> {
    let mut starts = vec![0];
    let pieces = pieces.min(b.len() / min.max(1));
    if pieces < 2 || !plain_quotes(b, delim) {
        return starts;
    }
    let count = |s: &[u8]| memchr::memchr_iter(b'"', s).count();
    // the quotes before each target (none counted past the last)
    let targets: Vec<usize> = (0..pieces).map(|k| b.len() / pieces * k).collect();
    let (before, _) = scan::counts_before(&b[..targets[pieces - 1]], b'"', &targets);
    let mut pos = 0;
    for k in 1..pieces {
        let target = targets[k];
        if target <= pos {
            continue;
        }
        let mut quotes = before[k];
        pos = target;
        // the next newline with an even number of quotes before it
        loop {
            let Some(nl) = memchr::memchr(b'\n', &b[pos..]) else {
                return starts;
            };
            quotes += count(&b[pos..pos + nl]);
            pos += nl + 1;
            if quotes.is_multiple_of(2) {
                break;
            }
        }
        if pos < b.len() {
            starts.push(pos);
        }
    }
    starts
}

/// True when every quote of `b` opens a field (at its start), closes one (at its end) or
/// is one of a doubled pair, and they pair up: then a quote's parity says whether a
/// newline is inside a quoted field. Spans of a long text are checked on every core, each
/// knowing how many quotes come before it.
fn plain_quotes(b: &[u8], delim: u8) -> bool {
    use rayon::prelude::*;
    let starts: Vec<usize> = (0..b.len().div_ceil(scan::SPAN).max(1))
        .map(|k| k * scan::SPAN)
        .collect();
    let (before, all) = scan::counts_before(b, b'"', &starts);
    all.is_multiple_of(2)
        && (0..starts.len()).into_par_iter().all(|k| {
            let end = starts.get(k + 1).copied().unwrap_or(b.len());
            quotes_plain_in(b, starts[k]..end, before[k], delim)
        })
}

/// Whether each quote in `b[r]` opens, closes or doubles as [`plain_quotes`] asks, `n`
/// quotes of `b` coming before `r`.
fn quotes_plain_in(b: &[u8], r: std::ops::Range<usize>, mut n: usize, delim: u8) -> bool {
    let bound = |c: Option<&u8>| c.is_none_or(|&c| matches!(c, b'\n' | b'\r' | b'"') || c == delim);
    for p in memchr::memchr_iter(b'"', &b[r.clone()]).map(|p| p + r.start) {
        // an even one opens a field or follows its twin; an odd one closes or precedes it
        let beside = if n.is_multiple_of(2) {
            p.checked_sub(1).map(|q| &b[q])
        } else {
            b.get(p + 1)
        };
        if !bound(beside) {
            return false;
        }
        n += 1;
    }
    true
}

/// Passes over a block's bytes in spans, on every core: a block of 32 MB waits for them
/// before its pieces are typed (one core's passes took about 23 ms of each block of the
/// 1M-row file, the other core idle).
mod scan {
    use rayon::prelude::*;

    /// Bytes a core takes at a time; a shorter text is one span (in the tests, a few: the
    /// tests' texts go in many spans).
    pub(super) const SPAN: usize = if cfg!(test) { 16 } else { 1 << 20 };

    /// How many bytes of `b` are `byte`.
    pub(super) fn count(b: &[u8], byte: u8) -> usize {
        if b.len() <= SPAN {
            return memchr::memchr_iter(byte, b).count();
        }
        b.par_chunks(SPAN)
            .map(|c| memchr::memchr_iter(byte, c).count())
            .sum()
    }

    /// For each of `starts` (increasing, the first 0), how many bytes of `b` before it are
    /// `byte`, and how many in all: the spans between starts counted on every core.
    pub(super) fn counts_before(b: &[u8], byte: u8, starts: &[usize]) -> (Vec<usize>, usize) {
        let spans: Vec<usize> = (0..starts.len())
            .into_par_iter()
            .map(|k| {
                let end = starts.get(k + 1).copied().unwrap_or(b.len());
                memchr::memchr_iter(byte, &b[starts[k]..end]).count()
            })
            .collect();
        let mut all = 0;
        let before = spans
            .iter()
            .map(|n| {
                all += n;
                all - n
            })
            .collect();
        (before, all)
    }

    /// Whether any byte of `b` is `byte`.
    pub(super) fn any(b: &[u8], byte: u8) -> bool {
        if b.len() <= SPAN {
            return memchr::memchr(byte, b).is_some();
        }
        b.par_chunks(SPAN)
            .any(|c| memchr::memchr(byte, c).is_some())
    }

    /// `b` as text when it is UTF-8: spans cut before a byte that starts a character (or
    /// is ASCII), so that no character is cut, each checked on its own.
    pub(super) fn utf8(b: &[u8]) -> Option<&str> {
        let mut cuts = vec![0];
        let mut at = SPAN;
        while at < b.len() {
            // a continuation byte (10xxxxxx) is inside a character: at most three
            let mut c = at;
            while c < b.len() && c < at + 3 && b[c] & 0xC0 == 0x80 {
                c += 1;
            }
            cuts.push(c);
            at = c + SPAN;
        }
        cuts.push(b.len());
        let ok = cuts
            .par_windows(2)
            .all(|w| simdutf8::basic::from_utf8(&b[w[0]..w[1]]).is_ok());
        // SAFETY: every span is UTF-8, and UTF-8 texts one after another are UTF-8 (the
        // cuts only keep a character whole, so that a UTF-8 text is not taken for another)
        ok.then(|| unsafe { std::str::from_utf8_unchecked(b) })
    }
}

/// [`stream`] over pieces of `rest` starting at `starts`: the first typed into `out` on
/// this thread, the others into figures of their own on threads of their own.
fn stream_pieces(
    src: &Source,
    rest: &str,
    lines: &mut Lines<'_>,
    delimiter: u8,
    starts: &[usize],
    out: &mut RawFigures,
    each: &(impl Fn(&mut RawFigures, Record<'_>, u32) + Sync),
) -> Result<(usize, bool)> {
    // each piece with the line its first record starts on (`lines`, over `rest`, is left
    // at the last piece's first byte)
    let mut pieces = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(rest.len());
        pieces.push((&rest[s..end], lines.at(s)));
    }
    // the pieces go to the pool's threads as they come free: the first, a core's share,
    // into `out`; the others, smaller, each into figures of its own
    let mut first = None;
    let mut others: Vec<Option<Result<(RawFigures, usize, bool)>>> =
        pieces[1..].iter().map(|_| None).collect();
    let typed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rayon::scope(|scope| {
            let (text, line) = pieces[0];
            let first = &mut first;
            let out = &mut *out;
            scope.spawn(move |_| {
                *first = Some(read_piece(src, text, line, delimiter, out, each));
            });
            for (slot, &(text, line)) in others.iter_mut().zip(&pieces[1..]) {
                scope.spawn(move |_| {
                    let mut part = RawFigures::default();
                    *slot = Some(
                        read_piece(src, text, line, delimiter, &mut part, each)
                            .map(|(n, ended)| (part, n, ended)),
                    );
                });
            }
        })
    }));
    let failed = || Error::source(&src.id, &src.display, "the CSV parser failed".to_string());
    let (mut n, mut ended) = match (typed, first) {
        (Ok(()), Some(first)) => first?,
        _ => return Err(failed()),
    };
    // in file order, up to the piece where the table ended
    for r in others {
        if ended {
            break;
        }
        let (part, k, e) = r.unwrap_or_else(|| Err(failed()))?;
        out.append(part);
        n += k;
        ended = e;
    }
    Ok((n, ended))
}

/// Parses and types one piece of a table's records (its first byte on line `line0`): how
/// many were typed, and whether the table ended in the piece.
fn read_piece(
    src: &Source,
    text: &str,
    line0: u64,
    delimiter: u8,
    out: &mut RawFigures,
    each: &impl Fn(&mut RawFigures, Record<'_>, u32),
) -> Result<(usize, bool)> {
    use std::sync::mpsc::sync_channel;
    /// Records parsed per batch handed over.
    const BATCH: usize = 1024;
    // the CSV is parsed on another thread, in batches of records whose buffers come back
    // to be refilled; this thread turns them into figures
    /// Batches in flight: each is parsed into, handed over, typed and handed back, so
    /// the records' buffers are allocated once and reused to the end of the piece.
    const BATCHES: usize = 8;
    let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(BATCHES);
    for _ in 0..BATCHES {
        let _ = empty_tx.send(Batch::default());
    }
    let bytes = text.as_bytes();
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || -> Result<bool> {
            let mut records = Splitter::new(bytes, delimiter);
            let mut lines = Lines::new(text, line0);
            // a batch comes back once typed; none comes back only if the typing side
            // has stopped, and then nothing more is needed
            while let Ok(mut batch) = empty_rx.recv() {
                batch.clear();
                let mut ended = None;
                while batch.records.len() < BATCH {
                    let (fields, unquoted) = (batch.fields.len(), batch.unquoted.len());
                    let Some((quoted, start)) = records.next(&mut batch) else {
                        ended = Some(false);
                        break;
                    };
                    let n = batch.fields.len() - fields;
                    batch.records.push((quoted, fields, n, 0));
                    let (rec, _) = batch.record(bytes, batch.records.len() - 1);
                    let first = rec.iter().find(|f| !super::trim(f).is_empty());
                    // a footer is a lone text (counted first: most records have more)
                    let footer = first.is_none_or(|f| {
                        rec.iter().filter(|f| !super::trim(f).is_empty()).count() == 1
                            && super::markdown::is_footer(f)
                    });
                    if footer {
                        batch.records.pop();
                        batch.fields.truncate(fields);
                        batch.unquoted.truncate(unquoted);
                        ended = Some(true);
                        break;
                    }
                    let line = lines.at(start).saturating_sub(1) as u32;
                    if let Some(r) = batch.records.last_mut() {
                        r.3 = line;
                    }
                }
                if full_tx.send(batch).is_err() {
                    return Ok(false);
                }
                if let Some(table_ended) = ended {
                    return Ok(table_ended);
                }
            }
            Ok(false)
        });
        let mut n = 0;
        for batch in full_rx {
            for k in 0..batch.records.len() {
                let (rec, line) = batch.record(bytes, k);
                each(out, rec, line);
            }
            n += batch.records.len();
            // sent back with its buffers, which the parser refills
            let _ = empty_tx.send(batch);
        }
        let ended = parser.join().map_err(|_| {
            Error::source(&src.id, &src.display, "the CSV parser failed".to_string())
        })??;
        Ok((n, ended))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Place, RawFigureRef};

    /// A long CSV text: quoted fields with delimiters, doubled quotes and newlines.
    fn text(rows: usize) -> String {
        let mut t = String::new();
        for i in 0..rows {
            match i % 5 {
                0 => t.push_str(&format!(
                    "Turkey,\"Areas, nes\",{},\"1,{i}\"\n",
                    2000 + i % 7
                )),
                1 => t.push_str(&format!("TUR,\"say \"\"hi\"\"\",{},{i}\r\n", 2000 + i % 7)),
                2 => t.push_str(&format!("Türkiye,\"two\nlines\",2001,{i}\n")),
                3 => t.push_str(&format!("Турция,\"\",2002,\"{i}\"\n")),
                _ => t.push_str(&format!("TUR,AZE,2003,{i}\n")),
            }
        }
        t
    }

    /// Every field of a record interned (reporter, partner, year, commodity) and its line.
    fn push(out: &mut RawFigures, rec: Record<'_>, line: u32) {
        let f = |c: usize| rec.get(c).filter(|s| !s.is_empty());
        let r = RawFigureRef {
            reporter: f(0),
            partner: f(1),
            flow: None,
            year: f(2),
            month: None,
            commodity: f(3),
            unit_column: None,
            unit_title: None,
            unit_config: None,
            decimal: None,
        };
        let v = out.text_value(rec.get(3).unwrap_or(""));
        out.push(
            r,
            v,
            Place {
                table: 0,
                row: line,
                col: 3,
            },
        );
    }

    /// What the figures hold, texts resolved, for comparing two readings.
    fn seen(out: &RawFigures) -> Vec<(Vec<u32>, String, u32)> {
        (0..out.len())
            .map(|i| {
                let ids = vec![
                    out.reporter.get(i),
                    out.partner.get(i),
                    out.year.get(i),
                    out.commodity.get(i),
                ];
                (ids, out.value_text(i), out.places.get(i).row)
            })
            .collect()
    }

    /// The figures of `t` (its first byte on `line`) read in pieces from `starts`, and how
    /// many were typed.
    fn streamed(t: &str, line: u64, starts: &[usize]) -> (RawFigures, usize) {
        let src = Source::for_file(std::path::Path::new("t.csv"));
        let mut out = RawFigures::default();
        let mut lines = Lines::new(t, line);
        let (n, _) = stream_pieces(&src, t, &mut lines, b',', starts, &mut out, &push).unwrap();
        // left at the last piece's first byte
        assert_eq!(lines.at(0), Lines::new(t, line).at(*starts.last().unwrap()));
        (out, n)
    }

    fn read(t: &str, starts: &[usize]) -> Reading {
        let (out, n) = streamed(t, 3, starts);
        let texts = (0..out.dict.len() as u32).map(|i| out.dict.get(i).unwrap().to_string());
        (seen(&out), texts.collect(), n)
    }

    type Reading = (Vec<(Vec<u32>, String, u32)>, Vec<String>, usize);

    /// Asserts two readings equal, naming the first figure or text that differs.
    fn same(a: &Reading, b: &Reading, what: &str) {
        fn first_difference<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T], what: &str) {
            let at = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i));
            assert!(
                at.is_none(),
                "{what} {at:?}: {:?} vs {:?}",
                at.map(|i| a.get(i)),
                at.map(|i| b.get(i))
            );
        }
        first_difference(&a.0, &b.0, &format!("{what}: figure"));
        first_difference(&a.1, &b.1, &format!("{what}: text"));
        assert_eq!(a.2, b.2, "{what}");
    }

    #[test]
    fn pieces_read_as_one_pass() {
        let t = text(1000);
        let whole = read(&t, &[0]);
        assert_eq!(whole.2, 1000);
        // fields as the text holds them: quotes undone, letters beyond ASCII whole
        for text in [
            "Турция",
            "Türkiye",
            "Areas, nes",
            "say \"hi\"",
            "two\nlines",
        ] {
            assert!(
                whole.1.iter().any(|t| t == text),
                "{text:?} in {:?}",
                &whole.1[..20]
            );
        }
        for pieces in [2, 3, 7] {
            let starts = piece_starts(t.as_bytes(), b',', pieces, 1);
            assert_eq!(starts.len(), pieces, "{starts:?}");
            same(&read(&t, &starts), &whole, &format!("{pieces} pieces"));
        }
        // 0-based lines, the text starting on line 3: a `\r\n` ends a line, a quoted
        // newline makes a record of two lines
        let rows: Vec<u32> = whole.0[..7].iter().map(|f| f.2).collect();
        assert_eq!(rows, [2, 3, 4, 6, 7, 8, 9]);
    }

    #[test]
    fn lines_as_an_editor_counts_them() {
        // blank lines, `\r\n`, a lone `\r`, a quoted `\r\n`
        let t = "a,b\n\n\nc,d\r\n\r\ne,f\rg,h\r\ni,\"j\r\nk\"\r\nl,m";
        let (out, _) = streamed(t, 1, &[0]);
        let rows: Vec<u32> = (0..out.len()).map(|i| out.places.get(i).row + 1).collect();
        assert_eq!(rows, [1, 4, 6, 7, 8, 10]);
        // the head reads the same lines
        let src = Source::for_file(std::path::Path::new("t.csv"));
        let (tables, _) = tables(&src, &format!("x,y,value\n{t}")).unwrap();
        let lines: Vec<u32> = tables[0].rows.iter().map(|r| r.pos).collect();
        assert_eq!(lines, [1, 4, 6, 7, 8, 10]);
    }

    #[test]
    fn the_table_ends_in_a_piece_before_the_last() {
        let mut t = text(300);
        t.push_str("Source: a ministry\n");
        t.push_str(&text(300));
        let starts = piece_starts(t.as_bytes(), b',', 4, 1);
        assert_eq!(starts.len(), 4);
        let whole = read(&t, &[0]);
        assert_eq!(whole.2, 300);
        same(&read(&t, &starts), &whole, "ended");
    }

    #[test]
    fn cuts_only_outside_quoted_fields() {
        let t = text(200);
        for s in piece_starts(t.as_bytes(), b',', 50, 1) {
            let before = &t.as_bytes()[..s];
            assert_eq!(memchr::memchr_iter(b'"', before).count() % 2, 0);
            assert!(s == 0 || before.ends_with(b"\n"));
        }
    }

    #[test]
    fn a_quote_inside_a_field_keeps_the_text_whole() {
        let mut t = text(100);
        assert!(plain_quotes(t.as_bytes(), b','));
        t.push_str("TUR,5\" disk,2004,1\n");
        t.push_str(&text(100));
        assert!(!plain_quotes(t.as_bytes(), b','));
        assert_eq!(piece_starts(t.as_bytes(), b',', 4, 1), vec![0]);
        // text after a closing quote, an unclosed quote, a quote after a space
        for bad in ["a,\"b\"c\n", "a,\"b\n", "a, \"b\"\n", "\"a\" ,b\n"] {
            assert!(!plain_quotes(bad.as_bytes(), b','), "{bad:?}");
        }
        for good in ["a;\"b;c\";d\n", "\"\";\"\"\"\"\n", "\"a\"\r\n\"b\""] {
            assert!(plain_quotes(good.as_bytes(), b';'), "{good:?}");
        }
    }

    /// A source and the table its records continue (from line 3), for streaming.
    fn streamed_table() -> (Source, Tail) {
        let src = Source::for_file(std::path::Path::new("t.csv"));
        let tail = Tail {
            table: 0,
            byte: 0,
            line: 3,
            delimiter: b',',
        };
        (src, tail)
    }

    /// What a streaming of `n` records into `out` gave.
    fn reading(out: &RawFigures, n: usize) -> Reading {
        let texts = (0..out.dict.len() as u32).map(|i| out.dict.get(i).unwrap().to_string());
        (seen(out), texts.collect(), n)
    }

    /// The figures of `t` streamed as from a file: its first `first` bytes already read,
    /// the rest handed over `chunk` bytes at a time after `room` bytes of room, typed
    /// `block` bytes at a time.
    fn from_blocks(t: &[u8], first: usize, chunk: usize, block: usize) -> Option<Reading> {
        from_blocks_with(t, first, chunk, block, 16)
    }

    fn from_blocks_with(
        t: &[u8],
        first: usize,
        chunk: usize,
        block: usize,
        room: usize,
    ) -> Option<Reading> {
        let (src, tail) = streamed_table();
        let mut out = RawFigures::default();
        let mut at = first;
        // the blocks given back are handed over again, with what they held overwritten
        let spare = std::cell::RefCell::new(Vec::<Vec<u8>>::new());
        let next = || {
            let end = t.len().min(at + chunk);
            if end == at {
                return Ok(None);
            }
            let mut b = spare.borrow_mut().pop().unwrap_or_default();
            b.clear();
            b.resize(room, b'#');
            b.extend_from_slice(&t[at..end]);
            at = end;
            Ok(Some(b))
        };
        let done = |b: Vec<u8>| spare.borrow_mut().push(b);
        let blocks = Blocks { next, done, room };
        let n = stream_blocks(&src, &t[..first], blocks, &tail, block, &mut out, push).unwrap()?;
        Some(reading(&out, n))
    }

    #[test]
    fn blocks_read_as_one_pass() {
        let t = text(2000);
        let whole = read(&t, &[0]);
        // chunks that end inside characters, quoted fields and `\r\n`; blocks of a few
        // records to many
        for (first, chunk, block) in [
            (0, 1, 1),
            (5, 7, 64),
            (100, 333, 1000),
            (0, 4096, 20_000),
            (0, 1 << 20, BLOCK),
        ] {
            let b = from_blocks(t.as_bytes(), first, chunk, block).expect("UTF-8");
            same(
                &b,
                &whole,
                &format!("first {first}, chunks of {chunk}, blocks of {block}"),
            );
        }
        // the record cut by a block put into the next one's room, or (when it does not
        // fit) the block put after it
        for room in [0, 3, 64, 1 << 16] {
            for (first, chunk, block) in [(0, 4096, 1000), (100, 700, 700), (7, 50, 2000)] {
                let b = from_blocks_with(t.as_bytes(), first, chunk, block, room).expect("UTF-8");
                same(
                    &b,
                    &whole,
                    &format!("room {room}, first {first}, chunks of {chunk}, blocks of {block}"),
                );
            }
        }
        // no newline at the end of the file
        let t = t.trim_end();
        same(
            &from_blocks(t.as_bytes(), 0, 50, 300).unwrap(),
            &read(t, &[0]),
            "no last newline",
        );
    }

    /// The figures of `t` typed from memory, a first block of `first` bytes then blocks
    /// of `block`, with what each step said was typed.
    fn held(t: &[u8], first: usize, block: usize) -> (Option<Reading>, Vec<usize>) {
        let (src, tail) = streamed_table();
        let mut out = RawFigures::default();
        let mut passed = Vec::new();
        let n = stream_held(&src, t, &tail, (first, block), &mut out, push, |k| {
            passed.push(k)
        })
        .unwrap();
        (n.map(|n| reading(&out, n)), passed)
    }

    #[test]
    fn a_held_text_is_typed_as_one_pass() {
        let t = text(2000);
        let whole = read(&t, &[0]);
        for (first, block) in [
            (1, 1),
            (7, 64),
            (1000, 333),
            (20_000, 4096),
            (1 << 20, BLOCK),
        ] {
            let (b, passed) = held(t.as_bytes(), first, block);
            same(
                &b.expect("UTF-8"),
                &whole,
                &format!("first {first}, blocks of {block}"),
            );
            // each step after the one before, each after a record, the last at the end
            assert!(passed.windows(2).all(|w| w[0] < w[1]), "{passed:?}");
            assert!(passed[..passed.len() - 1]
                .iter()
                .all(|&k| t.as_bytes()[k - 1] == b'\n'));
            assert_eq!(passed.last(), Some(&t.len()));
            if block < 1000 {
                assert!(
                    passed.len() > 10,
                    "first {first}, blocks of {block}: {passed:?}"
                );
            }
        }
        let t = t.trim_end();
        same(
            &held(t.as_bytes(), 50, 300).0.unwrap(),
            &read(t, &[0]),
            "no last newline",
        );
        // a quote inside a field: no cut after it is safe, the rest goes as one
        let mut q = text(100);
        let quote = q.len();
        q.push_str("TUR,5\" disk,2004,1\n");
        q.push_str(&text(100));
        let (b, passed) = held(q.as_bytes(), 10, 100);
        same(&b.unwrap(), &read(&q, &[0]), "not cut");
        let (last, cuts) = passed.split_last().unwrap();
        assert!(
            cuts.len() > 10 && cuts.iter().all(|&k| k <= quote),
            "{passed:?}"
        );
        assert_eq!(*last, q.len());
        // not UTF-8 in the middle: no figures to keep
        let mut bytes = text(500).into_bytes();
        let at = bytes.len() / 2;
        bytes[at] = 0xfc;
        assert!(held(&bytes, 64, 256).0.is_none());
    }

    #[test]
    fn blocks_stop_at_the_end_of_the_table_and_check_the_rest() {
        let mut t = text(300);
        t.push_str("Source: a ministry\n");
        t.push_str(&text(300));
        let whole = read(&t, &[0]);
        assert_eq!(whole.2, 300);
        same(
            &from_blocks(t.as_bytes(), 0, 100, 500).unwrap(),
            &whole,
            "ended",
        );
        // a byte that is not UTF-8 after the end of the table: the file is not UTF-8
        let mut bytes = t.into_bytes();
        bytes.extend_from_slice(b"TUR,T\xfcrkiye,2004,1\n");
        assert!(from_blocks(&bytes, 0, 100, 500).is_none());
    }

    #[test]
    fn a_block_not_utf8_stops_the_reading() {
        let mut bytes = text(500).into_bytes();
        let at = bytes.len() / 2;
        bytes[at] = 0xfc;
        assert!(from_blocks(&bytes, 0, 64, 256).is_none());
    }

    #[test]
    fn blocks_with_a_quote_inside_a_field_are_read_whole() {
        let mut t = text(100);
        t.push_str("TUR,5\" disk,2004,1\n");
        t.push_str(&text(100));
        assert_eq!(block_cut(t.as_bytes(), b','), None);
        same(
            &from_blocks(t.as_bytes(), 0, 10, 100).unwrap(),
            &read(&t, &[0]),
            "not cut",
        );
    }

    #[test]
    fn a_block_is_cut_after_its_last_record() {
        let t = "a,\"x\ny\"\nb,c\nd,\"e\n";
        // the last newline is inside an open quote: cut after `b,c`
        assert_eq!(block_cut(t.as_bytes(), b','), Some(t.find("d,").unwrap()));
        assert_eq!(block_cut(b"a,b", b','), None);
        assert_eq!(block_cut(b"a,b\nc", b','), Some(4));
    }

    /// Every record of `t` as the splitter reads it: its fields and its line.
    fn split(t: &str, delimiter: u8) -> Vec<(Vec<String>, u64)> {
        let (mut records, mut lines) = (Splitter::new(t.as_bytes(), delimiter), Lines::new(t, 1));
        let mut batch = Batch::default();
        let mut got = Vec::new();
        while let Some((quoted, start)) = records.next(&mut batch) {
            batch.records.push((quoted, 0, batch.fields.len(), 0));
            let (rec, _) = batch.record(t.as_bytes(), 0);
            got.push((rec.iter().map(str::to_string).collect(), lines.at(start)));
            batch.clear();
        }
        got
    }

    /// The same as the `csv` crate reads it, its lines placed as the reader placed them
    /// before the splitter.
    fn csv_crate(t: &str, delimiter: u8) -> Vec<(Vec<String>, u64)> {
        let (mut rdr, mut lines) = (reader(t, delimiter), Lines::new(t, 1));
        let mut rec = csv::ByteRecord::new();
        let mut got = Vec::new();
        while rdr.read_byte_record(&mut rec).unwrap() {
            let fields = rec.iter().map(|f| String::from_utf8(f.to_vec()).unwrap());
            let line = lines.of_record(rec.position().unwrap().byte());
            got.push((fields.collect(), line));
        }
        got
    }

    #[test]
    fn passes_in_spans_say_what_one_pass_says() {
        use proptest::prelude::*;
        // one pass over the whole text, quote by quote
        let plain_in_one = |b: &[u8]| {
            quotes_plain_in(b, 0..b.len(), 0, b',')
                && memchr::memchr_iter(b'"', b).count().is_multiple_of(2)
        };
        // texts of characters of one to four bytes, quotes, delimiters and line ends, with
        // bytes that break a character here and there, over many spans of the tests' size
        let piece = prop::sample::select(vec![
            "a", "é", "€", "𝄞", "\"", ",", "\n", "\r", "\"\"", ",\"", "\",", "x\"y",
        ]);
        let byte = prop::sample::select(vec![0x80u8, 0xbf, 0xc3, 0xe2, 0xf0, 0xff, b'"']);
        let texts = prop::collection::vec((piece, prop::option::weighted(0.03, byte)), 0..120)
            .prop_map(|parts| {
                let mut b = Vec::new();
                for (p, x) in parts {
                    b.extend_from_slice(p.as_bytes());
                    b.extend(x);
                }
                b
            });
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
        runner
            .run(&texts, |b| {
                prop_assert_eq!(scan::utf8(&b).is_some(), std::str::from_utf8(&b).is_ok());
                prop_assert_eq!(plain_quotes(&b, b','), plain_in_one(&b));
                for byte in [b'"', b'\n', b'\r', 0xc3] {
                    prop_assert_eq!(
                        scan::count(&b, byte),
                        b.iter().filter(|&&x| x == byte).count()
                    );
                    prop_assert_eq!(scan::any(&b, byte), b.contains(&byte));
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn bytes_equal_marks_each_byte_equal_and_no_other() {
        use proptest::prelude::*;
        let naive = |w: u64, b: u8| {
            (0..8)
                .filter(|k| (w >> (8 * k)) as u8 == b)
                .fold(0u64, |m, k| m | 0x80 << (8 * k))
        };
        // words of bytes near the one sought (borrows and carries between bytes)
        let byte = prop::sample::select(vec![0u8, 1, 0x2b, 0x2c, 0x2d, 0x7f, 0x80, 0xac, 0xff]);
        let words =
            prop::collection::vec(byte, 8).prop_map(|b| u64::from_le_bytes(b.try_into().unwrap()));
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(4000));
        runner
            .run(&(words, any::<u64>(), any::<u8>()), |(w, r, b)| {
                for (w, b) in [(w, b), (w, b','), (r, b), (r, r as u8)] {
                    prop_assert_eq!(bytes_equal(w, b), naive(w, b), "{:#x} {:#x}", w, b);
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn records_are_split_as_the_csv_crate_reads_them() {
        use proptest::prelude::*;
        // texts of delimiters, quotes, line ends of every kind, blank lines, spaces and
        // names beyond ASCII, in any order: quoted fields over lines, doubled quotes,
        // quotes inside unquoted fields, a last record with no line end
        let piece = prop::sample::select(vec![
            "a",
            "Türkiye",
            "12.5",
            ",",
            ";",
            "\t",
            "|",
            "\"",
            "\"\"",
            "\n",
            "\r",
            "\r\n",
            " ",
            "",
            "a long field of many words",
        ]);
        let texts = prop::collection::vec(piece, 0..60).prop_map(|p| p.concat());
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000));
        runner
            .run(
                &(texts, prop::sample::select(vec![b',', b';', b'\t', b'|'])),
                |(t, d)| {
                    prop_assert_eq!(split(&t, d), csv_crate(&t, d), "{:?}", t);
                    Ok(())
                },
            )
            .unwrap();
        // and the test file's records
        let t = text(500);
        assert_eq!(split(&t, b','), csv_crate(&t, b','));
    }

    #[test]
    fn a_block_is_cut_where_a_pass_from_its_start_would_cut_it() {
        // the last newline with an even number of quotes before it, met from the start
        let forward = |b: &[u8]| {
            let (mut quotes, mut cut) = (0usize, None);
            for (p, &c) in b.iter().enumerate() {
                match c {
                    b'"' => quotes += 1,
                    b'\n' if quotes % 2 == 0 => cut = Some(p + 1),
                    _ => {}
                }
            }
            cut.filter(|&c| plain_quotes(&b[..c], b','))
        };
        let t = text(300);
        let b = t.as_bytes();
        // every prefix of many lengths: ends inside quoted fields, inside `\r\n`, at ends
        for end in (0..b.len()).step_by(7).chain([b.len()]) {
            assert_eq!(block_cut(&b[..end], b','), forward(&b[..end]), "{end}");
        }
    }

    #[test]
    fn lines_counted_a_span_at_once_are_those_met_one_by_one() {
        // no `\r` (counted at once in long spans), and with `\r\n` and a lone `\r`
        let plain = text(3000).replace('\r', "");
        let mixed = text(3000).replace("2003", "20\r03");
        for t in [plain, mixed] {
            let ends: Vec<usize> = (0..t.len()).step_by(5003).chain([t.len()]).collect();
            let (mut far, mut near) = (Lines::new(&t, 1), Lines::new(&t, 1));
            for w in ends.windows(2) {
                // one step over the span, against steps of a few bytes
                let by_steps = (w[0]..w[1])
                    .step_by(3)
                    .chain([w[1]])
                    .map(|k| near.at(k))
                    .last();
                assert_eq!(Some(far.at(w[1])), by_steps, "at {}", w[1]);
            }
            assert_eq!(
                far.at(t.len()),
                1 + t.matches('\n').count() as u64 + t.matches("\r").count() as u64
                    - t.matches("\r\n").count() as u64
            );
        }
    }

    #[test]
    fn a_cores_share_first_then_smaller_pieces() {
        let t = text(4000);
        let b = t.as_bytes();
        let all = piece_starts(b, b',', 8, 1);
        assert_eq!(all.len(), 8);
        // two cores: the first four eighths as one piece, then the other four
        let shared = shared_starts(b, b',', 2, 1);
        assert_eq!(shared, [&[0][..], &all[4..]].concat());
        let first = shared[1] as f64 / b.len() as f64;
        assert!((0.45..0.55).contains(&first), "{first}");
        // read as one pass
        same(&read(&t, &shared), &read(&t, &[0]), "shared");
        // one core, or a text too small to cut: one piece
        assert_eq!(shared_starts(b, b',', 1, 1), vec![0]);
        assert_eq!(shared_starts(b, b',', 2, b.len()), vec![0]);
        // a text of three pieces for two cores: two pieces, the first of two
        let three = piece_starts(b, b',', 3, 1);
        assert_eq!(shared_starts(b, b',', 2, b.len() / 3), vec![0, three[2]]);
    }

    #[test]
    fn small_texts_are_not_cut() {
        let t = text(100);
        assert_eq!(piece_starts(t.as_bytes(), b',', 2, t.len()), vec![0]);
        assert_eq!(piece_starts(t.as_bytes(), b',', 2, t.len() / 2).len(), 2);
    }
}
