//! What publish writes, read back: the workbook's sheets, the sheet split, the derived
//! summary, partitions, CSV options, formula injection, determinism, the kept previous
//! publication.

use crate::util::{code, csv_rows, stderr, Workdir};
use calamine::{open_workbook, Data, Reader, Xlsx};

fn run(w: &Workdir) {
    let o = w
        .command(&["run"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

fn with_output(extra: &str) -> Workdir {
    let w = Workdir::with_default_pipeline();
    let cfg = w
        .read("pipeline.toml")
        .replace("[output]\n", &format!("[output]\n{extra}\n"));
    w.write("pipeline.toml", cfg);
    w
}

#[test]
fn same_inputs_give_identical_bytes() {
    let w = Workdir::with_default_pipeline();
    run(&w);
    let first = w.snapshot("processed");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(&w);
    let second = w.snapshot("processed");
    for name in [
        "trade.csv",
        "trade.parquet",
        "trade.xlsx",
        "trade_summary.csv",
        "trade_summary.parquet",
        "rejects.csv",
    ] {
        let a = first.iter().find(|(n, _)| n == name).unwrap();
        let b = second.iter().find(|(n, _)| n == name).unwrap();
        assert!(a.1 == b.1, "{name} differs between two runs");
    }
}

#[test]
fn previous_publication_is_kept_once() {
    let w = Workdir::with_default_pipeline();
    run(&w);
    let first_csv = w.read("processed/trade.csv");
    w.write(
        "raw/turkic-trade-report.md",
        w.read("raw/turkic-trade-report.md")
            .replace("| 2016  | 625   |", "| 2016  | 626   |"),
    );
    // the workbook still says 625: a conflict, rejected, within a tolerance set for the test
    let cfg = w.read("pipeline.toml").replace(
        "max_rejected = 0",
        "max_rejected = 1\nmax_rejected_share = 0.5",
    );
    w.write("pipeline.toml", cfg);
    run(&w);
    assert_eq!(w.read("processed/.previous/trade.csv"), first_csv);
    assert!(w.read("processed/trade.csv").contains(",626000000,"));
    run(&w);
    assert!(
        !w.path().join("processed/.previous/.previous").exists(),
        "kept once, not nested"
    );
}

#[cfg(unix)]
#[test]
fn the_publication_before_the_last_is_a_spare_the_next_run_writes_over() {
    use std::os::unix::fs::MetadataExt;
    let refresh = |w: &Workdir, fail: bool| {
        let mut c = w.command(&["run", "--full-refresh"]);
        c.env("SOURCE_DATE_EPOCH", "1700000000");
        if fail {
            c.env("TRADEFLOW_TEST_FAIL_BEFORE_SWAP", "1");
        }
        c.output().unwrap()
    };
    let inode = |w: &Workdir, p: &str| std::fs::metadata(w.path().join(p)).unwrap().ino();
    let w = Workdir::with_default_pipeline();
    let spare = w.path().join(".processed.spare");
    assert_eq!(code(&refresh(&w, false)), 0);
    let first = w.read("processed/trade.csv");
    assert_eq!(code(&refresh(&w, false)), 0);
    assert!(
        !spare.exists(),
        "two publications: the last and the one before"
    );
    assert_eq!(code(&refresh(&w, false)), 0);
    // the third run keeps the first publication as the spare
    assert_eq!(w.read(".processed.spare/trade.csv"), first);
    let taken = [
        "trade.csv",
        "trade.parquet",
        "trade.xlsx",
        ".keys.bin",
        "report.json",
    ]
    .map(|f| (f, inode(&w, &format!(".processed.spare/{f}"))));
    // the next run writes its large files over the spare's: the same files on the disk,
    // the same bytes as files written new
    assert_eq!(code(&refresh(&w, false)), 0);
    for (f, ino) in taken {
        assert_eq!(
            inode(&w, &format!("processed/{f}")),
            ino,
            "{f} written over the spare's"
        );
    }
    // the third run wrote new files, on the same inputs, after a publication as well
    let all = w.snapshot("processed");
    let (mut over, mut new): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (n, bytes) in &all {
        // the files that say the run (its id and times) differ anyway
        if ["manifest.json", "report.json", "report.md"]
            .iter()
            .any(|f| n.ends_with(f))
        {
            continue;
        }
        match n.strip_prefix(".previous/") {
            Some(n) => new.push((n.to_string(), bytes)),
            None => over.push((n.clone(), bytes)),
        }
    }
    let names = |v: &[(String, &Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&over), names(&new));
    for ((n, a), (_, b)) in over.iter().zip(&new) {
        assert!(
            a == b,
            "{n} written over a spare differs from one written new"
        );
    }
    assert!(
        spare.exists(),
        "the publication before the last is the spare again"
    );
    // a run that fails once it has taken the spare leaves the publication as it was
    let before = w.snapshot("processed");
    assert_ne!(code(&refresh(&w, true)), 0);
    assert!(w.snapshot("processed") == before);
    // `recycle = false`: the spare goes at the next run, and none is kept after
    let cfg = w
        .read("pipeline.toml")
        .replace("[output]\n", "[output]\nrecycle = false\n");
    w.write("pipeline.toml", cfg);
    for _ in 0..2 {
        assert_eq!(code(&refresh(&w, false)), 0);
        assert!(!spare.exists());
        assert!(w.path().join("processed/.previous/trade.csv").exists());
    }
}

#[test]
fn workbook_has_every_sheet_and_the_data_matches() {
    let w = Workdir::with_default_pipeline();
    run(&w);
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Data",
            "Summary",
            "Validation",
            "Rejects",
            "Changes",
            "Sources"
        ]
    );
    let summary = wb.worksheet_range("Summary").unwrap();
    let row = summary
        .rows()
        .find(|r| {
            r.get(1) == Some(&Data::String("UZB".into())) && r.get(2) == Some(&Data::Float(2019.0))
        })
        .expect("UZB 2019");
    assert_eq!(row[5], Data::Float(2_211_000_000.0), "volume");
    assert_eq!(row[6], Data::Float(59_000_000.0), "balance");
    let validation = wb.worksheet_range("Validation").unwrap();
    let first = validation.rows().nth(1).unwrap();
    assert_eq!(
        first[1],
        Data::String("warn".into()),
        "no errors on the shipped data: warnings first"
    );
    let sources = wb.worksheet_range("Sources").unwrap();
    assert_eq!(
        sources.rows().nth(1).unwrap()[0],
        Data::String("report-tables".into())
    );
}

#[test]
fn data_continues_on_further_sheets_past_the_row_limit() {
    let w = with_output("xlsx_max_rows = 15");
    run(&w);
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    assert_eq!(&wb.sheet_names()[..3], ["Data", "Data (2)", "Data (3)"]);
    let mut rows = 0;
    for s in ["Data", "Data (2)", "Data (3)"] {
        let r = wb.worksheet_range(s).unwrap();
        assert_eq!(
            r.rows().next().unwrap()[0],
            Data::String("reporter".into()),
            "{s} has the header"
        );
        rows += r.rows().count() - 1;
    }
    assert_eq!(rows, 40, "no row lost or repeated");
}

#[test]
fn trade_summary_holds_volume_balance_and_growth() {
    let w = Workdir::with_default_pipeline();
    run(&w);
    let rows = csv_rows(&w.read("processed/trade_summary.csv"));
    assert_eq!(rows.len(), 20);
    let kaz19 = rows
        .iter()
        .find(|r| r["partner"] == "KAZ" && r["year"] == "2019")
        .unwrap();
    assert_eq!(kaz19["exports_usd"], "900000000");
    assert_eq!(kaz19["imports_usd"], "3004000000");
    assert_eq!(kaz19["volume_usd"], "3904000000");
    assert_eq!(kaz19["balance_usd"], "-2104000000");
    assert_eq!(kaz19["volume_growth"], "0.803233", "3904 / 2165 - 1");
}

#[test]
fn hive_partitions_by_year() {
    use polars::prelude::*;
    let w = with_output("partition_by = [\"year\"]");
    run(&w);
    let mut total = 0;
    for y in 2016..=2020 {
        let p = w
            .path()
            .join(format!("processed/trade/year={y}/part-0.parquet"));
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        assert!(
            df.column("year").is_err(),
            "the partition column lives in the path"
        );
        total += df.height();
    }
    assert_eq!(total, 40);
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    assert!(m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["file"] == "trade/year=2016/part-0.parquet" && o["rows"] == 8));
    // each file's hash and size, said as it was written, are the file's
    use sha2::Digest;
    for o in m["outputs"].as_array().unwrap() {
        let bytes =
            std::fs::read(w.path().join("processed").join(o["file"].as_str().unwrap())).unwrap();
        assert_eq!(o["bytes"], bytes.len(), "{o}");
        assert_eq!(
            tradeflow::config::hex(&sha2::Sha256::digest(&bytes)),
            o["sha256"].as_str().unwrap(),
            "{o}"
        );
    }
}

#[test]
fn csv_for_comma_decimal_spreadsheets() {
    let w = with_output("csv_bom = true\ncsv_delimiter = \";\"");
    run(&w);
    let bytes = std::fs::read(w.path().join("processed/trade.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFreporter;partner;flow;year;"));
}

#[test]
fn formula_like_text_is_neutralised_in_text_columns_only() {
    let w = Workdir::empty();
    w.write("raw/x.csv", "partner,flow,year,value,unit\nKazakhstan,export,2019,-5,USD million\nKazakhstan,import,2019,7,USD million\n");
    w.write("pipeline.toml", "[[sources]]\nid = \"=HYPERLINK(1)\"\npath = \"raw/x.csv\"\nreporter = \"TUR\"\n[validate]\nallow_negative = true\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows[0]["source"], "'=HYPERLINK(1)", "text neutralised");
    assert_eq!(rows[0]["value_usd"], "-5000000", "numbers untouched");
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    let data = wb.worksheet_range("Data").unwrap();
    assert_eq!(
        data.rows().nth(1).unwrap()[7],
        Data::String("'=HYPERLINK(1)".into())
    );
    assert_eq!(data.rows().nth(1).unwrap()[6], Data::Float(-5_000_000.0));
}

#[test]
fn report_md_says_what_needs_attention_first() {
    let w = Workdir::with_default_pipeline();
    run(&w);
    let md = w.read("processed/report.md");
    assert!(md.contains(": passed"), "{md}");
    let attention = md.find("## Needs attention").unwrap();
    assert!(attention < md.find("## In").unwrap());
    assert!(
        md.contains("TUR TKM: no figures at all for 2016-2020"),
        "{md}"
    );
    assert!(md.contains("| TKM | -- | -- | -- | -- | -- |"), "{md}");
    assert!(
        md.contains(
            "| Turkey-Uzbekistan trade volume 2019 is about 2.2 billion dollars | passed |"
        ),
        "{md}"
    );
}

#[test]
fn a_data_sheet_past_a_hundred_thousand_rows_has_a_filtered_header_instead_of_a_table() {
    // an Excel table makes the writer keep every cell of it; a big sheet gets a bold
    // header with an autofilter and still holds every row
    let w = Workdir::empty();
    let mut csv = String::from("partner,flow,year,month,hs_code,value,unit\n");
    for i in 0..100_050u32 {
        csv.push_str(&format!(
            "Kazakhstan,export,2019,{},{},{},USD\n",
            i % 12 + 1,
            100000 + i / 12,
            i + 1
        ));
    }
    w.write("raw/big.csv", csv);
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/big.csv\"\nreporter = \"TUR\"\ndecimal = \".\"\n[output]\nformats = [\"xlsx\"]\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    let data = wb.worksheet_range("Data").unwrap();
    assert_eq!(data.height(), 100_051, "the header and every row");
    assert_eq!(data.get((0, 6)), Some(&Data::String("value_usd".into())));
    let xml = {
        let mut z = zip::ZipArchive::new(
            std::fs::File::open(w.path().join("processed/trade.xlsx")).unwrap(),
        )
        .unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut s)
            .unwrap();
        s
    };
    assert!(
        xml.contains("<autoFilter ref=\"A1:K100051\""),
        "an autofilter over the data"
    );
    assert!(!xml.contains("<tableParts"), "no Excel table");
}

#[test]
fn values_in_millions_are_exact_in_every_format() {
    use polars::prelude::*;
    // dollars whose quotient by a million drifts when computed in floats
    // (576.18 / 1e6 = 0.0005761799999999999)
    let w = Workdir::empty();
    w.write(
        "raw/x.csv",
        "partner,flow,year,value,unit\nKazakhstan,export,2019,576.18,USD\nKazakhstan,import,2019,198948.96,USD\nKyrgyzstan,export,2019,3795.86,USD\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/x.csv\"\nreporter = \"TUR\"\ndecimal = \".\"\n[output]\nformats = [\"parquet\", \"csv\", \"xlsx\"]\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    let millions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["value_usd"].as_str(), r["value_usd_millions"].as_str()))
        .collect();
    assert_eq!(
        millions,
        [
            ("576.18", "0.00057618"),
            ("198948.96", "0.19894896"),
            ("3795.86", "0.00379586")
        ]
    );
    // Parquet and the workbook hold the Float64 nearest to the exact quotient
    let df =
        ParquetReader::new(std::fs::File::open(w.path().join("processed/trade.parquet")).unwrap())
            .finish()
            .unwrap();
    let ca = df.column("value_usd_millions").unwrap().f64().unwrap();
    let col: Vec<Option<f64>> = (0..ca.len()).map(|i| ca.get(i)).collect();
    assert_eq!(col, [Some(0.00057618), Some(0.19894896), Some(0.00379586)]);
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    let data = wb.worksheet_range("Data").unwrap();
    assert_eq!(data.rows().nth(1).unwrap()[10], Data::Float(0.00057618));
}

#[test]
fn rejects_read_back_from_the_disk_are_the_rejects_held_in_memory() {
    // a big run sets the texts only rejects show aside on the disk before validation,
    // and gathers the clean table's values through it: forced here for a small one, the
    // outputs are the same bytes as a run that keeps them in memory (rejects of normalise
    // and of validate, texts of several bytes a character, an empty value)
    let w = Workdir::empty();
    w.write(
        "raw/x.csv",
        "partner,flow,year,value_usd\n\
         Казахстан,export,2019,1 000\n\
         Kazakhstan,export,2019,2 000\n\
         Atlantis,export,2019,5\n\
         Azerbaijan,export,2019,-7\n\
         Azerbaijan,импорт,2019,3\n\
         Uzbekistan,export,2019,\n\
         Uzbekistan,export,1066,4\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/x.csv\"\nreporter = \"TUR\"\n[validate]\nmax_rejected_share = 1.0\n",
    );
    let outputs = |test: &[(&str, &str)]| {
        let o = w.run_ok_with(test);
        // set aside indeed (else the comparison would be of two runs in memory)
        assert!(
            !stderr(&o).contains("cannot set the raw texts aside")
                && !stderr(&o).contains("cannot gather the clean values"),
            "{}",
            stderr(&o)
        );
        ["trade.csv", "rejects.csv"].map(|f| w.read(&format!("processed/{f}")))
    };
    let held = outputs(&[]);
    let spilled = outputs(&[("TRADEFLOW_TEST_SPILL_FIGURES", "1")]);
    assert_eq!(held, spilled);
    // and where the figures were routed to buckets as they were read, the rejects' texts
    // read back from their buckets
    let routed = outputs(&[("TRADEFLOW_TEST_BUCKETS", "3")]);
    assert_eq!(held, routed);
    let rejects = csv_rows(&held[1]);
    let by_rule = |rule: &str| {
        rejects
            .iter()
            .find(|r| r["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} in {rejects:?}"))
    };
    assert_eq!(by_rule("conflict")["raw_value"], "2 000");
    assert_eq!(by_rule("conflict")["partner"], "Kazakhstan");
    // (a text that starts with a minus gets the formula guard)
    assert_eq!(by_rule("negative_value")["raw_value"], "'-7");
    assert_eq!(by_rule("year_range")["year"], "1066");
    assert!(rejects.len() >= 4, "{rejects:?}");
}

#[test]
fn validation_in_parts_or_with_unpacked_keys_gives_the_outputs_of_one_pass() {
    // validate scans the key-ordered figures in parts on the cores, where a key's run or
    // a reporter x partner x flow's run can go on from one part into the next: in parts
    // of one to five figures, the outputs are those of one part
    let mut a = String::from("reporter,partner,flow,year,value,unit\n");
    let mut b = a.clone();
    for (k, p) in ["Kazakhstan", "Azerbaijan", "Uzbekistan", "Total"]
        .iter()
        .enumerate()
    {
        for f in ["export", "import"] {
            for y in 2016..2021 {
                // a jump in 2019; the Total's figure is not the sum of the others
                let v = (k as i32 + 1) * 100 + (y - 2016) * 7 + if y == 2019 { 900 } else { 0 };
                a.push_str(&format!("TUR,{p},{f},{y},{v},USD million\n"));
                // the second source repeats some: the same value (superseded), or
                // another (a conflict)
                if y % 2 == 0 {
                    let v = if y == 2018 { v + 1 } else { v };
                    b.push_str(&format!("TUR,{p},{f},{y},{v},USD million\n"));
                }
            }
        }
    }
    let outputs = |test: Option<(&str, &str)>| {
        let w = Workdir::empty();
        w.write("raw/a.csv", &a);
        w.write("raw/b.csv", &b);
        w.write(
            "pipeline.toml",
            "[[sources]]\npath = \"raw/a.csv\"\n[[sources]]\npath = \"raw/b.csv\"\n\
             [validate]\nmax_rejected_share = 1.0\n[output]\nformats = [\"csv\"]\n",
        );
        w.run_ok_with(test.as_slice());
        let report: serde_json::Value =
            serde_json::from_str(&w.read("processed/report.json")).unwrap();
        let kept = [
            "figures_read",
            "figures_clean",
            "figures_rejected",
            "figures_superseded",
            "rejected_by_rule",
            "checks",
            "superseded",
            "mirror",
        ]
        .map(|k| report[k].to_string());
        (
            w.read("processed/trade.csv"),
            w.read("processed/rejects.csv"),
            kept,
        )
    };
    let whole = outputs(None);
    // the comparison is of runs that found something: 12 figures superseded, 6
    // conflicts, jumps and sums that do not add up
    assert_eq!(whole.2[3], "12", "superseded");
    let checks: serde_json::Value = serde_json::from_str(&whole.2[5]).unwrap();
    let found = |id: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map_or(0, |c| c["findings"].as_array().unwrap().len())
    };
    assert_eq!(found("conflict"), 6);
    assert!(found("yoy_jump") >= 12 && found("totals") > 0);
    for part in ["1", "2", "3", "5"] {
        assert_eq!(
            outputs(Some(("TRADEFLOW_TEST_PART", part))),
            whole,
            "parts of {part}"
        );
    }
    // keys sorted field by field, as where they cannot be packed in integers
    assert_eq!(
        outputs(Some(("TRADEFLOW_TEST_UNPACKED_KEYS", "1"))),
        whole,
        "unpacked keys"
    );
}

/// A run's outputs with test variables set: the data files, the report (what differs
/// from run to run whatever the variables taken out) and the change report's key file
/// (which names commodities by their table).
fn outputs_of(
    w: &Workdir,
    test: &[(&str, &str)],
) -> (String, String, String, serde_json::Value, Vec<u8>) {
    w.run_ok_with(test);
    let mut report: serde_json::Value =
        serde_json::from_str(&w.read("processed/report.json")).unwrap();
    for k in ["run_id", "started_at", "finished_at", "changes"] {
        report.as_object_mut().unwrap().remove(k);
    }
    (
        w.read("processed/trade.csv"),
        w.read("processed/rejects.csv"),
        w.read("processed/trade_summary.csv"),
        report,
        std::fs::read(w.path().join("processed/.keys.bin")).unwrap(),
    )
}

#[test]
fn a_run_in_buckets_of_pairs_gives_the_outputs_of_one_bucket() {
    // the partitioned run normalises, validates and makes the clean table of each bucket
    // of reporter x partner pairs (either way round) alone, then puts together what the
    // buckets found and their tables by pair: here every check finds something (figure
    // rules, unknown names, conflicts and duplicates, jumps, repeats, gaps, equal flows,
    // mirror gaps, totals, coverage, expectations), names and units are written more than
    // one way, and in 2, 3, 5 or 16 buckets every output is that of one bucket
    let mut a = String::from("reporter,partner,flow,year,value,unit\n");
    let mut b = a.clone();
    let partners = ["Kazakhstan", "Azerbaijan", "Uzbekistan", "Kyrgyzstan"];
    // Turkey's exports to Kazakhstan, which Kazakhstan's imports mirror
    let to_kaz = |y: i32| 100 + (y - 2016) * 7 + if y == 2019 { 900 } else { 0 };
    for (k, p) in partners.iter().enumerate() {
        for f in ["export", "import"] {
            for y in 2016..2021 {
                // Azerbaijan's imports miss 2018, Kyrgyzstan's figures stop in 2019
                if (k == 1 && f == "import" && y == 2018) || (k == 3 && y == 2020) {
                    continue;
                }
                let mut v = (k as i32 + 1) * 100 + (y - 2016) * 7 + if y == 2019 { 900 } else { 0 };
                // Uzbekistan's exports repeat one value three years running; Azerbaijan's
                // two flows are equal in 2017
                if k == 2 && f == "export" && y <= 2018 {
                    v = 250;
                }
                if k == 1 && y == 2017 {
                    v = 333;
                }
                a.push_str(&format!("TUR,{p},{f},{y},{v},USD million\n"));
                // the second source repeats some: the same value (superseded), or another
                // (a conflict)
                if y % 2 == 0 {
                    let v = if y == 2018 { v + 1 } else { v };
                    b.push_str(&format!("TUR,{p},{f},{y},{v},USD million\n"));
                }
            }
        }
    }
    for y in 2016..2021 {
        let m = if y == 2017 {
            to_kaz(y) * 3
        } else {
            to_kaz(y) + to_kaz(y) / 10
        };
        a.push_str(&format!("Kazakhstan,Turkey,import,{y},{m},USD million\n"));
        a.push_str(&format!(
            "Kazakhstan,Turkey,export,{y},{},USD million\n",
            50 + y - 2016
        ));
        for f in ["export", "import"] {
            a.push_str(&format!("TUR,Total,{f},{y},5000,USD million\n"));
        }
    }
    a.push_str(
        "TUR,Kazakhstan,export,1066,4,USD million\n\
         TUR,Azerbaijan,export,2021,-7,USD million\n\
         TUR,Uzbekistan,import,2021,n/a,USD million\n\
         TUR,Atlantis,export,2019,5,USD million\n\
         TUR,Kyrgyzstan,export,2021,99999999999,USD million\n\
         Türkiye,Казахстан,import,2021,1.5 Billion,USD\n\
         Turkey,Azerbaycan,import,2021,750 thousand,USD\n",
    );
    let w = Workdir::empty();
    w.write("raw/a.csv", &a);
    w.write("raw/b.csv", &b);
    // commodities, each pair's its own: numbered by the table of every figure
    w.write(
        "raw/c.csv",
        "reporter,partner,flow,year,hs_code,value,unit\n\
         TUR,Uzbekistan,export,2020,030300,7,USD million\n\
         TUR,Kazakhstan,export,2020,010100,8,USD million\n\
         TUR,Azerbaijan,import,2020,020200,9,USD million\n\
         TUR,Kazakhstan,import,2020,040400,10,USD million\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/a.csv\"\n[[sources]]\npath = \"raw/b.csv\"\n\
         [[sources]]\npath = \"raw/c.csv\"\n\
         [validate]\nmax_rejected_share = 1.0\n\
         [[expect]]\nname = \"volume\"\nkind = \"volume\"\nreporter = \"TUR\"\n\
         partner = \"UZB\"\nyear = 2019\nequals = \"1 billion\"\nwithin = 0.01\nseverity = \"warn\"\n\
         [[expect]]\nname = \"complete\"\nkind = \"complete\"\nreporter = \"TUR\"\n\
         partners = [\"AZE\", \"KAZ\", \"KGZ\", \"UZB\"]\nyears = [2016, 2020]\n\
         severity = \"warn\"\n\
         [output]\nformats = [\"csv\"]\n",
    );
    let outputs = |test: &[(&str, &str)]| outputs_of(&w, test);
    let whole = outputs(&[]);
    let found = |id: &str| {
        whole.3["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map_or(0, |c| c["findings"].as_array().unwrap().len())
    };
    for id in [
        "parse",
        "year_range",
        "negative_value",
        "implausible_value",
        "missing_value",
        "conflict",
        "expectations",
        "totals",
        "coverage",
        "mirror",
        "yoy_jump",
        "equal_flows",
        "repeated_value",
        "series_gap",
        "duplicates",
        "aggregates",
    ] {
        assert!(found(id) > 0, "no {id} finding: {}", whole.3["checks"]);
    }
    // the figures routed to their buckets as they are read: from the first, or once 30
    // or 70 are held (within the first source, within the second)
    for (k, from) in [
        ("1", "0"),
        ("2", "0"),
        ("3", "0"),
        ("5", "0"),
        ("16", "0"),
        ("3", "30"),
        ("4", "70"),
    ] {
        let bucketed = outputs(&[
            ("TRADEFLOW_TEST_BUCKETS", k),
            ("TRADEFLOW_TEST_ROUTE_FIGURES", from),
        ]);
        assert!(
            bucketed == whole,
            "{k} buckets from {from}:\n{:#}\n{:#}",
            bucketed.3,
            whole.3
        );
    }
}

/// A CSV of more than a megabyte (read in blocks): pairs of countries named several
/// ways, an unknown one, every so often a value that is not a number, a negative one, and
/// a repeat of a key with another value (a conflict). `edit` other than 0 changes it as a
/// revision would: every `edit`-th value revised, some rows gone, one added.
fn long_csv(edit: u64) -> String {
    let names = [
        ("Türkiye", "Kazakhstan"),
        ("Kazakhstan", "Türkiye"),
        ("Turkey", "Азербайджан"),
        ("Uzbekistan", "Kyrgyzstan"),
        ("Kyrgyzstan", "Uzbekistan"),
        ("Atlantis", "Turkey"),
    ];
    let mut long = String::from("reporter,partner,flow,year,hs_code,value\n");
    let mut i = 0u64;
    while long.len() < 1_600_000 {
        let (r, p) = names[(i % 6) as usize];
        let flow = ["export", "import"][(i / 6 % 2) as usize];
        // a value every so often not a number, negative, or a repeat of a key with
        // another value (a conflict)
        let value = match i % 997 {
            5 => "12x4".to_string(),
            6 => format!("-{i}"),
            _ if edit > 0 && i % edit == 3 => format!("{}.25", i * 41 % 100_000),
            _ => format!("{}.{}", i * 37 % 100_000, i % 10),
        };
        if edit > 0 && i % (edit * 3) == 8 {
            i += 1;
            continue;
        }
        let hs = 10_000 + (i / 12 % 4_000);
        long.push_str(&format!(
            "{r},{p},{flow},{},{hs},{value}\n",
            2000 + i / 48_000
        ));
        i += 1;
    }
    long.push_str("Türkiye,Kazakhstan,export,2000,10000,1.5\n");
    if edit > 0 {
        long.push_str("Uzbekistan,Kyrgyzstan,import,2001,10001,77\n");
    }
    long
}

#[test]
fn a_long_csv_routed_to_buckets_as_it_streams_gives_the_outputs_of_one_bucket() {
    // a CSV of more than a megabyte is read in blocks, each appended to the figures read:
    // the routing starts at a block's end within the file and goes on block by block, and
    // a short file after it is routed once read; the outputs are those of a run that holds
    // every figure
    let long = long_csv(0);
    let w = Workdir::empty();
    w.write("raw/long.csv", &long);
    w.write(
        "raw/short.csv",
        "reporter,partner,flow,year,hs_code,value\n\
         Turkey,Uzbekistan,export,2001,020200,9\n\
         Uzbekistan,Turkey,import,2001,020200,9.5\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/long.csv\"\ndecimal = \".\"\nunit = \"USD\"\n\
         [[sources]]\npath = \"raw/short.csv\"\nunit = \"USD thousand\"\n\
         [validate]\nmax_rejected_share = 1.0\n[output]\nformats = [\"csv\"]\n",
    );
    let outputs = |test: &[(&str, &str)]| outputs_of(&w, test);
    let whole = outputs(&[]);
    let rejects = csv_rows(&whole.1);
    for rule in [
        "unparseable_value",
        "unknown_country",
        "negative_value",
        "conflict",
    ] {
        assert!(
            rejects.iter().any(|r| r["rule"] == rule),
            "no {rule} reject: {:?}",
            rejects
                .iter()
                .map(|r| &r["rule"])
                .collect::<std::collections::BTreeSet<_>>()
        );
    }
    assert!(
        whole.0.lines().count() > 20_000,
        "{} rows",
        whole.0.lines().count()
    );
    for (k, from) in [("4", "10000"), ("7", "0")] {
        let routed = outputs(&[
            ("TRADEFLOW_TEST_BUCKETS", k),
            ("TRADEFLOW_TEST_ROUTE_FIGURES", from),
        ]);
        assert!(routed == whole, "{k} buckets from {from}: {:#}", routed.3);
    }
}

#[test]
fn every_output_read_back_from_the_buckets_is_that_of_the_table_held() {
    // the partitioned run's clean rows stay on the disk, put in key order, and every
    // writer reads them a part at a time: Parquet (and its partitions), the workbook
    // (its second data sheet starting within a part), the key file and the change report
    // against a publication of other figures (revised, removed and added ones) are those
    // of a run that holds the clean table
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/long.csv\"\ndecimal = \".\"\nunit = \"USD\"\n\
         [validate]\nmax_rejected_share = 1.0\n\
         [output]\nformats = [\"csv\", \"parquet\", \"xlsx\"]\n\
         partition_by = [\"year\"]\nxlsx_max_rows = 20000\n",
    );
    let (before, after) = (long_csv(0), long_csv(1000));
    let run = |test: &[(&str, &str)]| {
        // the previous publication: the figures before, held
        w.write("raw/long.csv", &before);
        w.run_ok_with(&[]);
        w.write("raw/long.csv", &after);
        w.run_ok_with(test);
        let mut report: serde_json::Value =
            serde_json::from_str(&w.read("processed/report.json")).unwrap();
        for k in ["run_id", "started_at", "finished_at"] {
            report.as_object_mut().unwrap().remove(k);
        }
        // what the change report found, without the previous run's id
        (report["changes"].as_object_mut().unwrap()).remove("previous_run_id");
        let trade = w.read("processed/trade.csv");
        let keys = std::fs::read(w.path().join("processed/.keys.bin")).unwrap();
        let parquet: Vec<(String, Vec<u8>)> = w
            .snapshot("processed")
            .into_iter()
            .filter(|(name, _)| name.ends_with(".parquet"))
            .collect();
        let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
        let sheets: Vec<Vec<Vec<String>>> = ["Data", "Data (2)"]
            .iter()
            .map(|name| {
                let range = wb.worksheet_range(name).unwrap();
                range
                    .rows()
                    .map(|r| r.iter().map(|c| c.to_string()).collect())
                    .collect()
            })
            .collect();
        (trade, report, keys, parquet, sheets)
    };
    let held = run(&[]);
    let changes = &held.1["changes"]["counts"];
    for kind in ["added", "removed", "revised"] {
        assert!(changes[kind].as_u64().unwrap() > 0, "no {kind}: {changes}");
    }
    assert!(held.3.len() > 2, "partitions: {}", held.3.len());
    assert_eq!(
        held.4[1].len() + 20_000,
        held.0.lines().count(),
        "two data sheets"
    );
    let routed = run(&[
        ("TRADEFLOW_TEST_BUCKETS", "5"),
        ("TRADEFLOW_TEST_ROUTE_FIGURES", "10000"),
    ]);
    assert!(held.0 == routed.0, "trade.csv");
    assert_eq!(held.1, routed.1, "report");
    assert!(held.2 == routed.2, "key file");
    assert!(held.3 == routed.3, "parquet");
    assert!(held.4 == routed.4, "workbook");
}
