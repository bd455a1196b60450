//! The clean rows of the partitioned run on the disk. Each bucket's clean table, once
//! made, is written to an unnamed file of its own, column after column (28 bytes a row),
//! and let go; the rows are read back in key order a run of one ordered reporter and
//! partner pair at a time (a bucket holds both ways of its pairs, and its table is in key
//! order, so each ordered pair's rows are one run of one bucket: the runs sorted by pair
//! are the rows in key order, a concatenation, no merge).
//!
//! In a segment the countries are the bucket table's own (its list kept here), the
//! commodities numbered in the table of every figure, the values as [`Values`] holds
//! them (those kept aside whole kept here: [`crate::model::Values::word`]), the places
//! as raw figure indices.

use crate::model::{flags::Flags, Dict, Flow, PlaceColumn, Places, Provenance};
use crate::publish::CleanTable;
use std::io::Write;
use std::sync::Arc;

/// Bytes of each column in a row: reporter, partner, flow, year, month, commodity,
/// value, flags, place.
const WIDTHS: [usize; 9] = [2, 2, 1, 4, 1, 4, 8, 2, 4];

/// One bucket's clean rows.
#[derive(Debug)]
struct Segment {
    file: std::fs::File,
    rows: usize,
    /// The country codes its reporter and partner columns name.
    countries: Vec<&'static str>,
    /// The values kept aside whole, which its value words may name.
    wide: Vec<rust_decimal::Decimal>,
}

/// An ordered pair's rows: its reporter and partner, the segment and its rows.
type Run = ((&'static str, &'static str), u32, std::ops::Range<usize>);

/// The clean rows of every bucket, in their files.
#[derive(Debug)]
pub struct Segments {
    dir: std::path::PathBuf,
    segments: Vec<Segment>,
    runs: Vec<Run>,
    /// The commodity table of every figure.
    commodities: Dict,
    places: Arc<Places>,
    provenance: Provenance,
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
            commodities,
            places,
            provenance,
        }
    }

    /// The rows of every segment.
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.rows).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes a bucket's clean table `t` (its rows in key order) as a segment.
    ///
    /// # Errors
    /// The file cannot be made or written.
    pub fn add(&mut self, t: &CleanTable) -> std::io::Result<()> {
        let n = t.len();
        let at = self.segments.len() as u32;
        // the table's commodities in every figure's table (past its texts: `TOTAL`)
        let past = self.commodities.len() as u32;
        let commodity: Vec<u32> = (0..t.commodities.len() as u32)
            .map(|c| {
                t.commodities
                    .get(c)
                    .and_then(|text| self.commodities.find(text))
                    .unwrap_or(past)
            })
            .collect();
        let file = tempfile::tempfile_in(&self.dir)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &file);
        let mut column = |width: usize, word: &dyn Fn(usize) -> u64| -> std::io::Result<()> {
            for i in 0..n {
                w.write_all(&word(i).to_le_bytes()[..width])?;
            }
            Ok(())
        };
        column(WIDTHS[0], &|i| u64::from(t.reporter[i]))?;
        column(WIDTHS[1], &|i| u64::from(t.partner[i]))?;
        column(WIDTHS[2], &|i| {
            Flow::ALL.iter().position(|&f| f == t.flow[i]).unwrap_or(0) as u64
        })?;
        column(WIDTHS[3], &|i| u64::from(t.year.get(i) as u32))?;
        column(WIDTHS[4], &|i| {
            t.month.get(i).map_or(0, |m| u64::from(m) + 1)
        })?;
        column(WIDTHS[5], &|i| {
            u64::from(
                commodity
                    .get(t.commodity.get(i) as usize)
                    .copied()
                    .unwrap_or(past),
            )
        })?;
        column(WIDTHS[6], &|i| t.value.word(i) as u64)?;
        column(WIDTHS[7], &|i| u64::from(t.flags[i]))?;
        column(WIDTHS[8], &|i| u64::from(t.place.raw()[i]))?;
        w.into_inner().map_err(|e| e.into_error())?;
        // each ordered pair's run
        let mut start = 0;
        for i in 1..=n {
            let pair = (t.reporter(start), t.partner(start));
            if i == n || (t.reporter(i), t.partner(i)) != pair {
                self.runs.push((pair, at, start..i));
                start = i;
            }
        }
        self.segments.push(Segment {
            file,
            rows: n,
            countries: t.countries.clone(),
            wide: t.value.wide().to_vec(),
        });
        Ok(())
    }

    /// Every row, in key order, as one table.
    ///
    /// # Errors
    /// A segment cannot be read back.
    pub fn table(mut self) -> std::io::Result<CleanTable> {
        use std::os::unix::fs::FileExt;
        self.runs.sort_by(|a, b| a.0.cmp(&b.0));
        let n = self.len();
        let mut t = CleanTable {
            commodities: std::mem::take(&mut self.commodities),
            provenance: self.provenance.clone(),
            ..Default::default()
        };
        t.reporter.reserve_exact(n);
        t.partner.reserve_exact(n);
        t.flow.reserve_exact(n);
        t.flags.reserve_exact(n);
        t.value.reserve(n);
        t.year.reserve(n);
        t.month.reserve(n);
        t.commodity.reserve(n);
        let mut raw = Vec::with_capacity(n);
        let mut buf = Vec::new();
        // each segment's countries in the table's
        let countries: Vec<Vec<u16>> = (self.segments.iter())
            .map(|s| s.countries.iter().map(|&c| t.country(c)).collect())
            .collect();
        for (_, s, rows) in &self.runs {
            let (seg, country) = (&self.segments[*s as usize], &countries[*s as usize]);
            let mut offset = 0;
            for (c, &width) in WIDTHS.iter().enumerate() {
                buf.resize(rows.len() * width, 0);
                seg.file
                    .read_exact_at(&mut buf, (offset + rows.start * width) as u64)?;
                offset += seg.rows * width;
                let words = buf.chunks_exact(width).map(|b| {
                    let mut w = [0u8; 8];
                    w[..width].copy_from_slice(b);
                    u64::from_le_bytes(w)
                });
                match c {
                    0 => t.reporter.extend(words.map(|w| country[w as usize])),
                    1 => t.partner.extend(words.map(|w| country[w as usize])),
                    2 => t.flow.extend(words.map(|w| Flow::ALL[w as usize])),
                    3 => words.for_each(|w| t.year.push(w as u32 as i32)),
                    4 => words.for_each(|w| t.month.push(w.checked_sub(1).map(|m| m as u8))),
                    5 => words.for_each(|w| t.commodity.push(w as u32)),
                    6 => words.for_each(|w| t.value.push_word(w as i64, &seg.wide)),
                    7 => t.flags.extend(words.map(|w| w as Flags)),
                    _ => raw.extend(words.map(|w| w as u32)),
                }
            }
        }
        t.place = PlaceColumn::of_raw(self.places.clone(), raw);
        Ok(t)
    }
}
