//! The default pipeline on what `raw/` ships: the report's 40 figures, exact, in every
//! output, with the accounting rule and the warnings a person must see.

use crate::util::{code, csv_rows, stderr, stdout, Workdir};
use std::collections::BTreeSet;

#[test]
fn run_publishes_every_output_of_the_contract() {
    let w = Workdir::with_default_pipeline();
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for f in [
        "trade.parquet",
        "trade.csv",
        "trade.xlsx",
        "rejects.csv",
        "report.json",
        "manifest.json",
    ] {
        assert!(w.path().join("processed").join(f).is_file(), "missing {f}");
    }
    assert!(
        stdout(&o).is_empty(),
        "run prints nothing on stdout: {}",
        stdout(&o)
    );
}

#[test]
fn clean_table_holds_the_40_figures_exactly() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let text = w.read("processed/trade.csv");
    assert!(
        text.starts_with("reporter,partner,flow,year,month,commodity,value_usd,source,source_ref")
    );
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), 40);
    let keys: BTreeSet<_> = rows
        .iter()
        .map(|r| (r["partner"].clone(), r["flow"].clone(), r["year"].clone()))
        .collect();
    assert_eq!(keys.len(), 40, "keys are unique");
    for p in ["AZE", "KAZ", "KGZ", "UZB"] {
        for y in 2016..=2020 {
            for f in ["export", "import"] {
                assert!(
                    keys.contains(&(p.to_string(), f.to_string(), y.to_string())),
                    "{p} {f} {y}"
                );
            }
        }
    }
    let value = |p: &str, f: &str, y: &str| -> String {
        rows.iter()
            .find(|r| r["partner"] == p && r["flow"] == f && r["year"] == y)
            .map(|r| r["value_usd"].clone())
            .unwrap()
    };
    assert_eq!(value("UZB", "export", "2019"), "1135000000");
    assert_eq!(value("UZB", "import", "2019"), "1076000000");
    assert_eq!(value("UZB", "export", "2020"), "1150000000");
    assert_eq!(value("UZB", "import", "2020"), "969980000");
    assert_eq!(value("KAZ", "import", "2016"), "1334000000");
    assert_eq!(value("KAZ", "import", "2020"), "1180000000");
    assert_eq!(value("KAZ", "export", "2020"), "985680000");
    assert_eq!(value("KGZ", "import", "2020"), "91150000");
    assert_eq!(value("KGZ", "export", "2020"), "417540000");
    assert_eq!(value("AZE", "import", "2017"), "2270000000");
    assert!(rows
        .iter()
        .all(|r| r["reporter"] == "TUR" && r["commodity"] == "TOTAL" && r["month"].is_empty()));
    // the report's tables are listed first in the config: their figures are the clean ones
    assert!(
        rows.iter().all(|r| r["source"] == "report-tables"),
        "precedence follows the config order"
    );
    let kgz2020 = rows
        .iter()
        .find(|r| r["partner"] == "KGZ" && r["year"] == "2020")
        .unwrap();
    assert!(
        kgz2020["source_ref"].contains("[Table 4] line 57"),
        "{}",
        kgz2020["source_ref"]
    );
}

#[test]
fn parquet_and_xlsx_hold_the_same_rows_as_the_csv() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    use polars::prelude::*;
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let rows = csv_rows(&w.read("processed/trade.csv"));
    let csv_keyed: Vec<(String, String, String, i64, f64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["reporter"].clone(),
                r["partner"].clone(),
                r["flow"].clone(),
                r["year"].parse().unwrap(),
                r["value_usd"].parse().unwrap(),
                r["source_ref"].clone(),
            )
        })
        .collect();

    let file = std::fs::File::open(w.path().join("processed/trade.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        &names[..9],
        [
            "reporter",
            "partner",
            "flow",
            "year",
            "month",
            "commodity",
            "value_usd",
            "source",
            "source_ref"
        ]
    );
    assert_eq!(df.column("year").unwrap().dtype(), &DataType::Int32);
    assert_eq!(df.column("value_usd").unwrap().dtype(), &DataType::Float64);
    let s = |c: &str| -> Vec<String> {
        let ca = df.column(c).unwrap().str().unwrap();
        (0..ca.len())
            .map(|i| ca.get(i).unwrap_or("").to_string())
            .collect()
    };
    let (rep, par, flow, sref) = (s("reporter"), s("partner"), s("flow"), s("source_ref"));
    let ya = df.column("year").unwrap().i32().unwrap();
    let year: Vec<i64> = (0..ya.len()).map(|i| ya.get(i).unwrap() as i64).collect();
    let va = df.column("value_usd").unwrap().f64().unwrap();
    let value: Vec<f64> = (0..va.len()).map(|i| va.get(i).unwrap()).collect();
    let pq: Vec<_> = (0..df.height())
        .map(|i| {
            (
                rep[i].clone(),
                par[i].clone(),
                flow[i].clone(),
                year[i],
                value[i],
                sref[i].clone(),
            )
        })
        .collect();
    assert_eq!(pq, csv_keyed, "parquet == csv");

    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    let range = wb.worksheet_range("Data").unwrap();
    let mut it = range.rows();
    let head: Vec<String> = it.next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(
        &head[..9],
        [
            "reporter",
            "partner",
            "flow",
            "year",
            "month",
            "commodity",
            "value_usd",
            "source",
            "source_ref"
        ]
    );
    let num = |d: &Data| match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    };
    let xl: Vec<_> = it
        .map(|r| {
            (
                r[0].to_string(),
                r[1].to_string(),
                r[2].to_string(),
                num(&r[3]) as i64,
                num(&r[6]),
                r[8].to_string(),
            )
        })
        .collect();
    assert_eq!(xl, csv_keyed, "xlsx == csv");
}

#[test]
fn report_accounts_for_every_figure_and_names_the_kazakhstan_jump() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    let n = |k: &str| r[k].as_u64().unwrap();
    assert_eq!(
        n("figures_read"),
        80,
        "40 in the Markdown, 40 in the workbook"
    );
    assert_eq!(n("figures_clean"), 40);
    assert_eq!(n("figures_superseded"), 40);
    assert_eq!(
        n("figures_read"),
        n("figures_clean") + n("figures_rejected") + n("figures_superseded")
    );
    assert_eq!(r["status"], "passed");
    let jumps = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "yoy_jump")
        .unwrap();
    assert_eq!(jumps["severity"], "warn");
    let msgs: Vec<&str> = jumps["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("TUR KAZ import 2018 -> 2019")),
        "{msgs:?}"
    );
    let equal = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "equal_flows")
        .unwrap();
    assert!(equal["findings"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("TUR AZE 2016"));
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    assert_eq!(m["inputs"].as_array().unwrap().len(), 2);
    let csv_entry = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["file"] == "trade.csv")
        .unwrap();
    assert_eq!(csv_entry["rows"], 40);
    use sha2::Digest;
    let sha = sha2::Sha256::digest(std::fs::read(w.path().join("processed/trade.csv")).unwrap());
    assert_eq!(
        csv_entry["sha256"].as_str().unwrap(),
        tradeflow::config::hex(&sha)
    );
}

#[test]
fn validate_prints_the_report_and_publishes_nothing() {
    let w = Workdir::with_default_pipeline();
    let o = w.run(&["validate"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report JSON on stdout");
    assert_eq!(r["figures_clean"], 40);
    assert!(!w.path().join("processed").exists());
}

#[test]
fn inspect_says_where_each_unit_came_from() {
    let w = Workdir::with_default_pipeline();
    let o = w.run(&["inspect", "raw/turkic-trade-report.md"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("4 table(s)"), "{out}");
    assert!(
        out.contains("unit: USD billion (from column header)"),
        "{out}"
    );
    assert!(
        out.contains("unit: USD million (from column header)"),
        "{out}"
    );
    assert!(
        out.contains("continued after a page break at line 57"),
        "{out}"
    );
    assert!(
        out.contains("partner \"AZERBAIJAN\" (from column header)"),
        "{out}"
    );
    assert!(
        out.contains("TUR UZB export 2019:      1,135,000,000 USD  <- \"1.135 Billion\""),
        "{out}"
    );
    assert!(out.contains("unit_cell_overrides_header"), "{out}");
}
