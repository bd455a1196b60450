//! The clean rows of the partitioned run on the disk. Each bucket's clean table, once
//! made, is written to an unnamed file of its own, column after column (31 bytes a row),
//! and let go. Once every bucket is done, the rows are put in key order in one file a run
//! of one ordered reporter and partner pair at a time (a bucket holds both ways of its
//! pairs, and its table is in key order, so each ordered pair's rows are one run of one
//! bucket: the runs sorted by pair are the rows in key order, a concatenation, no merge),
//! in parts of [`PART`] rows, each part column after column; the writers read them back
//! a few parts at a time ([`Segments::rows`]), never every row at once.
//!
//! The countries are numbered among every bucket's (the list kept here), the
//! commodities in the table of every figure, the values as [`crate::model::Values`]
//! holds them (those kept aside whole kept here: [`crate::model::Values::word`]), the
//! places as raw figure indices.

use crate::model::{flags::Flags, Dict, Flow, Narrow, PlaceColumn, Places, Provenance, Values};
use crate::publish::CleanTable;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes of each column in a row: reporter, partner, flow, year, month, commodity,
/// value, flags, place. Year, month and commodity as a column of words holds them
/// ([`Narrow::word_of`]), so that a part's columns are read back whole.
const WIDTHS: [usize; 9] = [2, 2, 1, 4, 4, 4, 8, 2, 4];

/// Bytes of a row.
const ROW: usize = 31;

/// Rows of a part of the file in key order (the last may be shorter): the writers ask
/// for rows in multiples of it (16,384 for the CSV, 65,536 for the rest).
const PART: usize = 16_384;

/// One bucket's clean rows.
#[derive(Debug)]
struct Segment {
    file: std::fs::File,
    rows: usize,
    /// Where its values kept aside whole start among every bucket's.
    wide_from: usize,
}

/// An ordered pair's rows: its reporter and partner, the segment and its rows.
type Run = ((&'static str, &'static str), u32, std::ops::Range<usize>);

/// The clean rows of every bucket, in their files; once sealed, in key order in one.
#[derive(Debug)]
pub struct Segments {
    dir: std::path::PathBuf,
    segments: Vec<Segment>,
    runs: Vec<Run>,
    /// Every row in key order, once [`Segments::seal`]ed.
    sealed: Option<std::fs::File>,
    rows: usize,
    /// A table of no rows with what every row shares: the country codes the reporter and
    /// partner columns name (every segment's), the commodity table of every figure, the
    /// provenance and the places.
    head: CleanTable,
    /// Whether a row's commodity is `TOTAL` (past the commodity texts).
    total: bool,
    /// The values kept aside whole, every segment's.
    wide: Vec<rust_decimal::Decimal>,
}

/// Appends the `width` low bytes (1, 2, 4 or 8) of each of `words` to `out`, each a
/// copy of known size (a copy of a length known only when run was a call to `memcpy` a
/// value: most of the time the writers spent reading the rows back).
fn put(out: &mut Vec<u8>, width: usize, words: impl Iterator<Item = u64>) {
    for w in words {
        match width {
            1 => out.push(w as u8),
            2 => out.extend_from_slice(&(w as u16).to_le_bytes()),
            4 => out.extend_from_slice(&(w as u32).to_le_bytes()),
            _ => out.extend_from_slice(&w.to_le_bytes()),
        }
    }
}

/// The words of a column of `W` bytes (1, 2, 4 or 8) each: a width known when compiled,
/// each word a copy of known size (through a width known only when run, the writers'
/// reading of the parts at 10M rows of the peers' data took 0.55 s of CPU, now 0.21:
/// `perf` samples of the iterators' folds).
fn words<const W: usize>(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(W).map(|b| {
        let mut w = [0u8; 8];
        w[..W].copy_from_slice(b);
        u64::from_le_bytes(w)
    })
}

impl Segments {
    /// Segments in files in `dir`, of rows whose commodities `commodities` numbers (every
    /// figure's table), whose places are among `places`.
    pub fn new(
        dir: &std::path::Path,
        commodities: Dict,
        places: Arc<Places>,
        provenance: Provenance,
    ) -> Segments {
        Segments {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            runs: Vec::new(),
            sealed: None,
            rows: 0,
            head: CleanTable {
                commodities,
                provenance,
                place: PlaceColumn::of_raw(places, Vec::new()),
                ..Default::default()
            },
            total: false,
            wide: Vec::new(),
        }
    }

    /// The rows of every segment.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Writes a bucket's clean table `t` (its rows in key order) as a segment.
    ///
    /// # Errors
    /// The file cannot be made or written.
    pub fn add(&mut self, t: &CleanTable) -> std::io::Result<()> {
        assert!(self.sealed.is_none(), "a segment added once sealed");
        let n = t.len();
        let at = self.segments.len() as u32;
        // the table's countries among every segment's
        let country: Vec<u16> = (t.countries.iter())
            .map(|&c| self.head.country(c))
            .collect();
        // the table's commodities in every figure's table (past its texts: `TOTAL`)
        let past = self.head.commodities.len() as u32;
        let commodity: Vec<u32> = (0..t.commodities.len() as u32)
            .map(|c| {
                t.commodities
                    .get(c)
                    .and_then(|text| self.head.commodities.find(text))
                    .unwrap_or(past)
            })
            .collect();
        let commodity = |i: usize| commodity.get(t.commodity.get(i) as usize).copied();
        self.total |= (0..n).any(|i| commodity(i).is_none_or(|c| c >= past));
        let file = tempfile::tempfile_in(&self.dir)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &file);
        let mut bytes = Vec::with_capacity(n * 8);
        let rows = 0..n;
        for (c, &width) in WIDTHS.iter().enumerate() {
            bytes.clear();
            let b = &mut bytes;
            match c {
                0 => put(
                    b,
                    width,
                    rows.clone()
                        .map(|i| u64::from(country[t.reporter[i] as usize])),
                ),
                1 => put(
                    b,
                    width,
                    rows.clone()
                        .map(|i| u64::from(country[t.partner[i] as usize])),
                ),
                2 => put(
                    b,
                    width,
                    rows.clone().map(|i| {
                        Flow::ALL.iter().position(|&f| f == t.flow[i]).unwrap_or(0) as u64
                    }),
                ),
                3 => put(
                    b,
                    width,
                    rows.clone()
                        .map(|i| u64::from(Narrow::word_of(t.year.get(i)))),
                ),
                4 => put(
                    b,
                    width,
                    rows.clone()
                        .map(|i| u64::from(Narrow::word_of(t.month.get(i)))),
                ),
                5 => put(
                    b,
                    width,
                    rows.clone()
                        .map(|i| u64::from(Narrow::word_of(commodity(i).unwrap_or(past)))),
                ),
                6 => put(b, width, rows.clone().map(|i| t.value.word(i) as u64)),
                7 => put(b, width, rows.clone().map(|i| u64::from(t.flags[i]))),
                _ => put(b, width, t.place.raw().iter().map(|&r| u64::from(r))),
            }
            w.write_all(&bytes)?;
        }
        w.into_inner().map_err(|e| e.into_error())?;
        // each ordered pair's run (found by the country ids: a code split in two ids
        // would split a run in two, still in order, as the sort of the runs is stable)
        let mut start = 0;
        for i in 1..=n {
            if i == n || (t.reporter[i], t.partner[i]) != (t.reporter[start], t.partner[start]) {
                let pair = (t.reporter(start), t.partner(start));
                self.runs.push((pair, at, start..i));
                start = i;
            }
        }
        self.segments.push(Segment {
            file,
            rows: n,
            wide_from: self.wide.len(),
        });
        self.wide.extend_from_slice(t.value.wide());
        self.rows += n;
        Ok(())
    }

    /// Every row put in key order in one file, in parts of [`PART`] rows (then the
    /// buckets' files go): then the rows can be read ([`Segments::rows`]).
    ///
    /// # Errors
    /// A bucket's file cannot be read back, or the file in key order made or written.
    pub fn seal(&mut self) -> std::io::Result<()> {
        use rayon::prelude::*;
        self.runs.sort_by(|a, b| a.0.cmp(&b.0));
        // where each run starts among the rows in key order
        let starts: Vec<usize> = (self.runs.iter())
            .scan(0, |at, (_, _, run)| {
                let start = *at;
                *at += run.len();
                Some(start)
            })
            .collect();
        let file = tempfile::tempfile_in(&self.dir)?;
        // each part gathered from its runs and written at its place, on every core
        (0..self.rows.div_ceil(PART))
            .into_par_iter()
            .try_for_each(|k| {
                let part = k * PART..self.rows.min((k + 1) * PART);
                let bytes = self.gather(&starts, part)?;
                file.write_all_at(&bytes, (k * PART * ROW) as u64)
            })?;
        self.segments.clear();
        self.runs = Vec::new();
        self.sealed = Some(file);
        Ok(())
    }

    /// Rows `rows` in key order (`starts`: where each run starts among them), column
    /// after column, read from their runs in the segments' files.
    fn gather(&self, starts: &[usize], rows: std::ops::Range<usize>) -> std::io::Result<Vec<u8>> {
        let n = rows.len();
        let mut cols: [Vec<u8>; 9] = std::array::from_fn(|c| Vec::with_capacity(n * WIDTHS[c]));
        let mut buf = Vec::new();
        let mut r = starts
            .partition_point(|&s| s <= rows.start)
            .saturating_sub(1);
        let mut lo = rows.start;
        while lo < rows.end {
            let (_, s, run) = &self.runs[r];
            let seg = &self.segments[*s as usize];
            // the run's rows from `lo` on, up to the end of `rows`
            let from = run.start + (lo - starts[r]);
            let to = run.end.min(from + (rows.end - lo));
            let mut offset = 0;
            for (c, &width) in WIDTHS.iter().enumerate() {
                buf.resize((to - from) * width, 0);
                seg.file
                    .read_exact_at(&mut buf, (offset + from * width) as u64)?;
                offset += seg.rows * width;
                if c == 6 && seg.wide_from > 0 {
                    // the values kept aside whole, named among every segment's
                    let moved = words::<8>(&buf)
                        .map(|v| Values::word_moved(v as i64, seg.wide_from) as u64);
                    put(&mut cols[c], 8, moved);
                } else {
                    cols[c].extend_from_slice(&buf);
                }
            }
            lo += to - from;
            r += 1;
        }
        Ok(cols.concat())
    }

    /// Whether a row's commodity is `TOTAL` (past the commodity texts).
    pub fn any_total(&self) -> bool {
        self.total
    }

    /// A table of no rows, with every row's countries, commodities, provenance and places.
    pub fn head(&self) -> CleanTable {
        self.head.clone()
    }

    /// Rows `rows` of every row in key order (once [`Segments::seal`]ed), as a table
    /// whose countries, commodities, provenance and places are every row's.
    ///
    /// # Errors
    /// The file cannot be read back (or the segments are not sealed).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> std::io::Result<CleanTable> {
        let Some(file) = &self.sealed else {
            return Err(std::io::Error::other(
                "the clean rows are not put in key order",
            ));
        };
        let n = rows.len();
        let mut t = self.head();
        t.reporter.reserve_exact(n);
        t.partner.reserve_exact(n);
        t.flow.reserve_exact(n);
        t.flags.reserve_exact(n);
        let mut raw = Vec::with_capacity(n);
        let (mut year, mut month, mut commodity) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut value = Vec::with_capacity(n);
        let mut buf = Vec::new();
        let mut lo = rows.start;
        while lo < rows.end {
            // the part `lo` is in, read whole, and its rows wanted
            let k = lo / PART;
            let len = PART.min(self.rows - k * PART);
            buf.resize(len * ROW, 0);
            file.read_exact_at(&mut buf, (k * PART * ROW) as u64)?;
            let (a, b) = (lo - k * PART, (rows.end - k * PART).min(len));
            let mut offset = 0;
            for (c, &width) in WIDTHS.iter().enumerate() {
                let col = &buf[offset + a * width..offset + b * width];
                offset += len * width;
                const W: [usize; 9] = WIDTHS;
                match c {
                    0 => t.reporter.extend(words::<{ W[0] }>(col).map(|w| w as u16)),
                    1 => t.partner.extend(words::<{ W[1] }>(col).map(|w| w as u16)),
                    2 => t
                        .flow
                        .extend(words::<{ W[2] }>(col).map(|w| Flow::ALL[w as usize])),
                    3 => year.extend(words::<{ W[3] }>(col).map(|w| w as u32)),
                    4 => month.extend(words::<{ W[4] }>(col).map(|w| w as u32)),
                    5 => commodity.extend(words::<{ W[5] }>(col).map(|w| w as u32)),
                    6 => value.extend(words::<{ W[6] }>(col).map(|w| w as i64)),
                    7 => t.flags.extend(words::<{ W[7] }>(col).map(|w| w as Flags)),
                    _ => raw.extend(words::<{ W[8] }>(col).map(|w| w as u32)),
                }
            }
            lo = k * PART + b;
        }
        t.year = Narrow::of_words(year);
        t.month = Narrow::of_words(month);
        t.commodity = Narrow::of_words(commodity);
        t.value = Values::of_words(value, &self.wide);
        t.place = PlaceColumn::of_raw(self.head.place.places(), raw);
        Ok(t)
    }
}
