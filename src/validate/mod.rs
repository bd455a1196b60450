//! Validate: works on the whole figure set. Range rules reject figures; equal duplicates
//! from a later source are superseded; different values for one key are conflicts,
//! resolved by source precedence (config order); time-series and coverage checks add
//! findings. It decides the verdict: publish, or fail with exit 1.
//!
//! It reads no files and writes none; every figure it is given ends clean, rejected or
//! superseded (the contract's accounting rule).

use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Rules;
use crate::model::{flags, Figures, Flow, Place, Reject};
use crate::normalize::Normalized;

/// How serious a check's findings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The figures were rejected.
    Error,
    /// Kept, with a flag: a person should look.
    Warn,
    /// For the record.
    Info,
}

/// One thing a check found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub message: String,
    /// Where: `source_ref`s of the figures involved.
    pub refs: Vec<String>,
}

/// A check and what it found.
#[derive(Debug, Clone, serde::Serialize)]
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
    pub value_usd: String,
    pub source_ref: String,
    pub kept: String,
    #[serde(skip)]
    pub raw: u32,
}

/// The outcome of validation.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Indices into the figures that are clean, sorted by key.
    pub clean: Vec<usize>,
    /// Every reject: from normalise and from validate.
    pub rejects: Vec<Reject>,
    pub superseded: Vec<Superseded>,
    pub checks: Vec<Check>,
    /// Flags set by validation, per figure (OR-ed onto normalise's).
    pub flags: Vec<u32>,
    /// `None` when the data may be published, else why not.
    pub failure: Option<String>,
}

type Key = (&'static str, &'static str, Flow, i32, Option<u8>, u32);

fn key(f: &Figures, i: usize) -> Key {
    (f.reporter[i], f.partner[i], f.flow[i], f.year[i], f.month[i], f.commodity[i])
}

fn key_text(f: &Figures, i: usize) -> String {
    let m = f.month[i].map(|m| format!("-{m:02}")).unwrap_or_default();
    format!("{} {} {} {}{m} {}", f.reporter[i], f.partner[i], f.flow[i], f.year[i], f.commodity_str(i))
}

/// `1470000000` as `1,470,000,000`.
pub fn grouped(v: Decimal) -> String {
    let s = v.normalize().to_string();
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{}", frac.map(|f| format!(".{f}")).unwrap_or_default())
}

/// Validates normalised figures. `places` gives each raw figure's place; `source_ref`
/// formats one; `precedence` gives a raw figure's source rank (lower wins).
pub fn validate(norm: &Normalized, rules: &Rules, places: &[Place], source_ref: &dyn Fn(Place) -> String, precedence: &dyn Fn(Place) -> usize) -> Verdict {
    let f = &norm.figures;
    let n = f.len();
    let mut v = Verdict { rejects: norm.rejects.clone(), flags: vec![0; n], ..Default::default() };
    let r = |i: usize| source_ref(places[f.raw[i] as usize]);
    let mut alive = vec![true; n];

    // range rules
    let mut range = Check { id: "year_range", severity: Severity::Error, description: "years within [validate] year_min..year_max", findings: vec![] };
    let mut negative = Check { id: "non_negative", severity: Severity::Error, description: "values are not negative (unless allow_negative)", findings: vec![] };
    for i in 0..n {
        if f.year[i] < rules.year_min || f.year[i] > rules.year_max {
            let msg = format!("year {} outside {}..{}", f.year[i], rules.year_min, rules.year_max);
            range.findings.push(Finding { message: format!("{}: {msg}", key_text(f, i)), refs: vec![r(i)] });
            v.rejects.push(Reject { raw: f.raw[i], rule: "year_range", message: msg });
            alive[i] = false;
        } else if f.value[i].is_sign_negative() && !f.value[i].is_zero() && !rules.allow_negative {
            let msg = format!("negative value {}", f.value[i]);
            negative.findings.push(Finding { message: format!("{}: {msg}", key_text(f, i)), refs: vec![r(i)] });
            v.rejects.push(Reject { raw: f.raw[i], rule: "negative_value", message: msg });
            alive[i] = false;
        }
    }

    // uniqueness: the highest-precedence figure of a key wins
    let mut order: Vec<usize> = (0..n).filter(|&i| alive[i]).collect();
    order.sort_by_key(|&i| (precedence(places[f.raw[i] as usize]), f.raw[i]));
    let mut first: HashMap<Key, usize> = HashMap::new();
    let mut dups = Check { id: "duplicates", severity: Severity::Info, description: "the same figure from more than one source: one is kept, the others superseded", findings: vec![] };
    let mut conflicts = Check { id: "conflicts", severity: Severity::Error, description: "one key with different values: the source listed first in the config wins", findings: vec![] };
    for &i in &order {
        match first.get(&key(f, i)) {
            None => {
                first.insert(key(f, i), i);
            }
            Some(&k) if f.value[k] == f.value[i] => {
                v.superseded.push(Superseded { key: key_text(f, i), value_usd: f.value[i].to_string(), source_ref: r(i), kept: r(k), raw: f.raw[i] });
                alive[i] = false;
            }
            Some(&k) => {
                let msg = format!("{}: {} here, {} at {} (kept)", key_text(f, i), grouped(f.value[i]), grouped(f.value[k]), r(k));
                conflicts.findings.push(Finding { message: msg.clone(), refs: vec![r(i), r(k)] });
                v.rejects.push(Reject { raw: f.raw[i], rule: "conflict", message: msg });
                alive[i] = false;
            }
        }
    }
    if !v.superseded.is_empty() {
        dups.findings.push(Finding {
            message: format!("{} figures repeat a figure of a higher-precedence source with the same value", v.superseded.len()),
            refs: vec![],
        });
    }

    let mut clean: Vec<usize> = (0..n).filter(|&i| alive[i]).collect();
    clean.sort_by(|&a, &b| {
        let (ka, kb) = (key(f, a), key(f, b));
        (ka.0, ka.1, ka.2, ka.3, ka.4, f.commodity_str(a)).cmp(&(kb.0, kb.1, kb.2, kb.3, kb.4, f.commodity_str(b)))
    });

    // time series: year-on-year jumps
    let mut jumps = Check {
        id: "yoy_jump",
        severity: Severity::Warn,
        description: "a year-on-year change by more than [validate] jump_factor, up or down",
        findings: vec![],
    };
    let mut series: BTreeMap<(&str, &str, Flow, Option<u8>, u32), Vec<usize>> = BTreeMap::new();
    for &i in &clean {
        series.entry((f.reporter[i], f.partner[i], f.flow[i], f.month[i], f.commodity[i])).or_default().push(i);
    }
    let factor = Decimal::try_from(rules.jump_factor).unwrap_or(Decimal::TWO);
    for idx in series.values() {
        for w in idx.windows(2) {
            let (a, b) = (w[0], w[1]);
            if f.year[b] != f.year[a] + 1 || f.value[a] <= Decimal::ZERO || f.value[b] <= Decimal::ZERO {
                continue;
            }
            let (hi, lo) = if f.value[b] > f.value[a] { (f.value[b], f.value[a]) } else { (f.value[a], f.value[b]) };
            if hi > lo * factor {
                let ratio = (f.value[b] / f.value[a]).round_dp(2);
                jumps.findings.push(Finding {
                    message: format!(
                        "{} {} {} {} -> {}: {} -> {} (x{ratio})",
                        f.reporter[a], f.partner[a], f.flow[a], f.year[a], f.year[b], grouped(f.value[a]), grouped(f.value[b])
                    ),
                    refs: vec![r(a), r(b)],
                });
                v.flags[a] |= flags::JUMP;
                v.flags[b] |= flags::JUMP;
            }
        }
    }

    // the two flows of a year are equal: often a copy error
    let mut equal = Check { id: "equal_flows", severity: Severity::Warn, description: "exports equal to imports for the same partner and period", findings: vec![] };
    let mut by_period: HashMap<(&str, &str, i32, Option<u8>, u32), Vec<usize>> = HashMap::new();
    for &i in &clean {
        by_period.entry((f.reporter[i], f.partner[i], f.year[i], f.month[i], f.commodity[i])).or_default().push(i);
    }
    let mut eq_pairs: Vec<(usize, usize)> = Vec::new();
    for idx in by_period.values() {
        let ex = idx.iter().find(|&&i| f.flow[i] == Flow::Export);
        let im = idx.iter().find(|&&i| f.flow[i] == Flow::Import);
        if let (Some(&e), Some(&m)) = (ex, im) {
            if f.value[e] == f.value[m] && !f.value[e].is_zero() {
                eq_pairs.push((e, m));
            }
        }
    }
    eq_pairs.sort();
    for (e, m) in eq_pairs {
        equal.findings.push(Finding {
            message: format!("{} {} {}: exports and imports are both {}", f.reporter[e], f.partner[e], f.year[e], grouped(f.value[e])),
            refs: vec![r(e), r(m)],
        });
        v.flags[e] |= flags::EQUAL_FLOWS;
        v.flags[m] |= flags::EQUAL_FLOWS;
    }

    // coverage: every partner x year x flow seen anywhere
    let mut coverage = Check { id: "coverage", severity: Severity::Info, description: "partner x year x flow combinations with no figure", findings: vec![] };
    let partners: BTreeSet<(&str, &str)> = clean.iter().map(|&i| (f.reporter[i], f.partner[i])).collect();
    let years: BTreeSet<i32> = clean.iter().filter(|&&i| f.month[i].is_none()).map(|&i| f.year[i]).collect();
    let present: BTreeSet<(&str, &str, i32, Flow)> = clean.iter().map(|&i| (f.reporter[i], f.partner[i], f.year[i], f.flow[i])).collect();
    if let (Some(&y0), Some(&y1)) = (years.first(), years.last()) {
        for &(rep, par) in &partners {
            for y in y0..=y1 {
                for fl in [Flow::Export, Flow::Import] {
                    if !present.contains(&(rep, par, y, fl)) {
                        coverage.findings.push(Finding { message: format!("{rep} {par} {fl} {y}: missing"), refs: vec![] });
                    }
                }
            }
        }
    }

    // aggregates read aside
    let aggregates = Check {
        id: "aggregates",
        severity: Severity::Info,
        description: "rows that are sums over partners (World, Total): read, kept out of the clean table",
        findings: norm.aggregates.iter().map(|a| Finding { message: format!("{} = {:?}", a.label, a.value), refs: vec![a.source_ref.clone()] }).collect(),
    };

    // what normalise rejected, by rule
    let mut by_rule: BTreeMap<&str, Vec<&Reject>> = BTreeMap::new();
    for rj in &norm.rejects {
        by_rule.entry(rj.rule).or_default().push(rj);
    }
    let mut parse = Check { id: "parse", severity: Severity::Error, description: "figures that could not be read: unknown countries, flows, years, units, numbers", findings: vec![] };
    for (rule, list) in by_rule {
        for rj in list {
            parse.findings.push(Finding { message: format!("{rule}: {}", rj.message), refs: vec![source_ref(places[rj.raw as usize])] });
        }
    }

    let rejected = v.rejects.len();
    let mut tolerance = Check {
        id: "tolerance",
        severity: Severity::Error,
        description: "rejected figures within [validate] max_rejected",
        findings: vec![],
    };
    if rejected > rules.max_rejected {
        let why = format!("{rejected} figures rejected, more than max_rejected = {}", rules.max_rejected);
        tolerance.findings.push(Finding { message: why.clone(), refs: vec![] });
        v.failure = Some(why);
    }
    v.checks = vec![tolerance, parse, range, negative, conflicts, dups, jumps, equal, coverage, aggregates];
    v.clean = clean;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(Decimal::from(1470000000)), "1,470,000,000");
        assert_eq!(grouped("985680000.5".parse().unwrap()), "985,680,000.5");
        assert_eq!(grouped(Decimal::from(-1234)), "-1,234");
        assert_eq!(grouped(Decimal::from(999)), "999");
    }
}
