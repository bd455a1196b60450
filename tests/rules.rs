//! Every validation rule, each with a fixture that triggers it and one that does not.
//! Fixtures are long CSV tables (reporter, partner, flow, year, value) written here.

use crate::util::{code, stderr, stdout, Workdir};
use serde_json::Value;

/// A folder with the CSV as its one source, and extra config.
fn workdir(csv: &str, extra: &str) -> Workdir {
    let w = Workdir::empty();
    w.write("raw/t.csv", csv);
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"raw/t.csv\"\n\n{extra}"),
    );
    w
}

/// Runs `validate` on a CSV with extra config; returns the exit code and the report.
fn validate(csv: &str, extra: &str) -> (i32, Value) {
    let w = workdir(csv, extra);
    let o = w.run(&["validate"]);
    let report =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    (code(&o), report)
}

fn findings<'a>(r: &'a Value, id: &str) -> Vec<&'a str> {
    let c = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect()
}

const HEAD: &str = "reporter,partner,flow,year,value,unit\n";

fn rows(rows: &[(&str, &str, i32, &str)]) -> String {
    let mut s = HEAD.to_string();
    for (p, f, y, v) in rows {
        s.push_str(&format!("TUR,{p},{f},{y},{v},USD million\n"));
    }
    s
}

fn series(p: &str, f: &str, values: &[&str]) -> Vec<(String, String, i32, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (p.to_string(), f.to_string(), 2016 + i as i32, v.to_string()))
        .collect()
}

fn csv_of(v: &[(String, String, i32, String)]) -> String {
    rows(
        &v.iter()
            .map(|(p, f, y, x)| (p.as_str(), f.as_str(), *y, x.as_str()))
            .collect::<Vec<_>>(),
    )
}

const LENIENT: &str = "[validate]\nmax_rejected_share = 1.0\n";

#[test]
fn missing_value_is_null_with_a_flag_or_rejected() {
    let csv = rows(&[("KAZ", "export", 2019, ".."), ("KAZ", "import", 2019, "5")]);
    let (c, r) = validate(&csv, LENIENT);
    assert_eq!(c, 0);
    assert_eq!(findings(&r, "missing_value").len(), 1);
    assert_eq!(r["figures_clean"], 2, "kept as null");
    let (_, r) = validate(
        &csv,
        "[validate]\nmax_rejected_share = 1.0\n[validate.severity]\nmissing_value = \"error\"\n",
    );
    assert_eq!(r["figures_rejected"], 1);
    let (_, r) = validate(&rows(&[("KAZ", "export", 2019, "5")]), LENIENT);
    assert!(findings(&r, "missing_value").is_empty());
}

#[test]
fn year_range() {
    let (_, r) = validate(&rows(&[("KAZ", "export", 1900, "5")]), LENIENT);
    assert_eq!(
        findings(&r, "year_range"),
        ["TUR KAZ export 1900 TOTAL: year 1900 outside 1950..2100"]
    );
    assert_eq!(r["figures_rejected"], 1);
    let (_, r) = validate(&rows(&[("KAZ", "export", 2000, "5")]), LENIENT);
    assert!(findings(&r, "year_range").is_empty());
}

#[test]
fn negative_values_rejected_unless_allowed() {
    let csv = rows(&[("KAZ", "export", 2019, "(5)")]);
    let (_, r) = validate(&csv, LENIENT);
    assert_eq!(findings(&r, "negative_value").len(), 1);
    assert_eq!(r["figures_rejected"], 1);
    let (_, r) = validate(&csv, "[validate]\nallow_negative = true\n");
    assert!(findings(&r, "negative_value").is_empty());
    assert_eq!(r["figures_clean"], 1);
}

#[test]
fn implausible_value() {
    let (_, r) = validate(&rows(&[("KAZ", "export", 2019, "200000000")]), LENIENT);
    assert_eq!(
        findings(&r, "implausible_value").len(),
        1,
        "200 trillion dollars"
    );
    // every flow on record passes: China's exports, 3.38 trillion dollars in 2023
    let (_, r) = validate(&rows(&[("KAZ", "export", 2019, "3380000")]), LENIENT);
    assert!(findings(&r, "implausible_value").is_empty());
    let (_, r) = validate(&rows(&[("KAZ", "export", 2019, "2000")]), LENIENT);
    assert!(findings(&r, "implausible_value").is_empty());
}

#[test]
fn yoy_jump() {
    let (c, r) = validate(&csv_of(&series("KAZ", "import", &["1470", "3004"])), "");
    assert_eq!(c, 0, "a warning does not fail the run");
    assert_eq!(
        findings(&r, "yoy_jump"),
        ["TUR KAZ import 2016 -> 2017: 1,470,000,000 -> 3,004,000,000 (x2.04)"]
    );
    let (_, r) = validate(&csv_of(&series("KAZ", "import", &["1470", "2900"])), "");
    assert!(findings(&r, "yoy_jump").is_empty());
    let (c, _) = validate(
        &csv_of(&series("KAZ", "import", &["1470", "3004"])),
        "[validate.severity]\nyoy_jump = \"error\"\n",
    );
    assert_eq!(c, 1, "as an error it fails the run");
}

#[test]
fn equal_flows() {
    let (_, r) = validate(
        &rows(&[
            ("AZE", "export", 2016, "1180"),
            ("AZE", "import", 2016, "1180"),
        ]),
        "",
    );
    assert_eq!(
        findings(&r, "equal_flows"),
        ["TUR AZE 2016: exports and imports are both 1,180,000,000"]
    );
    let (_, r) = validate(
        &rows(&[
            ("AZE", "export", 2016, "1180"),
            ("AZE", "import", 2016, "1181"),
        ]),
        "",
    );
    assert!(findings(&r, "equal_flows").is_empty());
}

#[test]
fn repeated_value() {
    let (_, r) = validate(
        &csv_of(&series("KGZ", "export", &["300", "300", "300"])),
        "",
    );
    assert_eq!(
        findings(&r, "repeated_value"),
        ["TUR KGZ export: 300,000,000 in every year 2016-2018"]
    );
    let (_, r) = validate(
        &csv_of(&series("KGZ", "export", &["300", "300", "301"])),
        "",
    );
    assert!(findings(&r, "repeated_value").is_empty());
}

#[test]
fn series_gap() {
    let mut v = series("KGZ", "export", &["300", "310", "320", "330"]);
    v.remove(1);
    v.extend(series("KAZ", "export", &["1", "2", "3", "4"]));
    let (_, r) = validate(&csv_of(&v), "");
    assert_eq!(
        findings(&r, "series_gap"),
        ["TUR KGZ export: no figure for 2017"]
    );
    let (_, r) = validate(&csv_of(&series("KGZ", "export", &["300", "310"])), "");
    assert!(findings(&r, "series_gap").is_empty());
}

#[test]
fn conflict() {
    let (_, r) = validate(
        &rows(&[
            ("KAZ", "export", 2019, "900"),
            ("KAZ", "export", 2019, "901"),
        ]),
        LENIENT,
    );
    assert_eq!(findings(&r, "conflict").len(), 1);
    assert_eq!(r["figures_rejected"], 1);
    let (_, r) = validate(
        &rows(&[
            ("KAZ", "export", 2019, "900"),
            ("KAZ", "export", 2019, "900"),
        ]),
        LENIENT,
    );
    assert!(findings(&r, "conflict").is_empty());
    assert_eq!(
        r["figures_superseded"], 1,
        "the same value twice is a duplicate, not a conflict"
    );
}

#[test]
fn coverage_matrix_shows_a_missing_partner() {
    let cov = "[validate.coverage]\npartners = [\"KAZ\", \"TKM\"]\nyears = [2019, 2019]\n";
    let (c, r) = validate(
        &rows(&[("KAZ", "export", 2019, "1"), ("KAZ", "import", 2019, "1")]),
        cov,
    );
    assert_eq!(c, 0);
    assert_eq!(
        findings(&r, "coverage"),
        ["TUR TKM: no figures at all for 2019-2019"]
    );
    let tkm: Vec<&Value> = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["partner"] == "TKM")
        .collect();
    assert_eq!(tkm.len(), 2);
    assert!(tkm.iter().all(|c| c["present"] == false));
    let (_, r) = validate(
        &rows(&[("KAZ", "export", 2019, "1"), ("KAZ", "import", 2019, "1")]),
        "[validate.coverage]\npartners = [\"KAZ\"]\nyears = [2019, 2019]\n",
    );
    assert!(findings(&r, "coverage").is_empty());
}

#[test]
fn totals_cross_check_the_parts() {
    let bad = "reporter,partner,flow,year,value,unit\nTUR,KAZ,export,2019,900,USD million\nTUR,UZB,export,2019,1135,USD million\nTUR,Total,export,2019,2100,USD million\n";
    let (_, r) = validate(bad, "");
    assert_eq!(findings(&r, "totals"), ["TUR export 2019: the 2 partners add up to 2,035,000,000, the \"Total\" row says 2,100,000,000"]);
    assert_eq!(r["figures_read"], 2, "the total row is not a figure");
    let good = bad.replace("2100", "2035");
    let (_, r) = validate(&good, "");
    assert!(findings(&r, "totals").is_empty());
}

#[test]
fn mirror_statistics_report_the_gap() {
    let csv = "reporter,partner,flow,year,value,unit\nTUR,KAZ,export,2019,900,USD million\nKAZ,TUR,import,2019,1200,USD million\nTUR,UZB,export,2019,1000,USD million\nUZB,TUR,import,2019,1080,USD million\n";
    let (c, r) = validate(csv, "");
    assert_eq!(c, 0);
    assert_eq!(findings(&r, "mirror"), ["TUR exports to KAZ 2019: 900,000,000 against KAZ's imports 1,200,000,000 (gap +33.3%, band -10%..+20%)"]);
    let gaps = r["mirror"].as_array().unwrap();
    assert_eq!(gaps.len(), 2, "both pairs are reported, in band or not");
    let uzb = gaps.iter().find(|g| g["importer"] == "UZB").unwrap();
    assert_eq!(uzb["within_band"], true);
    assert!((uzb["gap"].as_f64().unwrap() - 0.08).abs() < 1e-9);
}

#[test]
fn expectations_pass_and_fail() {
    let csv = rows(&[
        ("UZB", "export", 2019, "1.135 Billion"),
        ("UZB", "import", 2019, "1.076 Billion"),
    ]);
    let ok = "[[expect]]\nname = \"UZB volume 2019\"\nkind = \"volume\"\npartner = \"UZB\"\nyear = 2019\nequals = \"2.2 billion\"\nwithin = 0.05\n";
    let (c, r) = validate(&csv, ok);
    assert_eq!(c, 0);
    assert_eq!(r["expectations"][0]["passed"], true);
    let wrong = ok.replace("2.2 billion", "3 billion");
    let (c, r) = validate(&csv, &wrong);
    assert_eq!(c, 1, "a failed expectation fails the run");
    assert_eq!(r["expectations"][0]["passed"], false);
    assert!(findings(&r, "expectations")[0]
        .starts_with("UZB volume 2019: actual 2,211,000,000 against expected 3,000,000,000"));
    let complete = "[[expect]]\nname = \"both flows\"\nkind = \"complete\"\npartners = [\"UZB\", \"TKM\"]\nyears = [2019, 2019]\nseverity = \"warn\"\n";
    let (c, r) = validate(&csv, complete);
    assert_eq!(c, 0, "severity warn");
    assert_eq!(
        r["expectations"][0]["detail"],
        "2 missing: TKM export 2019, TKM import 2019"
    );
}

#[test]
fn tolerance_count_and_share() {
    let csv = rows(&[
        ("KAZ", "export", 2019, "abc"),
        ("KAZ", "import", 2019, "5"),
        ("UZB", "import", 2019, "5"),
    ]);
    let (c, r) = validate(&csv, "");
    assert_eq!(c, 1, "1 of 3 rejected is over the default 5%");
    assert!(
        findings(&r, "tolerance")[0].contains("1 of 3 figures rejected (33.3%)"),
        "{:?}",
        findings(&r, "tolerance")
    );
    assert_eq!(r["status"], "failed");
    let (c, _) = validate(&csv, "[validate]\nmax_rejected_share = 0.5\n");
    assert_eq!(c, 0);
    let (c, _) = validate(
        &csv,
        "[validate]\nmax_rejected_share = 0.5\nmax_rejected = 0\n",
    );
    assert_eq!(c, 1);
}

#[test]
fn accounting_holds_on_a_failing_run() {
    let csv = rows(&[
        ("KAZ", "export", 2019, "abc"),
        ("KAZ", "export", 2019, "5"),
        ("KAZ", "export", 2019, "5"),
        ("Atlantis", "import", 2019, "5"),
    ]);
    let (c, r) = validate(&csv, "");
    assert_eq!(c, 1);
    let n = |k: &str| r[k].as_u64().unwrap();
    assert_eq!(n("figures_read"), 4);
    assert_eq!(
        n("figures_read"),
        n("figures_clean") + n("figures_rejected") + n("figures_superseded")
    );
}

#[test]
fn schema_rules_flow_month_commodity_country() {
    let csv = "reporter,partner,flow,year,month,commodity,value,unit\n\
               TUR,KAZ,sideways,2019,,TOTAL,5,USD\n\
               TUR,KAZ,export,2019,13,TOTAL,5,USD\n\
               TUR,KAZ,export,2019,,12AB,5,USD\n\
               TUR,Atlantis,export,2019,,TOTAL,5,USD\n\
               TUR,KAZ,import,2019,12,0101,5,USD\n";
    let (_, r) = validate(csv, LENIENT);
    let by_rule = &r["rejected_by_rule"];
    for rule in ["bad_flow", "bad_month", "bad_commodity", "unknown_country"] {
        assert_eq!(by_rule[rule], 1, "{rule}: {by_rule}");
    }
    assert_eq!(
        r["figures_clean"], 1,
        "the good row passes every schema rule"
    );
    let parse = findings(&r, "parse");
    assert!(
        parse
            .iter()
            .any(|m| m.starts_with("unknown_country: unknown partner \"Atlantis\"")),
        "{parse:?}"
    );
}

#[test]
fn on_the_shipped_data_a_false_expectation_fails_the_run() {
    let w = crate::util::Workdir::with_default_pipeline();
    let wrong = "\n[[expect]]\nname = \"UZB volume 2019 is 3 billion\"\nkind = \"volume\"\nreporter = \"TUR\"\npartner = \"UZB\"\nyear = 2019\nequals = \"3 billion\"\nwithin = 0.05\n";
    w.write("pipeline.toml", w.read("pipeline.toml") + wrong);
    let o = w.run(&["validate"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ex = r["expectations"].as_array().unwrap();
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0]["passed"], true, "the 2.2 billion one passes");
    assert_eq!(ex[2]["passed"], false, "the 3 billion one fails");
    assert_eq!(r["status"], "failed");
    let cov = findings(&r, "coverage");
    assert_eq!(cov, ["TUR TKM: no figures at all for 2016-2020"]);
    assert_eq!(
        findings(&r, "equal_flows"),
        ["TUR AZE 2016: exports and imports are both 1,180,000,000"]
    );
}

#[test]
fn series_checks_over_thousands_of_series_find_each_once() {
    // 3,000 commodity series of four years (12,000 figures: the series are scanned in
    // parts on every core, cut between series): a jump in every 7th, a value repeated in
    // every 11th, a missing year in every 13th, the others plain
    let mut csv = String::from("reporter,partner,flow,year,commodity,value,unit\n");
    let (mut jumps, mut repeats, mut gaps) = (0, 0, 0);
    for c in 0..3000 {
        let kind = if c % 7 == 0 {
            jumps += 1;
            "jump"
        } else if c % 11 == 0 {
            repeats += 2; // four equal years hold two runs of three
            "repeat"
        } else if c % 13 == 0 {
            gaps += 1;
            "gap"
        } else {
            "plain"
        };
        for (k, year) in (2016..2020).enumerate() {
            let value = match kind {
                "jump" if year == 2019 => 1000,
                "repeat" => 500,
                _ => 100 + k,
            };
            if kind == "gap" && year == 2017 {
                continue;
            }
            csv.push_str(&format!(
                "TUR,KAZ,export,{year},{:06},{value},USD million\n",
                100_000 + c
            ));
        }
    }
    let (c, r) = validate(&csv, LENIENT);
    assert_eq!(c, 0);
    let jumped = findings(&r, "yoy_jump");
    assert_eq!(jumped.len(), jumps);
    // in key order: the first series with a jump is commodity 100000's
    assert!(jumped[0].contains("2018 -> 2019"), "{}", jumped[0]);
    assert_eq!(findings(&r, "repeated_value").len(), repeats);
    let gapped = findings(&r, "series_gap");
    assert_eq!(gapped.len(), gaps);
    assert!(
        gapped.iter().all(|g| g.ends_with("no figure for 2017")),
        "{gapped:?}"
    );
}

/// Runs a command on a CSV with extra config; returns the exit code, stdout and stderr.
fn run_on(csv: &str, extra: &str, args: &[&str]) -> (i32, String, String) {
    let w = Workdir::empty();
    w.write("raw/t.csv", csv);
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"raw/t.csv\"\n\n{extra}"),
    );
    let o = w.run(args);
    (code(&o), stdout(&o), stderr(&o))
}

#[test]
fn stderr_says_twenty_findings_of_a_check_and_counts_the_rest() {
    // 25 series with a jump each: 25 yoy_jump findings
    let partners = [
        "KAZ", "AZE", "UZB", "KGZ", "TKM", "DEU", "FRA", "ITA", "ESP", "GBR", "USA", "CHN", "JPN",
        "KOR", "IND", "BRA", "RUS", "UKR", "POL", "NLD", "BEL", "AUT", "CHE", "SWE", "NOR",
    ];
    let all: Vec<_> = partners
        .iter()
        .flat_map(|p| series(p, "export", &["100", "300"]))
        .collect();
    let csv = csv_of(&all);
    let said = |err: &str, level: &str| {
        err.lines()
            .filter(|l| l.contains(level) && l.contains("yoy_jump: TUR "))
            .count()
    };
    let (c, out, err) = run_on(&csv, "", &["validate"]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(said(&err, "WARN"), 20, "{err}");
    assert!(err.contains("yoy_jump: 5 more in report.json"), "{err}");
    // the report has every one
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(findings(&r, "yoy_jump").len(), 25);
    // -v: every one, nothing left to count
    let (_, _, err) = run_on(&csv, "", &["-v", "validate"]);
    assert_eq!(said(&err, "WARN"), 25, "{err}");
    assert!(!err.contains("more in report.json"), "{err}");
    // errors the same way
    let (c, _, err) = run_on(
        &csv,
        "[validate.severity]\nyoy_jump = \"error\"\n",
        &["validate"],
    );
    assert_eq!(c, 1, "{err}");
    assert_eq!(said(&err, "ERROR"), 20, "{err}");
    assert!(err.contains("yoy_jump: 5 more in report.json"), "{err}");
}

#[test]
fn findings_name_the_places_of_their_figures() {
    // refs are held as raw figures' indices and written out with the report: the same
    // texts in `validate`'s report, report.json and report.md
    let mut csv = csv_of(&series("KAZ", "import", &["1470", "3004"]));
    csv.push_str("TUR,UZB,export,2019,5,USD million\nTUR,UZB,export,2019,6,USD million\n");
    csv.push_str("TUR,Atlantis,export,2019,7,USD million\n");
    let extra = "[validate]\nmax_rejected_share = 1.0\n";
    let (_, r) = validate(&csv, extra);
    let refs = |r: &Value, id: &str| -> Vec<Vec<String>> {
        let c = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["refs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let at = |line: u32| format!("raw/t.csv [t.csv] line {line}, column 5");
    assert_eq!(refs(&r, "yoy_jump"), [[at(2), at(3)]]);
    assert_eq!(refs(&r, "conflict"), [[at(5), at(4)]]);
    assert_eq!(refs(&r, "parse"), [[at(6)]]);
    // the published report says the same
    let w = workdir(&csv, extra);
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let published: Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    for id in ["yoy_jump", "conflict", "parse"] {
        assert_eq!(refs(&published, id), refs(&r, id), "{id}");
    }
    let md = w.read("processed/report.md");
    assert!(md.contains(&format!("({}; {})", at(2), at(3))), "{md}");
}
