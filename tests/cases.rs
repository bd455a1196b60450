//! The normalisation case tables in `tests/cases/`: every value text, unit text and
//! country name there, with its context and the expected outcome, through the same
//! kernels the pipeline runs. All failures are listed at once.

use crate::util::kaz_export_2019;
use std::path::PathBuf;
use tradeflow::model::{Place, RawFigures, RawValue};
use tradeflow::normalize::{self, countries, units};

fn table(name: &str) -> Vec<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(|c| c.replace("<TAB>", "\t")).collect())
        .collect()
}

fn report(kind: &str, total: usize, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} of {total} {kind} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn value_cases() {
    let cases = table("values.tsv");
    assert!(cases.len() >= 150);
    let mut raw = RawFigures::default();
    for (k, c) in cases.iter().enumerate() {
        let value = if c[0].is_empty() {
            RawValue::Empty
        } else {
            raw.text_value(&c[0])
        };
        let f = kaz_export_2019(
            (c[2] != "-").then_some(c[2].as_str()),
            c[1].chars().next().filter(|d| *d != '-'),
        );
        // each case its own table, so no case is evidence for another
        raw.push(
            f,
            value,
            Place {
                table: k as u32,
                row: 0,
                col: 0,
            },
        );
    }
    let n = normalize::normalize(&raw, &normalize::Options::default(), &|p| {
        format!("case {}", p.table)
    });
    let mut failures = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let got = if let Some(i) = n.figures.raw.iter().position(|&r| r as usize == k) {
            match n.figures.value.get(i) {
                Some(v) => v.normalize().to_string(),
                None => "MISSING".into(),
            }
        } else if let Some(r) = n.rejects.iter().find(|r| r.raw as usize == k) {
            if r.rule == "ambiguous_number" {
                "AMBIG".into()
            } else {
                format!("REJECT:{}", r.rule)
            }
        } else {
            "LOST".into()
        };
        if got != c[3] {
            failures.push(format!(
                "  {:?} (decimal {}, header {:?}): expected {}, got {got}",
                c[0], c[1], c[2], c[3]
            ));
        }
    }
    report("value", cases.len(), failures);
}

#[test]
fn unit_cases() {
    let cases = table("units.tsv");
    let mut failures = Vec::new();
    for c in &cases {
        let got = match units::read_unit(&c[0]) {
            units::UnitRead::Unit(u) if matches!(u.currency, Some(units::Currency::Other(_))) => {
                "OTHER".to_string()
            }
            units::UnitRead::Unit(u) => u.exp.to_string(),
            units::UnitRead::None => "NONE".into(),
            units::UnitRead::Conflict(_) => "CONFLICT".into(),
        };
        if got != c[1] {
            failures.push(format!("  {:?}: expected {}, got {got}", c[0], c[1]));
        }
    }
    report("unit", cases.len(), failures);
}

fn country_table(file: &str) -> usize {
    let cases = table(file);
    let mut failures = Vec::new();
    for c in &cases {
        let got = match countries::lookup(&c[0]) {
            Some(countries::Place::Country(k)) => k.iso3.to_string(),
            Some(countries::Place::Aggregate) => "AGGREGATE".into(),
            None => "UNKNOWN".into(),
        };
        if got != c[1] {
            let from = c.get(2).map(|s| format!(" ({s})")).unwrap_or_default();
            failures.push(format!("  {:?}{from}: expected {}, got {got}", c[0], c[1]));
        }
    }
    report(&format!("country ({file})"), cases.len(), failures);
    cases.len()
}

#[test]
fn country_cases() {
    country_table("countries.tsv");
}

/// Every name of the published lists (the World Bank's `Metadata_Country`, UN Comtrade's
/// partner and reporter areas and its code and ISO list, UN M49, ISO 3166 by pycountry:
/// `crates/kernels/src/lists/README.md`), as each list writes it, named in the third
/// column: its ISO3 code, `WLD` or `AGGREGATE` as the list says.
#[test]
fn published_country_lists() {
    assert!(country_table("countries_published.tsv") >= 700);
}

/// Partner names as Russian, Turkish and Kazakh national statistics write them.
#[test]
fn national_partner_names() {
    assert!(country_table("countries_national.tsv") >= 100);
}

/// Ambiguous numbers decided by the evidence of their column, table or source (or by
/// none, then rejected naming both readings), in English, Turkish, German and Russian
/// writing (`evidence.tsv`). Each case is a source of its own: the number in one table,
/// the evidence where the case says, another table of the same source beside it.
#[test]
fn evidence_cases() {
    use tradeflow::model::flags;
    let cases = table("evidence.tsv");
    assert!(cases.len() >= 80, "{}", cases.len());
    let mut raw = RawFigures::default();
    let mut asked = Vec::new();
    let push = |raw: &mut RawFigures, text: &str, unit: &str, place: Place| {
        let value = raw.text_value(text);
        let f = kaz_export_2019(Some(unit), None);
        raw.push(f, value, place);
    };
    let at = |table: usize, row: u32, col: u32| Place {
        table: table as u32,
        row,
        col,
    };
    for (k, c) in cases.iter().enumerate() {
        let (text, unit, level, cells) = (&c[0], &c[1], c[2].as_str(), &c[3]);
        asked.push(raw.len());
        push(&mut raw, text, unit, at(2 * k, 0, 0));
        let cells: Vec<&str> = cells.split(' ').filter(|e| *e != "-").collect();
        for (j, e) in cells.iter().enumerate() {
            let j = j as u32 + 1;
            let place = match level {
                "column" | "conflict" => at(2 * k, j, 0),
                "table" => at(2 * k, j, 1),
                "source" => at(2 * k + 1, j, 0),
                other => panic!("level {other:?}"),
            };
            push(&mut raw, e, unit, place);
        }
    }
    let opts = normalize::Options {
        table_source: (0..2 * cases.len()).map(|t| (t / 2) as u16).collect(),
        ..Default::default()
    };
    let n = normalize::normalize(&raw, &opts, &|p| format!("case {}", p.table / 2));
    let mut failures = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let i = asked[k];
        let got = match n.figures.raw.iter().position(|&r| r as usize == i) {
            Some(f) => {
                let flag = n.figures.flags[f];
                let level = [
                    (flags::DECIMAL_FROM_COLUMN, "column"),
                    (flags::DECIMAL_FROM_TABLE, "table"),
                    (flags::DECIMAL_FROM_SOURCE, "source"),
                ]
                .iter()
                .find(|(b, _)| flag & b != 0)
                .map_or("nothing", |(_, l)| l);
                let v = n.figures.value.get(f).map(|v| v.normalize().to_string());
                format!("{} by {level}", v.unwrap_or_default())
            }
            None => match n.rejects.iter().find(|r| r.raw as usize == i) {
                // both readings named
                Some(r) if r.rule == "ambiguous_number" && r.message.contains(" or ") => {
                    "AMBIG".into()
                }
                Some(r) => format!("REJECT:{}: {}", r.rule, r.message),
                None => "LOST".into(),
            },
        };
        let want = if c[4] == "AMBIG" {
            "AMBIG".to_string()
        } else {
            format!("{} by {}", c[4], c[2])
        };
        if got != want {
            failures.push(format!(
                "  {:?} ({}, {}): expected {want}, got {got}",
                c[0], c[5], c[2]
            ));
        }
    }
    report("evidence", cases.len(), failures);
}

#[test]
fn at_least_300_cases_in_all() {
    assert!(
        table("values.tsv").len() + table("units.tsv").len() + table("countries.tsv").len() >= 300
    );
}
