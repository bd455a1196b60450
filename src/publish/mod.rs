//! Publish: writes every output into a staging folder beside the output folder and swaps
//! it in only when all of them were written. A run that fails, or is killed, leaves the
//! previous publication exactly as it was. Computes nothing about the data: it is handed
//! the clean table, the rejects and the report, and writes them.
//!
//! The swap is two renames (old folder aside, staging in); a run killed between the two
//! leaves the old folder aside under a known name, and the next run puts it back first.

mod csv_out;
mod parquet_out;
mod report_md;
mod xlsx_out;

pub use csv_out::safe_text;

use serde::Serialize;
use std::path::{Path, PathBuf};

use crate::config::Format;
use crate::error::{Error, Result};
use tradeflow_kernels::decimal;

/// The clean table, column-wise: typed values and indices, with the texts of each row
/// (`source_ref`, the exact value, the flags) formatted only when a writer asks for them.
#[derive(Debug, Default, Clone)]
pub struct CleanTable {
    /// Index into `countries` of each row's reporter code.
    pub reporter: Vec<u16>,
    /// Index into `countries` of each row's partner code.
    pub partner: Vec<u16>,
    /// The country codes the rows name (the normalised figures' own table).
    pub countries: Vec<&'static str>,
    pub flow: Vec<crate::model::Flow>,
    pub year: crate::model::Narrow<i32>,
    pub month: crate::model::Narrow<Option<u8>>,
    /// Index into `commodities` (an index past its texts reads as `TOTAL`).
    pub commodity: crate::model::Narrow<u32>,
    /// The commodity texts, each once (the normalised figures' own table).
    pub commodities: crate::model::Dict,
    /// Exact value in US dollars; `None` where the file marks it missing.
    pub value: crate::model::Values,
    /// Where each figure was read, in `provenance`.
    pub place: crate::model::PlaceColumn,
    pub provenance: crate::model::Provenance,
    pub flags: Vec<crate::model::flags::Flags>,
}

impl CleanTable {
    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    pub fn reporter(&self, i: usize) -> &'static str {
        self.countries[self.reporter[i] as usize]
    }

    pub fn partner(&self, i: usize) -> &'static str {
        self.countries[self.partner[i] as usize]
    }

    pub fn flow(&self, i: usize) -> &'static str {
        self.flow[i].as_str()
    }

    /// The index of a country code in `countries`, added when new: for tables made by
    /// hand in tests and the partitioned run's segments (the pipeline's tables come with
    /// the normalised figures' table).
    pub fn country(&mut self, code: &'static str) -> u16 {
        match self.countries.iter().position(|&c| c == code) {
            Some(k) => k as u16,
            None => {
                self.countries.push(code);
                (self.countries.len() - 1) as u16
            }
        }
    }

    pub fn commodity(&self, i: usize) -> &str {
        self.commodities
            .get(self.commodity.get(i))
            .unwrap_or("TOTAL")
    }

    /// The value as the nearest Float64 (whole dollars up to 2^53 are exact).
    pub fn value_usd(&self, i: usize) -> Option<f64> {
        self.value.get(i).map(|v| decimal::to_f64(v, 0))
    }

    /// The value in millions, for reading: the Float64 nearest to the exact quotient.
    pub fn millions(&self, i: usize) -> Option<f64> {
        self.value.get(i).map(|v| decimal::to_f64(v, 6))
    }

    pub fn source(&self, i: usize) -> &str {
        self.provenance.source_id(self.place.get(i))
    }

    /// Row `i`'s texts that every format writes as text, appended to reused buffers
    /// (cleared first): `source_ref` and the flags; nothing is allocated per row.
    pub fn row_texts(&self, i: usize, b: &mut RowTexts) {
        b.source_ref.clear();
        self.provenance
            .push_source_ref(&mut b.source_ref, self.place.get(i));
        b.flags.clear();
        crate::model::flags::push_names(&mut b.flags, self.flags[i]);
    }

    /// Row `i`'s value as text, exactly, in dollars and in millions (empty when missing).
    pub fn value_texts(&self, i: usize, b: &mut RowTexts) {
        b.value.clear();
        b.millions.clear();
        if let Some(v) = self.value.get(i) {
            decimal::push_both(&mut b.value, &mut b.millions, v, 6);
        }
    }
}

/// Buffers for [`CleanTable::row_texts`] and [`CleanTable::value_texts`].
#[derive(Debug, Default)]
pub struct RowTexts {
    pub value: String,
    pub source_ref: String,
    pub flags: String,
    pub millions: String,
}

impl CleanTable {
    /// The rows at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> CleanTable {
        fn pick<T: Clone>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i].clone()).collect()
        }
        CleanTable {
            reporter: pick(&self.reporter, idx),
            partner: pick(&self.partner, idx),
            countries: self.countries.clone(),
            flow: pick(&self.flow, idx),
            year: idx.iter().map(|&i| self.year.get(i)).collect(),
            month: idx.iter().map(|&i| self.month.get(i)).collect(),
            commodity: idx.iter().map(|&i| self.commodity.get(i)).collect(),
            commodities: self.commodities.clone(),
            value: self.value.take(idx),
            place: self.place.take(idx),
            provenance: self.provenance.clone(),
            flags: pick(&self.flags, idx),
        }
    }
}

/// The contract's columns, then ours.
pub const COLUMNS: [&str; 11] = [
    "reporter",
    "partner",
    "flow",
    "year",
    "month",
    "commodity",
    "value_usd",
    "source",
    "source_ref",
    "flags",
    "value_usd_millions",
];

/// Columns of `trade_summary`.
pub const SUMMARY_COLUMNS: [&str; 8] = [
    "reporter",
    "partner",
    "year",
    "exports_usd",
    "imports_usd",
    "volume_usd",
    "balance_usd",
    "volume_growth",
];

/// Columns of `rejects.csv` and of the workbook's `Rejects` sheet.
pub const REJECT_COLUMNS: [&str; 10] = [
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
];

/// One row of `rejects.csv`: its texts, in the order of [`REJECT_COLUMNS`], end to end in
/// one allocation with where each ends (ten `String`s took ten: at 10M rows of the peer's
/// data, 24,000 rows).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectRow {
    text: Box<str>,
    ends: [u32; 10],
}

impl RejectRow {
    /// A row of these texts, in the order of [`REJECT_COLUMNS`].
    pub fn new(fields: [&str; 10]) -> RejectRow {
        let mut text = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let ends = fields.map(|f| {
            text.push_str(f);
            text.len() as u32
        });
        RejectRow {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// The row's texts in the order of [`REJECT_COLUMNS`].
    pub fn fields(&self) -> [&str; 10] {
        let mut from = 0;
        self.ends.map(|end| {
            let field = &self.text[from..end as usize];
            from = end as usize;
            field
        })
    }
}

/// One output file as the manifest records it.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: Option<usize>,
}

/// Everything a run publishes.
pub struct Publication<'a> {
    /// The clean rows: the clean table, or the partitioned run's segments.
    pub rows: Rows<'a>,
    /// The clean table's keys, sorted, kept for the next run's change report.
    pub keys: &'a crate::changes::Keys,
    pub rejects: &'a [RejectRow],
    /// The report, set once complete (writers that need it wait for it).
    pub report: &'a std::sync::OnceLock<crate::report::Report>,
    /// The manifest without its `outputs`, which publish fills in.
    pub manifest: serde_json::Value,
    pub formats: &'a [Format],
    pub options: &'a crate::config::OutputOptions,
    /// The derived per-partner-year table.
    pub summary: &'a [crate::summarize::SummaryRow],
    /// Document properties of the workbook.
    pub title: String,
}

/// The clean rows, in key order, for the writers that read them a part at a time: one
/// table held, or the partitioned run's segments on the disk, each part read as it is
/// asked for (so that the rows are never held whole).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    Held(&'a CleanTable),
    Segments(&'a crate::segments::Segments),
}

impl<'a> Rows<'a> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Held(t) => t.len(),
            Rows::Segments(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a row's commodity is `TOTAL` (past the commodity texts).
    pub fn any_total(&self) -> bool {
        match *self {
            Rows::Held(t) => {
                let commodities = t.commodities.len();
                t.commodity.iter().any(|c| c as usize >= commodities)
            }
            Rows::Segments(s) => s.any_total(),
        }
    }

    /// What every row shares: its countries, commodities, provenance and places (the
    /// table held; for segments, a table of no rows).
    pub fn head(&self) -> std::borrow::Cow<'a, CleanTable> {
        match *self {
            Rows::Held(t) => std::borrow::Cow::Borrowed(t),
            Rows::Segments(s) => std::borrow::Cow::Owned(s.head()),
        }
    }

    /// Every row in order, a part of at most `size` at a time: the first row of each
    /// part, and the part as [`Rows::part`] gives it.
    pub fn parts(
        self,
        rows: std::ops::Range<usize>,
        size: usize,
    ) -> impl Iterator<
        Item = std::io::Result<(
            usize,
            std::borrow::Cow<'a, CleanTable>,
            std::ops::Range<usize>,
        )>,
    > {
        (rows.start..rows.end).step_by(size.max(1)).map(move |lo| {
            let (t, r) = self.part(lo..(lo + size).min(rows.end))?;
            Ok((lo, t, r))
        })
    }

    /// Rows `r`: a table that holds them, and where they are in it (the table held and
    /// `r`; for segments, the rows read back, from the first).
    ///
    /// # Errors
    /// A segment cannot be read back.
    pub fn part(
        &self,
        r: std::ops::Range<usize>,
    ) -> std::io::Result<(std::borrow::Cow<'a, CleanTable>, std::ops::Range<usize>)> {
        match *self {
            Rows::Held(t) => Ok((std::borrow::Cow::Borrowed(t), r)),
            Rows::Segments(s) => {
                let n = r.len();
                Ok((std::borrow::Cow::Owned(s.rows(r)?), 0..n))
            }
        }
    }
}

/// Rows of [`Rows`] one at a time: a held table's in any order, segments' in order (each
/// part read as the rows reach it).
pub struct Cursor<'a> {
    rows: Rows<'a>,
    part: std::borrow::Cow<'a, CleanTable>,
    /// The first row of the part among every row, and its index in the part's table.
    start: usize,
    end: usize,
    first: usize,
}

/// Rows a part read back at a time (for segments).
const PART_ROWS: usize = 65_536;

impl<'a> Cursor<'a> {
    pub fn new(rows: Rows<'a>) -> Cursor<'a> {
        Cursor {
            rows,
            part: rows.head(),
            start: 0,
            end: if let Rows::Held(t) = rows { t.len() } else { 0 },
            first: 0,
        }
    }

    /// Row `i`: the table that holds it, and its index there.
    ///
    /// # Errors
    /// A segment cannot be read back.
    pub fn row(&mut self, i: usize) -> std::io::Result<(&CleanTable, usize)> {
        if !(self.start..self.end).contains(&i) {
            let end = (i + PART_ROWS).min(self.rows.len());
            let (part, r) = self.rows.part(i..end)?;
            (self.part, self.start, self.end, self.first) = (part, i, end, r.start);
        }
        Ok((&self.part, i - self.start + self.first))
    }
}

/// Files a run owns in the output folder; anything else found there is carried over.
const OWNED: &[&str] = &[
    "trade.parquet",
    "trade.csv",
    "trade.xlsx",
    "trade_summary.parquet",
    "trade_summary.csv",
    "rejects.csv",
    "report.json",
    "report.md",
    "manifest.json",
    crate::changes::KEYS_FILE,
];

/// The folder inside the output folder that keeps the publication before the last.
pub const PREVIOUS: &str = ".previous";

fn aside_name(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "processed".into());
    dir.with_file_name(format!(".{name}.{what}"))
}

/// The file of the spare publication (`.processed.spare`, beside the staging folder
/// `.processed.staging`) that a new file at `path` in the staging folder is written over:
/// none for a file anywhere else (a partition's, in a folder of its own).
fn spare_of(path: &Path) -> Option<PathBuf> {
    let staging = path.parent()?;
    let base = staging.file_name()?.to_str()?.strip_suffix(".staging")?;
    Some(
        staging
            .with_file_name(format!("{base}.spare"))
            .join(path.file_name()?),
    )
}

/// Puts back a publication left aside by a run killed mid-swap, and clears stale staging.
pub fn recover(dir: &Path) -> Result<()> {
    let old = aside_name(dir, "old");
    let fail = |e: std::io::Error| Error::Publish {
        dir: dir.to_path_buf(),
        reason: format!("recovering a killed run: {e}"),
    };
    if old.exists() {
        if dir.exists() {
            std::fs::remove_dir_all(&old).map_err(fail)?;
        } else {
            tracing::warn!(dir = %dir.display(), "a previous run was killed mid-swap; restoring its publication");
            std::fs::rename(&old, dir).map_err(fail)?;
        }
    }
    let staging = aside_name(dir, "staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(fail)?;
    }
    Ok(())
}

/// Writes every output and swaps them in together.
///
/// # Errors
/// [`Error::Publish`] when an output cannot be written; the previous outputs are then
/// untouched and the staging folder removed.
pub fn publish(dir: &Path, p: &Publication<'_>) -> Result<Vec<OutputFile>> {
    recover(dir)?;
    if !p.options.recycle {
        // a spare kept by an earlier run goes: none is there to be written over
        let _ = std::fs::remove_dir_all(aside_name(dir, "spare"));
    }
    let staging = aside_name(dir, "staging");
    let result = write_all(dir, &staging, p);
    match result {
        Ok(files) => Ok(files),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(Error::Publish {
                dir: dir.to_path_buf(),
                reason: e,
            })
        }
    }
}

fn file_entry(
    dir: &Path,
    name: &str,
    rows: Option<usize>,
) -> std::result::Result<OutputFile, String> {
    let path = dir.join(name);
    // the disk starts writing the file while it is read back for its sha256
    start_writeback(&path);
    let hashed = crate::config::sha256_file(&path).map_err(|e| format!("{name}: {e}"))?;
    hashed_entry(dir, name, rows, hashed)
}

/// [`file_entry`] for a file hashed as it was written: its sha256 (hex) and size.
fn hashed_entry(
    dir: &Path,
    name: &str,
    rows: Option<usize>,
    (sha256, bytes): (String, u64),
) -> std::result::Result<OutputFile, String> {
    let path = dir.join(name);
    // on the disk by the thread that wrote it, beside the other writers
    sync(&path).map_err(|e| format!("{name}: {e}"))?;
    Ok(OutputFile {
        file: name.to_string(),
        sha256,
        bytes,
        rows,
    })
}

/// Flushes a file, or a folder's entries, to the disk (fsync). A rename is atomic but not
/// durable by itself: after a power cut the new folder's name can be on the disk before
/// the data of the files in it, leaving a publication of empty or torn files.
fn sync(path: &Path) -> std::io::Result<()> {
    #[cfg(not(unix))]
    if path.is_dir() {
        // folders cannot be opened for a flush here; their entries go with the files
        return Ok(());
    }
    std::fs::File::open(path)?.sync_all()
}

/// Asks the kernel to start writing a file's data to the disk now, without waiting (Linux:
/// `sync_file_range`), so that the flush that follows has less left to wait for. Only a
/// hint: nothing is lost when it cannot be given.
fn start_writeback(path: &Path) {
    #[cfg(target_os = "linux")]
    if let Ok(f) = std::fs::File::open(path) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the call; the range 0..0 means the whole file
        unsafe {
            libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = path;
}

/// A new file flushed to the disk as it is written: every [`FlushedFile::EVERY`] bytes a
/// thread of its own flushes what is written so far (`fdatasync`) while the writer goes
/// on, so that the flush before the swap has only the last few megabytes left to wait
/// for. On the machine of the benchmarks a flush waits about 1.6 ms a megabyte not yet
/// flushed, however long ago it was written (the disk's own cache is emptied then):
/// asking the kernel to start writing early (`sync_file_range`) left the flush of
/// `trade.csv` at the end of a 1M-row run at 95 ms; flushed as it goes, 12 to 16 ms.
///
/// A flush that fails is said by [`FlushedFile::finish`] (a later flush may not see the
/// failure of an earlier one), so nothing written is taken for durable when it is not.
///
/// A file of the spare publication ([`keep_spare`]) of the same name is taken over and
/// written over, and cut to what was written when finished: its disk blocks are used
/// again, not freed and allocated anew. Written over in whole pages (4 KB, the last
/// excepted), so that no page of the old file is read from the disk to be half written.
pub(crate) struct FlushedFile {
    file: std::fs::File,
    bytes: u64,
    flusher: Option<Flusher>,
    /// No thread could be made for the flushes: the file is flushed at the end only.
    alone: bool,
    /// A spare file written over: the bytes of the page not yet whole, held back.
    over: Option<Vec<u8>>,
}

/// The thread flushing a [`FlushedFile`]: nudged through a channel of one slot, so that
/// nudges while it flushes make one more flush, not a queue.
struct Flusher {
    nudge: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    /// A thread flushing `file` each time it is nudged, until the nudges end; it says
    /// the first flush that failed. `None` when the thread cannot be made.
    fn of(file: &std::fs::File) -> Option<Flusher> {
        let file = file.try_clone().ok()?;
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("flush".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    // the first failure is the one to say; no more flushes
                    file.sync_data()?;
                }
                Ok(())
            })
            .ok()?;
        Some(Flusher { nudge, thread })
    }
}

impl FlushedFile {
    /// Flush every this many bytes written.
    const EVERY: u64 = 8 << 20;

    /// A page: what a spare file is written over in.
    const PAGE: usize = 4096;

    pub(crate) fn create(path: &Path) -> std::io::Result<FlushedFile> {
        let taken = spare_of(path).filter(|spare| std::fs::rename(spare, path).is_ok());
        let over = match taken {
            Some(_) => Self::open_spare(path),
            None => None,
        };
        Ok(FlushedFile {
            over: over.is_some().then(|| Vec::with_capacity(Self::PAGE)),
            file: match over {
                Some(file) => file,
                None => std::fs::File::create(path)?,
            },
            bytes: 0,
            flusher: None,
            alone: false,
        })
    }

    /// A spare file taken to `path`, open to be written over when it is a plain file with
    /// no other name: never through a symbolic link, and never a file that another name
    /// shares (a copy made with hard links, `cp -al`, would change with it). Otherwise
    /// it is let go, and the caller makes a new file.
    fn open_spare(path: &Path) -> Option<std::fs::File> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let alone = |f: &std::fs::File| {
            f.metadata().is_ok_and(|m| {
                #[cfg(unix)]
                let one_name = std::os::unix::fs::MetadataExt::nlink(&m) == 1;
                #[cfg(not(unix))]
                let one_name = false;
                m.is_file() && one_name
            })
        };
        match options.open(path) {
            Ok(f) if alone(&f) => Some(f),
            _ => {
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    /// Bytes written.
    pub(crate) fn len(&self) -> u64 {
        self.bytes
    }

    /// Starts a flush of what is written, on the flusher's thread (made at the first;
    /// when it cannot be made, the file is flushed at the end only, as it would be).
    fn nudge(&mut self) {
        if self.flusher.is_none() && !self.alone {
            self.flusher = Flusher::of(&self.file);
            self.alone = self.flusher.is_none();
        }
        if let Some(f) = &self.flusher {
            // a flush already waiting will take these bytes too
            let _ = f.nudge.try_send(());
        }
    }

    /// Waits for the flushes started and says the first that failed. The file itself is
    /// flushed once more by the caller, whole ([`sync`]), before it is published.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        if let Some(rest) = self.over.take() {
            std::io::Write::write_all(&mut self.file, &rest)?;
            // a spare file written over ends where this one does
            self.file.set_len(self.bytes)?;
        }
        self.stop()
    }

    fn stop(&mut self) -> std::io::Result<()> {
        match self.flusher.take() {
            Some(Flusher { nudge, thread }) => {
                drop(nudge);
                thread
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the flushing thread panicked")))
            }
            None => Ok(()),
        }
    }
}

impl Drop for FlushedFile {
    /// A file given up (a writer that failed) still waits for its flushing thread.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl std::io::Write for FlushedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &mut self.over {
            None => self.file.write_all(buf)?,
            Some(held) => {
                // the page begun, made whole (else nothing is left of `buf`); then whole
                // pages; the rest held back
                let mut rest = buf;
                if !held.is_empty() {
                    let fill = (Self::PAGE - held.len()).min(rest.len());
                    held.extend_from_slice(&rest[..fill]);
                    rest = &rest[fill..];
                    if held.len() == Self::PAGE {
                        self.file.write_all(held)?;
                        held.clear();
                    }
                }
                let whole = rest.len() / Self::PAGE * Self::PAGE;
                self.file.write_all(&rest[..whole])?;
                held.extend_from_slice(&rest[whole..]);
            }
        }
        let before = self.bytes;
        self.bytes += buf.len() as u64;
        if self.bytes / Self::EVERY > before / Self::EVERY {
            self.nudge();
        }
        Ok(())
    }

    /// Writes what is held back of a page too (a spare file written over): the next
    /// write starts within a page.
    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(held) = &mut self.over {
            self.file.write_all(held)?;
            held.clear();
        }
        self.file.flush()
    }
}

/// A file's sha256 (hex) and size, said by the writer that wrote it.
pub(crate) type Written = (String, u64);

/// A new [`FlushedFile`] hashed as it is written (sha256): no file is read back for its
/// hash.
pub(crate) struct HashedFile {
    file: FlushedFile,
    sha: sha2::Sha256,
}

impl HashedFile {
    pub(crate) fn create(path: &Path) -> std::io::Result<HashedFile> {
        use sha2::Digest;
        Ok(HashedFile {
            file: FlushedFile::create(path)?,
            sha: sha2::Sha256::new(),
        })
    }

    /// The file's sha256 (hex) and size, once its flushes are done (see
    /// [`FlushedFile::finish`]).
    pub(crate) fn finish(self) -> std::io::Result<(String, u64)> {
        use sha2::Digest;
        let bytes = self.file.len();
        self.file.finish()?;
        Ok((crate::config::hex(&self.sha.finalize()), bytes))
    }

    /// A new file behind a buffer of 1 MB, for writers that write a few bytes at a time.
    pub(crate) fn buffered(path: &Path) -> std::io::Result<std::io::BufWriter<HashedFile>> {
        Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            HashedFile::create(path)?,
        ))
    }

    /// [`HashedFile::finish`] of a [`HashedFile::buffered`], once the buffer is written.
    pub(crate) fn finish_buffered(
        file: std::io::BufWriter<HashedFile>,
    ) -> std::io::Result<(String, u64)> {
        file.into_inner().map_err(|e| e.into_error())?.finish()
    }
}

impl std::io::Write for HashedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use sha2::Digest;
        self.file.write_all(buf)?;
        self.sha.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// [`sync`] of every file and folder under `dir`, and of `dir`.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        } else {
            sync(&e.path())?;
        }
    }
    sync(dir)
}

fn write_all(
    dir: &Path,
    staging: &Path,
    p: &Publication<'_>,
) -> std::result::Result<Vec<OutputFile>, String> {
    std::fs::create_dir_all(staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let n = p.rows.len();
    let s = p.summary.len();
    let o = p.options;
    // each format's files on a thread of its own, listed in the order of the config
    let write_format = |f: &Format| -> std::result::Result<Vec<OutputFile>, String> {
        let t = std::time::Instant::now();
        let mut files = Vec::new();
        match f {
            Format::Parquet => {
                let hashed =
                    parquet_out::write(&staging.join("trade.parquet"), p.rows, &p.manifest)
                        .map_err(|e| format!("trade.parquet: {e}"))?;
                files.push(hashed_entry(staging, "trade.parquet", Some(n), hashed)?);
                for (rel, rows, hashed) in parquet_out::write_partitioned(
                    staging,
                    "trade",
                    p.rows,
                    &o.partition_by,
                    &p.manifest,
                )
                .map_err(|e| format!("trade/: {e}"))?
                {
                    files.push(hashed_entry(staging, &rel, Some(rows), hashed)?);
                }
                let hashed =
                    parquet_out::write_summary(&staging.join("trade_summary.parquet"), p.summary)
                        .map_err(|e| format!("trade_summary.parquet: {e}"))?;
                files.push(hashed_entry(
                    staging,
                    "trade_summary.parquet",
                    Some(s),
                    hashed,
                )?);
            }
            Format::Csv => {
                let hashed = csv_out::write_clean(&staging.join("trade.csv"), p.rows, o)
                    .map_err(|e| format!("trade.csv: {e}"))?;
                files.push(hashed_entry(staging, "trade.csv", Some(n), hashed)?);
                csv_out::write_summary(&staging.join("trade_summary.csv"), p.summary, o)
                    .map_err(|e| format!("trade_summary.csv: {e}"))?;
                files.push(file_entry(staging, "trade_summary.csv", Some(s))?);
            }
            Format::Xlsx => {
                let hashed = xlsx_out::write(&staging.join("trade.xlsx"), p)
                    .map_err(|e| format!("trade.xlsx: {e}"))?;
                files.push(hashed_entry(staging, "trade.xlsx", Some(n), hashed)?);
            }
        }
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), format = ?f, "written");
        Ok(files)
    };
    let (written, report): (Vec<std::result::Result<Vec<OutputFile>, String>>, _) =
        std::thread::scope(|scope| {
            let keys = scope.spawn(|| {
                let t = std::time::Instant::now();
                let path = staging.join(crate::changes::KEYS_FILE);
                let r = crate::changes::write_keys(&path, p.rows, p.keys)
                    .and_then(|()| sync(&path))
                    .map_err(|e| format!("{}: {e}", crate::changes::KEYS_FILE));
                tracing::debug!(seconds = t.elapsed().as_secs_f64(), "written keys");
                r
            });
            let threads: Vec<_> = p
                .formats
                .iter()
                .map(|f| scope.spawn(move || write_format(f)))
                .collect();
            let rejects = scope.spawn(|| -> std::result::Result<Vec<OutputFile>, String> {
                csv_out::write_rejects(&staging.join("rejects.csv"), p.rejects, o)
                    .map_err(|e| format!("rejects.csv: {e}"))?;
                Ok(vec![file_entry(
                    staging,
                    "rejects.csv",
                    Some(p.rejects.len()),
                )?])
            });
            // the report's files as soon as the report is complete, beside the data files
            let report = scope.spawn(|| -> std::result::Result<Vec<OutputFile>, String> {
                let report = p.report.wait();
                let t = std::time::Instant::now();
                let json = write_json(&staging.join("report.json"), report)?;
                let md = report_md::render(report);
                std::fs::write(staging.join("report.md"), md)
                    .map_err(|e| format!("report.md: {e}"))?;
                let files = vec![
                    hashed_entry(staging, "report.json", None, json)?,
                    file_entry(staging, "report.md", None)?,
                ];
                tracing::debug!(seconds = t.elapsed().as_secs_f64(), "written report");
                Ok(files)
            });
            let mut written: Vec<_> = threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|_| Err("a writer panicked".into())))
                .collect();
            written.push(
                keys.join()
                    .unwrap_or_else(|_| Err("a writer panicked".into()))
                    .map(|()| Vec::new()),
            );
            written.push(
                rejects
                    .join()
                    .unwrap_or_else(|_| Err("a writer panicked".into())),
            );
            let report = report
                .join()
                .unwrap_or_else(|_| Err("a writer panicked".into()));
            (written, report)
        });
    let mut files = Vec::new();
    for w in written {
        files.extend(w?);
    }
    files.extend(report?);
    let mut manifest = p.manifest.clone();
    manifest["outputs"] = serde_json::to_value(&files).map_err(|e| e.to_string())?;
    write_json(&staging.join("manifest.json"), &manifest)?;

    // files we do not own (a README, .gitkeep) stay in the folder
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !OWNED.contains(&name.as_str()) && e.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::copy(e.path(), staging.join(&name))
                    .map_err(|err| format!("carrying over {name}: {err}"))?;
            }
        }
    }
    // every byte on the disk before the swap makes the publication the current one
    let t = std::time::Instant::now();
    sync_tree(staging).map_err(|e| format!("flushing {} to the disk: {e}", staging.display()))?;
    tracing::debug!(seconds = t.elapsed().as_secs_f64(), "flushed to the disk");
    test_hooks()?;
    swap(dir, staging, p.options.recycle)?;
    Ok(files)
}

/// Failure injection for the atomicity tests; inert unless the variables are set.
fn test_hooks() -> std::result::Result<(), String> {
    if let Ok(ms) = std::env::var("TRADEFLOW_TEST_PAUSE_BEFORE_SWAP_MS") {
        std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
    }
    if std::env::var_os("TRADEFLOW_TEST_FAIL_BEFORE_SWAP").is_some() {
        return Err("failure injected by TRADEFLOW_TEST_FAIL_BEFORE_SWAP".into());
    }
    Ok(())
}

fn swap(dir: &Path, staging: &Path, recycle: bool) -> std::result::Result<(), String> {
    let old = aside_name(dir, "old");
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    if dir.exists() {
        std::fs::rename(dir, &old)
            .map_err(|e| format!("cannot move the previous outputs aside: {e}"))?;
    }
    if let Err(e) = std::fs::rename(staging, dir) {
        let _ = std::fs::rename(&old, dir);
        return Err(format!("cannot move the new outputs into place: {e}"));
    }
    // the new folder's name on the disk: after a power cut the run's publication is
    // there, or the one before it (put back by `recover`); the swap is done, so a folder
    // that cannot be flushed is said, not a failed run
    if let Err(e) = sync(parent) {
        tracing::warn!(dir = %parent.display(), error = %e, "cannot flush the folder to the disk");
    }
    // keep the publication before this one, once, for a rollback by hand; the one before
    // it becomes the spare that the next run writes over
    if old.exists() {
        keep_spare(dir, &old.join(PREVIOUS), recycle);
        if std::fs::rename(&old, dir.join(PREVIOUS)).is_err() {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
    Ok(())
}

/// Keeps the publication before the last (`before_last`, no longer kept for a rollback)
/// as the spare beside the output folder, whose large files the next run writes over
/// ([`FlushedFile::create`]) rather than freeing their disk blocks now and allocating new
/// ones then: on the machine of the benchmarks, deleting a 108 MB file took 60 to 80 ms
/// (the disk is told of every freed block, `discard`), and writing over one is faster
/// than writing a new one. What the last run did not write over goes first. Deleted at
/// once when the config says `recycle = false`, or when it cannot be moved.
fn keep_spare(dir: &Path, before_last: &Path, recycle: bool) {
    if !before_last.exists() {
        return;
    }
    let spare = aside_name(dir, "spare");
    let _ = std::fs::remove_dir_all(&spare);
    // (where a file's other names cannot be counted, no spare is written over: none kept)
    if !cfg!(unix) || !recycle || std::fs::rename(before_last, &spare).is_err() {
        let _ = std::fs::remove_dir_all(before_last);
    }
}

/// Writes `v` as pretty JSON and says the file's sha256 (hex) and size, hashed as it is
/// written (a report of a large run is tens of megabytes of text: streamed, not read back).
fn write_json(
    path: &Path,
    v: &impl serde::Serialize,
) -> std::result::Result<(String, u64), String> {
    use std::io::Write;
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut w = HashedFile::buffered(path).map_err(|e| fail(&e))?;
    serde_json::to_writer_pretty(&mut w, v).map_err(|e| fail(&e))?;
    w.write_all(b"\n").map_err(|e| fail(&e))?;
    HashedFile::finish_buffered(w).map_err(|e| fail(&e))
}

#[cfg(test)]
mod sync_tests {
    #[test]
    fn every_file_and_folder_of_a_tree_is_flushed_or_the_failure_said() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("trade/year=2020/flow=export");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("part-0.parquet"), b"x").unwrap();
        std::fs::write(d.path().join("trade.csv"), b"y").unwrap();
        super::sync_tree(d.path()).unwrap();
        // a file that went missing on the way is an error, not a silent success
        let e = super::sync_tree(&d.path().join("gone")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    /// Bytes in steps that are not whole flush steps, past several of them.
    fn write_steps(f: &mut impl std::io::Write, bytes: usize) -> Vec<u8> {
        let mut all = Vec::with_capacity(bytes);
        let mut k = 0u32;
        while all.len() < bytes {
            let step: Vec<u8> = (0..(300_007 + k as usize % 7))
                .map(|j| (j as u32 ^ k) as u8)
                .collect();
            f.write_all(&step).unwrap();
            all.extend_from_slice(&step);
            k += 1;
        }
        all
    }

    #[test]
    fn a_flushed_file_holds_what_was_written_and_its_hash() {
        use sha2::Digest;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("trade.csv");
        let mut f = super::HashedFile::create(&path).unwrap();
        // past three flush steps, so that the flushing thread runs
        let written = write_steps(&mut f, 3 * super::FlushedFile::EVERY as usize + 12_345);
        let (sha, bytes) = f.finish().unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk, written);
        assert_eq!(bytes, written.len() as u64);
        assert_eq!(sha, crate::config::hex(&sha2::Sha256::digest(&written)));
    }

    #[cfg(unix)]
    #[test]
    fn a_spare_file_is_written_over_and_cut_to_what_was_written() {
        use sha2::Digest;
        use std::io::Write;
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let (staging, spare) = (d.path().join(".out.staging"), d.path().join(".out.spare"));
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::create_dir_all(&spare).unwrap();
        let path = staging.join("trade.csv");
        // a spare longer than the new file and one shorter; writes of odd sizes, small
        // ones too, then a flush in the middle of a page and more after it
        for spare_len in [2 * super::FlushedFile::EVERY as usize + 777, 5000] {
            let _ = std::fs::remove_file(&path);
            std::fs::write(spare.join("trade.csv"), vec![0xAA; spare_len]).unwrap();
            let inode = std::fs::metadata(spare.join("trade.csv")).unwrap().ino();
            let mut f = super::HashedFile::create(&path).unwrap();
            let mut written = write_steps(&mut f, super::FlushedFile::EVERY as usize + 12_345);
            for piece in [&b"a,b"[..], b"", &[7u8; 5000], b"\n"] {
                f.write_all(piece).unwrap();
                written.extend_from_slice(piece);
            }
            f.flush().unwrap();
            f.write_all(b"after a flush").unwrap();
            written.extend_from_slice(b"after a flush");
            let (sha, bytes) = f.finish().unwrap();
            assert!(!spare.join("trade.csv").exists(), "the spare is taken over");
            assert_eq!(
                std::fs::metadata(&path).unwrap().ino(),
                inode,
                "the same file"
            );
            assert_eq!(std::fs::read(&path).unwrap(), written, "{spare_len}");
            assert_eq!(bytes, written.len() as u64);
            assert_eq!(sha, crate::config::hex(&sha2::Sha256::digest(&written)));
        }
        // a spare file that another name shares (a copy made with hard links), or a
        // symbolic link, is let go: a new file is made, and the other name keeps its bytes
        let kept = d.path().join("kept.csv");
        std::fs::write(&kept, b"a copy made with a hard link").unwrap();
        std::fs::hard_link(&kept, spare.join("trade.csv")).unwrap();
        let target = d.path().join("target.parquet");
        std::fs::write(&target, b"the target of a link").unwrap();
        std::os::unix::fs::symlink(&target, spare.join("trade.parquet")).unwrap();
        for name in ["trade.csv", "trade.parquet"] {
            let path = staging.join(name);
            let _ = std::fs::remove_file(&path);
            let mut f = super::HashedFile::create(&path).unwrap();
            f.write_all(b"new").unwrap();
            f.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"new");
            assert!(
                std::fs::symlink_metadata(&path).unwrap().is_file(),
                "{name}"
            );
        }
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            b"a copy made with a hard link"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"the target of a link");
        // a file anywhere but a staging folder's top takes no spare
        assert_eq!(
            super::spare_of(&staging.join("trade/year=2020/part-0.parquet")),
            None
        );
        assert_eq!(super::spare_of(&d.path().join("trade.csv")), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_flush_that_fails_on_the_way_is_said_at_the_end() {
        // a device that cannot be flushed (fdatasync: EINVAL): the flush started on
        // the way fails on its thread; finishing says so, not only the last flush
        let mut f = super::FlushedFile::create(std::path::Path::new("/dev/null")).unwrap();
        write_steps(&mut f, super::FlushedFile::EVERY as usize + 1);
        assert!(f.finish().is_err());
        // under a step, no flush was started: nothing to say
        let mut f = super::FlushedFile::create(std::path::Path::new("/dev/null")).unwrap();
        write_steps(&mut f, 1000);
        assert!(f.finish().is_ok());
    }
}
