//! Wires the stages: config -> ingest -> normalise -> validate -> publish, and builds the
//! report and the manifest from what each stage says. `inspect` is ingest + normalise on
//! one file, printed with the evidence.

use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

use crate::config::{self, Pipeline, Source};
use crate::error::{Error, Result};
use crate::ingest::{self, SourceRead};
use crate::model::{flags, Provenance, RawFigures, RawShown, Router};
use crate::normalize::{self, Normalized};
use crate::publish::{self, CleanTable, Publication, RejectRow};
use crate::report::Report;
use crate::validate::{self, Verdict};
use rustc_hash::FxHashMap as HashMap;

/// What a command asks of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything, publishing when validation passes.
    Run,
    /// Everything but publishing.
    Validate,
}

/// Runtime knobs that are not pipeline semantics.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Use cached downloads only.
    pub offline: bool,
    /// Rebuild even when no input and not the config changed.
    pub full_refresh: bool,
    /// Show what would be read and published; change nothing.
    pub dry_run: bool,
    /// Show a progress spinner on stderr (only for a person at a terminal).
    pub progress: bool,
}

/// Wall time and CPU time (every thread, user and system) since a stage started, for the
/// stage logs: CPU over wall says how well the stage used the cores.
struct Clock {
    wall: std::time::Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: std::time::Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    fn seconds(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds() - self.cpu
    }
}

/// CPU time of the process so far, user and system, every thread (0 where unknown).
fn process_cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a rusage into the pointer it is given, which points
        // at one
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) } == 0 {
            // SAFETY: getrusage returned 0, so it filled the struct
            let u = unsafe { u.assume_init() };
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    0.0
}

/// Resident and peak memory of the process in MB, for the stage logs (Linux).
fn memory_mb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((kb("VmRSS:")? / 1024, kb("VmHWM:")? / 1024))
}

/// A spinner that says which stage is running; hidden unless asked for.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(on: bool) -> Progress {
        Progress(on.then(|| {
            let p = indicatif::ProgressBar::new_spinner();
            p.enable_steady_tick(std::time::Duration::from_millis(120));
            p
        }))
    }

    fn stage(&self, msg: impl Into<std::borrow::Cow<'static, str>>) {
        if let Some(p) = &self.0 {
            p.set_message(msg);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            p.finish_and_clear();
        }
    }
}

/// The result of a run that got as far as a verdict.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub summary: String,
    /// Set when validation failed: the run's exit is then 1.
    pub failure: Option<String>,
    /// Set when nothing changed since the last publication and nothing was rewritten.
    pub unchanged_since: Option<String>,
    /// For `--dry-run`: what a run would do.
    pub plan: Option<String>,
}

/// Everything read from the sources.
struct Read {
    raw: RawFigures,
    /// The raw figures' buckets, when they were routed as they were read (then `raw`
    /// holds their texts and places, no figure).
    routed: Option<crate::model::Routed>,
    prov: Provenance,
    inputs: Vec<(Source, SourceRead)>,
    /// For URL sources: what the fetch did.
    fetches: Vec<Option<crate::ingest::fetch::FetchRecord>>,
}

/// Where URL sources are cached: `raw/.cache` beside the config.
fn cache_dir(p: &Pipeline) -> std::path::PathBuf {
    let base = p
        .config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    base.join("raw").join(".cache")
}

fn read_all(p: &Pipeline, opts: &Options, progress: &Progress) -> Result<Read> {
    let cache = cache_dir(p);
    let mut raw = RawFigures::default();
    let (k, threshold) = routing();
    let route = normalize::bucket_of(&p.aliases, k);
    raw.route_with(Router::new(&work_dir(p), k, threshold, route));
    let mut prov = Provenance::default();
    let mut inputs = Vec::new();
    let mut fetches = Vec::new();
    for src in &p.sources {
        progress.stage(format!("reading {}", src.display));
        let local = ingest::local_path(src, &cache, opts.offline, &p.http)?;
        let read = ingest::read_source(src, &local, &mut prov, &mut raw)?;
        raw.route_held();
        fetches.push(match &src.location {
            config::Location::Url(_) => ingest::fetch::record(&local),
            config::Location::File(_) => None,
        });
        let figures = read.tables.iter().map(|t| t.figures).sum::<usize>();
        tracing::info!(source = %src.id, tables = read.tables.len(), figures, "read");
        if figures == 0 {
            return Err(Error::Validation(format!(
                "source {} ({}) yielded no figures; nothing replaces the last publication. {}",
                src.id,
                src.display,
                what_was_seen(&read.tables)
            )));
        }
        inputs.push((src.clone(), read));
    }
    let routed = raw
        .routed()
        .map_err(disk(p, "setting the raw figures aside"))?;
    Ok(Read {
        raw,
        routed,
        prov,
        inputs,
        fetches,
    })
}

/// What a source that yielded no figures was seen to hold: each table, its columns and
/// their roles, and why nothing was read.
fn what_was_seen(tables: &[ingest::layout::TableReading]) -> String {
    if tables.is_empty() {
        return "No table was found in it (no header row of years, flows or column names).".into();
    }
    let mut out = format!("It holds {} table(s):", tables.len());
    for t in tables.iter().take(5) {
        out.push_str(&format!(
            "\n  {} (header row {}, {} data rows, layout: {})",
            t.label,
            t.header_row + 1,
            t.data_rows,
            if t.layout.is_empty() {
                "none"
            } else {
                t.layout
            }
        ));
        for c in t.columns.iter().take(40) {
            out.push_str(&format!("\n    column {:?}: {}", c.header, c.role));
        }
        for why in t.skipped.iter().take(10) {
            out.push_str(&format!("\n    {why}"));
        }
        for n in &t.not_read {
            out.push_str(&format!("\n    {} rows not read: {}", n.rows, n.why));
        }
        for a in &t.set_aside {
            out.push_str(&format!(
                "\n    {} rows broken down by {:?}: set aside",
                a.rows, a.column
            ));
        }
    }
    out
}

/// The error of a run whose own files (see [`work_dir`]) fail it while it does `what`:
/// exit 4, nothing published.
fn disk<'p>(p: &'p Pipeline, what: &'static str) -> impl Fn(std::io::Error) -> Error + Copy + 'p {
    move |e| Error::Publish {
        dir: p.output_dir.clone(),
        reason: format!("{what} in {}: {e}", work_dir(p).display()),
    }
}

/// Where the run's files of its own go while it runs (unnamed, gone with the process):
/// beside the output folder.
fn work_dir(p: &Pipeline) -> std::path::PathBuf {
    match p.output_dir.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Gives the memory freed so far back to the system (glibc: `malloc_trim`). The readers'
/// threads free many blocks of a few megabytes each, and glibc keeps what a thread frees
/// for that thread, where the next stages cannot use it: after ingest, the 1M-row job's
/// peak 158-163 -> 137-142 MB (10M: 737 -> 728 MB). Once more after normalise or the
/// clean table lowered what was held between stages, not the peak.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system
    unsafe {
        libc::malloc_trim(0);
    }
}

fn run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{:05}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id() % 100_000
    )
}

/// Runs the pipeline of a config file.
///
/// # Errors
/// [`Error::Config`] (exit 2), [`Error::Source`] (exit 3), [`Error::Publish`] (exit 4).
/// A validation failure is not an error here: it is in [`Outcome::failure`].
pub fn run(config_path: &Path, mode: Mode, opts: &Options) -> Result<Outcome> {
    let started = chrono::Utc::now();
    let p = config::load(config_path)?;
    let run_id = run_id(started);
    let publishing = mode == Mode::Run && !opts.dry_run;
    let _lock = if publishing {
        Some(crate::lock::acquire(&p.output_dir)?)
    } else {
        None
    };
    if publishing {
        publish::recover(&p.output_dir)?;
    }
    if mode == Mode::Run && !opts.full_refresh {
        if let Some(prev) = unchanged(&p, opts)? {
            let summary = format!("nothing changed since run {prev} (same config, inputs and tool version): {} left as it is; --full-refresh rebuilds", p.output_dir.display());
            let plan = opts.dry_run.then(|| format!("{summary}\n"));
            return Ok(Outcome {
                report: Report::of(json!({"status": "unchanged", "previous_run_id": prev})),
                summary,
                failure: None,
                unchanged_since: Some(prev),
                plan,
            });
        }
    }
    let progress = Progress::new(opts.progress);
    let t = Clock::start();
    let mut read = read_all(&p, opts, &progress)?;
    give_back_freed_memory();
    tracing::debug!(
        seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
        rss_mb = ?memory_mb(),
        figures = read.raw.len(),
        "stage ingest"
    );
    progress.stage("normalising");
    let t = Clock::start();
    let sref = |pl| read.prov.source_ref(pl);
    let world_max = rust_decimal::Decimal::try_from(p.rules.plausible_max_usd)
        .unwrap_or(rust_decimal::Decimal::MAX);
    let nopts = normalize::Options {
        default_unit: p.default_unit.clone(),
        aliases: p.aliases.clone(),
        plausible_max_usd: world_max.min(normalize::PLAUSIBLE_MAX_USD.into()),
        plausible_max_world_usd: world_max,
        rates: p.rates.clone(),
        table_source: read.prov.tables.iter().map(|t| t.source).collect(),
        source_decimal_hint: read
            .inputs
            .iter()
            .map(|(_, r)| r.decimal_hint.as_ref().map(|h| h.0))
            .collect(),
    };
    // when there are many figures, the texts only rejects show go to the disk behind
    // normalise, as it works from the last figures to the first
    let spill_dir =
        (read.routed.is_none() && read.raw.len() >= spill_figures()).then(|| work_dir(&p));
    let read_back_raw = disk(&p, "reading the raw figures back");
    // routed by pair as they were read (see `routing`): a bucket at a time normalised,
    // validated and made into a clean table, the first bucket first: its total rows
    // (their partner names no country) are every bucket's
    let mut buckets = None;
    let mut norm = if let Some(routed) = read.routed.take() {
        let each = normalize::Buckets::of(routed, &read.raw, &nopts.table_source)
            .map_err(read_back_raw)?;
        let (part, m) = each.read(&read.raw, 0).map_err(read_back_raw)?;
        let first = each.normalize(&part, &m, &nopts, &sref);
        let shared = Normalized {
            aggregates: first.aggregates.clone(),
            ..Default::default()
        };
        buckets = Some((each, (first, part, m)));
        shared
    } else if let Some(dir) = &spill_dir {
        let mut failed = false;
        normalize::normalize_behind(&mut read.raw, &nopts, &sref, |raw, lo| {
            if failed {
                return;
            }
            if let Err(e) = raw.set_aside_behind(dir, lo) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot set the raw texts aside on the disk; they stay in memory");
                failed = true;
            }
        })
    } else {
        normalize::normalize(&read.raw, &nopts, &sref)
    };
    // what only normalise reads goes now (text ids, 1 to 4 bytes a figure each); the
    // rejects still need the texts of reporter, partner, flow, year and value, validate
    // the places
    // (the buckets still to normalise need them)
    if buckets.is_none() {
        for col in [&mut read.raw.month, &mut read.raw.commodity] {
            drop(std::mem::take(col));
        }
    }
    let places = validate::Places {
        place: &read.raw.places,
        source_ref: &sref,
        precedence: &|pl| read.prov.source_of(pl),
    };
    tracing::debug!(seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
        rss_mb = ?memory_mb(), "stage normalise");
    progress.stage("validating");
    let t = Clock::start();
    let read_back = |e: std::io::Error| Error::Publish {
        dir: p.output_dir.clone(),
        reason: format!("reading the clean values back from the disk: {e}"),
    };
    let mut tables = None;
    // the texts of the rejected figures, by raw index, when they are read bucket by bucket
    let mut shown = None;
    let mut verdict = match buckets {
        Some((each, first)) => {
            let done = run_buckets(
                &p,
                &read,
                &each,
                first,
                &nopts,
                &sref,
                &places,
                &norm.aggregates,
            )?;
            let BucketsDone {
                made,
                derived,
                found,
                texts,
            } = done;
            tables = Some((made, derived));
            // what the buckets held, freed on every thread, back to the system before the
            // table of every row is read back
            give_back_freed_memory();
            shown = Some(texts);
            validate::finish(found, &norm.aggregates, &p.rules).0
        }
        None => validate::validate(&norm, &p.rules, &places),
    };
    tracing::debug!(seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
        rss_mb = ?memory_mb(), "stage validate");
    let t = Clock::start();
    // the rejects are the last to need the raw texts: they go before the clean table is
    // built, so the two never take memory at once (a third of the peak)
    let rejects = reject_rows(&verdict, &read, shown.as_ref()).map_err(|e| Error::Publish {
        dir: p.output_dir.clone(),
        reason: format!("reading the rejected figures' texts back from the disk: {e}"),
    })?;
    let figures_read = read.raw.len();
    let place = std::mem::take(&mut read.raw.places);
    drop(std::mem::take(&mut read.raw));
    // what the rest needs is made: the normalised figures become the clean table,
    // column by column, and go before the report is made (at 10M rows of the peers' data
    // its findings are a JSON tree of about 260 MB) and the writers run
    // the partitioned run's clean rows stay on the disk, read by the writers a part at a
    // time; else the clean table is held
    let (clean, derived) = match tables {
        Some((mut made, mut derived)) => {
            // the summary dataset's rows are per pair, as the tables'
            derived.sort_by(|a, b| {
                (a.reporter, a.partner, a.year).cmp(&(b.reporter, b.partner, b.year))
            });
            let ts = Clock::start();
            made.seal()
                .map_err(disk(&p, "setting the clean rows aside"))?;
            tracing::debug!(seconds = ts.seconds(), "sealed");
            (Clean::Segments(made), derived)
        }
        None => {
            let derived = crate::summarize::summarize(&norm.figures, &verdict.clean);
            let checked = std::mem::take(&mut verdict.flags);
            // the clean rows' order becomes the clean table's column of places (4 bytes
            // a row)
            let clean = clean_table(
                std::mem::take(&mut norm.figures),
                std::mem::take(&mut verdict.clean),
                &read.prov,
                std::sync::Arc::new(place),
                checked,
                spill_dir.as_deref(),
            )
            .map_err(read_back)?;
            (Clean::Held(clean), derived)
        }
    };
    let clean = match &clean {
        Clean::Held(t) => publish::Rows::Held(t),
        Clean::Segments(s) => publish::Rows::Segments(s),
    };
    let counts = counts(figures_read, &norm, &verdict, clean.len());
    if counts.0 == 0 && !norm.aggregates.is_empty() {
        let names = normalize::aggregate_names(&norm.aggregates);
        return Err(Error::Validation(format!(
            "every row read is an aggregate, not a figure ({} rows: {}); nothing replaces the last publication",
            norm.aggregates.len(),
            names
                .iter()
                .take(10)
                .map(|a| format!("{:?} x{}", a.label, a.rows))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut summary = format!(
        "read {} figures from {} sources: {} clean, {} rejected, {} superseded; {} aggregate rows set aside; {} warnings",
        counts.0,
        p.sources.len(),
        counts.1,
        counts.2,
        counts.3,
        norm.aggregates.len(),
        verdict.checks.iter().filter(|c| c.severity == validate::Severity::Warn).map(|c| c.findings.len()).sum::<usize>()
    );
    // the checks' findings move into the report as they are (276,638 of them in that job)
    let checks = std::mem::take(&mut verdict.checks);
    let mut report = report(&p, counts, &read, &norm, &verdict, checks, &run_id);
    // the checks' refs to raw figures are written out from the raw figures' places,
    // which the clean table shares
    report.refs = {
        let (prov, places) = (read.prov.clone(), clean.head().place.places());
        crate::report::RawRefs::new(move |raw| prov.source_ref(places.get(raw as usize)))
    };
    drop(norm);
    tracing::debug!(
        seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
        rss_mb = ?memory_mb(),
        "stage tables and report"
    );
    let keys = crate::changes::Keys::of_rows(clean);
    // the change report reads the previous publication's key file: before anything is
    // published, beside the writers when publishing
    let compare = || {
        let t = Clock::start();
        let changes = crate::changes::compare(&p.output_dir, clean, &keys);
        tracing::debug!(seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
            rss_mb = ?memory_mb(), "stage change report");
        changes
    };
    let with_changes =
        |report: &mut Report, summary: &mut String, changes: &crate::changes::Changes| {
            report["changes"] = serde_json::to_value(changes).unwrap_or_default();
            if changes.compared {
                let _ = write!(
                    summary,
                    "; since the last publication: {} added, {} removed, {} revised",
                    changes.counts.added, changes.counts.removed, changes.counts.revised
                );
            }
        };
    if verdict.failure.is_some() || mode != Mode::Run || opts.dry_run {
        let changes = compare();
        with_changes(&mut report, &mut summary, &changes);
        if let Some(f) = &verdict.failure {
            return Ok(Outcome {
                report,
                summary,
                failure: Some(f.clone()),
                unchanged_since: None,
                plan: None,
            });
        }
        let plan = (mode == Mode::Run && opts.dry_run)
            .then(|| dry_run_plan(&p, &read, clean.len(), &rejects, &changes));
        return Ok(Outcome {
            report,
            summary,
            failure: None,
            unchanged_since: None,
            plan,
        });
    }
    let finished = chrono::Utc::now();
    let manifest = json!({
        "run_id": run_id,
        "tool": "tradeflow",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "started_at": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "finished_at": finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "config": p.config_path.display().to_string(),
        "config_sha256": p.config_hash,
        "inputs_sha256": inputs_hash(&read),
        "rates": &p.rates.0,
        "inputs": read.inputs.iter().zip(&read.fetches).map(|((s, r), f)| {
            let mut v = json!({
                "id": s.id,
                "location": s.display,
                "sha256": r.sha256,
                "bytes": r.bytes,
            });
            if let Some(f) = f {
                v["fetch"] = serde_json::to_value(f).unwrap_or_default();
            }
            v
        }).collect::<Vec<_>>(),
    });
    progress.stage(format!("publishing into {}", p.output_dir.display()));
    let t = Clock::start();
    // the report is complete once the change report is: the writers of the data files
    // start at once, and what needs the report (report.json, the workbook's sheets after
    // its data) waits for it
    let complete = std::sync::OnceLock::new();
    let published = std::thread::scope(|scope| {
        let changes = scope.spawn(|| {
            // the report is set whatever happens, so that no writer waits for ever
            let changes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(compare))
                .unwrap_or_else(|_| {
                    tracing::warn!("the change report failed; the report has none");
                    crate::changes::Changes::default()
                });
            // the report moves here and back (at 10M rows its findings can be hundreds of
            // megabytes: never two of it)
            let mut report = report;
            let mut summary = summary.clone();
            with_changes(&mut report, &mut summary, &changes);
            let _ = complete.set(report);
            summary
        });
        let publication = Publication {
            rows: clean,
            keys: &keys,
            rejects: &rejects,
            report: &complete,
            manifest,
            formats: &p.formats,
            options: &p.output,
            summary: &derived,
            title: "Trade figures published by tradeflow".into(),
        };
        let published = publish::publish(&p.output_dir, &publication);
        let summary = changes.join().unwrap_or_else(|_| summary.clone());
        published.map(|_| summary)
    });
    let mut summary = published?;
    let mut report = complete.into_inner().unwrap_or_default();
    tracing::debug!(seconds = t.seconds(), cpu_seconds = t.cpu_seconds(),
        rss_mb = ?memory_mb(), "stage publish");
    report["published_to"] = json!(p.output_dir.display().to_string());
    let _ = write!(summary, "; published to {}", p.output_dir.display());
    Ok(Outcome {
        report,
        summary,
        failure: None,
        unchanged_since: None,
        plan: None,
    })
}

/// The sha256 of every input, fetching URL sources (or using the cache offline).
fn fingerprints(p: &Pipeline, opts: &Options) -> Result<Vec<(String, String)>> {
    let cache = cache_dir(p);
    let mut out = Vec::new();
    for src in &p.sources {
        let local = ingest::local_path(src, &cache, opts.offline, &p.http)?;
        let (sha, _) = config::sha256_file(&local)
            .map_err(|e| Error::source(&src.id, &src.display, format!("cannot read: {e}")))?;
        out.push((src.id.clone(), sha));
    }
    Ok(out)
}

/// The previous publication's run id when it was made from the same config, inputs and
/// tool version and its outputs are all still as it wrote them.
fn unchanged(p: &Pipeline, opts: &Options) -> Result<Option<String>> {
    let Ok(text) = std::fs::read_to_string(p.output_dir.join("manifest.json")) else {
        return Ok(None);
    };
    let Ok(m) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    if m["config_sha256"] != p.config_hash.as_str()
        || m["tool_version"] != env!("CARGO_PKG_VERSION")
    {
        return Ok(None);
    }
    let now = fingerprints(p, opts)?;
    let before: Vec<(String, String)> = m["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or("").to_string(),
                i["sha256"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    if now != before {
        return Ok(None);
    }
    for o in m["outputs"].as_array().into_iter().flatten() {
        let path = p.output_dir.join(o["file"].as_str().unwrap_or(""));
        let same = config::sha256_file(&path)
            .is_ok_and(|(sha, _)| sha == o["sha256"].as_str().unwrap_or(""));
        if !same {
            return Ok(None);
        }
    }
    Ok(m["run_id"].as_str().map(str::to_string))
}

/// What `run` would do, for `--dry-run`.
fn dry_run_plan(
    p: &Pipeline,
    read: &Read,
    clean: usize,
    rejects: &[RejectRow],
    changes: &crate::changes::Changes,
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "dry run: nothing is fetched beyond the cache, written or moved"
    );
    for (s, r) in &read.inputs {
        let _ = writeln!(
            o,
            "read    {} ({}): {} tables, {} bytes, sha256 {}",
            s.id,
            s.display,
            r.tables.len(),
            r.bytes,
            &r.sha256[..12]
        );
    }
    let formats: Vec<&str> = p
        .formats
        .iter()
        .map(|f| match f {
            config::Format::Parquet => "trade.parquet, trade_summary.parquet",
            config::Format::Csv => "trade.csv, trade_summary.csv",
            config::Format::Xlsx => "trade.xlsx",
        })
        .collect();
    let _ = writeln!(
        o,
        "publish {}: {}, rejects.csv, report.json, report.md, manifest.json",
        p.output_dir.display(),
        formats.join(", ")
    );
    let _ = writeln!(
        o,
        "        {} clean figures, {} rejected",
        clean,
        rejects.len()
    );
    if changes.compared {
        let _ = writeln!(
            o,
            "changes {} added, {} removed, {} revised",
            changes.counts.added, changes.counts.removed, changes.counts.revised
        );
        for r in changes.revised.iter().take(20) {
            let _ = writeln!(o, "        revised {}: {} -> {}", r.key, r.old, r.new);
        }
    } else {
        let _ = writeln!(o, "changes none to compare: no previous publication");
    }
    o
}

/// One hash over every input's hash, in config order.
fn inputs_hash(read: &Read) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (s, r) in &read.inputs {
        h.update(s.id.as_bytes());
        h.update([0]);
        h.update(r.sha256.as_bytes());
        h.update([b'\n']);
    }
    config::hex(&h.finalize())
}

/// Figures read, clean, rejected and superseded: aggregate rows are not figures.
type Counts = (usize, usize, usize, usize);

/// The run's [`Counts`], from the figures read, the normalised figures, the verdict and
/// the clean table's rows.
fn counts(figures_read: usize, norm: &Normalized, v: &Verdict, clean: usize) -> Counts {
    (
        figures_read - norm.aggregates.len(),
        clean,
        v.rejects.len(),
        v.superseded.len(),
    )
}

/// The clean table from the normalised figures, which it consumes: each column is
/// gathered at the clean rows `idx` (on every core) and its source freed before the
/// next, so the two tables are never held whole at once. `checked`: the flags validate
/// set, by figure (taken from the verdict, and freed here).
fn clean_table(
    f: crate::model::Figures,
    idx: Vec<u32>,
    prov: &Provenance,
    place: std::sync::Arc<crate::model::Places>,
    checked: Vec<(u32, flags::Flags)>,
    spill_dir: Option<&Path>,
) -> std::io::Result<CleanTable> {
    use crate::model::{Narrow, Narrowed};
    use rayon::prelude::*;
    fn gather<T: Copy + Send + Sync>(idx: &[u32], col: impl Fn(usize) -> T + Sync) -> Vec<T> {
        idx.par_iter().map(|&i| col(i as usize)).collect()
    }
    fn take<T: Copy + Send + Sync>(idx: &[u32], col: Vec<T>) -> Vec<T> {
        gather(idx, |i| col[i])
    }
    fn narrow<T: Narrowed>(idx: &[u32], col: Narrow<T>) -> Narrow<T> {
        col.gather(idx)
    }
    let crate::model::Figures {
        reporter,
        partner,
        countries,
        flow,
        year,
        month,
        commodity,
        commodities,
        value,
        flags,
        raw,
    } = f;
    // one column at a time, each normalised column let go as its clean one is made; the
    // largest first: when there are many, gathered into a file (and read back last), so
    // the others are gathered in the room it leaves
    let value = match spill_dir {
        Some(dir) => value.spill_gathered(&idx, dir).map_err(|(value, e)| {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot gather the clean values through the disk; they are gathered in memory");
            value
        }),
        None => Err(value),
    };
    // validate's flags merged into normalise's where they are
    let mut flags = flags;
    for (i, flag) in checked {
        flags[i as usize] |= flag;
    }
    let merged = take(&idx, flags);
    let (reporter, partner) = (take(&idx, reporter), take(&idx, partner));
    let (year, commodity) = (narrow(&idx, year), narrow(&idx, commodity));
    let (month, flow) = (narrow(&idx, month), take(&idx, flow));
    let values = match value {
        Ok(gathered) => gathered.read_back()?,
        Err(value) => value.gather(&idx),
    };
    // the last: the rows' order becomes their places
    let place = crate::model::PlaceColumn::of(place, idx, &raw);
    drop(raw);
    Ok(CleanTable {
        reporter,
        partner,
        countries,
        flow,
        year,
        month,
        commodity,
        commodities,
        value: values,
        place,
        provenance: prov.clone(),
        flags: merged,
    })
}

/// What the partitioned run made of its buckets.
struct BucketsDone {
    /// Every bucket's clean rows, on the disk.
    made: crate::segments::Segments,
    /// The summary dataset's rows of every bucket.
    derived: Vec<crate::summarize::SummaryRow>,
    /// What validate found in each bucket.
    found: Vec<validate::Bucket>,
    /// The texts of the rejected figures, by raw index.
    texts: HashMap<u32, RawShown>,
}

/// The partitioned run's buckets one after another (the first, already normalised, is
/// `first`), each normalised, validated and made into its clean table, which goes to the
/// disk ([`crate::segments::Segments`]). While a bucket is worked on, another thread
/// reads the next one back and a third writes the one before: the figures of at most
/// three buckets held at once.
#[allow(clippy::too_many_arguments)]
fn run_buckets(
    p: &Pipeline,
    read: &Read,
    each: &normalize::Buckets,
    first: (Normalized, RawFigures, Vec<u32>),
    nopts: &normalize::Options,
    sref: &(dyn Fn(crate::model::Place) -> String + Sync),
    places: &validate::Places<'_>,
    aggregates: &[normalize::Aggregate],
) -> Result<BucketsDone> {
    // the tables share the raw figures' places
    let shared = std::sync::Arc::new(read.raw.places.clone());
    let made = crate::segments::Segments::new(
        &work_dir(p),
        each.commodities(&read.raw),
        shared.clone(),
        read.prov.clone(),
    );
    let (mut found, mut derived) = (Vec::new(), Vec::new());
    let mut texts = HashMap::default();
    // seconds spent waiting for a bucket read, normalising, validating, making tables,
    // waiting for the one before to be written
    let mut spent = [0f64; 5];
    let mut lap = {
        let mut at = std::time::Instant::now();
        move |k: usize, spent: &mut [f64; 5]| {
            spent[k] += at.elapsed().as_secs_f64();
            at = std::time::Instant::now();
        }
    };
    let made = std::thread::scope(|scope| -> Result<crate::segments::Segments> {
        let (read_tx, read_rx) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || {
            for b in 1..each.len() {
                if read_tx.send(each.read(&read.raw, b)).is_err() {
                    break;
                }
            }
        });
        let (made_tx, made_rx) = std::sync::mpsc::sync_channel::<CleanTable>(1);
        let writer = scope.spawn(move || -> std::io::Result<crate::segments::Segments> {
            let mut made = made;
            for t in made_rx {
                made.add(&t)?;
            }
            Ok(made)
        });
        let mut first = Some(first);
        for b in 0..each.len() {
            let (n, part, m) = match first.take() {
                Some(first) => first,
                None => {
                    let (part, m) = read_rx
                        .recv()
                        .map_err(|_| {
                            disk(p, "reading the raw figures back")(std::io::Error::other(
                                "the reader stopped",
                            ))
                        })?
                        .map_err(disk(p, "reading the raw figures back"))?;
                    lap(0, &mut spent);
                    let n = each.normalize(&part, &m, nopts, sref);
                    lap(1, &mut spent);
                    (n, part, m)
                }
            };
            debug_assert!(
                b == 0 || n.aggregates.is_empty(),
                "a total row in bucket {b}"
            );
            let mut v = validate::validate_bucket(&n, &p.rules, places, aggregates);
            for r in v.rejected() {
                if let Ok(i) = m.binary_search(&r) {
                    texts.insert(
                        r,
                        part.shown(i)
                            .map_err(disk(p, "reading the raw figures back"))?,
                    );
                }
            }
            drop((part, m));
            lap(2, &mut spent);
            let (clean, flags) = (std::mem::take(&mut v.clean), std::mem::take(&mut v.flags));
            derived.extend(crate::summarize::summarize(&n.figures, &clean));
            let t = clean_table(n.figures, clean, &read.prov, shared.clone(), flags, None)
                .map_err(disk(p, "making a clean table"))?;
            lap(3, &mut spent);
            // a writer that stopped says why when joined
            if made_tx.send(t).is_err() {
                break;
            }
            lap(4, &mut spent);
            found.push(v);
        }
        drop(made_tx);
        writer
            .join()
            .map_err(|_| {
                disk(p, "setting the clean rows aside")(std::io::Error::other(
                    "the writer panicked",
                ))
            })?
            .map_err(disk(p, "setting the clean rows aside"))
    })?;
    tracing::debug!(
        buckets = each.len(),
        read = spent[0],
        normalise = spent[1],
        validate = spent[2],
        tables = spent[3],
        set_aside = spent[4],
        "buckets"
    );
    Ok(BucketsDone {
        made,
        derived,
        found,
        texts,
    })
}

/// The clean rows: a table held, or the partitioned run's segments on the disk.
enum Clean {
    Held(CleanTable),
    Segments(crate::segments::Segments),
}

/// How the raw figures are routed to buckets by pair as they are read, to be normalised,
/// validated and made into clean tables a bucket at a time, their clean rows kept on the
/// disk (the partitioned run): into how many buckets, once how many figures are held.
/// Below that many figures nothing is routed and the run holds its figures (faster where
/// they fit: the 1M-row benchmark); above, memory no longer grows with the figures but
/// with a bucket's share of them (see `benches/README.md`). `TRADEFLOW_TEST_BUCKETS`
/// routes into that many buckets from the first figure, or from
/// `TRADEFLOW_TEST_ROUTE_FIGURES` (the tests: the outputs are the same).
fn routing() -> (usize, usize) {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    match var("TRADEFLOW_TEST_BUCKETS").filter(|&k: &usize| k > 0) {
        Some(k) => (k, var("TRADEFLOW_TEST_ROUTE_FIGURES").unwrap_or(0)),
        None => (
            ROUTED_BUCKETS,
            var("TRADEFLOW_TEST_ROUTE_FIGURES").unwrap_or(ROUTE_FIGURES),
        ),
    }
}

/// Figures held before the run routes them to buckets (see [`routing`]): about 50 MB of
/// raw figures.
const ROUTE_FIGURES: usize = 2_000_000;

/// Buckets of a routed run: at 10M rows of the peers' data, about 300,000 figures each
/// (16 to 64 made no difference to the time; the figures of three buckets are held at
/// once, see `run_buckets`).
const ROUTED_BUCKETS: usize = 32;

/// Figures from which on the texts only rejects show are set aside on the disk before
/// validation (a record of 13 bytes a figure at 10M rows of the peers' data, and the
/// value texts), and the clean table's values are gathered through it (8 bytes a figure,
/// else held twice for a moment): above a few million, where they are hundreds of
/// megabytes. `TRADEFLOW_TEST_SPILL_FIGURES` sets it for the tests.
fn spill_figures() -> usize {
    std::env::var("TRADEFLOW_TEST_SPILL_FIGURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000_000)
}

/// The rows of the rejects file, the texts of each rejected figure from the raw figures,
/// or from `shown` (by raw index) where they were read bucket by bucket.
fn reject_rows(
    v: &Verdict,
    read: &Read,
    shown: Option<&HashMap<u32, RawShown>>,
) -> std::io::Result<Vec<RejectRow>> {
    let raw = &read.raw;
    let txt = |id: u32| raw.dict.get(id).unwrap_or("");
    v.rejects
        .iter()
        .map(|r| {
            let i = r.raw as usize;
            let place = raw.places.get(i);
            let shown = match shown {
                Some(texts) => texts.get(&r.raw).cloned().ok_or_else(|| {
                    std::io::Error::other(format!("figure {i}'s texts were not kept"))
                })?,
                None => raw.shown(i)?,
            };
            Ok(RejectRow::new([
                read.prov.source_id(place),
                &read.prov.source_ref(place),
                txt(shown.reporter),
                txt(shown.partner),
                txt(shown.flow),
                txt(shown.year),
                &shown.value,
                r.rule,
                "error",
                &r.message,
            ]))
        })
        .collect()
}

fn report(
    p: &Pipeline,
    counts: Counts,
    read: &Read,
    norm: &Normalized,
    v: &Verdict,
    checks: Vec<validate::Check>,
    run_id: &str,
) -> Report {
    let (figures_read, clean, rejected, superseded) = counts;
    let mut rules: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &v.rejects {
        *rules.entry(r.rule).or_default() += 1;
    }
    let tree = json!({
        "tool": "tradeflow",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "run_id": run_id,
        "config": p.config_path.display().to_string(),
        "status": if v.failure.is_some() { "failed" } else { "passed" },
        "failure": v.failure,
        "figures_read": figures_read,
        "figures_clean": clean,
        "figures_rejected": rejected,
        "figures_superseded": superseded,
        "accounting_holds": figures_read == clean + rejected + superseded,
        "aggregate_rows": norm.aggregates.len(),
        "rates": &p.rates.0,
        "rejected_by_rule": rules,
        "checks": null,
        "expectations": v.expectations,
        "mirror_total": v.mirror.len(),
        "mirror": &v.mirror[..v.mirror.len().min(validate::REPORT_LISTED)],
        "coverage": v.coverage.iter().map(|(p, y, f, has)| json!({"partner": p, "year": y, "flow": f, "present": has})).collect::<Vec<_>>(),
        "superseded": v.superseded,
        "aggregates": normalize::aggregate_names(&norm.aggregates),
        "sources": read.inputs.iter().map(|(s, r)| json!({
            "id": s.id,
            "location": s.display,
            "decimal_hint": r.decimal_hint.as_ref().map(|(d, why)| json!({"decimal": d.to_string(), "because": why})),
            "sha256": r.sha256,
            "tables": r.tables,
        })).collect::<Vec<_>>(),
    });
    Report::new(tree, checks)
}

/// Figures and rejects `inspect` prints per table; the rest are counted.
pub const INSPECT_SHOWN: usize = 50;

/// Explains what tradeflow finds in one file, with no config.
///
/// # Errors
/// [`Error::Source`] when the file cannot be read.
pub fn inspect(path: &Path, reporter: Option<String>, as_json: bool) -> Result<String> {
    let mut src = Source::for_file(path);
    if let Some(r) = reporter {
        let c = normalize::countries::country(&r)
            .ok_or_else(|| Error::Config(vec![format!("--reporter: unknown country {r:?}")]))?;
        src.reporter = Some(c.iso3.to_string());
    }
    let mut prov = Provenance::default();
    let mut raw = RawFigures::default();
    let read = ingest::read_source(&src, path, &mut prov, &mut raw)?;
    let sref = |pl| prov.source_ref(pl);
    let norm = normalize::normalize(&raw, &normalize::Options::default(), &sref);
    if as_json {
        return Ok(inspect_json(path, &read, &prov, &raw, &norm));
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} bytes, sha256 {}",
        path.display(),
        read.bytes,
        read.sha256
    );
    let _ = writeln!(o, "{} table(s)", read.tables.len());
    for t in &read.tables {
        let _ = writeln!(o, "\n== {} ==", t.label);
        for title in &t.titles {
            let _ = writeln!(o, "  title: {title}");
        }
        let row_word = if prov.tables[t.table as usize].style == crate::model::RefStyle::Line {
            "line"
        } else {
            "row"
        };
        let _ = writeln!(o, "  header: {row_word} {}", t.header_row + 1);
        let _ = writeln!(o, "  layout: {}", t.layout);
        let _ = writeln!(o, "  data rows: {}", t.data_rows);
        for c in &t.continued_at {
            let _ = writeln!(o, "  continued after a page break at {row_word} {}", c + 1);
        }
        let _ = writeln!(o, "  columns:");
        for c in &t.columns {
            let _ = writeln!(o, "    [{}] {:?}: {}", c.col + 1, c.header, c.role);
            if let Some(u) = norm
                .column_units
                .iter()
                .find(|u| u.table == t.table && u.col == c.col)
            {
                let unit = u
                    .unit
                    .map(|u| u.describe())
                    .unwrap_or_else(|| "none found".into());
                let _ = writeln!(o, "        unit: {unit} (from {})", u.origin.as_str());
            }
        }
        for s in &t.skipped {
            let _ = writeln!(o, "  skipped: {s}");
        }
        for n in &t.notes {
            let _ = writeln!(o, "  note: {n}");
        }
        let _ = writeln!(o, "  figures ({}):", t.figures);
        let f = &norm.figures;
        let mut shown = 0;
        for i in 0..f.len() {
            let r = f.raw[i] as usize;
            if r < t.first_figure || r >= t.first_figure + t.figures {
                continue;
            }
            shown += 1;
            if shown > INSPECT_SHOWN {
                continue;
            }
            let fl = flags::names(f.flags[i]);
            let _ = writeln!(
                o,
                "    {} {} {} {}: {:>18} USD  <- {:?} at {}{}",
                f.reporter(i),
                f.partner(i),
                f.flow[i],
                f.year.get(i),
                f.value
                    .get(i)
                    .map_or_else(|| "null".to_string(), validate::grouped),
                raw.value_text(r),
                prov.source_ref(raw.places.get(r)),
                if fl.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", fl.join(", "))
                }
            );
        }
        if shown > INSPECT_SHOWN {
            let _ = writeln!(
                o,
                "    ... and {} more figures (`inspect --json` lists the first 1000)",
                shown - INSPECT_SHOWN
            );
        }
        let mut rejected = 0;
        for rj in &norm.rejects {
            let r = rj.raw as usize;
            if r >= t.first_figure && r < t.first_figure + t.figures {
                rejected += 1;
                if rejected <= INSPECT_SHOWN {
                    let _ = writeln!(
                        o,
                        "    rejected {:?} at {}: {}: {}",
                        raw.value_text(r),
                        prov.source_ref(raw.places.get(r)),
                        rj.rule,
                        rj.message
                    );
                }
            }
        }
        if rejected > INSPECT_SHOWN {
            let _ = writeln!(o, "    ... and {} more rejected", rejected - INSPECT_SHOWN);
        }
        let in_this = |r: usize| r >= t.first_figure && r < t.first_figure + t.figures;
        let aggregates: Vec<_> = norm
            .aggregates
            .iter()
            .filter(|a| in_this(a.raw as usize))
            .collect();
        for a in aggregates.iter().take(INSPECT_SHOWN) {
            let _ = writeln!(
                o,
                "    aggregate {:?} = {:?} at {} (kept out of the clean table)",
                a.label, a.raw_value, a.source_ref
            );
        }
        if aggregates.len() > INSPECT_SHOWN {
            let _ = writeln!(
                o,
                "    ... and {} more aggregate rows",
                aggregates.len() - INSPECT_SHOWN
            );
        }
    }
    Ok(o)
}

/// `inspect --json`: the same as the text, as one JSON document.
fn inspect_json(
    path: &Path,
    read: &SourceRead,
    prov: &Provenance,
    raw: &RawFigures,
    norm: &Normalized,
) -> String {
    let in_table = |r: usize, t: &crate::ingest::layout::TableReading| {
        r >= t.first_figure && r < t.first_figure + t.figures
    };
    let tables: Vec<serde_json::Value> = read
        .tables
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            v["units"] = norm
                .column_units
                .iter()
                .filter(|u| u.table == t.table)
                .map(|u| json!({"column": u.col + 1, "unit": u.unit.map(|x| x.describe()), "from": u.origin.as_str()}))
                .collect();
            let f = &norm.figures;
            v["figures"] = (0..f.len())
                .filter(|&i| in_table(f.raw[i] as usize, t))
                .take(1000)
                .map(|i| {
                    let r = f.raw[i] as usize;
                    json!({
                        "reporter": f.reporter(i), "partner": f.partner(i), "flow": f.flow[i], "year": f.year.get(i), "month": f.month.get(i),
                        "commodity": f.commodity_str(i), "value_usd": f.value.get(i).map(|x| x.normalize().to_string()),
                        "raw": raw.value_text(r), "source_ref": prov.source_ref(raw.places.get(r)), "flags": flags::names(f.flags[i]),
                    })
                })
                .collect();
            v["rejected"] = norm
                .rejects
                .iter()
                .filter(|rj| in_table(rj.raw as usize, t))
                .take(1000)
                .map(|rj| json!({"raw": raw.value_text(rj.raw as usize), "source_ref": prov.source_ref(raw.places.get(rj.raw as usize)), "rule": rj.rule, "message": rj.message}))
                .collect();
            v
        })
        .collect();
    let doc = json!({"file": path.display().to_string(), "bytes": read.bytes, "sha256": read.sha256, "tables": tables, "aggregates": normalize::aggregate_names(&norm.aggregates)});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
