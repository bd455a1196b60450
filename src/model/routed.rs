//! Raw figures routed to bucket files as ingest reads them: the partitioned run's first
//! step. Each figure goes to the bucket its reporter and partner choose (a function the
//! run gives, see `normalize::bucket_of`), as a record in an unnamed file of that bucket
//! (written by a thread of its own, as ingest reads on), and leaves memory; the texts
//! (the dictionary) and the places stay, as they are shared and few. A bucket's figures
//! are read back as raw figures of their own, with the raw index of each, in the order
//! they were read.
//!
//! A record: the raw index, the reporter, partner, flow, year, month and commodity text
//! ids (4 bytes each, [`NONE`] as it is), the packed value (8 bytes); then, for a value
//! text, its length (4 bytes) and its bytes.

use super::{Dict, Ids, PackedRaw, Places, RawFigures, RawValue, NONE};
use std::io::{BufReader, BufWriter, Read, Seek, Write};

/// Chooses the bucket (below the router's count) of a figure from the dictionary and its
/// reporter and partner text ids.
pub type BucketOf = Box<dyn FnMut(&Dict, u32, u32) -> u32 + Send + Sync>;

/// Bytes of a record before its value text, if any.
const RECORD: usize = 4 * 7 + 8;

/// Where the raw figures go once there are many (held in [`RawFigures`] while it reads).
pub struct Router {
    bucket_of: BucketOf,
    buckets: usize,
    dir: std::path::PathBuf,
    /// Figures held before the routing starts: below it, nothing is routed.
    threshold: usize,
    /// The thread that writes the figures routed to their buckets' files (started when
    /// the routing starts).
    writer: Option<Writer>,
    /// Figures routed: those before this index are in the files.
    from: usize,
    /// Each commodity text id a routed figure names (by id; [`NONE`] in the last slot).
    commodities: Vec<bool>,
    /// The first failure to write, said when the routing ends.
    failed: Option<std::io::Error>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("buckets", &self.buckets)
            .field("threshold", &self.threshold)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Each bucket's file and its figures.
type Files = Vec<(BufWriter<std::fs::File>, usize)>;

/// Figures on their way to their buckets' files: the held columns and value texts, moved
/// out of the raw figures (no copy), each figure's bucket, and the raw index of the first.
struct Batch {
    figures: RawFigures,
    buckets: Vec<u32>,
    from: usize,
}

/// The routing's writing thread: each batch's records appended to the buckets' files,
/// beside ingest (which, writing them itself, spent 0.6 s of the 10M-row job's 4.4 s
/// with the pool's threads waiting for it between blocks).
struct Writer {
    tx: std::sync::mpsc::SyncSender<Batch>,
    thread: std::thread::JoinHandle<std::io::Result<Files>>,
}

impl Writer {
    fn start(files: Files) -> Writer {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let thread = std::thread::spawn(move || {
            let mut files = files;
            for batch in rx {
                write(&mut files, &batch)?;
            }
            Ok(files)
        });
        Writer { tx, thread }
    }

    /// The files, once every batch sent is written; the first failure to write.
    fn finish(self) -> std::io::Result<Files> {
        drop(self.tx);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the router's writer panicked")))
    }
}

/// Appends `batch`'s figures to their buckets' files, a record each.
fn write(files: &mut Files, batch: &Batch) -> std::io::Result<()> {
    let raw = &batch.figures;
    let mut record = Vec::with_capacity(RECORD + 32);
    for (i, &b) in batch.buckets.iter().enumerate() {
        let ids = [
            raw.reporter.get(i),
            raw.partner.get(i),
            raw.flow.get(i),
            raw.year.get(i),
            raw.month.get(i),
            raw.commodity.get(i),
        ];
        record.clear();
        record.extend_from_slice(&((batch.from + i) as u32).to_le_bytes());
        for id in ids {
            record.extend_from_slice(&id.to_le_bytes());
        }
        let v = raw.value[i];
        record.extend_from_slice(&v.0.to_le_bytes());
        if let RawValue::Text(t) = v.get() {
            let text = raw.value_str(t);
            record.extend_from_slice(&(text.len() as u32).to_le_bytes());
            record.extend_from_slice(text.as_bytes());
        }
        let (file, n) = &mut files[b as usize];
        file.write_all(&record)?;
        *n += 1;
    }
    Ok(())
}

/// A [`Router`] in the raw figures; a copy of the figures is not routed.
#[derive(Debug, Default)]
pub(super) struct Slot(pub(super) Option<Box<Router>>);

impl Clone for Slot {
    fn clone(&self) -> Slot {
        Slot(None)
    }
}

impl Router {
    /// Routes figures into `buckets` files in `dir` once `threshold` of them are held.
    pub fn new(
        dir: &std::path::Path,
        buckets: usize,
        threshold: usize,
        bucket_of: BucketOf,
    ) -> Router {
        Router {
            bucket_of,
            buckets: buckets.max(1),
            dir: dir.to_path_buf(),
            threshold,
            writer: None,
            from: 0,
            commodities: Vec::new(),
            failed: None,
        }
    }

    fn started(&self) -> bool {
        self.writer.is_some()
    }

    fn start(&mut self) -> std::io::Result<()> {
        let mut files = Vec::with_capacity(self.buckets);
        for _ in 0..self.buckets {
            let file = tempfile::tempfile_in(&self.dir)?;
            files.push((BufWriter::with_capacity(1 << 16, file), 0));
        }
        self.writer = Some(Writer::start(files));
        Ok(())
    }

    /// Sends `raw`'s held figures to their buckets' files (moved out of `raw`), each
    /// figure's bucket chosen here (it reads the texts, which ingest goes on adding to).
    fn route(&mut self, raw: &mut RawFigures) -> std::io::Result<()> {
        if !self.started() {
            self.start()?;
        }
        let none = raw.dict.len();
        if self.commodities.len() < none + 1 {
            // the last slot, absent commodities, moves to the end
            let absent = self.commodities.pop().unwrap_or(false);
            self.commodities.resize(none, false);
            self.commodities.push(absent);
        }
        let last = self.buckets as u32 - 1;
        let buckets = (0..raw.held())
            .map(|i| {
                let c = raw.commodity.get(i);
                self.commodities[if c == NONE { none } else { c as usize }] = true;
                (self.bucket_of)(&raw.dict, raw.reporter.get(i), raw.partner.get(i)).min(last)
            })
            .collect();
        let batch = Batch {
            figures: raw.take_held(),
            buckets,
            from: self.from,
        };
        let writer = self.writer.as_ref().expect("started above");
        // a writer that stopped says why when the routing ends
        writer
            .tx
            .send(batch)
            .map_err(|_| std::io::Error::other("the router's writer stopped"))
    }

    /// Everything routed forgotten: the figures read go back to none.
    fn clear(&mut self) {
        if let Some(w) = self.writer.take() {
            // what it wrote goes with its files
            let _ = w.finish();
        }
        self.from = 0;
        self.commodities.clear();
        self.failed = None;
    }
}

/// The raw figures of every bucket, in their files, once ingest is done.
#[derive(Debug)]
pub struct Routed {
    files: Vec<(std::fs::File, usize)>,
    /// The commodity text ids the figures name, in the order of their ids ([`NONE`]
    /// last).
    commodities: Vec<u32>,
}

impl Routed {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The figures of bucket `b`.
    pub fn figures(&self, b: usize) -> usize {
        self.files[b].1
    }

    /// Every commodity text id a figure names, in the order of their ids, [`NONE`] last.
    pub fn commodities(&self) -> &[u32] {
        &self.commodities
    }

    /// Bucket `b`'s figures as raw figures of their own (the texts `dict`'s, the places
    /// those of `places` at their raw indices), and the raw index of each, ascending.
    ///
    /// # Errors
    /// The bucket's file cannot be read back.
    pub fn read(
        &self,
        b: usize,
        dict: &Dict,
        places: &Places,
    ) -> std::io::Result<(RawFigures, Vec<u32>)> {
        let (file, n) = &self.files[b];
        let mut f: &std::fs::File = file;
        f.rewind()?;
        let mut input = BufReader::with_capacity(1 << 16, f);
        let mut part = RawFigures {
            dict: dict.clone(),
            ..RawFigures::default()
        };
        let mut raw = Vec::with_capacity(*n);
        let mut cols: [Ids; 6] = std::array::from_fn(|_| Ids::for_ids(dict.len(), *n));
        part.value.reserve_exact(*n);
        let mut record = [0u8; RECORD];
        let mut text = Vec::new();
        for _ in 0..*n {
            input.read_exact(&mut record)?;
            let word =
                |k: usize| u32::from_le_bytes(record[4 * k..4 * k + 4].try_into().expect("4"));
            raw.push(word(0));
            for (k, col) in cols.iter_mut().enumerate() {
                col.push(word(k + 1));
            }
            let mut v = PackedRaw(u64::from_le_bytes(record[28..].try_into().expect("8")));
            if let RawValue::Text(_) = v.get() {
                let mut len = [0u8; 4];
                input.read_exact(&mut len)?;
                text.resize(u32::from_le_bytes(len) as usize, 0);
                input.read_exact(&mut text)?;
                let s = std::str::from_utf8(&text)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                part.value_buf.push_str(s);
                part.value_ends.push(part.value_buf.len() as u64);
                v = RawValue::Text(part.value_ends.len() as u32 - 1).into();
            }
            part.value.push(v);
        }
        let [reporter, partner, flow, year, month, commodity] = cols;
        part.reporter = reporter;
        part.partner = partner;
        part.flow = flow;
        part.year = year;
        part.month = month;
        part.commodity = commodity;
        part.places = places.take(&raw);
        Ok((part, raw))
    }
}

impl RawFigures {
    /// Figures held in memory: all of them, or those not yet routed.
    pub fn held(&self) -> usize {
        self.value.len()
    }

    /// From now on, the figures go to `router`'s buckets once it says.
    pub fn route_with(&mut self, router: Router) {
        self.router = Slot(Some(Box::new(router)));
    }

    /// The held figures to their buckets, if there is a router and it has started or
    /// they reach its threshold; then let go. A failure to write is kept for
    /// [`RawFigures::routed`] (the figures not routed are then held).
    pub fn route_held(&mut self) {
        let Some(mut router) = self.router.0.take() else {
            return;
        };
        let held = self.held();
        let now =
            held > 0 && router.failed.is_none() && (router.started() || held >= router.threshold);
        if now {
            match router.route(self) {
                Ok(()) => router.from += held,
                Err(e) => router.failed = Some(e),
            }
        }
        self.router = Slot(Some(router));
    }

    /// The held figures' columns and value texts, moved out into figures of their own
    /// (the texts and places stay).
    fn take_held(&mut self) -> RawFigures {
        let mut held = RawFigures::default();
        for (to, from) in held.id_columns().into_iter().zip(self.id_columns()) {
            *to = std::mem::take(from);
        }
        held.value = std::mem::take(&mut self.value);
        held.value_buf = std::mem::take(&mut self.value_buf);
        held.value_ends = std::mem::take(&mut self.value_ends);
        held
    }

    /// Every figure forgotten, the router kept (and its files emptied).
    pub fn forget(&mut self) {
        let router = self.router.0.take();
        *self = RawFigures::default();
        if let Some(mut r) = router {
            r.clear();
            self.router = Slot(Some(r));
        }
    }

    /// Ends the routing: the figures still held routed too, if it has started. `None`
    /// when it has not (every figure is held), or there was no router.
    ///
    /// # Errors
    /// A bucket file could not be made or written.
    pub fn routed(&mut self) -> std::io::Result<Option<Routed>> {
        let started = self.router.0.as_ref().is_some_and(|r| r.started());
        if started {
            self.route_held();
        }
        let Some(mut router) = self.router.0.take() else {
            return Ok(None);
        };
        let failed = router.failed.take();
        let Some(writer) = router.writer.take() else {
            return failed.map_or(Ok(None), Err);
        };
        // the writer's own failure first: a batch it could not take says only that it
        // stopped
        let written = writer.finish()?;
        if let Some(e) = failed {
            return Err(e);
        }
        let mut files = Vec::with_capacity(written.len());
        for (w, n) in written {
            files.push((w.into_inner().map_err(|e| e.into_error())?, n));
        }
        let bytes: u64 = (files.iter())
            .filter_map(|(f, _)| f.metadata().ok())
            .map(|m| m.len())
            .sum();
        tracing::debug!(figures = router.from, bytes, "routed");
        let none = router.commodities.len().saturating_sub(1);
        let commodities = (0..none)
            .filter(|&k| router.commodities[k])
            .map(|k| k as u32)
            .chain(
                router
                    .commodities
                    .last()
                    .copied()
                    .unwrap_or(false)
                    .then_some(NONE),
            )
            .collect();
        Ok(Some(Routed { files, commodities }))
    }
}
