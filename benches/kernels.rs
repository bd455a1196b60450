//! Criterion benchmarks of the hot kernels: value parsing over a million mixed texts,
//! unit resolution, country lookup, exact values out (text and Float64), and normalise + validate (row accounting) over a
//! million raw figures. `cargo bench --bench kernels`; figures in benches/README.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use tradeflow::model::{Place, RawFigureRef, RawFigures};
use tradeflow::normalize::{self, countries, number, units};

/// A million value texts in every style the parser reads, deterministic.
fn mixed_values(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let int = x % 10_000_000;
        let frac = (x >> 32) % 100;
        out.push(match i % 12 {
            0 => format!("{int}"),
            1 => format!("{int}.{frac:02}"),
            2 => format!("{},{:03}.{frac:02}", int / 1000, int % 1000),
            3 => format!("{}.{:03},{frac:02}", int / 1000, int % 1000),
            4 => format!("{}\u{a0}{:03},{frac:02}", int / 1000, int % 1000),
            5 => format!("{}.{frac:02} Billion", int % 100),
            6 => format!("{} mln", int % 1000),
            7 => format!("({int})"),
            8 => "..".to_string(),
            9 => format!("{int}*"),
            10 => format!("{},{frac} млрд", int % 10),
            _ => format!("$ {}.{frac}bn", int % 100),
        });
    }
    out
}

fn bench_parse(c: &mut Criterion) {
    let values = mixed_values(1_000_000);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.sample_size(10);
    g.bench_function("1M mixed value texts", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for v in &values {
                if let number::Parsed::Number(r) = number::parse(black_box(v), None) {
                    n += r.scale.unwrap_or(0) as usize;
                }
            }
            n
        })
    });
    g.finish();
}

fn bench_units_countries(c: &mut Criterion) {
    let headers = [
        "TURKEY'S EXPORT TO AZERBAIJAN (Million dollars)",
        "Bin ABD Doları",
        "млн долл. США",
        "Value (USD thousand)",
        "YEARS",
    ];
    c.bench_function("unit of a header", |b| {
        b.iter(|| {
            // every header read (map + count would skip the closure)
            headers
                .iter()
                .filter(|h| !matches!(units::read_unit(black_box(h)), units::UnitRead::None))
                .count()
        })
    });
    let names = [
        "Kazakhstan",
        "TÜRKİYE",
        "Кыргызстан",
        "O‘zbekiston",
        "World",
        "Atlantis",
        "Azərbaycan",
        "United States of America",
    ];
    let _ = countries::lookup("warm up the table");
    c.bench_function("country lookup", |b| {
        b.iter(|| {
            names
                .iter()
                .filter_map(|n| countries::lookup(black_box(n)))
                .count()
        })
    });
}

/// A million exact values written as the CSV writes them (dollars and millions, text)
/// and as Parquet holds them (the nearest Float64 of each).
fn bench_decimal_out(c: &mut Criterion) {
    use rust_decimal::Decimal;
    use tradeflow_kernels::decimal;
    let values: Vec<Decimal> = mixed_values(1_000_000)
        .iter()
        .filter_map(|v| match number::parse(v, None) {
            number::Parsed::Number(r) => Some(r.value),
            _ => None,
        })
        .collect();
    let mut g = c.benchmark_group("decimal out");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.sample_size(10);
    g.bench_function("texts of 1M values, dollars and millions", |b| {
        let (mut s, mut m) = (String::new(), String::new());
        b.iter(|| {
            let mut n = 0usize;
            for v in &values {
                s.clear();
                m.clear();
                decimal::push_both(&mut s, &mut m, *black_box(v), 6);
                n += s.len() + m.len();
            }
            n
        })
    });
    // what the writers did before: Display, and a float divided by 1e6 (which drifts)
    g.bench_function("baseline: Display and f64 / 1e6 of 1M values", |b| {
        use rust_decimal::prelude::ToPrimitive;
        use std::fmt::Write;
        let mut s = String::new();
        b.iter(|| {
            let mut n = 0usize;
            for v in &values {
                s.clear();
                let _ = write!(s, "{}", black_box(v).normalize());
                let _ = write!(s, "{}", v.to_f64().unwrap_or(0.0) / 1e6);
                n += s.len();
            }
            n
        })
    });
    g.bench_function("Float64 of 1M values, dollars and millions", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|v| decimal::to_f64(*black_box(v), 0) + decimal::to_f64(*v, 6))
                .sum::<f64>()
        })
    });
    g.finish();
}

fn raw_figures(n: usize) -> RawFigures {
    let values = mixed_values(n);
    let partners = [
        "Kazakhstan",
        "Özbekistan",
        "Azerbaycan",
        "Кыргызстан",
        "World",
        "Atlantis",
    ];
    let mut raw = RawFigures::default();
    for (i, v) in values.iter().enumerate() {
        let value = raw.text_value(v);
        let year = (2000 + i % 20).to_string();
        let f = RawFigureRef {
            reporter: Some("TUR"),
            partner: Some(partners[i % partners.len()]),
            flow: Some(if i % 2 == 0 { "export" } else { "import" }),
            year: Some(&year),
            month: None,
            commodity: None,
            unit_column: Some("USD million"),
            unit_title: None,
            unit_config: None,
            decimal: Some('.'),
        };
        raw.push(
            f,
            value,
            Place {
                table: 0,
                row: i as u32,
                col: 3,
            },
        );
    }
    raw
}

fn bench_accounting(c: &mut Criterion) {
    let raw = raw_figures(1_000_000);
    let rules = tradeflow::config::Rules {
        max_rejected_share: 1.0,
        ..Default::default()
    };
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(raw.len() as u64));
    g.bench_function("normalise + validate 1M raw figures", |b| {
        b.iter_batched(
            || (),
            |_| {
                let sref = |p: Place| format!("row {}", p.row);
                let norm = normalize::normalize(&raw, &normalize::Options::default(), &sref);
                let places = tradeflow::validate::Places {
                    place: &raw.places,
                    source_ref: &sref,
                    precedence: &|_| 0,
                };
                let v = tradeflow::validate::validate(&norm, &rules, &places);
                v.clean.len() + v.rejects.len() + v.superseded.len()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_units_countries,
    bench_decimal_out,
    bench_accounting
);
criterion_main!(benches);
