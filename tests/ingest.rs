//! Ingest: the same table in every format gives the same figures; layouts; encodings;
//! bad inputs end with exit 3 and a message that names the file and the reason.

use crate::util::{code, csv_rows, fails, repo, stderr, stdout, Workdir};
use std::collections::BTreeSet;

fn figures(w: &Workdir, file: &str) -> BTreeSet<(String, String, String, String)> {
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"{file}\"\nreporter = \"TUR\"\n"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{file}: {}", stderr(&o));
    csv_rows(&w.read("processed/trade.csv"))
        .into_iter()
        .map(|r| {
            (
                r["partner"].clone(),
                r["flow"].clone(),
                r["year"].clone(),
                r["value_usd"].clone(),
            )
        })
        .collect()
}

fn fixture_workdir() -> Workdir {
    let w = Workdir::empty();
    for f in std::fs::read_dir(repo().join("tests/fixtures/formats"))
        .unwrap()
        .flatten()
    {
        std::fs::create_dir_all(w.path().join("raw")).unwrap();
        std::fs::copy(f.path(), w.path().join("raw").join(f.file_name())).unwrap();
    }
    w
}

fn expected() -> BTreeSet<(String, String, String, String)> {
    let e = [625000000u64, 747000000, 695000000, 900000000, 985680000];
    let m = [
        1334000000u64,
        1463000000,
        1470000000,
        3004000000,
        1180000000,
    ];
    let mut s = BTreeSet::new();
    for (i, y) in (2016..=2020).enumerate() {
        s.insert((
            "KAZ".into(),
            "export".into(),
            y.to_string(),
            e[i].to_string(),
        ));
        s.insert((
            "KAZ".into(),
            "import".into(),
            y.to_string(),
            m[i].to_string(),
        ));
    }
    s
}

macro_rules! format_case {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            let w = fixture_workdir();
            assert_eq!(figures(&w, concat!("raw/", $file)), expected());
        }
    };
}

format_case!(same_figures_from_csv, "basic.csv");
format_case!(same_figures_from_xlsx, "basic.xlsx");
format_case!(same_figures_from_xls, "basic.xls");
format_case!(same_figures_from_ods, "basic.ods");
format_case!(same_figures_from_xlsb, "basic.xlsb");
format_case!(same_figures_from_markdown, "basic.md");
format_case!(same_figures_from_html, "basic.html");
format_case!(same_figures_from_json, "basic.json");

#[test]
fn years_across_with_flows_down() {
    let w = Workdir::empty();
    w.write("raw/t.csv", "Türkiye - Özbekistan dış ticareti (Milyon $)\n\n,2018,2019,2020\nİhracat,951,\"1.135,0\",\"1.150,0\"\nİthalat,795,\"1.076,0\",\"969,98\"\n");
    let f = figures(&w, "raw/t.csv");
    assert!(
        f.contains(&(
            "UZB".into(),
            "export".into(),
            "2019".into(),
            "1135000000".into()
        )),
        "{f:?}"
    );
    assert!(
        f.contains(&(
            "UZB".into(),
            "import".into(),
            "2020".into(),
            "969980000".into()
        )),
        "{f:?}"
    );
    assert_eq!(f.len(), 6);
}

#[test]
fn partners_down_years_across_with_a_total_row() {
    let w = Workdir::empty();
    w.write("raw/t.csv", "Экспорт Турции, млн долл. США\n\nСтрана,2019,2020\nКазахстан,900,\"985,68\"\nКыргызстан,442,\"417,54\"\nИтого,1342,\"1403,22\"\n");
    let f = figures(&w, "raw/t.csv");
    assert_eq!(f.len(), 4, "the Итого row is an aggregate: {f:?}");
    assert!(f.contains(&(
        "KGZ".into(),
        "export".into(),
        "2020".into(),
        "417540000".into()
    )));
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    let totals = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "totals")
        .unwrap();
    assert!(
        totals["findings"].as_array().unwrap().is_empty(),
        "the parts add up: {totals}"
    );
}

#[test]
fn two_tables_on_one_sheet_and_a_page_break() {
    let w = Workdir::empty();
    w.write(
        "raw/t.csv",
        "TURKEY - KAZAKHSTAN\nYEARS,EXPORT (Million dollars)\n2019,900\n\n\n2020,985.68\nSource: x\n\nTURKEY - KYRGYZSTAN\nYEARS,IMPORT (Million dollars)\n2019,77\n2020,91.15\n",
    );
    let f = figures(&w, "raw/t.csv");
    assert_eq!(f.len(), 4, "{f:?}");
    assert!(f.contains(&(
        "KAZ".into(),
        "export".into(),
        "2020".into(),
        "985680000".into()
    )));
    assert!(f.contains(&(
        "KGZ".into(),
        "import".into(),
        "2019".into(),
        "77000000".into()
    )));
}

#[test]
fn legacy_encodings_are_detected() {
    let w = Workdir::empty();
    let text = "Страна;Год;Поток;Стоимость;Ед. изм.\nКазахстан;2019;Экспорт;900;млн долл. США\nКыргызстан;2019;Импорт;77;млн долл. США\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    w.write("raw/ru.csv", &bytes);
    let f = figures(&w, "raw/ru.csv");
    assert!(
        f.contains(&(
            "KAZ".into(),
            "export".into(),
            "2019".into(),
            "900000000".into()
        )),
        "{f:?}"
    );
    let tr = "Ülke;Yıl;Akış;Değer;Birim\nKırgızistan;2019;İhracat;442;Milyon $\nÖzbekistan;2019;İthalat;1076;Milyon $\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(tr);
    w.write("raw/tr.csv", &bytes);
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/tr.csv\"\nreporter = \"TUR\"\nencoding = \"windows-1254\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(w
        .read("processed/trade.csv")
        .contains("TUR,KGZ,export,2019,,TOTAL,442000000"));
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    w.write("raw/u16.csv", &utf16);
    assert_eq!(figures(&w, "raw/u16.csv").len(), 2);
}

#[test]
fn binary_garbage_in_a_csv_is_an_undetectable_encoding() {
    let w = Workdir::empty();
    let bytes: Vec<u8> = (0..600u32).map(|i| ((i * 37 + 11) % 256) as u8).collect();
    w.write("raw/bin.csv", bytes);
    fails(&w, "raw/bin.csv", "cannot tell the text's encoding");
}

#[test]
fn a_sheet_with_no_table() {
    let w = Workdir::empty();
    w.write("raw/notes.csv", "Just a note\nNothing tabular here\n");
    fails(&w, "raw/notes.csv", "no table found");
}

#[test]
fn encrypted_workbook() {
    // basic.xlsx encrypted with a password as Excel does it (an OLE compound file holding
    // EncryptionInfo and EncryptedPackage), made by msoffcrypto-tool
    let w = Workdir::empty();
    w.write(
        "raw/locked.xlsx",
        std::fs::read(repo().join("tests/fixtures/bad/locked.xlsx")).unwrap(),
    );
    fails(
        &w,
        "raw/locked.xlsx",
        "the workbook is encrypted (password-protected)",
    );
}

fn merged_figures() -> BTreeSet<(String, String, String, String)> {
    let m = |p: &str, f: &str, y: u32, v: &str| {
        (p.to_string(), f.to_string(), y.to_string(), v.to_string())
    };
    BTreeSet::from([
        m("KAZ", "export", 2019, "900000000"),
        m("KAZ", "export", 2020, "985680000"),
        m("KAZ", "import", 2019, "3004000000"),
        m("KAZ", "import", 2020, "1180000000"),
        m("UZB", "export", 2019, "1135000000"),
        m("UZB", "export", 2020, "1150000000"),
        m("UZB", "import", 2019, "1076000000"),
        m("UZB", "import", 2020, "969980000"),
        m("AZE", "export", 2019, "2094000000"),
        m("AZE", "export", 2020, "2070000000"),
        m("AZE", "import", 2019, "2010000000"),
        m("AZE", "import", 2020, "1995000000"),
        m("KGZ", "export", 2019, "459000000"),
        m("KGZ", "export", 2020, "400000000"),
        m("KGZ", "import", 2019, "91000000"),
        m("KGZ", "import", 2020, "53000000"),
    ])
}

#[rstest::rstest]
#[case("merged.xlsx")]
#[case("merged.xls")]
fn merged_cells_label_what_they_cover(#[case] file: &str) {
    // `Exports` and `Imports` merged over `2019 | 2020`, `Partner` merged down over the two
    // header rows, a partner merged down over its export and import rows, a banner title
    // merged over the table, and a derived `Balance 2020` column that is not a figure
    let w = Workdir::empty();
    w.write(
        &format!("raw/{file}"),
        std::fs::read(repo().join("tests/fixtures/merged").join(file)).unwrap(),
    );
    assert_eq!(figures(&w, &format!("raw/{file}")), merged_figures());
    let o = w.run(&[
        "inspect",
        &format!("raw/{file}"),
        "--reporter",
        "TUR",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let cols = &v["tables"][0]["columns"];
    assert_eq!(cols[1]["header"], "Exports 2019");
    assert_eq!(cols[4]["header"], "Imports 2020");
    assert!(
        cols[5]["role"]
            .as_str()
            .unwrap()
            .starts_with("ignored: a measure derived"),
        "{cols}"
    );
    assert_eq!(
        v["tables"][0]["titles"][0],
        "Türkiye's trade by partner (USD million)"
    );
    assert!(
        csv_rows(&w.read("processed/rejects.csv")).is_empty(),
        "the balance column is skipped, not rejected"
    );
}

#[test]
fn a_colspan_header_reads_like_a_merged_one() {
    let w = Workdir::empty();
    w.write(
        "raw/t.html",
        "<table><caption>Trade by partner (USD million)</caption>\
         <tr><th rowspan=2>Partner</th><th colspan=2>Exports</th><th colspan=2>Imports</th></tr>\
         <tr><th>2019</th><th>2020</th><th>2019</th><th>2020</th></tr>\
         <tr><td>Kazakhstan</td><td>900</td><td>985.68</td><td>3004</td><td>1180</td></tr></table>",
    );
    let f = figures(&w, "raw/t.html");
    assert_eq!(f.len(), 4, "{f:?}");
    assert!(
        f.contains(&(
            "KAZ".into(),
            "import".into(),
            "2020".into(),
            "1180000000".into()
        )),
        "{f:?}"
    );
}

#[test]
fn xlsx_renamed_to_xls() {
    let w = fixture_workdir();
    std::fs::copy(
        w.path().join("raw/basic.xlsx"),
        w.path().join("raw/renamed.xls"),
    )
    .unwrap();
    // a workbook is read by what its bytes are, whatever its name says
    let f = figures(&w, "raw/renamed.xls");
    assert_eq!(f.len(), 10, "{f:?}");
}

#[test]
fn json_without_records() {
    let w = Workdir::empty();
    w.write("raw/x.json", "{\"status\": \"ok\", \"count\": 0}");
    fails(&w, "raw/x.json", "no array of records");
}

#[test]
fn inspect_reads_every_format() {
    let w = fixture_workdir();
    for f in [
        "basic.csv",
        "basic.xlsx",
        "basic.xls",
        "basic.xlsb",
        "basic.ods",
        "basic.md",
        "basic.html",
        "basic.json",
    ] {
        let o = w.run(&["inspect", &format!("raw/{f}"), "--reporter", "TUR"]);
        assert_eq!(code(&o), 0, "{f}: {}", stderr(&o));
        assert!(stdout(&o).contains("figures (10)"), "{f}: {}", stdout(&o));
    }
}

#[test]
fn inspect_json_says_the_same_as_the_text() {
    let w = fixture_workdir();
    let o = w.run(&["inspect", "raw/basic.md", "--reporter", "TUR", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let t = &v["tables"][0];
    assert_eq!(t["layout"], "years down, flows across");
    let unit_of = |col: u64| {
        t["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["column"] == col)
            .unwrap()
            .clone()
    };
    assert_eq!(unit_of(2)["unit"], "USD million");
    assert_eq!(unit_of(3)["unit"], "USD billion");
    assert_eq!(unit_of(3)["from"], "column header");
    assert_eq!(t["figures"].as_array().unwrap().len(), 10);
    assert_eq!(t["figures"][1]["value_usd"], "1334000000");
    assert_eq!(
        t["figures"][1]["flags"][0], "decimal_from_column",
        "1.47 and 1.18 in the same column show the dot is decimal"
    );
}

#[test]
fn a_sheet_whose_cells_span_the_whole_grid_is_read_in_bounded_memory() {
    // A1 and XFD1048576: a dense grid would need 17 billion cells
    let w = Workdir::empty();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "corner").unwrap();
    ws.write_string(1_048_575, 16_383, "far corner").unwrap();
    std::fs::create_dir_all(w.path().join("raw")).unwrap();
    wb.save(w.path().join("raw/huge.xlsx")).unwrap();
    let t0 = std::time::Instant::now();
    fails(&w, "raw/huge.xlsx", "no table found");
    assert!(t0.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_opened() {
    use std::io::Write;
    let w = Workdir::empty();
    std::fs::create_dir_all(w.path().join("raw")).unwrap();
    let file = std::fs::File::create(w.path().join("raw/bomb.xlsx")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..160 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    fails(&w, "raw/bomb.xlsx", "refused as a zip bomb");
}

#[test]
fn two_level_headers_flows_spanning_years() {
    let w = Workdir::empty();
    w.write("raw/t.csv", "Turkey's trade by partner (USD million)\n,Exports,,Imports,\nPartner,2019,2020,2019,2020\nKazakhstan,900,985.68,3004,1180\nUzbekistan,1135,1150,1076,969.98\n");
    let f = figures(&w, "raw/t.csv");
    assert_eq!(f.len(), 8, "{f:?}");
    assert!(
        f.contains(&(
            "KAZ".into(),
            "import".into(),
            "2020".into(),
            "1180000000".into()
        )),
        "{f:?}"
    );
    assert!(
        f.contains(&(
            "UZB".into(),
            "export".into(),
            "2019".into(),
            "1135000000".into()
        )),
        "{f:?}"
    );
}

#[test]
fn years_down_with_month_and_hs_code_key_columns() {
    let w = Workdir::empty();
    w.write(
        "raw/t.csv",
        "TURKEY - KAZAKHSTAN TRADE BY MONTH AND HS CODE\n\nYEARS,MONTHS,HS CODE,TURKEY'S EXPORT TO KAZAKHSTAN (Thousand dollars),TURKEY'S IMPORT FROM KAZAKHSTAN (Thousand dollars)\n2019,1,010121,12.5,3\n2019,2,10121,14,..\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/t.csv\"\nreporter = \"TUR\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| r["commodity"] == "010121"),
        "leading zero kept or restored: {rows:?}"
    );
    let feb_import = rows
        .iter()
        .find(|r| r["month"] == "2" && r["flow"] == "import")
        .unwrap();
    assert_eq!(feb_import["value_usd"], "", "missing is null, never zero");
    assert_eq!(feb_import["flags"], "missing_value");
    let jan_export = rows
        .iter()
        .find(|r| r["month"] == "1" && r["flow"] == "export")
        .unwrap();
    assert_eq!(jan_export["value_usd"], "12500");
}

#[test]
fn a_long_csv_past_the_head_is_streamed_with_the_right_places() {
    let w = Workdir::empty();
    let mut csv = String::from("Comtrade-like extract\n\npartner,flow,year,month,value,unit\n");
    for i in 0..600 {
        csv.push_str(&format!(
            "Kazakhstan,{},{},{},{}.5,USD thousand\n",
            if i % 2 == 0 { "X" } else { "M" },
            2000 + i / 24,
            1 + (i / 2) % 12,
            i
        ));
    }
    csv.push_str("\nSource: generated for this test\n");
    w.write("raw/long.csv", &csv);
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/long.csv\"\nreporter = \"TUR\"\ndecimal = \".\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 600, "every record, none of the footer");
    let r = rows.iter().find(|r| r["value_usd"] == "599500").unwrap();
    assert_eq!(
        r["source_ref"], "raw/long.csv [long.csv] line 603, column 5",
        "record 600 sits on line 603"
    );
    let r = rows.iter().find(|r| r["value_usd"] == "300500").unwrap();
    assert_eq!(
        r["source_ref"],
        "raw/long.csv [long.csv] line 304, column 5"
    );
}

#[test]
fn a_long_csv_streamed_in_batches_keeps_every_record_and_its_line() {
    // past the records read up front and several of the parser's batches, with a quoted
    // field holding a newline, a footer after the last record
    let w = Workdir::empty();
    let mut csv = String::from("partner,flow,year,month,hs_code,value,unit\n");
    for i in 0..9000u32 {
        let value = if i == 5000 {
            "\"1,234\n.5\"".to_string()
        } else {
            (i + 1).to_string()
        };
        csv.push_str(&format!(
            "Kazakhstan,export,2019,{},{},{value},USD\n",
            i % 12 + 1,
            100000 + i
        ));
    }
    csv.push_str("Source: a test\n");
    w.write("raw/long.csv", csv);
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/long.csv\"\nreporter = \"TUR\"\n[validate]\nmax_rejected_share = 1.0\n");
    let o = w.run(&["run"]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    // every record read: 8999 clean, the one with a newline in its value rejected
    let rows = csv_rows(&w.read("processed/trade.csv"));
    let rejects = csv_rows(&w.read("processed/rejects.csv"));
    assert_eq!((rows.len(), rejects.len()), (8999, 1), "{rejects:?}");
    assert!(
        rejects[0]["source_ref"].ends_with("line 5002, column 6"),
        "{}",
        rejects[0]["source_ref"]
    );
    // the record after the one with an embedded newline sits two lines further down
    let last = rows
        .iter()
        .find(|r| r["value_usd"] == "9000")
        .expect("the last record");
    assert!(
        last["source_ref"].ends_with("line 9002, column 6"),
        "{}",
        last["source_ref"]
    );
}

#[test]
fn windows_line_ends_and_blank_lines_keep_each_records_line() {
    // `\r\n` ends every line, blank lines before the header and among the records, in the
    // records read up front and past them: each figure names the line an editor shows
    let w = Workdir::empty();
    let mut csv = String::from("Extract\r\n\r\npartner,flow,year,month,value,unit\r\n");
    let mut line = 3;
    let mut at = std::collections::BTreeMap::new();
    for i in 0..700u32 {
        if i % 100 == 50 {
            csv.push_str("\r\n");
            line += 1;
        }
        csv.push_str(&format!(
            "Kazakhstan,export,{},{},{},USD\r\n",
            2000 + i / 12,
            i % 12 + 1,
            i + 1
        ));
        line += 1;
        at.insert((i + 1).to_string(), line);
    }
    w.write("raw/win.csv", &csv);
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/win.csv\"\nreporter = \"TUR\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 700);
    for r in &rows {
        let want = format!(
            "raw/win.csv [win.csv] line {}, column 5",
            at[&r["value_usd"]]
        );
        assert_eq!(r["source_ref"], want);
    }
}
