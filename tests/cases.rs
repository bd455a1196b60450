//! The normalisation case tables in `tests/cases/`: every value text, unit text and
//! country name there, with its context and the expected outcome, through the same
//! kernels the pipeline runs. All failures are listed at once.

use std::path::PathBuf;
use tradeflow::model::{Place, RawFigureRef, RawFigures, RawValue};
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
        let f = RawFigureRef {
            reporter: Some("TUR"),
            partner: Some("KAZ"),
            flow: Some("export"),
            year: Some("2019"),
            month: None,
            commodity: None,
            unit_column: (c[2] != "-").then_some(c[2].as_str()),
            unit_title: None,
            unit_config: None,
            decimal: c[1].chars().next().filter(|d| *d != '-'),
        };
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

#[test]
fn at_least_300_cases_in_all() {
    assert!(
        table("values.tsv").len() + table("units.tsv").len() + table("countries.tsv").len() >= 300
    );
}
