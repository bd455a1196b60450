//! The same table through other formats and layouts, and the rules that decide between
//! sources.

use crate::util::{code, csv_rows, stderr, Workdir};

fn run_one(w: &Workdir, source: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"{source}\"\nreporter = \"TUR\"\n"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    csv_rows(&w.read("processed/trade.csv"))
}

const KAZ_CSV: &str = "TURKEY - KAZAKHSTAN TRADE RELATIONSHIP\n\nYEARS,TURKEY'S EXPORT TO KAZAKHSTAN (Million dollars),TURKEY'S IMPORT FROM KAZAKHSTAN (Billion dollars)\n2016,625,1.334\n2017,747,1.463\n2018,695,1.470\n2019,900,3.004\n2020,985.68,1.180\n\nSource: Republic of Turkey Ministry of Trade\n";

#[test]
fn csv_with_title_and_footer_reads_like_the_report() {
    let w = Workdir::empty();
    w.write("raw/kaz.csv", KAZ_CSV);
    let rows = run_one(&w, "raw/kaz.csv");
    assert_eq!(rows.len(), 10);
    let v = |f: &str, y: &str| {
        rows.iter()
            .find(|r| r["flow"] == f && r["year"] == y)
            .unwrap()["value_usd"]
            .clone()
    };
    assert_eq!(v("import", "2016"), "1334000000");
    assert_eq!(v("export", "2020"), "985680000");
    assert!(rows.iter().all(|r| r["partner"] == "KAZ"));
    assert!(
        rows[0]["source_ref"].starts_with("raw/kaz.csv [kaz.csv] line 4"),
        "{}",
        rows[0]["source_ref"]
    );
}

#[test]
fn semicolon_csv_with_decimal_commas() {
    let w = Workdir::empty();
    w.write("raw/kaz.csv", "Yıl;Türkiye'nin Kazakistan'a ihracatı (Milyon $);Türkiye'nin Kazakistan'dan ithalatı (Milyon $)\n2019;900;3.004,0\n2020;985,68;1.180,0\n");
    let rows = run_one(&w, "raw/kaz.csv");
    let v = |f: &str, y: &str| {
        rows.iter()
            .find(|r| r["flow"] == f && r["year"] == y)
            .unwrap()["value_usd"]
            .clone()
    };
    assert_eq!(v("export", "2020"), "985680000");
    assert_eq!(v("import", "2019"), "3004000000");
    assert_eq!(v("import", "2020"), "1180000000");
    assert!(rows.iter().all(|r| r["partner"] == "KAZ"), "{rows:?}");
}

#[test]
fn long_table_with_partner_flow_and_value_columns() {
    let w = Workdir::empty();
    w.write(
        "raw/long.csv",
        "reporter,partner,flow,year,value,unit\nTurkey,Azerbaijan,Export,2019,1.64,USD billion\nTürkiye,Azərbaycan,Import,2019,\"2,860\",USD million\nTUR,World,Export,2019,180833,USD million\n",
    );
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/long.csv\"\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 3, "the World is a partner: {rows:?}");
    assert_eq!(rows[0]["value_usd"], "1640000000");
    assert_eq!(rows[1]["value_usd"], "2860000000");
    assert_eq!(rows[2]["partner"], "WLD");
    assert_eq!(rows[2]["value_usd"], "180833000000");
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(r["aggregates"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["figures_read"], 3);
}

#[test]
fn conflicting_sources_first_wins_and_the_other_is_rejected() {
    let w = Workdir::empty();
    w.write(
        "raw/a.csv",
        "partner,flow,year,value_usd\nKazakhstan,export,2019,900000000\n",
    );
    w.write(
        "raw/b.csv",
        "partner,flow,year,value_usd\nKazakhstan,export,2019,901000000\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/a.csv\"\nreporter = \"TUR\"\n[[sources]]\npath = \"raw/b.csv\"\nreporter = \"TUR\"\n[validate]\nmax_rejected = 1\nmax_rejected_share = 1.0\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["value_usd"], "900000000");
    let rejects = csv_rows(&w.read("processed/rejects.csv"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["rule"], "conflict");
    assert!(
        rejects[0]["message"].contains("901,000,000 here, 900,000,000 at raw/a.csv"),
        "{:?}",
        rejects[0]
    );
}

#[test]
fn ambiguous_number_without_evidence_is_rejected_with_both_readings() {
    let w = Workdir::empty();
    w.write(
        "raw/x.csv",
        "partner,flow,year,value,unit\nKazakhstan,export,2019,1.180,USD\n",
    );
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/x.csv\"\nreporter = \"TUR\"\n[validate]\nmax_rejected = 5\nmax_rejected_share = 1.0\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rejects = csv_rows(&w.read("processed/rejects.csv"));
    assert_eq!(rejects[0]["rule"], "ambiguous_number");
    assert!(
        rejects[0]["message"].contains("1.18") && rejects[0]["message"].contains("1180"),
        "{:?}",
        rejects[0]
    );
    assert_eq!(rejects[0]["raw_value"], "1.180");
}
