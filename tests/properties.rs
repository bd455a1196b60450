//! Property tests: a value formatted in any supported style reads back exactly; a number
//! a spreadsheet holds comes out as typed (up to 15 significant digits) and its float
//! noise snapped; a table written in one locale has each number read as written or
//! rejected as ambiguous, never the other way; and the accounting rule holds on generated
//! inputs, passing or failing.

use proptest::prelude::*;
use rust_decimal::Decimal;
use tradeflow::normalize::number::{parse, Parsed};

/// Groups the digits of `int` by three with `sep`.
fn group(int: &str, sep: &str) -> String {
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// (thousands separator, decimal mark, declared decimal)
const STYLES: &[(&str, char)] = &[
    ("", '.'),
    (",", '.'),
    (".", ','),
    (" ", ','),
    ("\u{a0}", ','),
    ("\u{202f}", ','),
    ("'", '.'),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn format_then_parse_is_identity(int in 0u64..10_000_000_000_000, frac in 0u32..10_000, frac_digits in 0usize..5, style in 0usize..STYLES.len(), neg in any::<bool>(), parens in any::<bool>(), scale in 0usize..4) {
        let (sep, mark) = STYLES[style];
        let frac_text = if frac_digits == 0 { String::new() } else { format!("{:0width$}", frac % 10u32.pow(frac_digits as u32), width = frac_digits) };
        let mut text = group(&int.to_string(), sep);
        if !frac_text.is_empty() {
            text.push(mark);
            text.push_str(&frac_text);
        }
        let words = ["", " thousand", " mln", " bn"];
        text.push_str(words[scale]);
        if neg {
            text = if parens { format!("({text})") } else { format!("-{text}") };
        }
        let expected: Decimal = format!("{}{int}{}", if neg { "-" } else { "" }, if frac_text.is_empty() { String::new() } else { format!(".{frac_text}") }).parse().unwrap();
        match parse(&text, Some(mark)) {
            Parsed::Number(r) => {
                prop_assert_eq!(r.value, expected, "{}", text);
                let want_scale = [None, Some(3), Some(6), Some(9)][scale];
                prop_assert_eq!(r.scale, want_scale);
                prop_assert!(r.alt.is_none());
            }
            other => prop_assert!(false, "{:?} -> {:?}", text, other),
        }
    }

    /// A number typed into a spreadsheet with up to 15 significant digits (at any scale,
    /// so also `17880630.52827`) is stored as the nearest float and read back exactly as
    /// typed, not flagged.
    #[test]
    fn spreadsheet_numbers_come_out_as_typed(mantissa in 1u64..1_000_000_000_000_000, digits in 1u32..=15, point in 0u32..=15, neg in any::<bool>()) {
        // `digits` significant digits of `mantissa`, the point `point` places from the right
        let m = mantissa % 10u64.pow(digits);
        prop_assume!(m > 0);
        let typed = Decimal::from_i128_with_scale(if neg { -(m as i128) } else { m as i128 }, point.min(15)).normalize();
        let x: f64 = typed.to_string().parse().unwrap();
        let (got, snapped) = tradeflow::normalize::number::from_float(x).unwrap();
        prop_assert_eq!(got, typed);
        prop_assert!(!snapped, "{} flagged as snapped", typed);
    }

    /// A float a unit in its last place off a typed number (float arithmetic's noise, as
    /// `0.1 + 0.2` gives `0.30000000000000004`) reads as the number typed, flagged as
    /// snapped: the noise is past the 15th significant digit.
    #[test]
    fn float_noise_is_snapped(m in 1u64..1_000_000_000, point in 0u32..=6, up in any::<bool>()) {
        let typed = Decimal::from_i128_with_scale(m as i128, point).normalize();
        let x: f64 = typed.to_string().parse().unwrap();
        let noisy = f64::from_bits(if up { x.to_bits() + 1 } else { x.to_bits() - 1 });
        let (got, snapped) = tradeflow::normalize::number::from_float(noisy).unwrap();
        prop_assert_eq!(got, typed);
        prop_assert!(snapped);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,24}", d in prop::option::of(prop_oneof![Just('.'), Just(',')])) {
        let _ = parse(&s, d);
    }
}

fn accounting_case(
    rows: &[(usize, usize, u16, usize)],
    max_share: f64,
) -> Result<(), TestCaseError> {
    let partners = [
        "Kazakhstan",
        "KAZ",
        "Özbekistan",
        "World",
        "Atlantis",
        "Toplam",
        "Кыргызстан",
        "",
    ];
    let flows = ["export", "import", "İhracat", "sideways"];
    let values = [
        "900",
        "1.135 Billion",
        "..",
        "abc",
        "-5",
        "1.180",
        "625",
        "3,004",
        "1e9",
        "",
    ];
    let mut csv = String::from("partner,flow,year,value,unit\n");
    for &(p, f, y, v) in rows {
        csv.push_str(&format!(
            "{},{},{},\"{}\",USD million\n",
            partners[p],
            flows[f],
            2015 + y % 8,
            values[v]
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("b.csv"), &csv).unwrap();
    let cfg = format!(
        "[[sources]]\npath = \"a.csv\"\nreporter = \"TUR\"\n[[sources]]\npath = \"b.csv\"\nreporter = \"TUR\"\n[validate]\nmax_rejected_share = {max_share}\n"
    );
    std::fs::write(dir.path().join("pipeline.toml"), cfg).unwrap();
    let out = match tradeflow::pipeline::run(
        &dir.path().join("pipeline.toml"),
        tradeflow::pipeline::Mode::Validate,
        &Default::default(),
    ) {
        // a source of only aggregate rows is refused: no figure to account for
        // a source of no rows is refused: nothing replaces the last publication
        Err(tradeflow::error::Error::Validation(m)) if m.contains("yielded no figures") => {
            prop_assert!(rows.is_empty(), "{}", m);
            return Ok(());
        }
        Err(tradeflow::error::Error::Validation(m))
            if m.contains("every row read is an aggregate") =>
        {
            prop_assert!(rows.iter().all(|&(p, ..)| partners[p] == "Toplam"), "{}", m);
            return Ok(());
        }
        r => r.unwrap(),
    };
    let n = |k: &str| out.report[k].as_u64().unwrap();
    prop_assert_eq!(
        n("figures_read"),
        n("figures_clean") + n("figures_rejected") + n("figures_superseded"),
        "{}",
        csv
    );
    let aggregates = n("aggregate_rows");
    prop_assert_eq!(n("figures_read") + aggregates, 2 * rows.len() as u64);
    prop_assert_eq!(out.report["accounting_holds"].as_bool(), Some(true));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_figure_ends_in_exactly_one_place(rows in prop::collection::vec((0usize..8, 0usize..4, 0u16..8, 0usize..10), 0..40), strict in any::<bool>()) {
        accounting_case(&rows, if strict { 0.0 } else { 1.0 })?;
    }
}

/// A value of `cents` hundredths written the way of `locale` (0 English, 1 Turkish or
/// German, 2 Russian), its thousands grouped or not, its decimals as many as it has.
fn written(cents: u64, decimals: u32, locale: usize, grouped: bool) -> String {
    let (thousands, mark) = [(",", "."), (".", ","), ("\u{a0}", ",")][locale];
    let int = cents / 100;
    let mut out = if grouped {
        group(&int.to_string(), thousands)
    } else {
        int.to_string()
    };
    let frac = format!("{:02}", cents % 100);
    let frac = &frac[..decimals as usize];
    if !frac.is_empty() {
        out.push_str(mark);
        out.push_str(frac);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A table written in one locale, whatever mix of ambiguous (`1,135`, `1.135`) and
    /// unambiguous numbers it holds: every number is read exactly as written or rejected
    /// as ambiguous, never read the other way.
    #[test]
    fn a_table_in_one_locale_is_never_read_the_other_way(
        locale in 0usize..3,
        cells in prop::collection::vec((0u64..1_000_000_000, 0u32..3, any::<bool>(), 0u32..4), 1..30),
    ) {
        use tradeflow::model::{Place, RawFigures};
        let mut raw = RawFigures::default();
        let mut truth = Vec::new();
        for (row, &(cents, decimals, grouped, col)) in cells.iter().enumerate() {
            // a value with fewer decimals than it is written with is rounded to them
            let cents = cents - cents % 10u64.pow(2 - decimals);
            let text = written(cents, decimals, locale, grouped);
            truth.push((text.clone(), Decimal::new(cents as i64, 2).normalize()));
            let value = raw.text_value(&text);
            raw.push(
                crate::util::kaz_export_2019(Some("USD"), None),
                value,
                Place { table: 0, row: row as u32, col },
            );
        }
        let n = tradeflow::normalize::normalize(&raw, &Default::default(), &|_| String::new());
        for (i, (text, want)) in truth.iter().enumerate() {
            match n.figures.raw.iter().position(|&r| r as usize == i) {
                Some(f) => prop_assert_eq!(
                    n.figures.value.get(f).map(|v| v.normalize()),
                    Some(*want),
                    "{:?} in locale {}", text, locale
                ),
                None => {
                    let r = n.rejects.iter().find(|r| r.raw as usize == i).unwrap();
                    prop_assert_eq!(r.rule, "ambiguous_number", "{:?}: {}", text, r.message);
                }
            }
        }
    }
}
