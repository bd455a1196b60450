//! Normalise: raw figures (texts and cells) become typed figures (ISO codes, flow, year,
//! exact dollars) or rejects with a rule and a reason. Reads no files.
//!
//! Units are resolved by precedence, nearest first: the cell (`1.135 Billion`), the
//! column header (`(Million dollars)`), the table title, the source's config. When two
//! levels disagree the nearer wins and the figure carries a flag saying so. A separator
//! that could be read two ways is decided by the declared locale, else the other cells
//! of the same column, else plausibility against the unit; else the figure is rejected.

pub use tradeflow_kernels::{countries, number, units};

use rust_decimal::Decimal;
use rustc_hash::FxHashMap as HashMap;

use crate::model::{flags, Digits, Figures, Flow, Origin, Place, RawFigures, RawValue, Reject};
use number::{Evidence, Parsed, Reading};
use units::{Currency, Unit, UnitRead};

/// No bilateral annual trade figure reaches a trillion dollars (the largest pair is
/// below 0.8 trillion); between two countries a reading above it is implausible.
pub const PLAUSIBLE_MAX_USD: i64 = 1_000_000_000_000;

/// No flow with the World reaches a hundred trillion dollars (the world's exports of
/// goods and services were about 31 trillion in 2022; China's, the largest country's,
/// 3.4 trillion in 2023).
pub const PLAUSIBLE_MAX_WORLD_USD: i64 = 100_000_000_000_000;

/// A sum row (a region, Total, Toplam) read aside: not a figure, used for cross-checks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Aggregate {
    #[serde(skip)]
    pub raw: u32,
    #[serde(skip)]
    pub table: u32,
    pub label: String,
    pub reporter: Option<&'static str>,
    pub flow: Option<Flow>,
    pub year: Option<i32>,
    pub month: Option<u8>,
    pub commodity: String,
    /// Exact dollars, when the value could be read.
    #[serde(serialize_with = "ser_opt_decimal")]
    pub value_usd: Option<Decimal>,
    pub raw_value: String,
    pub source_ref: String,
}

fn ser_opt_decimal<S: serde::Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_str(&d.normalize().to_string()),
        None => s.serialize_none(),
    }
}

/// What normalise needs besides the figures: declared at the pipeline level.
#[derive(Debug, Clone)]
pub struct Options {
    /// The unit where nothing else says one (lowest precedence).
    pub default_unit: Option<String>,
    /// Extra country names.
    pub aliases: std::sync::Arc<countries::Aliases>,
    /// A reading above this many dollars is implausible (decides `1.180`) between two
    /// countries.
    pub plausible_max_usd: Decimal,
    /// The same where the World is the reporter or the partner.
    pub plausible_max_world_usd: Decimal,
    /// Declared rates of other currencies into US dollars.
    pub rates: std::sync::Arc<crate::config::Rates>,
    /// The source of each table (by table index), for the evidence of a whole source about
    /// its decimal mark; empty where unknown (then a table's is the widest evidence).
    pub table_source: Vec<u16>,
    /// The decimal mark each source's locale signals say (by source index), if any: the
    /// weakest evidence, after every cell's.
    pub source_decimal_hint: Vec<Option<char>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            default_unit: None,
            aliases: Default::default(),
            plausible_max_usd: Decimal::from(PLAUSIBLE_MAX_USD),
            plausible_max_world_usd: Decimal::from(PLAUSIBLE_MAX_WORLD_USD),
            rates: Default::default(),
            table_source: Vec::new(),
            source_decimal_hint: Vec::new(),
        }
    }
}

/// A decimal amount with its unit words, for config values: `"2.2 billion"` is 2200000000.
pub fn amount(text: &str) -> Option<Decimal> {
    match number::parse(text, Some('.')) {
        Parsed::Number(r) if r.alt.is_none() && !r.foreign_currency => {
            r.value.checked_mul(number::pow10(r.scale.unwrap_or(0)))
        }
        _ => None,
    }
}

/// The unit applied to a column, and where it came from (for `inspect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnUnit {
    pub table: u32,
    pub col: u32,
    pub unit: Option<Unit>,
    pub origin: Origin,
}

/// What normalise makes of the raw figures.
#[derive(Debug, Default)]
pub struct Normalized {
    pub figures: Figures,
    pub rejects: Vec<Reject>,
    pub aggregates: Vec<Aggregate>,
    pub column_units: Vec<ColumnUnit>,
}

/// The aggregates of a run, once per distinct name: how many rows, where the first was.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AggregateName {
    pub label: String,
    pub rows: usize,
    pub first_source_ref: String,
}

/// [`Aggregate`]s grouped by their name, in the order first seen.
pub fn aggregate_names(aggregates: &[Aggregate]) -> Vec<AggregateName> {
    let mut out: Vec<AggregateName> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::default();
    for a in aggregates {
        match at.get(a.label.as_str()) {
            Some(&k) => out[k].rows += 1,
            None => {
                at.insert(&a.label, out.len());
                out.push(AggregateName {
                    label: a.label.clone(),
                    rows: 1,
                    first_source_ref: a.source_ref.clone(),
                });
            }
        }
    }
    out
}

/// `export`, `Exports`, `İhracat`, `Экспорт`, `X`, `re-export`, `RX` to a flow.
pub fn parse_flow(text: &str) -> Option<Flow> {
    let key = countries::name_key(text);
    let words: Vec<&str> = key
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |pre: &[&str]| words.iter().any(|w| pre.iter().any(|p| w.starts_with(p)));
    // a publisher's other flows (Comtrade's domestic exports `DX`, foreign imports `FM`,
    // processing and temporary trade) are not any of the four: never merged into them
    if has(&[
        "domestic",
        "foreign",
        "processing",
        "temporary",
        "inward",
        "outward",
    ]) || matches!(
        words.as_slice(),
        ["dx"] | ["fm"] | ["mip"] | ["mop"] | ["xip"] | ["xop"]
    ) {
        return None;
    }
    let re = has(&["reexport", "reimport", "реэкспорт", "реимпорт"])
        || words.windows(2).any(|w| {
            matches!(w[0], "re" | "yeniden")
                && (w[1].starts_with("ex")
                    || w[1].starts_with("im")
                    || w[1].starts_with("ihr")
                    || w[1].starts_with("ith"))
        });
    let export = has(&[
        "export",
        "ihracat",
        "ihrac",
        "экспорт",
        "reexport",
        "реэкспорт",
        "eksport",
        "экспорт",
        "ixrac",
        "eksport",
    ]);
    let import = has(&[
        "import",
        "ithalat",
        "ithal",
        "импорт",
        "reimport",
        "реимпорт",
        "idxal",
        "импорт",
    ]);
    match (export, import) {
        (true, false) => Some(if re { Flow::ReExport } else { Flow::Export }),
        (false, true) => Some(if re { Flow::ReImport } else { Flow::Import }),
        (false, false) => match words.as_slice() {
            ["x"] => Some(Flow::Export),
            ["m"] => Some(Flow::Import),
            ["rx"] => Some(Flow::ReExport),
            ["rm"] => Some(Flow::ReImport),
            _ => None,
        },
        (true, true) => None,
    }
}

/// Whether a header names a measure derived from the flows (trade balance, trade volume,
/// turnover: `Balance`, `Denge`, `Hacim`, `Сальдо`, `Товарооборот`), not a flow's value.
pub fn is_derived_measure(text: &str) -> bool {
    let key = countries::name_key(text);
    key.split(|c: char| !c.is_alphanumeric()).any(|w| {
        [
            "balance",
            "denge",
            "hacim",
            "сальдо",
            "оборот",
            "товарооборот",
            "turnover",
            "volume",
        ]
        .iter()
        .any(|p| w.starts_with(p))
    })
}

/// A year from `2016`, `2016.0`, `2016*`, `2020 (p)`.
pub fn parse_year(text: &str) -> Option<i32> {
    let t = text.trim();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = t[digits.len()..].trim();
    let rest_ok = rest.is_empty()
        || rest
            .chars()
            .all(|c| matches!(c, '*' | '†' | '¹' | '²' | '³'))
        || rest.trim_start_matches('.').chars().all(|c| c == '0')
        || (rest.starts_with('(') && rest.ends_with(')') && rest.len() <= 16);
    if digits.len() == 4 && rest_ok {
        digits.parse().ok()
    } else {
        None
    }
}

/// True when a text or cell is a year label of a key column: `YEARS`, `Yıl`, `Год`.
pub fn is_year_label(text: &str) -> bool {
    matches!(
        countries::name_key(text).trim_end_matches(['.', ':']),
        "year"
            | "years"
            | "yil"
            | "yillar"
            | "год"
            | "годы"
            | "il"
            | "illar"
            | "jil"
            | "жыл"
            | "жылдар"
            | "yillar/years"
            | "period"
            | "donem"
    )
}

fn parse_month(text: &str) -> Option<u8> {
    let t = text.trim().trim_end_matches(".0");
    t.parse::<u8>().ok().filter(|m| (1..=12).contains(m))
}

/// Whether a commodity text is the total of all goods (`TOTAL`, `All Commodities`,
/// `  All Products`, `Toplam`).
pub fn is_total_commodity(text: &str) -> bool {
    parse_commodity_text(Some(text)).is_ok_and(|c| c == "TOTAL")
}

fn parse_commodity_text(text: Option<&str>) -> Result<String, String> {
    let Some(t) = text.map(str::trim) else {
        return Ok("TOTAL".into());
    };
    // a code of digits (nearly every text here) cannot be a word for the total: the
    // folded key, which normalises Unicode, is made only for the others
    let code_like = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b' ');
    if !code_like
        && matches!(
            countries::name_key(t).as_str(),
            "" | "total"
                | "all"
                | "toplam"
                | "всего"
                | "итого"
                | "tot"
                | "ag"
                | "all commodities"
                | "all products"
                | "all goods"
                | "total trade"
                | "all groups"
                | "total merchandise"
        )
    {
        return Ok("TOTAL".into());
    }
    let t = t.strip_suffix(".0").unwrap_or(t);
    let digits: String = t.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    if digits.chars().all(|c| c.is_ascii_digit()) && [2, 4, 6, 8, 10].contains(&digits.len()) {
        Ok(digits)
    } else if digits.chars().all(|c| c.is_ascii_digit()) && [1, 3, 5].contains(&digits.len()) {
        // a leading zero lost by a spreadsheet: 1 -> 01, 101 -> 0101, 10121 -> 010121
        Ok(format!("0{digits}"))
    } else {
        Err(format!("commodity {t:?} is neither TOTAL nor an HS code"))
    }
}

/// The dimensions of one figure, typed.
struct Dims {
    reporter: &'static str,
    flow: Flow,
    year: i32,
    month: Option<u8>,
    /// Index into the figures' `commodities`.
    commodity: u32,
}

/// Turns raw figures into typed figures, rejects and aggregates.
pub fn normalize(
    raw: &RawFigures,
    opts: &Options,
    source_ref: &(dyn Fn(Place) -> String + Sync),
) -> Normalized {
    let evidence = widen(column_evidence(raw), &opts.table_source);
    let chunks = chunks(raw.len());
    normalize_in(raw, opts, source_ref, &evidence, chunks, chunks)
}

/// The bucket of a raw figure in the partitioned run, from its reporter and partner text
/// ids (what ingest's [`crate::model::Router`] asks): the figures of one reporter and
/// partner pair, either way round, in one of `buckets`, the countries as normalise reads
/// them (looked up once per text); a figure that does not name two countries (an unknown
/// name, a total row) in the first.
pub fn bucket_of(
    aliases: &std::sync::Arc<countries::Aliases>,
    buckets: usize,
) -> crate::model::BucketOf {
    use std::hash::{Hash, Hasher};
    let aliases = aliases.clone();
    let mut code: Vec<Option<Option<&'static str>>> = Vec::new();
    // each pair of texts' bucket, once worked out
    let mut of_pair: rustc_hash::FxHashMap<(u32, u32), u32> = Default::default();
    let k = buckets.max(1) as u64;
    Box::new(move |dict, reporter, partner| {
        if let Some(&b) = of_pair.get(&(reporter, partner)) {
            return b;
        }
        let mut country = |id: u32| -> Option<&'static str> {
            let text = dict.get(id)?;
            if code.len() <= id as usize {
                code.resize(dict.len().max(id as usize + 1), None);
            }
            *code[id as usize].get_or_insert_with(|| match aliases.lookup(text) {
                Some(countries::Place::Country(c)) => Some(c.iso3),
                _ => None,
            })
        };
        let b = match (country(reporter), country(partner)) {
            (Some(a), Some(b)) => {
                let mut h = rustc_hash::FxHasher::default();
                (a.min(b), a.max(b)).hash(&mut h);
                (h.finish() % k) as u32
            }
            _ => 0,
        };
        of_pair.insert((reporter, partner), b);
        b
    })
}

/// The raw figures of each bucket, routed to their files as ingest read them (see
/// [`bucket_of`]), and the evidence of every figure for the decimal marks: what the
/// partitioned run normalises bucket by bucket. The total rows (their partner names no
/// country) are all in the first bucket.
pub struct Buckets {
    routed: crate::model::Routed,
    evidence: HashMap<(u32, u32), (usize, usize)>,
}

impl Buckets {
    /// The buckets of `routed`; `raw`, the figures routed (their texts and places). The
    /// evidence for the decimal marks is read from every bucket only where a column
    /// declares none.
    ///
    /// # Errors
    /// A bucket's file cannot be read back.
    pub fn of(
        routed: crate::model::Routed,
        raw: &RawFigures,
        table_source: &[u16],
    ) -> std::io::Result<Buckets> {
        let p = &raw.places;
        let undeclared = (0..p.context_count() as u32).any(|k| p.context_at(k).decimal.is_none());
        let mut evidence: HashMap<(u32, u32), (usize, usize)> = HashMap::default();
        for b in (0..routed.len()).filter(|_| undeclared) {
            let (part, _) = routed.read(b, &raw.dict, p)?;
            for (k, (dot, comma)) in column_evidence(&part) {
                let e = evidence.entry(k).or_default();
                e.0 += dot;
                e.1 += comma;
            }
        }
        let evidence = widen(evidence, table_source);
        Ok(Buckets { routed, evidence })
    }

    pub fn len(&self) -> usize {
        self.routed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routed.is_empty()
    }

    /// Bucket `b`'s raw figures, read back (see [`crate::model::Routed::read`]), and the
    /// raw index of each.
    ///
    /// # Errors
    /// The bucket's file cannot be read back.
    pub fn read(&self, raw: &RawFigures, b: usize) -> std::io::Result<(RawFigures, Vec<u32>)> {
        self.routed.read(b, &raw.dict, &raw.places)
    }

    /// A bucket's figures `part` (raw indices `m`) normalised alone, their raw indices
    /// those of every figure (its commodity table is its own; [`Buckets::commodities`] is
    /// every figure's).
    pub fn normalize(
        &self,
        part: &RawFigures,
        m: &[u32],
        opts: &Options,
        source_ref: &(dyn Fn(Place) -> String + Sync),
    ) -> Normalized {
        let c = chunks(m.len());
        let mut out = normalize_in(part, opts, source_ref, &self.evidence, c, c);
        // the raw indices of the bucket's figures are its own
        let global = |r: &mut u32| *r = m[*r as usize];
        out.figures.raw.iter_mut().for_each(global);
        out.rejects.iter_mut().for_each(|r| global(&mut r.raw));
        out.aggregates.iter_mut().for_each(|a| global(&mut a.raw));
        out
    }

    /// The commodity table of every raw figure, numbered as [`normalize`] numbers it.
    pub fn commodities(&self, raw: &RawFigures) -> crate::model::Dict {
        commodity_table_of(&raw.dict, self.routed.commodities().iter().copied()).0
    }
}

/// Chunks of pass 2 for `n` figures: more than cores, as a chunk's output is freed as
/// soon as it is merged, so the smaller the chunks, the less is held twice.
fn chunks(n: usize) -> usize {
    if n >= 100_000 {
        (rayon::current_num_threads() * 4).clamp(1, 32)
    } else {
        1
    }
}

/// [`normalize`], letting the raw figures go behind it: pass 2 runs in waves of a chunk
/// a core from the last figures to the first, and after each wave `behind(raw, lo)` is
/// told that figures `lo..` are done with, so that they can leave memory while the
/// normalised figures grow (see [`RawFigures::set_aside_behind`]). The same result as
/// [`normalize`].
pub fn normalize_behind<F: FnMut(&mut RawFigures, usize)>(
    raw: &mut RawFigures,
    opts: &Options,
    source_ref: &(dyn Fn(Place) -> String + Sync),
    behind: F,
) -> Normalized {
    let evidence = widen(column_evidence(raw), &opts.table_source);
    let chunks = chunks(raw.len());
    let wave = rayon::current_num_threads().max(1);
    normalize_in((raw, behind), opts, source_ref, &evidence, chunks, wave)
}

/// The raw figures pass 2 reads, and what it says behind each wave of chunks.
trait Behind {
    fn raw(&self) -> &RawFigures;
    /// Figures `lo..` are normalised.
    fn done_from(&mut self, lo: usize);
}

impl Behind for &RawFigures {
    fn raw(&self) -> &RawFigures {
        self
    }

    fn done_from(&mut self, _: usize) {}
}

impl<F: FnMut(&mut RawFigures, usize)> Behind for (&mut RawFigures, F) {
    fn raw(&self) -> &RawFigures {
        self.0
    }

    fn done_from(&mut self, lo: usize) {
        (self.1)(self.0, lo);
    }
}

/// Pass 1: what the value texts of each column (table, column) prove about its decimal
/// mark: how many say `.` and how many `,`. The texts are parsed here and again in pass
/// 2 (parsing is cheap; a million kept readings took 64 MB). Under a declared decimal
/// mark no reading is ambiguous and the evidence is never asked for: those texts are
/// not parsed here (a column's figures share their source's declaration).
fn column_evidence(raw: &RawFigures) -> HashMap<(u32, u32), (usize, usize)> {
    use rayon::prelude::*;
    (0..raw.len())
        .into_par_iter()
        .fold(
            HashMap::default,
            |mut evidence: HashMap<_, (usize, usize)>, i| {
                let at = raw.places.context(i);
                let mut buf = [0; Digits::LONGEST];
                // a declared mark needs no evidence: its column's texts are not read
                let text = match (at.decimal, raw.value[i].get()) {
                    (Some(_), _) => None,
                    // digits without a point prove nothing
                    (None, RawValue::Digits(d)) if d.exact(None).is_some() => None,
                    (None, v) => raw.text_of(&v, &mut buf),
                };
                if let Some(text) = text {
                    if let Parsed::Number(Reading {
                        evidence: Some(Evidence::DecimalIs(c)),
                        ..
                    }) = number::parse(text, None)
                    {
                        let e = evidence.entry((at.table, at.col)).or_default();
                        if c == '.' {
                            e.0 += 1
                        } else {
                            e.1 += 1
                        }
                    }
                }
                evidence
            },
        )
        .reduce(HashMap::default, |mut a, b| {
            for (k, (dot, comma)) in b {
                let e = a.entry(k).or_default();
                e.0 += dot;
                e.1 += comma;
            }
            a
        })
}

/// The key of a table's evidence about its decimal mark among the columns' (the table's
/// columns summed); a source's is `(SOURCE, source)`.
const TABLE: u32 = u32::MAX;
const SOURCE: u32 = u32::MAX;

/// Adds to the columns' evidence about the decimal mark that of each table and of each
/// source (a file is written one way: `969.98` anywhere in it says `.` for all of it).
fn widen(
    mut evidence: HashMap<(u32, u32), (usize, usize)>,
    table_source: &[u16],
) -> HashMap<(u32, u32), (usize, usize)> {
    let columns: Vec<((u32, u32), (usize, usize))> =
        evidence.iter().map(|(k, v)| (*k, *v)).collect();
    for ((table, _), (dot, comma)) in columns {
        let mut keys = vec![(table, TABLE)];
        if let Some(&src) = table_source.get(table as usize) {
            keys.push((SOURCE, u32::from(src)));
        }
        for k in keys {
            let e = evidence.entry(k).or_default();
            e.0 += dot;
            e.1 += comma;
        }
    }
    evidence
}

/// Pass 2 in `chunks` chunks on every core, each with its own memos, merged in order: in
/// waves of `wave` chunks from the last (one wave when `wave` is at least `chunks`), each
/// followed by `raw.done_from` its first figure.
fn normalize_in(
    mut raw: impl Behind,
    opts: &Options,
    source_ref: &(dyn Fn(Place) -> String + Sync),
    evidence: &HashMap<(u32, u32), (usize, usize)>,
    chunks: usize,
    wave: usize,
) -> Normalized {
    use rayon::prelude::*;
    let n = raw.raw().len();
    let size = n.div_ceil(chunks).max(1);
    let unknown = Unknown::default();
    let (commodities, commodity_of) = commodity_table(raw.raw());
    let shared = Shared {
        unknown: &unknown,
        commodities: &commodities,
        commodity_of: &commodity_of,
    };
    // the waves' outputs, the last chunks' first
    let mut waves: Vec<Vec<Normalized>> = Vec::new();
    let mut hi = n.div_ceil(size);
    while hi > 0 {
        let lo = hi.saturating_sub(wave.max(1));
        let r = raw.raw();
        waves.push(
            (lo..hi)
                .into_par_iter()
                .map(|c| {
                    let range = (c * size, n.min((c + 1) * size));
                    normalize_range(r, opts, evidence, shared, range, source_ref)
                })
                .collect(),
        );
        raw.done_from(lo * size);
        hi = lo;
    }
    let mut all = merge(waves.into_iter().rev().flatten().collect());
    all.figures.commodities = commodities;
    all
}

/// The commodity of every raw commodity text the figures use, read once for all chunks
/// (one text can stand for thousands of figures): the table of commodities, and the
/// index in it of each raw text id ([`BAD`] where the text is not a commodity), with a
/// last slot for figures without a commodity. Commodities are numbered in the order their
/// texts were first read.
fn commodity_table(raw: &RawFigures) -> (crate::model::Dict, Vec<u32>) {
    let none = raw.dict.len() as u32;
    let mut used = vec![false; none as usize + 1];
    for id in raw.commodity.iter() {
        used[id.min(none) as usize] = true;
    }
    let ids = (0..=none).filter(|&k| used[k as usize]);
    commodity_table_of(
        &raw.dict,
        ids.map(|k| if k == none { crate::model::NONE } else { k }),
    )
}

/// [`commodity_table`] of the commodity text ids `used` (ascending, [`crate::model::NONE`]
/// last).
fn commodity_table_of(
    dict: &crate::model::Dict,
    used: impl Iterator<Item = u32>,
) -> (crate::model::Dict, Vec<u32>) {
    use rayon::prelude::*;
    let none = dict.len();
    let slots: Vec<usize> = used.map(|id| (id as usize).min(none)).collect();
    let read: Vec<Result<String, String>> = slots
        .par_iter()
        .map(|&k| parse_commodity_text((k < none).then(|| dict.get(k as u32)).flatten()))
        .collect();
    let mut commodities = crate::model::Dict::default();
    let mut of = vec![UNSEEN; none + 1];
    for (&k, r) in slots.iter().zip(read) {
        of[k] = r.map_or(BAD, |c| commodities.intern(&c));
    }
    (commodities, of)
}

/// What the chunks of pass 2 share.
#[derive(Clone, Copy)]
struct Shared<'a> {
    unknown: &'a Unknown,
    commodities: &'a crate::model::Dict,
    commodity_of: &'a [u32],
}

/// Pass 2 over the raw figures `lo..hi`.
fn normalize_range(
    raw: &RawFigures,
    opts: &Options,
    evidence: &HashMap<(u32, u32), (usize, usize)>,
    shared: Shared<'_>,
    (lo, hi): (usize, usize),
    source_ref: &(dyn Fn(Place) -> String + Sync),
) -> Normalized {
    let mut cx = Context {
        raw,
        opts,
        units: HashMap::default(),
        default_unit: opts
            .default_unit
            .as_deref()
            .map_or(UnitRead::None, units::read_unit),
        evidence,
        seen_columns: HashMap::default(),
        country_ids: HashMap::default(),
        unknown: shared.unknown,
        commodities: shared.commodities,
        commodity_of: shared.commodity_of,
        memo: Memo {
            place: vec![UNSEEN_PLACE; raw.dict.len()],
            places: Vec::new(),
            country: Vec::new(),
            flow: vec![None; raw.dict.len()],
            year: vec![None; raw.dict.len()],
            month: vec![None; raw.dict.len()],
        },
        context_units: vec![None; raw.places.context_count()],
        ceiling: opts.plausible_max_usd,
        currency: None,
        out: Normalized::default(),
    };
    // nearly every figure of the range is a normalised figure: its columns sized once
    cx.out.figures.reserve(hi - lo);
    for i in lo..hi {
        let text = |id: u32| raw.dict.get(id);
        let partner_id = raw.partner.get(i);
        let partner =
            text(partner_id).map(|p| (p, cx.memo.place(partner_id, || opts.aliases.lookup(p))));
        let reporter_id = raw.reporter.get(i);
        let reporter =
            text(reporter_id).map(|r| (r, cx.memo.place(reporter_id, || opts.aliases.lookup(r))));
        let aggregate = match (partner, reporter) {
            (Some((label, Some(countries::Place::Aggregate))), _)
            | (_, Some((label, Some(countries::Place::Aggregate)))) => Some(label),
            _ => None,
        };
        if let Some(label) = aggregate {
            // a sum row (over partners, or a region reporting): read what can be read,
            // keep it aside
            let place = raw.places.get(i);
            let dims = cx.dims(i).ok();
            let value = cx.value(i).ok().and_then(|(v, _)| v);
            cx.out.aggregates.push(Aggregate {
                raw: i as u32,
                table: place.table,
                label: label.to_string(),
                reporter: dims.as_ref().map(|d| d.reporter),
                flow: dims.as_ref().map(|d| d.flow),
                year: dims.as_ref().map(|d| d.year),
                month: dims.as_ref().and_then(|d| d.month),
                commodity: dims
                    .as_ref()
                    .and_then(|d| cx.commodities.get(d.commodity))
                    .unwrap_or("TOTAL")
                    .to_string(),
                value_usd: value,
                raw_value: raw.value_text(i),
                source_ref: source_ref(place),
            });
            continue;
        }
        let is_world = |p: Option<countries::Place>| matches!(p, Some(countries::Place::Country(c)) if c.iso3 == "WLD");
        let world = is_world(partner.and_then(|p| p.1)) || is_world(reporter.and_then(|r| r.1));
        cx.ceiling = if world {
            opts.plausible_max_world_usd
        } else {
            opts.plausible_max_usd
        };
        let result = (|| -> Result<Typed, Rejection> {
            let partner = match partner {
                None => return Err((
                    "missing_partner",
                    "no partner in the row, its headers, the title, the sheet name or the config"
                        .into(),
                )),
                Some((_, Some(countries::Place::Country(c)))) => c.iso3,
                Some((p, _)) => {
                    return Err(("unknown_country", cx.unknown("partner", partner_id, p)))
                }
            };
            let dims = cx.dims(i)?;
            cx.currency = None;
            let (mut value, mut flag) = cx.value(i)?;
            if let Some(code) = cx.currency.take() {
                // a declared rate of the figure's year converts it, exactly
                let Some(table) = opts.rates.of(code) else {
                    return Err((
                        "not_usd",
                        format!("in {code}, which no rate table converts"),
                    ));
                };
                let Some(rate) = table.usd_per_unit.get(&dims.year) else {
                    return Err((
                        "not_usd",
                        format!(
                            "in {code}, and the rate table ({}) has no rate for {}",
                            table.source, dims.year
                        ),
                    ));
                };
                value = value.map(|v| v * rate);
                flag |= flags::CONVERTED_CURRENCY;
            }
            Ok((partner, dims, value, flag))
        })();
        match result {
            Ok((partner, d, value, flag)) => {
                let f = &mut cx.out.figures;
                let (ids, memo) = (&mut cx.country_ids, &mut cx.memo);
                let reporter = memo.country_id(raw.reporter.get(i), d.reporter, f, ids);
                let partner = memo.country_id(partner_id, partner, f, ids);
                f.reporter.push(reporter);
                f.partner.push(partner);
                f.flow.push(d.flow);
                f.year.push(d.year);
                f.month.push(d.month);
                f.commodity.push(d.commodity);
                f.value
                    .push(value.map(tradeflow_kernels::decimal::normalized));
                f.flags.push(flag);
                f.raw.push(i as u32);
            }
            Err((rule, message)) => cx.out.rejects.push(Reject {
                raw: i as u32,
                rule,
                message,
            }),
        }
    }
    cx.out
}

/// The chunks' outputs, in order, as one (their commodities index one shared table),
/// each column's unit listed once, where it was first seen. The columns are copied side
/// by side on every core (one after the other, the copy was a fifth of normalise), each
/// chunk's column let go once copied.
fn merge(outs: Vec<Normalized>) -> Normalized {
    use std::mem::take;
    let total: usize = outs.iter().map(|o| o.figures.len()).sum();
    let mut it = outs.into_iter();
    let mut all = it.next().unwrap_or_default();
    let mut parts: Vec<Normalized> = it.collect();
    // every column sized once for all chunks: growing by doubling would leave up to half
    // of each unused, and copy it on the way
    all.figures.reserve(total - all.figures.len());
    let mut seen: rustc_hash::FxHashSet<(u32, u32)> =
        all.column_units.iter().map(|c| (c.table, c.col)).collect();
    // the countries of every chunk in one table: the first chunk's as they are
    let mut country_ids: HashMap<(usize, usize), u16> = HashMap::default();
    for k in 0..all.figures.countries.len() {
        let code = all.figures.countries[k];
        country_ids.insert((code.as_ptr() as usize, code.len()), k as u16);
    }
    let mut renumber: Vec<Vec<u16>> = Vec::with_capacity(parts.len());
    for part in &mut parts {
        renumber.push(
            part.figures
                .countries
                .iter()
                .map(|&code| all.figures.country_id(&mut country_ids, code))
                .collect(),
        );
        all.rejects.extend(take(&mut part.rejects));
        all.aggregates.extend(take(&mut part.aggregates));
        all.column_units.extend(
            take(&mut part.column_units)
                .into_iter()
                .filter(|c| seen.insert((c.table, c.col))),
        );
    }
    // each column of every chunk, in order
    fn columns<T: Default>(
        parts: &mut [Normalized],
        col: impl Fn(&mut Figures) -> &mut T,
    ) -> Vec<T> {
        parts
            .iter_mut()
            .map(|p| take(col(&mut p.figures)))
            .collect()
    }
    let reporter = columns(&mut parts, |f| &mut f.reporter);
    let partner = columns(&mut parts, |f| &mut f.partner);
    let flow = columns(&mut parts, |f| &mut f.flow);
    let year = columns(&mut parts, |f| &mut f.year);
    let month = columns(&mut parts, |f| &mut f.month);
    let commodity = columns(&mut parts, |f| &mut f.commodity);
    let value = columns(&mut parts, |f| &mut f.value);
    let flags = columns(&mut parts, |f| &mut f.flags);
    let raw = columns(&mut parts, |f| &mut f.raw);
    drop(parts);
    fn extend<T>(to: &mut Vec<T>, from: Vec<Vec<T>>) {
        for c in from {
            to.extend(c);
        }
    }
    // a country column, each chunk's ids turned into the merged table's
    fn renumbered(to: &mut Vec<u16>, from: Vec<Vec<u16>>, renumber: &[Vec<u16>]) {
        for (c, r) in from.into_iter().zip(renumber) {
            to.extend(c.into_iter().map(|c| r[c as usize]));
        }
    }
    let f = &mut all.figures;
    let renumber = &renumber;
    rayon::scope(|s| {
        s.spawn(|_| renumbered(&mut f.reporter, reporter, renumber));
        s.spawn(|_| renumbered(&mut f.partner, partner, renumber));
        s.spawn(|_| extend(&mut f.flow, flow));
        s.spawn(|_| year.into_iter().for_each(|c| f.year.append(c)));
        s.spawn(|_| month.into_iter().for_each(|c| f.month.append(c)));
        s.spawn(|_| commodity.into_iter().for_each(|c| f.commodity.append(c)));
        s.spawn(|_| {
            for v in value {
                f.value.append(v);
            }
        });
        s.spawn(|_| extend(&mut f.flags, flags));
        s.spawn(|_| extend(&mut f.raw, raw));
    });
    all
}

/// Messages for unknown country names, by role and text id, shared by the chunks.
type Unknown = std::sync::Mutex<HashMap<(&'static str, u32), String>>;

/// State of one normalise pass.
struct Context<'a> {
    raw: &'a RawFigures,
    opts: &'a Options,
    units: HashMap<u32, UnitRead>,
    default_unit: UnitRead,
    evidence: &'a HashMap<(u32, u32), (usize, usize)>,
    seen_columns: HashMap<(u32, u32), usize>,
    /// Where each country code is in the chunk's `countries`, by address.
    country_ids: HashMap<(usize, usize), u16>,
    /// `unknown_country` messages (with their suggestions) by name, computed once.
    unknown: &'a Unknown,
    /// The commodities, and the commodity of each raw text (see [`commodity_table`]).
    commodities: &'a crate::model::Dict,
    commodity_of: &'a [u32],
    memo: Memo,
    /// The unit each raw context gives its figures (the nearest level that names one,
    /// and the flags of the levels it overrides), by context index: worked out once per
    /// context, not with four lookups per figure.
    context_units: Vec<Option<ContextUnit>>,
    /// The plausibility ceiling of the figure at hand: the World's where it is a side.
    ceiling: Decimal,
    /// The currency the value at hand is in, where a declared rate converts it.
    currency: Option<&'static str>,
    out: Normalized,
}

/// A raw figure typed: its partner's code, its other dimensions, its value and flags.
type Typed = (&'static str, Dims, Option<Decimal>, flags::Flags);

/// The unit a raw context gives its figures and where it was named, if anywhere, with the
/// flags of the levels it overrides.
type ContextUnit = (Option<(Unit, Origin)>, flags::Flags);

/// What a text means, worked out once per distinct text (texts are interned ids).
struct Memo {
    /// Index into `places` (a text's country or aggregate, or none), by text id: two
    /// bytes a text, as a dictionary can hold a million texts.
    place: Vec<u16>,
    places: Vec<Option<countries::Place>>,
    /// The index in the chunk's `countries` of each of `places` that is a country, once
    /// a figure has named it: looked up by the text's place, not hashed per figure (two
    /// hash lookups a figure were 3% of a million-row run).
    country: Vec<u16>,
    flow: Vec<Option<Option<Flow>>>,
    year: Vec<Option<Option<i32>>>,
    /// A month text's month (`None` for an annual figure's), read once per text: parsed
    /// for every figure, it took a ninth of normalise's instructions (callgrind, 100k
    /// figures: 274.4M -> 244.0M).
    month: Vec<Option<Option<Option<u8>>>>,
}

const UNSEEN_PLACE: u16 = u16::MAX;
const UNSEEN: u32 = u32::MAX;
const BAD: u32 = u32::MAX - 1;

impl Memo {
    /// The index in `f.countries` of `code`, the country the text `id` names (its
    /// place looked up before): by the text's place after the first time.
    fn country_id(
        &mut self,
        id: u32,
        code: &'static str,
        f: &mut Figures,
        seen: &mut HashMap<(usize, usize), u16>,
    ) -> u16 {
        let Some(&k) = self.place.get(id as usize).filter(|&&k| k != UNSEEN_PLACE) else {
            return f.country_id(seen, code);
        };
        let k = k as usize;
        if self.country.len() <= k {
            self.country.resize(k + 1, UNSEEN_PLACE);
        }
        if self.country[k] == UNSEEN_PLACE {
            self.country[k] = f.country_id(seen, code);
        }
        self.country[k]
    }

    /// What the text `id` names, worked out by `f` the first time.
    fn place(
        &mut self,
        id: u32,
        f: impl FnOnce() -> Option<countries::Place>,
    ) -> Option<countries::Place> {
        match self.place.get(id as usize) {
            Some(&k) if k != UNSEEN_PLACE => self.places[k as usize],
            Some(_) => {
                let v = f();
                let k = match self.places.iter().position(|p| *p == v) {
                    Some(k) => k,
                    None => {
                        self.places.push(v);
                        self.places.len() - 1
                    }
                };
                // more distinct places than a u16 holds cannot happen (a few hundred
                // countries); past it, texts are simply looked up each time
                if let Ok(k) = u16::try_from(k) {
                    if k != UNSEEN_PLACE {
                        self.place[id as usize] = k;
                    }
                }
                v
            }
            None => f(),
        }
    }
}

fn memo<T: Copy>(
    slot: &mut [Option<Option<T>>],
    id: u32,
    f: impl FnOnce() -> Option<T>,
) -> Option<T> {
    match slot.get_mut(id as usize) {
        Some(Some(v)) => *v,
        Some(s) => *s.insert(f()),
        None => f(),
    }
}

type Rejection = (&'static str, String);

impl Context<'_> {
    /// The message for an unknown country name (text `id`), with its suggestions:
    /// worked out once per name for every chunk.
    fn unknown(&self, role: &'static str, id: u32, name: &str) -> String {
        let lock = || self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = lock().get(&(role, id)) {
            return m.clone();
        }
        let m = unknown_country(role, name);
        lock().entry((role, id)).or_insert(m).clone()
    }

    fn unit(&mut self, id: u32) -> Option<Unit> {
        let raw = self.raw;
        unit_of(
            self.units
                .entry(id)
                .or_insert_with(|| raw.dict.get(id).map_or(UnitRead::None, units::read_unit)),
        )
    }

    /// Reporter, flow, year, month and commodity.
    fn dims(&mut self, i: usize) -> Result<Dims, Rejection> {
        let raw = self.raw;
        let text = |id: u32| raw.dict.get(id);
        let (reporter_id, flow_id) = (raw.reporter.get(i), raw.flow.get(i));
        let (year_id, month_id) = (raw.year.get(i), raw.month.get(i));
        let reporter = match text(reporter_id) {
            None => {
                return Err((
                    "missing_reporter",
                    "no reporter in the row's cells (a reporter column left empty, or none), its headers, the title or the config: where the file does not say whose trade it is, set `reporter` in the source"
                        .into(),
                ))
            }
            Some(r) => match self.memo.place(reporter_id, || self.opts.aliases.lookup(r)) {
                Some(countries::Place::Country(c)) => c.iso3,
                _ => return Err(("unknown_country", self.unknown("reporter", reporter_id, r))),
            },
        };
        let Some(flow) = memo(&mut self.memo.flow, flow_id, || {
            text(flow_id).and_then(parse_flow)
        }) else {
            return Err((
                "bad_flow",
                match text(flow_id) {
                    Some(f) => format!("flow {f:?} is not export, import, re-export or re-import"),
                    None => "no flow in the row, its headers or the config".into(),
                },
            ));
        };
        let Some(year) = memo(&mut self.memo.year, year_id, || {
            text(year_id).and_then(parse_year)
        }) else {
            return Err((
                "bad_year",
                format!(
                    "year {:?} is not a calendar year",
                    text(year_id).unwrap_or("")
                ),
            ));
        };
        let Some(month) = memo(&mut self.memo.month, month_id, || {
            match text(month_id) {
                // Comtrade writes 52 (and some agencies 0) for an annual figure
                None | Some("52") | Some("0") | Some("00") => Some(None),
                Some(m) => parse_month(m).map(Some),
            }
        }) else {
            return Err((
                "bad_month",
                format!("month {:?} is not 1 to 12", text(month_id).unwrap_or("")),
            ));
        };
        let id = raw.commodity.get(i);
        // the last slot is for rows without a commodity
        let slot = if id == crate::model::NONE {
            raw.dict.len()
        } else {
            id as usize
        };
        let commodity = match self.commodity_of.get(slot).copied().unwrap_or(BAD) {
            // a bad text is parsed again for its message: rare, and not kept
            UNSEEN | BAD => match parse_commodity_text(text(id)) {
                Err(e) => return Err(("bad_commodity", e)),
                Ok(c) => self.commodities.find(&c).unwrap_or(UNSEEN),
            },
            c => c,
        };
        Ok(Dims {
            reporter,
            flow,
            year,
            month,
            commodity,
        })
    }

    /// The exact value in dollars (`None` for a missing-value marker) and its flags.
    /// The unit a context gives its figures, with the flags of the levels it overrides,
    /// and the unit of its table's column recorded the first time the column is met.
    fn context_unit(&mut self, c: &crate::model::Context, key: (u32, u32)) -> ContextUnit {
        let mut flag: flags::Flags = 0;
        // the unit: nearest level that names one
        let column_unit = self.unit(c.unit_column);
        let title_unit = self.unit(c.unit_title);
        let config_unit = self.unit(c.unit_config);
        let default_unit = unit_of(&self.default_unit);
        let levels = [
            (column_unit, Origin::Column),
            (title_unit, Origin::Title),
            (config_unit, Origin::Config),
            (default_unit, Origin::Default),
        ];
        let mut base: Option<(Unit, Origin)> = None;
        for (u, origin) in levels {
            let Some(u) = u else { continue };
            match base {
                None => base = Some((u, origin)),
                Some((b, bo)) if b.exp != u.exp => {
                    flag |= match (bo, origin) {
                        (Origin::Column, Origin::Title) => flags::UNIT_HEADER_OVERRIDES_TITLE,
                        (_, Origin::Config) => flags::UNIT_FILE_OVERRIDES_CONFIG,
                        _ => 0,
                    };
                }
                _ => {}
            }
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.seen_columns.entry(key) {
            e.insert(self.out.column_units.len());
            self.out.column_units.push(ColumnUnit {
                table: key.0,
                col: key.1,
                unit: base.map(|b| b.0),
                origin: base.map_or(Origin::Default, |b| b.1),
            });
        }
        (base, flag)
    }

    fn value(&mut self, i: usize) -> Result<(Option<Decimal>, flags::Flags), Rejection> {
        let raw = self.raw;
        // the context says the table and column: the row is not looked up
        let c = *raw.places.context(i);
        let key = (c.table, c.col);
        let slot = raw.places.context_id(i) as usize;
        let (base, mut flag) = match self.context_units[slot] {
            Some(known) => known,
            None => {
                let known = self.context_unit(&c, key);
                self.context_units[slot] = Some(known);
                known
            }
        };
        let base_unit = base.map(|b| b.0);

        let v = raw.value[i].get();
        // plain digits that can mean only their number are not read as a text
        let exact = match v {
            RawValue::Digits(d) => d.exact(c.decimal),
            _ => None,
        };
        let (mantissa, cell_scale) = match (&v, exact) {
            (_, Some(x)) => (x, None),
            (RawValue::Empty, _) => return Ok((None, flag | flags::MISSING)),
            (RawValue::Number(x), _) => match number::from_float(*x) {
                Some((d, snapped)) => {
                    if snapped {
                        flag |= flags::SNAPPED_FLOAT;
                    }
                    (d, None)
                }
                None => return Err(("unparseable_value", format!("cell holds {x}"))),
            },
            (v @ (RawValue::Text(_) | RawValue::Digits(_)), None) => match number::parse(
                raw.text_of(v, &mut [0; Digits::LONGEST])
                    .unwrap_or_default(),
                c.decimal,
            ) {
                Parsed::Missing => return Ok((None, flag | flags::MISSING)),
                Parsed::Invalid(why) => return Err(("unparseable_value", why)),
                Parsed::Number(r) => {
                    if r.foreign_currency {
                        return Err((
                            "not_usd",
                            format!("{:?} is not in US dollars", raw.value_text(i)),
                        ));
                    }
                    let exp = r.scale.or(base_unit.map(|u| u.exp));
                    match r.alt {
                        None => (r.value, r.scale),
                        Some((alt, mark)) => {
                            let source = self.opts.table_source.get(c.table as usize);
                            let wider = [
                                (self.evidence.get(&key).copied(), flags::DECIMAL_FROM_COLUMN),
                                (
                                    self.evidence.get(&(c.table, TABLE)).copied(),
                                    flags::DECIMAL_FROM_TABLE,
                                ),
                                (
                                    source.and_then(|s| {
                                        self.evidence.get(&(SOURCE, u32::from(*s))).copied()
                                    }),
                                    flags::DECIMAL_FROM_SOURCE,
                                ),
                            ];
                            // the source's locale signals (`;`, its code page, its headers'
                            // language): weaker than any cell and than plausibility
                            let hint = source
                                .and_then(|s| self.opts.source_decimal_hint.get(*s as usize))
                                .copied()
                                .flatten();
                            let (v, f) =
                                decide(r.value, alt, mark, exp, &wider, self.ceiling, hint)
                                    .map_err(|why| ("ambiguous_number", why))?;
                            flag |= f;
                            (v, r.scale)
                        }
                    }
                }
            },
        };
        let exp = match (cell_scale, base_unit) {
            (Some(c), Some(b)) => {
                if c != b.exp {
                    flag |= flags::UNIT_CELL_OVERRIDES_HEADER;
                }
                c
            }
            (Some(c), None) => c,
            (None, Some(b)) => b.exp,
            (None, None) => {
                return Err((
                    "unknown_unit",
                    format!(
                        "{:?} has no unit in its cell, column header, table title or config: set `unit` in the source",
                        raw.value_text(i)
                    ),
                ))
            }
        };
        if let Some(Currency::Other(code)) = base_unit.and_then(|u| u.currency) {
            if self.opts.rates.of(code).is_some() {
                self.currency = Some(code);
            } else if cell_scale.is_none() {
                return Err((
                    "not_usd",
                    format!(
                        "the unit of its column, title or config is {code}, not US dollars: only US dollars are published"
                    ),
                ));
            }
        }
        let value = mantissa.checked_mul(number::pow10(exp)).ok_or_else(|| {
            (
                "unparseable_value",
                format!("{:?} overflows", raw.value_text(i)),
            )
        })?;
        Ok((Some(value), flag))
    }
}

fn unit_of(r: &UnitRead) -> Option<Unit> {
    match r {
        UnitRead::Unit(u) => Some(*u),
        _ => None,
    }
}

fn unknown_country(role: &str, name: &str) -> String {
    let s = countries::suggestions(name);
    if s.is_empty() {
        format!("unknown {role} {name:?}; add it to the aliases")
    } else {
        format!("unknown {role} {name:?}; closest known: {}", s.join(", "))
    }
}

/// Decides `1.180` (decimal reading `dec`, thousands reading `alt`).
/// Decides an ambiguous number (`1,135`: the decimal reading `dec`, the thousands one
/// `alt`) by the nearest evidence that speaks (the column's cells, then the table's, then
/// the source's: how many cells prove `.` and how many `,` a decimal mark, each level with
/// the flag it sets), else by plausibility against the unit, else by the source's locale
/// signals (`hint`), else not at all.
#[allow(clippy::too_many_arguments)]
fn decide(
    dec: Decimal,
    alt: Decimal,
    mark: char,
    exp: Option<u32>,
    evidence: &[(Option<(usize, usize)>, flags::Flags)],
    max: Decimal,
    hint: Option<char>,
) -> Result<(Decimal, flags::Flags), String> {
    for &(level, flag) in evidence {
        let Some((dots, commas)) = level else {
            continue;
        };
        let says = match (dots > 0, commas > 0) {
            (true, false) => Some('.'),
            (false, true) => Some(','),
            // a level whose cells disagree says nothing, nor do the levels around it
            (true, true) => break,
            _ => None,
        };
        if let Some(d) = says {
            return Ok(if d == mark { (dec, flag) } else { (alt, flag) });
        }
    }
    if let Some(e) = exp {
        let scaled = |v: Decimal| {
            v.abs()
                .checked_mul(number::pow10(e))
                .unwrap_or(Decimal::MAX)
        };
        if scaled(alt) > max && scaled(dec) <= max {
            return Ok((dec, flags::DECIMAL_FROM_PLAUSIBILITY));
        }
    }
    if let Some(d) = hint {
        return Ok(if d == mark {
            (dec, flags::DECIMAL_FROM_SOURCE)
        } else {
            (alt, flags::DECIMAL_FROM_SOURCE)
        });
    }
    let unit = match exp {
        Some(e) if e > 0 => format!(" (x10^{e} dollars)"),
        _ => String::new(),
    };
    Err(format!(
        "{} or {}{unit}: {mark:?} may be a decimal or a thousands mark and nothing decides it; set `decimal` in the source",
        dec.normalize(),
        alt.normalize(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("export", Some(Flow::Export))]
    #[case("TURKEY'S EXPORT TO AZERBAIJAN (Million dollars)", Some(Flow::Export))]
    #[case(
        "TURKEY'S IMPORT FROM KAZAKHSTAN (Billion dollars)",
        Some(Flow::Import)
    )]
    #[case("İhracat", Some(Flow::Export))]
    #[case("İTHALAT", Some(Flow::Import))]
    #[case("Экспорт", Some(Flow::Export))]
    #[case("Импорт, млн долл.", Some(Flow::Import))]
    #[case("X", Some(Flow::Export))]
    #[case("M", Some(Flow::Import))]
    #[case("Re-exports", Some(Flow::ReExport))]
    #[case("re_import", Some(Flow::ReImport))]
    #[case("RX", Some(Flow::ReExport))]
    #[case("YEARS", None)]
    #[case("exports and imports", None)]
    fn flows(#[case] text: &str, #[case] want: Option<Flow>) {
        assert_eq!(parse_flow(text), want, "{text}");
    }

    #[rstest]
    #[case("2016", Some(2016))]
    #[case("2016.0", Some(2016))]
    #[case("2020*", Some(2020))]
    #[case("2020 (p)", Some(2020))]
    #[case("20166", None)]
    #[case("Total", None)]
    fn years(#[case] text: &str, #[case] want: Option<i32>) {
        assert_eq!(parse_year(text), want);
    }

    #[rstest]
    #[case(None, Ok("TOTAL"))]
    #[case(Some(""), Ok("TOTAL"))]
    #[case(Some(" Total "), Ok("TOTAL"))]
    #[case(Some("TOPLAM"), Ok("TOTAL"))]
    #[case(Some("Всего"), Ok("TOTAL"))]
    #[case(Some("All commodities"), Ok("TOTAL"))]
    #[case(Some("847130"), Ok("847130"))]
    #[case(Some("8471.30"), Ok("847130"))]
    #[case(Some("10121"), Ok("010121"))]
    #[case(Some("0101.0"), Ok("0101"))]
    #[case(Some("1234567"), Err(()))]
    #[case(Some("84x1"), Err(()))]
    fn commodities(#[case] text: Option<&str>, #[case] want: Result<&str, ()>) {
        assert_eq!(
            parse_commodity_text(text).as_deref().map_err(|_| ()),
            want,
            "{text:?}"
        );
    }

    #[test]
    fn chunks_merge_into_what_one_pass_gives() {
        // texts shared across chunk borders, commodities first seen in a later chunk,
        // rejects, aggregates and several columns' units
        let mut raw = RawFigures::default();
        let partners = ["Kazakhstan", "Total", "Atlantis", "Özbekistan"];
        for i in 0..101usize {
            let value = raw.text_value(&format!("{}.5", i + 1));
            let (year, cmd) = (
                (2000 + i % 7).to_string(),
                format!("{:02}", 1 + (i * 7) % 13),
            );
            let f = crate::model::RawFigureRef {
                reporter: Some("TUR"),
                partner: Some(partners[i % 4]),
                flow: Some(if i % 3 == 0 { "export" } else { "import" }),
                year: Some(&year),
                month: None,
                commodity: (i > 40).then_some(cmd.as_str()),
                unit_column: Some(if i % 2 == 0 {
                    "USD million"
                } else {
                    "thousand USD"
                }),
                unit_title: None,
                unit_config: None,
                decimal: Some('.'),
            };
            raw.push(
                f,
                value,
                Place {
                    table: (i % 2) as u32,
                    row: i as u32,
                    col: 1 + (i % 2) as u32,
                },
            );
        }
        let (opts, sref) = (Options::default(), |p: Place| format!("row {}", p.row));
        let evidence = column_evidence(&raw);
        let run = |chunks: usize| normalize_in(&raw, &opts, &sref, &evidence, chunks, chunks);
        let show = |n: &Normalized| {
            let f = &n.figures;
            let rows: Vec<String> = (0..f.len())
                .map(|i| {
                    format!(
                        "{} {} {:?} {} {} {:?} {} {}",
                        f.reporter(i),
                        f.partner(i),
                        f.flow[i],
                        f.year.get(i),
                        f.commodity_str(i),
                        f.value.get(i),
                        f.flags[i],
                        f.raw[i]
                    )
                })
                .collect();
            let rejects: Vec<String> = n
                .rejects
                .iter()
                .map(|r| format!("{} {} {}", r.raw, r.rule, r.message))
                .collect();
            let aggs: Vec<String> = n
                .aggregates
                .iter()
                .map(|a| format!("{} {} {:?}", a.raw, a.commodity, a.value_usd))
                .collect();
            let units: Vec<String> = n
                .column_units
                .iter()
                .map(|c| format!("{} {} {:?}", c.table, c.col, c.unit))
                .collect();
            (rows, rejects, aggs, units)
        };
        let one = show(&run(1));
        assert!(!one.0.is_empty() && !one.1.is_empty() && !one.2.is_empty() && one.3.len() == 2);
        for chunks in [2, 3, 7] {
            assert_eq!(show(&run(chunks)), one, "{chunks} chunks");
        }
        // in waves from the end, the raw figures set aside behind them: the same figures,
        // and every raw figure shows what it showed
        let dir = tempfile::tempdir().unwrap();
        let held: Vec<_> = (0..raw.len()).map(|i| raw.shown(i).unwrap()).collect();
        for chunks in [1, 2, 3, 7] {
            let mut behind = raw.clone();
            let mut los = Vec::new();
            let each = |r: &mut RawFigures, lo| {
                los.push(lo);
                r.set_aside_behind(dir.path(), lo).unwrap();
            };
            let n = normalize_in((&mut behind, each), &opts, &sref, &evidence, chunks, 2);
            assert_eq!(show(&n), one, "{chunks} chunks from the end");
            assert!(
                los.windows(2).all(|w| w[0] > w[1]) && los.last() == Some(&0),
                "{los:?}"
            );
            assert!(behind.value.is_empty() && behind.commodity.is_empty());
            let shown: Vec<_> = (0..raw.len()).map(|i| behind.shown(i).unwrap()).collect();
            assert!(shown == held, "{chunks} chunks: shown from the disk");
        }
    }

    #[test]
    fn plausibility_decides_billions() {
        let max = Decimal::from(PLAUSIBLE_MAX_USD);
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let (v, f) = decide(d("1.18"), d("1180"), '.', Some(9), &[], max, None).unwrap();
        assert_eq!(v, d("1.18"));
        assert_eq!(f, flags::DECIMAL_FROM_PLAUSIBILITY);
        // under plain dollars both readings are plausible: rejected, both named
        let e = decide(d("1.18"), d("1180"), '.', Some(0), &[], max, None).unwrap_err();
        assert!(e.contains("1.18") && e.contains("1180"), "{e}");
        // the column's other cells decide
        let (v, _) = decide(
            d("1.18"),
            d("1180"),
            '.',
            Some(0),
            &[(Some((0, 3)), flags::DECIMAL_FROM_COLUMN)],
            max,
            None,
        )
        .unwrap();
        assert_eq!(v, d("1180"));
    }
}
