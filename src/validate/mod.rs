//! Validate: works on the whole figure set. Each rule has an id and a severity set in
//! `pipeline.toml` (`error` rejects the figure, or fails the run for a check on the whole
//! set; `warn` keeps it with a flag; `off`). Equal duplicates from a later source are
//! superseded; different values for one key are conflicts, resolved by source precedence
//! (config order). It decides the verdict: publish, or fail with exit 1.
//!
//! It reads no files and writes none; every figure it is given ends clean, rejected or
//! superseded (the contract's accounting rule).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

pub use crate::config::Severity;
use crate::config::{ExpectKind, Rules};
use crate::model::{flags, Figures, Flow, Place, Reject};
use crate::normalize::Normalized;

/// Every configurable rule: id, default severity, what it checks.
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "missing_value",
        Severity::Warn,
        "a missing-value marker (`..`, `n/a`, empty): kept as null with a flag, or rejected",
    ),
    (
        "year_range",
        Severity::Error,
        "years within [validate] year_min..year_max",
    ),
    (
        "negative_value",
        Severity::Error,
        "values are not negative (unless allow_negative)",
    ),
    (
        "implausible_value",
        Severity::Error,
        "a value above [validate] plausible_max_usd",
    ),
    (
        "conflict",
        Severity::Error,
        "one key with different values: the source listed first wins, the other is rejected",
    ),
    (
        "yoy_jump",
        Severity::Warn,
        "a year-on-year change by more than [validate] jump_factor, up or down",
    ),
    (
        "equal_flows",
        Severity::Warn,
        "exports equal to imports for the same partner and period",
    ),
    (
        "repeated_value",
        Severity::Warn,
        "the same value [validate] repeat_run years running",
    ),
    (
        "series_gap",
        Severity::Warn,
        "a series that stops, starts late, or has a hole",
    ),
    (
        "coverage",
        Severity::Warn,
        "[validate.coverage]: partner x year x flow combinations with no figure",
    ),
    (
        "totals",
        Severity::Warn,
        "parts that do not add up to their total row within total_tolerance",
    ),
    (
        "mirror",
        Severity::Warn,
        "our exports against the partner's imports (and back) outside mirror_band",
    ),
    (
        "expectations",
        Severity::Error,
        "the assertions of [[expect]]",
    ),
];

/// Findings listed per check for the parse and aggregate lists; the rest are counted
/// (every reject is in rejects.csv regardless).
pub const MAX_LISTED: usize = 1000;

/// One thing a check found: a message and where (the `source_ref`s of the figures
/// involved). Held as one text, the message and each ref given as a text end to end,
/// with where each ends: one allocation a finding where a message, a list and each ref
/// took one each (at 10M rows of the peer's data, 294,792 warnings: the run's peak 37 MB
/// lower). A ref to a raw figure is held as its index and written out when shown (see
/// [`Finding::at`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    text: Box<str>,
    /// Where the message ends in `text`, then each ref: where its text ends, or a raw
    /// figure's index with [`RAW_REF`] set.
    ends: smallvec::SmallVec<[u32; 3]>,
}

/// Marks a ref held as a raw figure's index (raw figures are counted in `u32`: far
/// fewer than 2^31 fit in memory).
const RAW_REF: u32 = 1 << 31;

/// Writes out the `source_ref` of a raw figure, by its index: how the refs of
/// [`Finding::at`] are shown.
pub type RawRef<'a> = &'a (dyn Fn(u32) -> String + Sync);

impl Finding {
    pub fn new(message: String, refs: Vec<String>) -> Finding {
        let mut text =
            String::with_capacity(message.len() + refs.iter().map(String::len).sum::<usize>());
        let mut ends = smallvec::SmallVec::new();
        for part in std::iter::once(&message).chain(&refs) {
            text.push_str(part);
            ends.push(text.len() as u32);
        }
        Finding {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// A finding about the raw figures `raws`, held by their indices (4 bytes each, where
    /// a `source_ref` text took about 50: at 10M rows of the peer's data, 276,638
    /// year-on-year findings of two refs each) and written out when shown.
    pub fn at(message: String, raws: &[u32]) -> Finding {
        let mut ends = smallvec::SmallVec::new();
        ends.push(message.len() as u32);
        ends.extend(raws.iter().map(|&r| {
            debug_assert!(r < RAW_REF, "raw figure {r}");
            r | RAW_REF
        }));
        Finding {
            text: message.into_boxed_str(),
            ends,
        }
    }

    pub fn message(&self) -> &str {
        &self.text[..self.ends[0] as usize]
    }

    /// The index of the first raw figure the finding refers to by index (0 where none):
    /// what orders a figure rule's findings.
    fn first_raw(&self) -> u32 {
        self.ends[1..]
            .iter()
            .find(|&&e| e & RAW_REF != 0)
            .map_or(0, |&e| e & !RAW_REF)
    }

    /// Where: the `source_ref`s of the figures involved, those of raw figures written by
    /// `raw`.
    pub fn refs<'a>(
        &'a self,
        raw: RawRef<'a>,
    ) -> impl ExactSizeIterator<Item = std::borrow::Cow<'a, str>> + 'a {
        let mut from = self.ends[0] as usize;
        self.ends[1..].iter().map(move |&e| {
            if e & RAW_REF != 0 {
                std::borrow::Cow::Owned(raw(e & !RAW_REF))
            } else {
                let text = &self.text[from..e as usize];
                from = e as usize;
                std::borrow::Cow::Borrowed(text)
            }
        })
    }

    /// The refs for people: joined by `; `.
    pub fn refs_joined(&self, raw: RawRef<'_>) -> String {
        self.refs(raw).collect::<Vec<_>>().join("; ")
    }
}

/// A finding as the report shows it, its refs written out.
struct ShownFinding<'a>(&'a Finding, RawRef<'a>);

impl serde::Serialize for ShownFinding<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Refs<'a>(&'a Finding, RawRef<'a>);
        impl serde::Serialize for Refs<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.refs(self.1))
            }
        }
        let mut st = s.serialize_struct("Finding", 2)?;
        st.serialize_field("message", self.0.message())?;
        st.serialize_field("refs", &Refs(self.0, self.1))?;
        st.end()
    }
}

/// Checks as the report shows them: each finding's refs written out by `raw`.
pub struct Shown<'a>(pub &'a [Check], pub RawRef<'a>);

/// Findings of one check listed in `report.json`, the first in order: the report stays
/// small whatever the run (511,418 year-on-year jumps in a million rows of random values
/// made it 140 MB); `findings_total` counts them all, and the clean table's `flags` and
/// `rejects.csv` carry every one on its figure.
pub const REPORT_LISTED: usize = 1000;

impl serde::Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Findings<'a>(&'a [Finding], RawRef<'a>);
        impl serde::Serialize for Findings<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(
                    self.0
                        .iter()
                        .take(REPORT_LISTED)
                        .map(|f| ShownFinding(f, self.1)),
                )
            }
        }
        struct One<'a>(&'a Check, RawRef<'a>);
        impl serde::Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut st = s.serialize_struct("Check", 5)?;
                st.serialize_field("id", self.0.id)?;
                st.serialize_field("severity", &self.0.severity)?;
                st.serialize_field("description", self.0.description)?;
                st.serialize_field("findings_total", &self.0.findings.len())?;
                st.serialize_field("findings", &Findings(&self.0.findings, self.1))?;
                st.end()
            }
        }
        s.collect_seq(self.0.iter().map(|c| One(c, self.1)))
    }
}

/// A check and what it found (in the report as [`Shown`] writes it).
#[derive(Debug, Clone)]
pub struct Check {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    pub findings: Vec<Finding>,
}

/// A figure that repeats a higher-precedence figure with the same key and value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Superseded {
    pub key: String,
    pub value_usd: Option<String>,
    pub source_ref: String,
    pub kept: String,
    #[serde(skip)]
    pub raw: u32,
}

/// An expectation and its result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpectationResult {
    pub name: String,
    pub severity: Severity,
    pub passed: bool,
    pub detail: String,
}

/// Our figure against the partner's own for the same flow.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MirrorGap {
    pub exporter: &'static str,
    pub importer: &'static str,
    pub year: i32,
    pub month: Option<u8>,
    pub exports_usd: String,
    pub imports_usd: String,
    /// imports / exports - 1.
    pub gap: f64,
    pub within_band: bool,
}

/// The outcome of validation.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Indices into the figures that are clean, sorted by key (figures are counted in
    /// `u32`, as their raw indices are).
    pub clean: Vec<u32>,
    /// Every reject, from normalise and from validate, with its severity's rule.
    pub rejects: Vec<Reject>,
    pub superseded: Vec<Superseded>,
    pub checks: Vec<Check>,
    pub expectations: Vec<ExpectationResult>,
    pub mirror: Vec<MirrorGap>,
    /// Partner x year x flow: `true` where a clean figure exists.
    pub coverage: Vec<(String, i32, Flow, bool)>,
    /// Flags set by validation, as (figure, flag) pairs, a figure possibly more than once
    /// (OR-ed onto normalise's): few figures are flagged, where a column of them took 2
    /// bytes every figure (at 10M, 20 MB through validate for 4.5 MB of pairs).
    pub flags: Vec<(u32, flags::Flags)>,
    /// `None` when the data may be published, else why not.
    pub failure: Option<String>,
}

fn key_text(f: &Figures, i: usize) -> String {
    let m = f
        .month
        .get(i)
        .map(|m| format!("-{m:02}"))
        .unwrap_or_default();
    format!(
        "{} {} {} {}{m} {}",
        f.reporter(i),
        f.partner(i),
        f.flow[i],
        f.year.get(i),
        f.commodity_str(i)
    )
}

/// `1470000000` as `1,470,000,000`.
pub fn grouped(v: Decimal) -> String {
    let s = v.normalize().to_string();
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!(
        "{sign}{out}{}",
        frac.map(|f| format!(".{f}")).unwrap_or_default()
    )
}

fn show(v: Option<Decimal>) -> String {
    v.map_or_else(|| "null".into(), grouped)
}

/// Where figures and their sources are, for messages and precedence.
pub struct Places<'a> {
    /// The place of each raw figure.
    pub place: &'a crate::model::Places,
    /// Formats a place as `source_ref`.
    pub source_ref: &'a (dyn Fn(Place) -> String + Sync),
    /// A place's source rank: lower wins a conflict. The same for every place of a table
    /// (validate asks it once per table and column read).
    pub precedence: &'a (dyn Fn(Place) -> usize + Sync),
}

/// Whether a value given as mantissa and scale (`m / 10^s`) is neither negative (unless
/// allowed) nor above a bound in magnitude, on integers: the bound times `10^s`, rounded
/// down, for every scale a packed value can have (0 to 28), saturating where it passes
/// every packed mantissa.
struct Within {
    /// `None` for a bound below zero, which no value is within.
    limit: Option<[u128; 29]>,
    allow_negative: bool,
}

impl Within {
    fn new(max: Decimal, allow_negative: bool) -> Within {
        let (mantissa, t) = (max.mantissa().unsigned_abs(), max.scale());
        let limit = (!max.is_sign_negative() || max.is_zero()).then(|| {
            std::array::from_fn(|s| {
                let s = s as u32;
                if s >= t {
                    10u128
                        .checked_pow(s - t)
                        .and_then(|p| mantissa.checked_mul(p))
                        .unwrap_or(u128::MAX)
                } else {
                    mantissa / 10u128.pow(t - s)
                }
            })
        });
        Within {
            limit,
            allow_negative,
        }
    }

    /// `m / 10^s` is within: `m` not negative (or negatives allowed), `|m| <= max * 10^s`.
    fn holds(&self, m: i64, s: u32) -> bool {
        (m >= 0 || self.allow_negative)
            && self
                .limit
                .as_ref()
                .and_then(|l| l.get(s as usize))
                .is_some_and(|&l| u128::from(m.unsigned_abs()) <= l)
    }
}

/// Which figures are still alive (not rejected, not superseded): a bit each, where a
/// `bool` took a byte (at 10M figures, 9 MB less through validate).
struct Alive(Vec<u64>);

impl Alive {
    /// Figures `0..n`, every one alive.
    fn all(n: usize) -> Alive {
        let mut words = vec![u64::MAX; n.div_ceil(64)];
        if let (Some(last), rest @ 1..) = (words.last_mut(), n % 64) {
            *last = (1 << rest) - 1;
        }
        Alive(words)
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 != 0
    }

    fn kill(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

struct V<'a> {
    f: &'a Figures,
    rules: &'a Rules,
    places: &'a Places<'a>,
    /// The figure rules' rejects, in the order of the figures.
    rejects: Vec<Reject>,
    flags: Vec<(u32, flags::Flags)>,
    alive: Alive,
}

/// A check of `rules`, with no findings yet.
fn check_of(rules: &Rules, id: &'static str) -> Check {
    let (_, _, description) =
        RULES
            .iter()
            .find(|(r, _, _)| *r == id)
            .copied()
            .unwrap_or((id, Severity::Error, ""));
    Check {
        id,
        severity: rules.severity(id),
        description,
        findings: Vec::new(),
    }
}

impl V<'_> {
    fn r(&self, i: usize) -> String {
        (self.places.source_ref)(self.places.place.get(self.f.raw[i] as usize))
    }

    fn check(&self, id: &'static str) -> Check {
        check_of(self.rules, id)
    }

    /// A figure-level finding: `error` rejects the figure, `warn` flags it.
    fn judge(&mut self, c: &mut Check, i: usize, flag: flags::Flags, message: String) {
        match c.severity {
            Severity::Off => return,
            Severity::Error => {
                self.rejects.push(Reject {
                    raw: self.f.raw[i],
                    rule: c.id,
                    message: message.clone(),
                });
                self.alive.kill(i);
            }
            _ => self.flags.push((i as u32, flag)),
        }
        c.findings.push(Finding::at(
            format!("{}: {message}", key_text(self.f, i)),
            &[self.f.raw[i]],
        ));
    }
}

/// The figures `i < n` that `keep`, sorted by `key`, given that the key's first part is
/// `group(i)` (below `groups`): the figures are put in group order by counting (no keys
/// held, and no list of the kept figures: at 10M figures, 40 MB), then each group is
/// sorted by its keys, laid out beside its indices. Only a group's keys are held at once;
/// keying every index first took 32 bytes a figure. The counting goes in parts on every
/// core (each part's figures of a group placed after those of the parts before: the order
/// of one pass), then groups sort on every core, and a group of more than a core's share
/// sorts on every core by itself.
fn sorted_in_groups<K: Ord + Send>(
    n: usize,
    keep: impl Fn(usize) -> bool + Sync,
    groups: usize,
    group: impl Fn(usize) -> usize + Sync,
    key: impl Fn(usize) -> K + Sync,
) -> Vec<u32> {
    use rayon::prelude::*;
    // a part's count table is as long as the groups: parts of many figures each
    let parts = rayon::current_num_threads()
        .min(n / (4 * groups).max(1 << 16))
        .max(1);
    let part_len = n.div_ceil(parts).max(1);
    let part = |k: usize| (k * part_len..((k + 1) * part_len).min(n)).filter(|&i| keep(i));
    // each part's count of each group, then where its figures of each group go
    let mut at: Vec<Vec<usize>> = (0..parts)
        .into_par_iter()
        .map(|k| {
            let mut c = vec![0usize; groups];
            for i in part(k) {
                c[group(i)] += 1;
            }
            c
        })
        .collect();
    let mut start = vec![0usize; groups + 1];
    let mut next = 0;
    for g in 0..groups {
        start[g] = next;
        for c in at.iter_mut() {
            let count = c[g];
            c[g] = next;
            next += count;
        }
    }
    start[groups] = next;
    let mut out = vec![0u32; next];
    {
        // each part writes its own places: disjoint, as the counts set them
        struct Out(*mut u32);
        // SAFETY: the pointer is shared across the parts' threads, which write disjoint
        // places of `out` (below) while `out` outlives them
        unsafe impl Sync for Out {}
        let to = Out(out.as_mut_ptr());
        let to = &to;
        at.par_iter_mut().enumerate().for_each(|(k, at)| {
            for i in part(k) {
                let g = group(i);
                // SAFETY: `at[g]` runs over this part's own places of group `g`, all
                // below `out.len()` (the counts sum to it), each written once
                unsafe { *to.0.add(at[g]) = i as u32 };
                at[g] += 1;
            }
        });
    }
    drop(at);
    sort_segments(&mut out, (0..groups).map(|g| start[g + 1] - start[g]), key);
    out
}

/// Sorts each segment of `idx` (consecutive, of lengths `lens`) by `key`, laid out beside
/// its indices; segments on every core, and a segment of more than a core's share on
/// every core by itself.
fn sort_segments<K: Ord + Send>(
    idx: &mut [u32],
    lens: impl Iterator<Item = usize>,
    key: impl Fn(usize) -> K + Sync,
) {
    use rayon::prelude::*;
    let big = (idx.len() / rayon::current_num_threads().max(1)).max(1 << 16);
    let mut segments: Vec<&mut [u32]> = Vec::new();
    let mut rest: &mut [u32] = idx;
    for len in lens {
        let (seg, tail) = std::mem::take(&mut rest).split_at_mut(len);
        if seg.len() > 1 {
            segments.push(seg);
        }
        rest = tail;
    }
    segments
        .par_iter_mut()
        .for_each_init(Vec::new, |keyed: &mut Vec<(K, u32)>, seg| {
            keyed.clear();
            keyed.extend(seg.iter().map(|&i| (key(i as usize), i)));
            if seg.len() >= big {
                keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
            } else {
                keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
            for (s, (_, i)) in seg.iter_mut().zip(keyed.drain(..)) {
                *s = i;
            }
            if keyed.capacity() > 1 << 16 {
                *keyed = Vec::new();
            }
        });
}

/// `scan` over positions `0..len` split into parts, on every core, its outputs in order.
/// For scans of the key-ordered figures: a part's first figure may continue a run of the
/// part before, which `scan` looks back for. Parts are of 65,536 figures;
/// `TRADEFLOW_TEST_PART` sets it for the tests, so that small data crosses parts.
fn in_parts<T: Send>(
    len: usize,
    scan: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    let part = test_part().unwrap_or(1 << 16);
    (0..len.div_ceil(part))
        .into_par_iter()
        .flat_map_iter(|k| scan(k * part..((k + 1) * part).min(len)))
        .collect()
}

/// The figures of a part, set by `TRADEFLOW_TEST_PART` for the tests.
fn test_part() -> Option<usize> {
    std::env::var("TRADEFLOW_TEST_PART")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
}

/// Each country code's rank in sorted order: by the figures' index of the code (a
/// lookup, no hashing), or by its text (a binary search).
struct Ranks {
    by_id: Vec<u32>,
    sorted: Vec<&'static str>,
}

impl Ranks {
    fn of(countries: &[&'static str]) -> Ranks {
        let mut sorted = countries.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let by_id = countries
            .iter()
            .map(|s| sorted.binary_search(s).unwrap_or_default() as u32)
            .collect();
        Ranks { by_id, sorted }
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.sorted.binary_search(&s).ok().map(|r| r as u32)
    }

    fn len(&self) -> usize {
        self.sorted.len()
    }
}

/// A reporter and a partner (their codes): the lists written in key order are kept by
/// the pair of their figures, as a bucket's findings are merged with the others'.
type Pair = (&'static str, &'static str);

/// A list in key order with the pair of each run of its items (a bucket's figures are in
/// key order, so each pair's items are one run): merged with the other buckets' lists by
/// pair, where a pair held with each item took 32 bytes more a finding (at 10M rows of
/// the peers' data, 276,638 year-on-year jumps).
#[derive(Debug)]
struct ByPair<T> {
    items: Vec<T>,
    /// Each run's pair and its first item.
    runs: Vec<(Pair, usize)>,
}

impl<T> Default for ByPair<T> {
    fn default() -> Self {
        ByPair {
            items: Vec::new(),
            runs: Vec::new(),
        }
    }
}

impl<T> ByPair<T> {
    fn push(&mut self, (pair, item): (Pair, T)) {
        if self.runs.last().is_none_or(|r| r.0 != pair) {
            self.runs.push((pair, self.items.len()));
        }
        self.items.push(item);
    }

    /// `other`'s items after these (its first run going on with the last one here when
    /// they are of one pair).
    fn append(&mut self, other: ByPair<T>) {
        let at = self.items.len();
        for (k, (pair, start)) in other.runs.into_iter().enumerate() {
            if k > 0 || self.runs.last().is_none_or(|r| r.0 != pair) {
                self.runs.push((pair, start + at));
            }
        }
        self.items.extend(other.items);
    }

    /// Every list's items, their runs in the order of their pairs (a pair's runs in the
    /// order of the lists): one list as it is.
    fn merged(lists: Vec<ByPair<T>>) -> Vec<T> {
        if lists.len() == 1 {
            return lists
                .into_iter()
                .next()
                .map(|l| l.items)
                .unwrap_or_default();
        }
        let mut runs: Vec<(Pair, Vec<T>)> = Vec::new();
        for mut l in lists {
            // each run cut off from the end
            let mut cut = Vec::new();
            for &(pair, start) in l.runs.iter().rev() {
                cut.push((pair, l.items.split_off(start)));
            }
            runs.extend(cut.into_iter().rev());
        }
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        runs.into_iter().flat_map(|(_, items)| items).collect()
    }
}

/// An annual series' years, judged for gaps once the first and last year of every clean
/// figure are known.
#[derive(Debug, Clone)]
struct Gap {
    reporter: &'static str,
    partner: &'static str,
    flow: Flow,
    first: i32,
    last: i32,
    /// The years between first and last with no figure.
    holes: Vec<i32>,
}

/// The key of a total row's parts, by text: table, reporter, flow, year and month (0 for
/// none), then the commodity (looked up by its text, no key made a total row).
type TotalKey = (u32, &'static str, u8, i32, u8);
type TotalSums = HashMap<TotalKey, HashMap<String, (usize, Decimal)>>;

/// What an expectation needs of the clean figures: the sums by flow of those it selects
/// (none where none has a value), and for a `complete` one which (partner, year, flow)
/// have a value.
#[derive(Debug, Default, Clone)]
struct Expected {
    sums: [Option<Decimal>; 4],
    found: BTreeSet<(&'static str, i32, Flow)>,
}

/// Adds `b` to a sum that may be none yet.
fn add_to(sum: &mut Option<Decimal>, b: Option<Decimal>) {
    if let Some(b) = b {
        *sum = Some(sum.map_or(b, |a| a + b));
    }
}

/// What validate finds within one bucket of figures, where every figure of a reporter and
/// partner pair, either way round, is in the same bucket: everything the checks within a
/// pair find, and what the checks over all figures need of these (sums, sets, years),
/// each list with what orders it among the other buckets' (the figure's raw index, its
/// source's precedence, its pair). [`finish`] makes the verdict of every bucket: a run of
/// one bucket is [`validate`]; the partitioned run has many.
#[derive(Debug, Default)]
pub struct Bucket {
    /// The bucket's clean figures (indices into its figures), sorted by key.
    pub clean: Vec<u32>,
    /// Flags set, as (figure of the bucket, flag) pairs.
    pub flags: Vec<(u32, flags::Flags)>,
    /// Figures validated.
    figures: usize,
    /// Normalise's rejects of the bucket's raw figures, in raw order.
    norm_rejects: Vec<Reject>,
    /// The figure rules' rejects, in raw order.
    judged: Vec<Reject>,
    /// Findings of missing_value, year_range, negative_value, implausible_value, by raw
    /// index.
    ruled: [Vec<(u32, Finding)>; 4],
    /// Conflicts, rejected, and figures superseded, by precedence and raw index.
    conflicts: Vec<((u32, u32), Reject, Finding)>,
    superseded: Vec<((u32, u32), Superseded)>,
    /// Findings of yoy_jump, repeated_value, equal_flows and mirror, by pair.
    paired: [ByPair<Finding>; 4],
    mirror: ByPair<MirrorGap>,
    gaps: ByPair<Gap>,
    /// The first and last year of the clean figures.
    years: Option<(i32, i32)>,
    /// The parts of the keys total rows name: (how many, their sum).
    sums: TotalSums,
    /// Reporter, partner, year and flow of the clean annual figures.
    present: BTreeSet<(&'static str, &'static str, i32, Flow)>,
    /// For each expectation, in order.
    expected: Vec<Expected>,
}

impl Bucket {
    /// The raw index of every figure the bucket rejects (normalise's rejects, the figure
    /// rules', conflicts): those whose texts the rejects file shows.
    pub fn rejected(&self) -> impl Iterator<Item = u32> + '_ {
        let conflicts = self.conflicts.iter().map(|(_, r, _)| r);
        self.norm_rejects
            .iter()
            .chain(&self.judged)
            .chain(conflicts)
            .map(|r| r.raw)
    }
}

/// A bucket's clean figures, sorted by key, and the flags validate set on its figures.
pub type Clean = (Vec<u32>, Vec<(u32, flags::Flags)>);

/// Validates normalised figures: one bucket of them all.
pub fn validate(norm: &Normalized, rules: &Rules, places: &Places<'_>) -> Verdict {
    let bucket = validate_bucket(norm, rules, places, &norm.aggregates);
    let (mut verdict, mut found) = finish(vec![bucket], &norm.aggregates, rules);
    if let Some((clean, flags)) = found.pop() {
        verdict.clean = clean;
        verdict.flags = flags;
    }
    verdict
}

/// What validate finds within one bucket of normalised figures (see [`Bucket`]); the
/// total rows of every bucket say which parts it sums.
pub fn validate_bucket(
    norm: &Normalized,
    rules: &Rules,
    places: &Places<'_>,
    aggregates: &[crate::normalize::Aggregate],
) -> Bucket {
    let f = &norm.figures;
    let n = f.len();
    let mut v = V {
        f,
        rules,
        places,
        rejects: Vec::new(),
        flags: Vec::new(),
        alive: Alive::all(n),
    };

    // figure rules
    let mut missing = v.check("missing_value");
    let mut range = v.check("year_range");
    let mut negative = v.check("negative_value");
    let mut implausible = v.check("implausible_value");
    let max = Decimal::try_from(rules.plausible_max_usd).unwrap_or(Decimal::MAX);
    let year_out = |i: usize| f.year.get(i) < rules.year_min || f.year.get(i) > rules.year_max;
    let negative_value = |x: Decimal| x.is_sign_negative() && !x.is_zero() && !rules.allow_negative;
    // the figures a rule below judges, found on every core (few: judged in order after);
    // a packed value within bounds is passed on its integers, without making its decimal
    let within = Within::new(max, rules.allow_negative);
    let judged: Vec<u32> = {
        use rayon::prelude::*;
        (0..n as u32)
            .into_par_iter()
            .filter(|&i| {
                let i = i as usize;
                year_out(i)
                    || !f.value.parts(i).is_some_and(|(m, s)| within.holds(m, s))
                        && f.value
                            .get(i)
                            .is_none_or(|x| negative_value(x) || x.abs() > max)
            })
            .collect()
    };
    for i in judged.into_iter().map(|i| i as usize) {
        if year_out(i) {
            let msg = format!(
                "year {} outside {}..{}",
                f.year.get(i),
                rules.year_min,
                rules.year_max
            );
            v.judge(&mut range, i, flags::OUT_OF_RANGE, msg);
        }
        if !v.alive.get(i) {
            continue;
        }
        match f.value.get(i) {
            None => v.judge(
                &mut missing,
                i,
                flags::MISSING,
                "the file marks the value missing: null, not zero".into(),
            ),
            Some(x) if negative_value(x) => v.judge(
                &mut negative,
                i,
                flags::NEGATIVE,
                format!("negative value {}", grouped(x)),
            ),
            Some(x) if x.abs() > max => v.judge(
                &mut implausible,
                i,
                flags::OUT_OF_RANGE,
                format!("{} is above the plausible {}", grouped(x), grouped(max)),
            ),
            _ => {}
        }
    }

    // every figure's key as integer ranks of its texts: grouping and sorting without
    // hashing or comparing strings
    let countries_rank = Ranks::of(&f.countries);
    // commodity texts are interned once each: their ranks come from sorting their
    // indices, with no map from text to rank (there can be as many as figures)
    let crank: Vec<u32> = {
        use rayon::slice::ParallelSliceMut;
        let mut ids: Vec<u32> = (0..f.commodities.len() as u32).collect();
        ids.par_sort_unstable_by_key(|&c| f.commodities.get(c));
        let mut crank = vec![0; ids.len()];
        for (rank, &c) in ids.iter().enumerate() {
            crank[c as usize] = rank as u32;
        }
        crank
    };
    // worked out where needed from the figures' columns, not held (20 bytes a figure)
    let kx = |i: usize| {
        (
            countries_rank.by_id[f.reporter[i] as usize],
            countries_rank.by_id[f.partner[i] as usize],
            f.flow[i] as u8,
            f.year.get(i),
            f.month.get(i).unwrap_or(0),
            crank[f.commodity.get(i) as usize],
        )
    };
    // the key's year, month and commodity
    let period = |i: usize| {
        (
            f.year.get(i),
            f.month.get(i).unwrap_or(0),
            crank[f.commodity.get(i) as usize],
        )
    };

    // uniqueness: the highest-precedence figure of a key wins. Sorted by key, then
    // precedence: the figures of one key are neighbours, the winner first
    // a figure's precedence is its table's: asked once per context, looked up per
    // figure (a column of them took 4 bytes a figure through the sort)
    let by_context: Vec<u32> = (0..places.place.context_count() as u32)
        .map(|k| {
            let c = places.place.context_at(k);
            let place = Place {
                table: c.table,
                row: 0,
                col: c.col,
            };
            (places.precedence)(place) as u32
        })
        .collect();
    let precedence = |i: usize| by_context[places.place.context_id(f.raw[i] as usize) as usize];
    // keys sort within each reporter x partner, grouped first by counting (as there are
    // no more ranks than countries, the groups are few); too many ranks: one group
    let ranks = countries_rank.len().max(1);
    let (groups, pair) = match ranks.checked_mul(ranks).filter(|&g| g <= 1 << 22) {
        Some(g) => (g, ranks),
        None => (1, 0),
    };
    let pair_of = |i: usize| {
        let rank = |c: u16| countries_rank.by_id[c as usize] as usize;
        rank(f.reporter[i]) * pair + rank(f.partner[i]) * (pair > 0) as usize
    };
    let alive = |i: usize| v.alive.get(i);
    // within a reporter x partner group the key's countries are the group's: the rest of
    // it, then precedence and raw index, packed in two integers where they fit (flow,
    // year, month and the commodity's rank in one, precedence and raw index in the other),
    // compared at once rather than field by field
    // (`TRADEFLOW_TEST_UNPACKED_KEYS` takes the keys field by field, for the tests)
    let period_packs = crank.len() <= 1 << 25
        && (0..n).all(|i| !alive(i) || f.month.get(i).unwrap_or(0) < 16)
        && std::env::var_os("TRADEFLOW_TEST_UNPACKED_KEYS").is_none();
    // a year as an unsigned integer of the same order
    let year_key = |y: i32| u64::from(y as u32 ^ 1 << 31);
    let order = if pair > 0 && period_packs {
        sorted_in_groups(n, alive, groups, pair_of, |i| {
            (
                (f.flow[i] as u64) << 61
                    | year_key(f.year.get(i)) << 29
                    | (f.month.get(i).unwrap_or(0) as u64) << 25
                    | crank[f.commodity.get(i) as usize] as u64,
                (precedence(i) as u64) << 32 | f.raw[i] as u64,
            )
        })
    } else {
        sorted_in_groups(n, alive, groups, pair_of, |i| {
            (kx(i), precedence(i), f.raw[i])
        })
    };
    let mut superseded: Vec<((u32, u32), Superseded)> = Vec::new();
    let mut conflicts: Vec<((u32, u32), Reject, Finding)> = Vec::new();
    // each figure whose key the one before it has, with the first of its key (the
    // winner), found in parts on every core: a part's first figure may continue a run
    // of the part before
    let mut losers: Vec<(usize, usize)> = {
        let at = |p: usize| order[p] as usize;
        in_parts(order.len(), |part| {
            let mut start = part.start;
            while start > 0 && kx(at(start - 1)) == kx(at(start)) {
                start -= 1;
            }
            let mut kept = (at(start), kx(at(start)));
            let mut losers = Vec::new();
            for p in part {
                let (i, key) = (at(p), kx(at(p)));
                if p > start && key == kept.1 {
                    losers.push((i, kept.0));
                } else {
                    kept = (i, key);
                }
            }
            losers
        })
    };
    // judged in precedence order, as the figures were read
    losers.sort_unstable_by_key(|&(i, _)| (precedence(i), f.raw[i]));
    for (i, k) in losers {
        let at = (precedence(i), f.raw[i]);
        if f.value.get(k) == f.value.get(i) {
            superseded.push((
                at,
                Superseded {
                    key: key_text(f, i),
                    value_usd: f.value.get(i).map(|x| x.to_string()),
                    source_ref: v.r(i),
                    kept: v.r(k),
                    raw: f.raw[i],
                },
            ));
            v.alive.kill(i);
        } else {
            let msg = format!(
                "{} here, {} at {} (kept)",
                show(f.value.get(i)),
                show(f.value.get(k)),
                v.r(k)
            );
            // a conflict can't be kept whatever its severity: two values for one key
            // would break the table's uniqueness
            v.alive.kill(i);
            let found = Finding::at(format!("{}: {msg}", key_text(f, i)), &[f.raw[i], f.raw[k]]);
            let reject = Reject {
                raw: f.raw[i],
                rule: "conflict",
                message: msg,
            };
            conflicts.push((at, reject, found));
        }
    }

    // by key: the survivors of the uniqueness pass, already in key order
    let mut clean = order;
    clean.retain(|&i| v.alive.get(i as usize));

    // the checks below only read the clean figures: they run side by side, each giving
    // its findings and the flags to set
    // the clean figures' runs of one reporter, partner and flow, in key order: within a
    // run, figures ordered by year, month and commodity. The two flows of a period, and a
    // flow and its mirror, are found by walking two runs side by side
    // each run of one reporter, partner and flow (their ranks) and where it is in `clean`
    type Runs = [((u32, u32, u8), std::ops::Range<usize>)];
    let runs: Vec<((u32, u32, u8), std::ops::Range<usize>)> = {
        let key = |at: usize| {
            let i = clean[at] as usize;
            let rank = |c: u16| countries_rank.by_id[c as usize];
            (rank(f.reporter[i]), rank(f.partner[i]), f.flow[i] as u8)
        };
        // where each run starts, found in parts on every core
        let starts: Vec<(usize, (u32, u32, u8))> = in_parts(clean.len(), |part| {
            let mut before = part.start.checked_sub(1).map(key);
            let mut starts = Vec::new();
            for at in part {
                let k = key(at);
                if before != Some(k) {
                    starts.push((at, k));
                }
                before = Some(k);
            }
            starts
        });
        starts
            .iter()
            .enumerate()
            .map(|(j, &(at, k))| (k, at..starts.get(j + 1).map_or(clean.len(), |s| s.0)))
            .collect()
    };
    let run = |key: (u32, u32, u8)| -> &[u32] {
        runs.binary_search_by(|(k, _)| k.cmp(&key))
            .map_or(&[][..], |at| &clean[runs[at].1.clone()])
    };
    let series_pass = || {
        // time series, per reporter x partner x flow x month x commodity: contiguous runs once
        // the clean figures are ordered by series, then year
        let (mut jumps, mut repeated, mut gaps) =
            (ByPair::default(), ByPair::default(), ByPair::default());
        // each run of one reporter, partner and flow (ordered by year, month, commodity)
        // ordered by month, commodity and year instead, a part of runs at a time
        let by_series = |runs: &Runs| -> Vec<u32> {
            let (lo, hi) = match (runs.first(), runs.last()) {
                (Some(a), Some(b)) => (a.1.start, b.1.end),
                _ => (0, 0),
            };
            let mut part = clean[lo..hi].to_vec();
            let lens = runs.iter().map(|(_, r)| r.len());
            if period_packs {
                // month, commodity rank and year in one integer (see the key order above)
                sort_segments(&mut part, lens, |i| {
                    let (y, m, c) = period(i);
                    (m as u64) << 57 | (c as u64) << 32 | year_key(y)
                });
            } else {
                sort_segments(&mut part, lens, |i| {
                    let (y, m, c) = period(i);
                    (m, c, y)
                });
            }
            part
        };
        let factor = Decimal::try_from(rules.jump_factor).unwrap_or(Decimal::TWO);
        // a commodity's index stands for one text (a country's code may be held twice)
        let same_series = |a: usize, b: usize| {
            let r = |c: u16| countries_rank.by_id[c as usize];
            (
                r(f.reporter[a]),
                r(f.partner[a]),
                f.flow[a],
                f.month.get(a),
                f.commodity.get(a),
            ) == (
                r(f.reporter[b]),
                r(f.partner[b]),
                f.flow[b],
                f.month.get(b),
                f.commodity.get(b),
            )
        };
        let (jumps_at, repeated_at, gaps_at) = (
            rules.severity("yoy_jump"),
            rules.severity("repeated_value"),
            rules.severity("series_gap"),
        );
        // the findings and flags of the series in `part` (whole series), in order
        let scan = |part: &[u32]| {
            let (mut jumps, mut repeated, mut gaps) =
                (ByPair::default(), ByPair::default(), ByPair::default());
            let mut fl: Vec<(u32, flags::Flags)> = Vec::new();
            // one series' indices at a time, widened for indexing
            let mut series: Vec<usize> = Vec::new();
            let mut start = 0;
            while start < part.len() {
                let mut end = start + 1;
                while end < part.len() && same_series(part[start] as usize, part[end] as usize) {
                    end += 1;
                }
                series.clear();
                series.extend(part[start..end].iter().map(|&i| i as usize));
                let idx = &series[..];
                start = end;
                let first = idx[0];
                let k = (
                    f.reporter(first),
                    f.partner(first),
                    f.flow[first],
                    f.month.get(first),
                );
                for w in idx.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let (Some(va), Some(vb)) = (f.value.get(a), f.value.get(b)) else {
                        continue;
                    };
                    if f.year.get(b) != f.year.get(a) + 1
                        || va <= Decimal::ZERO
                        || vb <= Decimal::ZERO
                        || jumps_at == Severity::Off
                    {
                        continue;
                    }
                    let (hi, lo) = if vb > va { (vb, va) } else { (va, vb) };
                    if hi > lo * factor {
                        let ratio = (vb / va).round_dp(2);
                        jumps.push((
                            (k.0, k.1),
                            Finding::at(
                                format!(
                                    "{} {} {} {} -> {}: {} -> {} (x{ratio})",
                                    k.0,
                                    k.1,
                                    k.2,
                                    f.year.get(a),
                                    f.year.get(b),
                                    grouped(va),
                                    grouped(vb)
                                ),
                                &[f.raw[a], f.raw[b]],
                            ),
                        ));
                        fl.push((a as u32, flags::JUMP));
                        fl.push((b as u32, flags::JUMP));
                    }
                }
                let run = rules.repeat_run;
                if repeated_at != Severity::Off && idx.len() >= run {
                    for w in idx.windows(run) {
                        let consecutive = w
                            .windows(2)
                            .all(|p| f.year.get(p[1]) == f.year.get(p[0]) + 1);
                        let same = w.iter().all(|&i| {
                            f.value.get(i).is_some() && f.value.get(i) == f.value.get(w[0])
                        });
                        if consecutive && same {
                            repeated.push((
                                (k.0, k.1),
                                Finding::at(
                                    format!(
                                        "{} {} {}: {} in every year {}-{}",
                                        k.0,
                                        k.1,
                                        k.2,
                                        show(f.value.get(w[0])),
                                        f.year.get(w[0]),
                                        f.year.get(w[run - 1])
                                    ),
                                    &w.iter().map(|&i| f.raw[i]).collect::<Vec<_>>(),
                                ),
                            ));
                            for &i in w {
                                fl.push((i as u32, flags::REPEATED));
                            }
                        }
                    }
                }
                if gaps_at != Severity::Off && k.3.is_none() {
                    let years: BTreeSet<i32> = idx.iter().map(|&i| f.year.get(i)).collect();
                    let (lo, hi) = (*years.first().unwrap_or(&0), *years.last().unwrap_or(&0));
                    // judged once the first and last year of every figure are known
                    let gap = Gap {
                        reporter: k.0,
                        partner: k.1,
                        flow: k.2,
                        first: lo,
                        last: hi,
                        holes: (lo..=hi).filter(|y| !years.contains(y)).collect(),
                    };
                    gaps.push(((k.0, k.1), gap));
                }
            }
            (jumps, repeated, gaps, fl)
        };
        // whole runs (so whole series) cut into a few parts a core, each ordered by series
        // and scanned on every core, joined in order: only the parts in hand are held in
        // series order, where a copy of every clean figure's index took 4 bytes a figure
        let parts = {
            use rayon::prelude::*;
            let want = (4 * rayon::current_num_threads()).max(1);
            let step = test_part().unwrap_or((clean.len() / want).max(1 << 12));
            let mut cuts = vec![0];
            let mut held = 0;
            for (j, (_, r)) in runs.iter().enumerate() {
                held += r.len();
                if held >= step {
                    cuts.push(j + 1);
                    held = 0;
                }
            }
            if cuts.last() != Some(&runs.len()) {
                cuts.push(runs.len());
            }
            cuts.par_windows(2)
                .flat_map_iter(|w| {
                    let part = by_series(&runs[w[0]..w[1]]);
                    // a part longer than a step (one long run) is scanned in pieces on
                    // every core, cut between series
                    let mut pieces = vec![0];
                    let mut at = step;
                    while at < part.len() {
                        while at < part.len()
                            && same_series(part[at - 1] as usize, part[at] as usize)
                        {
                            at += 1;
                        }
                        if at < part.len() {
                            pieces.push(at);
                        }
                        at += step;
                    }
                    pieces.push(part.len());
                    pieces
                        .par_windows(2)
                        .map(|c| scan(&part[c[0]..c[1]]))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let mut fl: Vec<(u32, flags::Flags)> = Vec::new();
        for (j, r, g, f) in parts {
            jumps.append(j);
            repeated.append(r);
            gaps.append(g);
            fl.extend(f);
        }
        (jumps, repeated, gaps, fl)
    };

    // each export run with the import run `other` names for its (reporter, partner)
    let export_runs = |other: &dyn Fn(u32, u32) -> (u32, u32, u8),
                       each: &mut dyn FnMut(usize, usize)| {
        for (key, r) in &runs {
            if key.2 == Flow::Export as u8 {
                same_period(
                    &clean[r.clone()],
                    run(other(key.0, key.1)),
                    period,
                    &mut *each,
                );
            }
        }
    };

    let equal_pass = || {
        let mut fl: Vec<(u32, flags::Flags)> = Vec::new();
        // the two flows of a period are equal: often a copy error
        let mut equal = ByPair::default();
        if rules.severity("equal_flows") != Severity::Off {
            let imports = |r, p| (r, p, Flow::Import as u8);
            export_runs(&imports, &mut |e, m| {
                if f.value.get(e).is_some()
                    && f.value.get(e) == f.value.get(m)
                    && !f.value.get(e).unwrap_or_default().is_zero()
                {
                    let pair = (f.reporter(e), f.partner(e));
                    equal.push((
                        pair,
                        Finding::at(
                            format!(
                                "{} {} {}: exports and imports are both {}",
                                f.reporter(e),
                                f.partner(e),
                                f.year.get(e),
                                show(f.value.get(e))
                            ),
                            &[f.raw[e], f.raw[m]],
                        ),
                    ));
                    fl.push((e as u32, flags::EQUAL_FLOWS));
                    fl.push((m as u32, flags::EQUAL_FLOWS));
                }
            });
        }
        (equal, fl)
    };

    let mirror_pass = || {
        let mut fl: Vec<(u32, flags::Flags)> = Vec::new();
        let mut rows = ByPair::default();
        // mirror statistics: A's exports to B against B's imports from A
        let mut mirror = ByPair::default();
        let mirror_at = rules.severity("mirror");
        let mirrors = |r, p| (p, r, Flow::Import as u8);
        export_runs(&mirrors, &mut |i, j| {
            let (Some(x), Some(m)) = (f.value.get(i), f.value.get(j)) else {
                return;
            };
            if x.is_zero() {
                return;
            }
            let gap = (m / x).to_f64().unwrap_or(f64::NAN) - 1.0;
            let within = gap >= rules.mirror_band.0 && gap <= rules.mirror_band.1;
            let pair = (f.reporter(i), f.partner(i));
            rows.push((
                pair,
                MirrorGap {
                    exporter: f.reporter(i),
                    importer: f.partner(i),
                    year: f.year.get(i),
                    month: f.month.get(i),
                    exports_usd: x.to_string(),
                    imports_usd: m.to_string(),
                    gap,
                    within_band: within,
                },
            ));
            if !within && mirror_at != Severity::Off {
                mirror.push((pair, Finding::at(format!(
                    "{} exports to {} {}: {} against {}'s imports {} (gap {:+.1}%, band {:+.0}%..{:+.0}%)",
                    f.reporter(i),
                    f.partner(i),
                    f.year.get(i),
                    grouped(x),
                    f.partner(i),
                    grouped(m),
                    gap * 100.0,
                    rules.mirror_band.0 * 100.0,
                    rules.mirror_band.1 * 100.0
                ), &[f.raw[i], f.raw[j]])));
                fl.push((i as u32, flags::MIRROR_GAP));
                fl.push((j as u32, flags::MIRROR_GAP));
            }
        });
        (mirror, rows, fl)
    };
    let ((series, equal), mirror) =
        rayon::join(|| rayon::join(series_pass, equal_pass), mirror_pass);
    let ((jumps, repeated, gaps, fl_series), (equal, fl_equal), (mirror, mirror_rows, fl_mirror)) =
        (series, equal, mirror);
    v.flags
        .extend(fl_series.into_iter().chain(fl_equal).chain(fl_mirror));

    // totals: a sum row against the parts of the same table
    // the parts of each table, summed once, for the keys a total row names: (table,
    // reporter, flow, year, month, commodity), the texts as their ranks -> (how many
    // parts, their sum)
    type Sums = HashMap<(u32, u32, u8, i32, u8, u32), (usize, Decimal)>;
    let agg_key = |a: &crate::normalize::Aggregate| -> Option<(u32, u32, u8, i32, u8, u32)> {
        Some((
            a.table,
            countries_rank.get(a.reporter?)?,
            a.flow? as u8,
            a.year?,
            a.month.unwrap_or(0),
            crank[f.commodities.find(&a.commodity)? as usize],
        ))
    };
    let mut parts: Sums = aggregates
        .iter()
        .filter_map(agg_key)
        .map(|k| (k, (0, Decimal::ZERO)))
        .collect();
    if !parts.is_empty() && rules.severity("totals") != Severity::Off {
        // the clean figures in the order they were read, not by key, on every core: a
        // sum does not depend on the order (exact decimals), and the columns are read
        // straight through rather than at random
        use rayon::prelude::*;
        let add = |sums: &mut Sums, k, (count, sum): (usize, Decimal)| {
            let e = sums.entry(k).or_insert((0, Decimal::ZERO));
            e.0 += count;
            e.1 += sum;
        };
        let alive = &v.alive;
        // a figure is a part only of a total of its own commodity: most are turned away
        // by an array look-up before their key is made and hashed
        let mut wanted = vec![false; crank.len()];
        for k in parts.keys() {
            wanted[k.5 as usize] = true;
        }
        let sums = (0..n)
            .into_par_iter()
            .filter(|&i| alive.get(i) && wanted[crank[f.commodity.get(i) as usize] as usize])
            .fold(Sums::default, |mut sums, i| {
                let k = kx(i);
                let k = (
                    places.place.get(f.raw[i] as usize).table,
                    k.0,
                    k.2,
                    k.3,
                    k.4,
                    k.5,
                );
                if parts.contains_key(&k) {
                    add(&mut sums, k, (1, f.value.get(i).unwrap_or_default()));
                }
                sums
            })
            .reduce(Sums::default, |mut a, b| {
                for (k, e) in b {
                    add(&mut a, k, e);
                }
                a
            });
        for (k, e) in sums {
            add(&mut parts, k, e);
        }
    }
    // the keys with parts, by their texts (the ranks are this bucket's)
    let mut sums = TotalSums::default();
    if parts.values().any(|p| p.0 > 0) {
        let mut by_rank = vec![0u32; crank.len()];
        for (c, &rank) in crank.iter().enumerate() {
            by_rank[rank as usize] = c as u32;
        }
        for (k, p) in parts.into_iter().filter(|(_, p)| p.0 > 0) {
            let commodity = f.commodities.get(by_rank[k.5 as usize]).unwrap_or("TOTAL");
            let reporter = countries_rank.sorted[k.1 as usize];
            sums.entry((k.0, reporter, k.2, k.3, k.4))
                .or_default()
                .insert(commodity.to_string(), p);
        }
    }

    // coverage: which reporter x partner x year x flow have a clean annual figure
    let present: BTreeSet<(&'static str, &'static str, i32, Flow)> = clean
        .iter()
        .map(|&i| i as usize)
        .filter(|&i| f.month.get(i).is_none())
        .map(|i| (f.reporter(i), f.partner(i), f.year.get(i), f.flow[i]))
        .collect();
    let expected = rules
        .expectations
        .iter()
        .map(|e| expected(f, &clean, e))
        .collect();
    // the first and last year of the clean figures (a set of every figure's year took a
    // sixth of the series pass)
    let years = clean
        .iter()
        .map(|&i| f.year.get(i as usize))
        .fold(None, |span: Option<(i32, i32)>, y| {
            Some(span.map_or((y, y), |(lo, hi)| (lo.min(y), hi.max(y))))
        });
    let ruled = [missing, range, negative, implausible].map(|c| {
        c.findings
            .into_iter()
            .map(|found| (found.first_raw(), found))
            .collect()
    });
    Bucket {
        figures: n,
        norm_rejects: norm.rejects.clone(),
        judged: v.rejects,
        ruled,
        conflicts,
        superseded,
        paired: [jumps, repeated, equal, mirror],
        mirror: mirror_rows,
        gaps,
        years,
        sums,
        present,
        expected,
        flags: v.flags,
        clean,
    }
}

/// The verdict of every bucket's findings (see [`Bucket`]): their lists merged in the
/// order one bucket of every figure lists them, and the checks over every figure (totals,
/// coverage, gaps, expectations, the rejected share) made from what each bucket summed.
/// `aggregates` are every bucket's total rows, in raw order. Gives back each bucket's clean
/// figures and flags, as the verdict's are for one bucket.
pub fn finish(
    buckets: Vec<Bucket>,
    aggregates: &[crate::normalize::Aggregate],
    rules: &Rules,
) -> (Verdict, Vec<Clean>) {
    // one bucket's list as it is; many merged by what orders them (stable: a figure's
    // entries stay in the order they were made)
    fn merged<K: Ord, T>(lists: Vec<Vec<(K, T)>>) -> Vec<T> {
        let all = if lists.len() == 1 {
            lists.into_iter().next().unwrap_or_default()
        } else {
            let mut all: Vec<(K, T)> = lists.into_iter().flatten().collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        all.into_iter().map(|(_, t)| t).collect()
    }
    let n: usize = buckets.iter().map(|b| b.figures).sum();
    let years = buckets
        .iter()
        .filter_map(|b| b.years)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let mut sums = TotalSums::default();
    let mut present = BTreeSet::new();
    let mut expected = vec![Expected::default(); rules.expectations.len()];
    let (mut norm_rejects, mut judged, mut ruled) =
        (Vec::new(), Vec::new(), [(); 4].map(|_| Vec::new()));
    let (mut conflicts, mut superseded) = (Vec::new(), Vec::new());
    let (mut paired, mut mirror_rows, mut gap_lists) =
        ([(); 4].map(|_| Vec::new()), Vec::new(), Vec::new());
    let mut found = Vec::with_capacity(buckets.len());
    for b in buckets {
        norm_rejects.push(
            b.norm_rejects
                .into_iter()
                .map(|r| (r.raw, r))
                .collect::<Vec<_>>(),
        );
        judged.push(b.judged.into_iter().map(|r| (r.raw, r)).collect::<Vec<_>>());
        for (to, from) in ruled.iter_mut().zip(b.ruled) {
            to.push(from);
        }
        conflicts.push(
            b.conflicts
                .into_iter()
                .map(|(at, r, f)| (at, (r, f)))
                .collect::<Vec<_>>(),
        );
        superseded.push(b.superseded);
        for (to, from) in paired.iter_mut().zip(b.paired) {
            to.push(from);
        }
        mirror_rows.push(b.mirror);
        gap_lists.push(b.gaps);
        for (k, by_commodity) in b.sums {
            let to = sums.entry(k).or_default();
            for (c, (count, sum)) in by_commodity {
                let e = to.entry(c).or_insert((0, Decimal::ZERO));
                e.0 += count;
                e.1 += sum;
            }
        }
        present.extend(b.present);
        for (to, from) in expected.iter_mut().zip(b.expected) {
            for (sum, part) in to.sums.iter_mut().zip(from.sums) {
                add_to(sum, part);
            }
            to.found.extend(from.found);
        }
        found.push((b.clean, b.flags));
    }
    let norm_rejects: Vec<Reject> = merged(norm_rejects);
    let check = |id: &'static str, findings: Vec<Finding>| Check {
        findings,
        ..check_of(rules, id)
    };
    // checks by their ids, each with its list
    let checks = |ids: [&'static str; 4], lists: [Vec<Finding>; 4]| {
        let mut lists = lists.into_iter();
        ids.map(|id| check(id, lists.next().unwrap_or_default()))
    };
    let [missing, range, negative, implausible] = checks(
        [
            "missing_value",
            "year_range",
            "negative_value",
            "implausible_value",
        ],
        ruled.map(merged),
    );
    // normalise's rejects first: the parse check lists them from there
    let normalised = norm_rejects.len();
    let mut verdict = Verdict {
        rejects: norm_rejects,
        ..Default::default()
    };
    verdict.rejects.extend(merged(judged));
    let mut conflict_found = Vec::new();
    for (r, found) in merged(conflicts) {
        verdict.rejects.push(r);
        conflict_found.push(found);
    }
    let conflicts = check("conflict", conflict_found);
    verdict.superseded = merged(superseded);
    let mut dups = Check {
        id: "duplicates",
        severity: Severity::Info,
        description:
            "the same figure from more than one source: one is kept, the others superseded",
        findings: vec![],
    };
    if !verdict.superseded.is_empty() {
        dups.findings.push(Finding::new(
            format!(
                "{} figures repeat a figure of a higher-precedence source with the same value",
                verdict.superseded.len()
            ),
            vec![],
        ));
    }
    let [jumps, repeated, equal, mirror] = checks(
        ["yoy_jump", "repeated_value", "equal_flows", "mirror"],
        paired.map(ByPair::merged),
    );
    verdict.mirror = ByPair::merged(mirror_rows);

    // series gaps, against the first and last year of every clean figure
    let mut gaps = check("series_gap", Vec::new());
    let (first_year, last_year) = (years.map(|y| y.0), years.map(|y| y.1));
    for g in ByPair::merged(gap_lists) {
        let (lo, hi) = (g.first, g.last);
        let mut what = Vec::new();
        if !g.holes.is_empty() {
            let holes: Vec<String> = g.holes.iter().map(|y| y.to_string()).collect();
            what.push(format!("no figure for {}", holes.join(", ")));
        }
        if let Some(m) = last_year.filter(|&m| hi < m) {
            what.push(format!("stops in {hi} while the data runs to {m}"));
        }
        if let Some(m) = first_year.filter(|&m| lo > m) {
            what.push(format!("starts in {lo} while the data starts in {m}"));
        }
        if !what.is_empty() {
            gaps.findings.push(Finding::new(
                format!(
                    "{} {} {}: {}",
                    g.reporter,
                    g.partner,
                    g.flow,
                    what.join("; ")
                ),
                vec![],
            ));
        }
    }

    // totals: each total row against the sum of its parts in every bucket
    let mut totals = check("totals", Vec::new());
    let mut listed = Check {
        id: "aggregates",
        severity: Severity::Info,
        description:
            "rows that are sums over partners (regions, Total), once per name: read, kept out of the clean table",
        findings: vec![],
    };
    // listed once per distinct name, with how many rows bear it
    let mut named: std::collections::HashMap<&str, usize> = Default::default();
    for a in aggregates {
        let n = named.len();
        let k = *named.entry(a.label.as_str()).or_insert(n);
        if k == n && listed.findings.len() < MAX_LISTED {
            listed
                .findings
                .push(Finding::at(format!("{:?}", a.label), &[a.raw]));
        }
    }
    for a in aggregates {
        let (Some(total), Some(rep), Some(flow), Some(year)) =
            (a.value_usd, a.reporter, a.flow, a.year)
        else {
            continue;
        };
        let key = (a.table, rep, flow as u8, year, a.month.unwrap_or(0));
        let parts = sums.get(&key).and_then(|by| by.get(a.commodity.as_str()));
        let Some(&(count, sum)) = parts.filter(|p| p.0 > 0) else {
            continue;
        };
        let tol = Decimal::try_from(rules.total_tolerance).unwrap_or_default() * total.abs();
        if (sum - total).abs() > tol {
            totals.findings.push(Finding::at(
                format!(
                    "{rep} {flow} {year}: the {count} partners add up to {}, the {:?} row says {}",
                    grouped(sum),
                    a.label,
                    grouped(total)
                ),
                &[a.raw],
            ));
        }
    }

    // coverage: the matrix the config declares, else every partner x year seen
    let mut coverage = check("coverage", Vec::new());
    let (reporters, partners, years, flows): (Vec<&str>, Vec<String>, (i32, i32), Vec<Flow>) =
        match &rules.coverage {
            Some(c) => {
                let reps: Vec<&str> = match &c.reporter {
                    Some(r) => vec![present
                        .iter()
                        .map(|p| p.0)
                        .find(|x| x == r)
                        .unwrap_or(r.as_str())],
                    None => present
                        .iter()
                        .map(|p| p.0)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                };
                (reps, c.partners.clone(), c.years, c.flows.clone())
            }
            None => {
                let reps: Vec<&str> = present
                    .iter()
                    .map(|p| p.0)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let pars: Vec<String> = present
                    .iter()
                    .map(|p| p.1.to_string())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let ys = (
                    present.iter().map(|p| p.2).min().unwrap_or(0),
                    present.iter().map(|p| p.2).max().unwrap_or(-1),
                );
                (reps, pars, ys, vec![Flow::Export, Flow::Import])
            }
        };
    for rep in &reporters {
        for par in &partners {
            let mut missing_here = Vec::new();
            for y in years.0..=years.1 {
                for &fl in &flows {
                    let has = present.contains(&(*rep, par.as_str(), y, fl));
                    verdict.coverage.push((par.clone(), y, fl, has));
                    if !has {
                        missing_here.push(format!("{fl} {y}"));
                    }
                }
            }
            if !missing_here.is_empty() && coverage.severity != Severity::Off {
                let all =
                    missing_here.len() == flows.len() * (years.1 - years.0 + 1).max(0) as usize;
                let what = if all {
                    format!("no figures at all for {}-{}", years.0, years.1)
                } else {
                    format!("missing {}", missing_here.join(", "))
                };
                coverage
                    .findings
                    .push(Finding::new(format!("{rep} {par}: {what}"), vec![]));
            }
        }
    }

    // expectations
    let mut expect = check("expectations", Vec::new());
    for (e, x) in rules.expectations.iter().zip(&expected) {
        let res = expectation(e, x);
        if !res.passed && e.severity != Severity::Off {
            expect
                .findings
                .push(Finding::new(format!("{}: {}", e.name, res.detail), vec![]));
        }
        verdict.expectations.push(res);
    }

    // what normalise rejected, by rule
    let mut parse = Check {
        id: "parse",
        severity: Severity::Error,
        description:
            "figures that could not be read: unknown countries, flows, years, units, numbers",
        findings: vec![],
    };
    for rj in verdict.rejects[..normalised].iter().take(MAX_LISTED) {
        parse.findings.push(Finding::at(
            format!("{}: {}", rj.rule, rj.message),
            &[rj.raw],
        ));
    }
    let distinct = named.len();
    for (c, total) in [(&mut parse, normalised), (&mut listed, distinct)] {
        if total > MAX_LISTED {
            c.findings.push(Finding::new(
                format!(
                    "... and {} more (every one is in rejects.csv or report.json's aggregates)",
                    total - MAX_LISTED
                ),
                vec![],
            ));
        }
    }

    // the verdict: the circuit breaker on rejected figures, then failed error-level checks
    let rejected = verdict.rejects.len();
    let read = n + normalised;
    let mut tolerance = Check {
        id: "tolerance",
        severity: Severity::Error,
        description: "rejected figures within max_rejected / max_rejected_share",
        findings: vec![],
    };
    let share = if read == 0 {
        0.0
    } else {
        rejected as f64 / read as f64
    };
    let mut failure = None;
    if let Some(m) = rules.max_rejected.filter(|m| rejected > *m) {
        failure = Some(format!(
            "{rejected} figures rejected, more than max_rejected = {m}"
        ));
    } else if share > rules.max_rejected_share {
        failure = Some(format!(
            "{rejected} of {read} figures rejected ({:.1}%), more than max_rejected_share = {}",
            share * 100.0,
            rules.max_rejected_share
        ));
    }
    // each expectation carries its own severity
    if let Some(e) = verdict
        .expectations
        .iter()
        .find(|e| !e.passed && e.severity == Severity::Error)
    {
        if failure.is_none() && expect.severity != Severity::Off {
            failure = Some(format!("expectation failed: {}: {}", e.name, e.detail));
        }
    }
    for c in [
        &totals, &coverage, &repeated, &gaps, &jumps, &equal, &mirror,
    ] {
        if c.severity == Severity::Error && !c.findings.is_empty() && failure.is_none() {
            failure = Some(format!(
                "check {} found {} problem(s) and its severity is error: {}",
                c.id,
                c.findings.len(),
                c.findings[0].message()
            ));
        }
    }
    if let Some(why) = &failure {
        tolerance.findings.push(Finding::new(why.clone(), vec![]));
    }
    verdict.failure = failure;
    verdict.checks = vec![
        tolerance,
        parse,
        missing,
        range,
        negative,
        implausible,
        conflicts,
        expect,
        totals,
        coverage,
        mirror,
        jumps,
        equal,
        repeated,
        gaps,
        dups,
        listed,
    ];
    (verdict, found)
}

/// Calls `each` with every pair of figures of `a` and `b` (runs ordered by `key`, each key
/// at most once in a run) that share a key, in `a`'s order: a walk of both, no search.
fn same_period<K: Ord>(
    a: &[u32],
    b: &[u32],
    key: impl Fn(usize) -> K,
    each: &mut dyn FnMut(usize, usize),
) {
    let mut j = 0;
    for i in a.iter().map(|&i| i as usize) {
        let k = key(i);
        while j < b.len() && key(b[j] as usize) < k {
            j += 1;
        }
        if j < b.len() && key(b[j] as usize) == k {
            each(i, b[j] as usize);
        }
    }
}

/// What expectation `e` needs of a bucket's clean figures: the sums by flow of the annual
/// `TOTAL` figures it selects, or for a `complete` one the (partner, year, flow) of its
/// partners and years that have a value.
fn expected(f: &Figures, clean: &[u32], e: &crate::config::Expectation) -> Expected {
    let mut x = Expected::default();
    let reporter = |i: usize| e.reporter.as_deref().is_none_or(|r| f.reporter(i) == r);
    if let ExpectKind::Complete { partners, years } = &e.kind {
        for i in clean.iter().map(|&i| i as usize) {
            let y = f.year.get(i);
            if y < years.0 || y > years.1 || f.value.get(i).is_none() || !reporter(i) {
                continue;
            }
            if partners.iter().any(|p| p == f.partner(i)) {
                x.found.insert((f.partner(i), y, f.flow[i]));
            }
        }
        return x;
    }
    let matches = |i: usize| {
        reporter(i)
            && e.partner.as_deref().is_none_or(|p| f.partner(i) == p)
            && e.year.is_none_or(|y| f.year.get(i) == y)
            && f.month.get(i).is_none()
            && f.commodity_str(i) == "TOTAL"
    };
    for i in clean.iter().map(|&i| i as usize).filter(|&i| matches(i)) {
        add_to(&mut x.sums[f.flow[i] as usize], f.value.get(i));
    }
    x
}

/// Expectation `e` judged on what every bucket found of it.
fn expectation(e: &crate::config::Expectation, x: &Expected) -> ExpectationResult {
    let sum = |flow: Flow| x.sums[flow as usize];
    let result = |passed: bool, detail: String| ExpectationResult {
        name: e.name.clone(),
        severity: e.severity,
        passed,
        detail,
    };
    let actual = match &e.kind {
        ExpectKind::Complete { partners, years } => {
            let mut missing = Vec::new();
            for p in partners {
                for y in years.0..=years.1 {
                    for fl in [Flow::Export, Flow::Import] {
                        let has = x.found.iter().any(|&(q, z, g)| q == p && z == y && g == fl);
                        if !has {
                            missing.push(format!("{p} {fl} {y}"));
                        }
                    }
                }
            }
            return if missing.is_empty() {
                result(
                    true,
                    format!(
                        "all {} partners have both flows in {}-{}",
                        partners.len(),
                        years.0,
                        years.1
                    ),
                )
            } else {
                let n = missing.len();
                let shown: Vec<String> = missing.into_iter().take(12).collect();
                result(
                    false,
                    format!(
                        "{n} missing: {}{}",
                        shown.join(", "),
                        if n > 12 { ", ..." } else { "" }
                    ),
                )
            };
        }
        ExpectKind::Value(flow) => sum(*flow),
        ExpectKind::Volume => match (sum(Flow::Export), sum(Flow::Import)) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        },
        ExpectKind::Balance => match (sum(Flow::Export), sum(Flow::Import)) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        },
    };
    let Some(expected) = e.equals else {
        return result(false, "no `equals` to compare with".into());
    };
    match actual {
        None => result(
            false,
            format!("no figures to compare with {}", grouped(expected)),
        ),
        Some(a) => {
            let tol = Decimal::try_from(e.within).unwrap_or_default() * expected.abs();
            let diff = a - expected;
            let pct = if expected.is_zero() {
                0.0
            } else {
                (diff / expected).to_f64().unwrap_or(0.0) * 100.0
            };
            let detail = format!(
                "actual {} against expected {} within {}%: off by {:+.2}%",
                grouped(a),
                grouped(expected),
                e.within * 100.0,
                pct
            );
            result(diff.abs() <= tol, detail)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_period_pairs_the_figures_of_two_runs_with_one_key_in_order() {
        // runs of figure indices ordered by their key (here: the key of index i is key[i])
        let key = [1, 3, 4, 7, 9, 2, 3, 7, 8, 9, 10];
        let a = [0u32, 1, 2, 3, 4];
        let b = [5u32, 6, 7, 8, 9, 10];
        let mut pairs = Vec::new();
        super::same_period(&a, &b, |i| key[i], &mut |i, j| pairs.push((i, j)));
        assert_eq!(pairs, [(1, 6), (3, 7), (4, 9)]);
        // against an empty run, or one all below or all above: none
        for b in [&[][..], &[5][..], &[10][..]] {
            let mut none = Vec::new();
            super::same_period(&a[..2], b, |i| key[i], &mut |i, j| none.push((i, j)));
            assert!(none.is_empty(), "{b:?}: {none:?}");
        }
    }

    use super::*;

    #[test]
    fn lists_by_pair_merge_in_the_order_of_their_pairs() {
        let (ak, at, ka) = (("AZE", "KAZ"), ("AZE", "TUR"), ("KAZ", "AZE"));
        // a bucket's list made in two parts, the second going on with the first's pair
        let mut one = ByPair::default();
        one.push((ak, 1));
        one.push((ka, 2));
        let mut rest = ByPair::default();
        rest.push((ka, 3));
        rest.push((ka, 4));
        one.append(rest);
        assert_eq!(one.runs, [(ak, 0), (ka, 1)]);
        let mut two = ByPair::default();
        two.push((at, 5));
        // as it is alone; with another, each pair's run in the order of pairs
        let alone = ByPair::merged(vec![std::mem::take(&mut two)]);
        assert_eq!(alone, [5]);
        two.push((at, 5));
        assert_eq!(ByPair::merged(vec![one, two]), [1, 5, 2, 3, 4]);
        assert!(ByPair::<u8>::merged(vec![]).is_empty());
    }

    #[test]
    fn a_value_within_on_integers_is_within_as_a_decimal() {
        use proptest::prelude::*;
        let bounds = prop::sample::select(vec![
            Decimal::new(1_000_000_000_000, 0),
            Decimal::new(123_456_789, 3),
            Decimal::new(5, 28),
            Decimal::new(1, 0),
            Decimal::ZERO,
            Decimal::MAX,
            Decimal::new(-5, 1),
            Decimal::from_parts(0, 0, 0, true, 3),
        ]);
        let mantissas = prop_oneof![
            -(1i64 << 56)..(1i64 << 56),
            -1000i64..1000,
            prop::sample::select(vec![0i64, 1, -1, (1 << 56) - 1, -((1 << 56) - 1)]),
        ];
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(20_000));
        runner
            .run(
                &(bounds, mantissas, 0u32..=28, any::<bool>()),
                |(max, m, s, neg)| {
                    let w = Within::new(max, neg);
                    let x = Decimal::new(m, s);
                    // as the rules judge it: negative (unless allowed) or above the bound
                    let negative = x.is_sign_negative() && !x.is_zero() && !neg;
                    let exact = !negative && x.abs() <= max;
                    prop_assert_eq!(w.holds(m, s), exact, "{} / 10^{} against {}", m, s, max);
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn sorting_within_groups_gives_the_order_of_one_sort() {
        // keys (group, a, b) over 200,000 indices, in a scrambled order; one group holds
        // half of them (sorted on every core by itself), many hold none or one
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let n = 200_000;
        let keys: Vec<(usize, u64, u64)> = (0..n)
            .map(|i| {
                let r = next();
                let g = if i % 2 == 0 { 7 } else { (r % 50) as usize };
                (g, next() % 1000, next() % 5)
            })
            .collect();
        let scramble: Vec<u64> = (0..n).map(|_| next()).collect();
        let mut idx: Vec<u32> = (0..n as u32).collect();
        idx.sort_by_key(|&i| scramble[i as usize]);
        let key = |i: usize| (keys[i], i);
        let mut want = idx.clone();
        want.sort_by_key(|&i| key(i as usize));
        // a figure in five left out
        let keep = |i: usize| !scramble[i].is_multiple_of(5);
        want.retain(|&i| keep(i as usize));
        assert!(want.len() > n / 2 && want.len() < n);
        assert_eq!(sorted_in_groups(n, keep, 50, |i| keys[i].0, key), want);
        // one group for all: the same order
        assert_eq!(sorted_in_groups(n, keep, 1, |_| 0, key), want);
        assert!(sorted_in_groups(n, |_| false, 3, |_| 0, key).is_empty());
        assert!(sorted_in_groups(0, |_| true, 3, |_| 0, key).is_empty());
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(Decimal::from(1470000000)), "1,470,000,000");
        assert_eq!(grouped("985680000.5".parse().unwrap()), "985,680,000.5");
        assert_eq!(grouped(Decimal::from(-1234)), "-1,234");
        assert_eq!(grouped(Decimal::from(999)), "999");
    }

    #[test]
    fn a_finding_gives_back_its_message_and_refs_and_writes_them_as_fields() {
        let refs = vec![
            "a.csv line 3".to_string(),
            String::new(),
            "b \"c\" [T] B7".into(),
        ];
        let raw: RawRef = &|r| format!("raw {r}");
        let check = |f: &Finding, message: &str, want: &[String]| {
            assert_eq!(f.message(), message);
            assert_eq!(f.refs(raw).collect::<Vec<_>>(), want);
            let c = Check {
                id: "x",
                severity: Severity::Warn,
                description: "d",
                findings: vec![f.clone()],
            };
            assert_eq!(
                serde_json::to_value(Shown(&[c], raw)).unwrap(),
                serde_json::json!([{"id": "x", "severity": "warn", "description": "d",
                    "findings_total": 1, "findings": [{"message": message, "refs": want}]}])
            );
        };
        for k in 0..=refs.len() {
            let message = format!("message {k}: é");
            check(
                &Finding::new(message.clone(), refs[..k].to_vec()),
                &message,
                &refs[..k],
            );
            // refs to raw figures, written out when shown
            let raws = [7, 0, (1 << 31) - 1];
            let want: Vec<String> = raws[..k].iter().map(|r| format!("raw {r}")).collect();
            check(&Finding::at(message.clone(), &raws[..k]), &message, &want);
        }
        assert_eq!(
            Finding::new("m".into(), refs.clone()).refs_joined(raw),
            "a.csv line 3; ; b \"c\" [T] B7"
        );
        assert_eq!(
            Finding::at("m".into(), &[3, 4]).refs_joined(raw),
            "raw 3; raw 4"
        );
    }

    #[test]
    fn alive_marks_are_the_bools_they_replace() {
        for n in [0, 1, 63, 64, 65, 130, 1000] {
            let mut bits = Alive::all(n);
            let mut bools = vec![true; n];
            for i in (0..n).filter(|i| i % 3 == 0 || i % 64 == 63) {
                bits.kill(i);
                bools[i] = false;
            }
            assert!((0..n).all(|i| bits.get(i) == bools[i]), "{n}");
            // no figure past the last is alive
            assert!(
                bits.0
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum::<usize>()
                    == bools.iter().filter(|&&b| b).count()
            );
        }
    }

    #[test]
    fn every_rule_has_a_description() {
        assert!(RULES.iter().all(|(_, _, d)| !d.is_empty()));
    }
}
