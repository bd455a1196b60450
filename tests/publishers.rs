//! What publishers' layouts say and our fixtures of real downloads do not show: the World
//! as a partner in the config, countries read as reporters, reporters named by a title,
//! breakdown rows, other flows, columns and files that are not money, other currencies,
//! workbooks under another format's name, and the largest flows on record.

use crate::util::{code, csv_rows, repo, stderr, Workdir};
use std::collections::BTreeMap;

/// Runs `file` (written with `text`) with the source lines `extra`: exit code, stderr and
/// the clean rows.
fn run(file: &str, text: &str, extra: &str) -> (i32, String, Vec<BTreeMap<String, String>>) {
    let w = Workdir::empty();
    w.write(file, text);
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"{file}\"\n{extra}\n[output]\nformats = [\"csv\"]\n"),
    );
    let o = w.run(&["run"]);
    let rows = if code(&o) == 0 {
        csv_rows(&w.read("processed/trade.csv"))
    } else {
        Vec::new()
    };
    (code(&o), stderr(&o), rows)
}

fn key(r: &BTreeMap<String, String>) -> (String, String, String, String, String) {
    (
        r["reporter"].clone(),
        r["partner"].clone(),
        r["flow"].clone(),
        r["year"].clone(),
        r["value_usd"].clone(),
    )
}

#[test]
fn countries_down_with_the_world_as_declared_partner_are_reporters() {
    let (c, err, rows) = run(
        "raw/exports.csv",
        "Country,2019,2020\nTurkey,180.8,169.6\nGermany,1489.2,1380.4\n",
        "partner = \"World\"\nflow = \"export\"\nunit = \"USD billion\"",
    );
    assert_eq!(c, 0, "{err}");
    let got: Vec<_> = rows.iter().map(key).collect();
    assert_eq!(
        got,
        [
            (
                "DEU".into(),
                "WLD".into(),
                "export".into(),
                "2019".into(),
                "1489200000000".into()
            ),
            (
                "DEU".into(),
                "WLD".into(),
                "export".into(),
                "2020".into(),
                "1380400000000".into()
            ),
            (
                "TUR".into(),
                "WLD".into(),
                "export".into(),
                "2019".into(),
                "180800000000".into()
            ),
            (
                "TUR".into(),
                "WLD".into(),
                "export".into(),
                "2020".into(),
                "169600000000".into()
            ),
        ]
    );
}

#[test]
fn the_largest_flows_on_record_pass_and_the_report_still_decides_billions() {
    // China's exports in 2023: 3.38 trillion dollars, the World its partner
    let (c, err, rows) = run(
        "raw/chn.csv",
        "reporter,partner,flow,year,value\nCHN,WLD,export,2023,3380024000000\n",
        "unit = \"USD\"",
    );
    assert_eq!(c, 0, "{err}");
    assert_eq!(rows[0]["value_usd"], "3380024000000");
    // between two countries `1.180` under billions is still 1.18 billion
    let (c, err, rows) = run(
        "raw/kaz.csv",
        "Yıl,Türkiye'nin Kazakistan'dan ithalatı (Milyar $)\n2020,\"1.180\"\n",
        "",
    );
    assert_eq!(c, 0, "{err}");
    assert_eq!(rows[0]["value_usd"], "1180000000");
    assert_eq!(rows[0]["reporter"], "TUR");
}

#[test]
fn a_title_naming_whose_trade_it_is_gives_the_reporter() {
    for title in [
        "Georgian exports by partner (USD thousand)",
        "Türkiye's exports by partner (USD thousand)",
        "Экспорт Казахстана по странам (тыс. долл. США)",
    ] {
        let (c, err, rows) = run(
            "raw/t.csv",
            &format!("{title}\nPartner,2019,2020\nArmenia,10,20\nAzerbaijan,30,40\n"),
            "",
        );
        assert_eq!(c, 0, "{title}: {err}");
        let reporters: Vec<_> = rows.iter().map(|r| r["reporter"].as_str()).collect();
        let want = match title.chars().next() {
            Some('G') => "GEO",
            Some('T') => "TUR",
            _ => "KAZ",
        };
        assert!(
            reporters.len() == 4 && reporters.iter().all(|r| *r == want),
            "{title}: {rows:?}"
        );
        assert!(rows.iter().all(|r| r["flow"] == "export"), "{rows:?}");
    }
}

#[test]
fn breakdown_rows_are_set_aside_and_counted() {
    // Comtrade+ rows: the totals over mode of transport, customs procedure and second
    // partner are the figures; the rows broken down are set aside
    let text = "refYear,reporterISO,partnerISO,partner2Code,flowCode,cmdCode,customsCode,motCode,primaryValue,netWgt\n\
        2023,TUR,DEU,0,X,TOTAL,C00,0,1000,5\n\
        2023,TUR,DEU,0,X,TOTAL,C00,2100,600,3\n\
        2023,TUR,DEU,0,X,TOTAL,C01,0,400,2\n\
        2023,TUR,DEU,156,X,TOTAL,C00,0,300,1\n\
        2023,TUR,DEU,0,M,TOTAL,C00,0,2000,9\n";
    let w = Workdir::empty();
    w.write("raw/cplus.csv", text);
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/cplus.csv\"\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    let got: Vec<_> = rows.iter().map(key).collect();
    assert_eq!(
        got,
        [
            (
                "TUR".into(),
                "DEU".into(),
                "export".into(),
                "2023".into(),
                "1000".into()
            ),
            (
                "TUR".into(),
                "DEU".into(),
                "import".into(),
                "2023".into(),
                "2000".into()
            ),
        ]
    );
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(r["figures_read"], 2, "breakdowns are not figures");
    let set_aside = &r["sources"][0]["tables"][0]["set_aside"];
    let count = |col: &str| {
        set_aside
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["column"] == col)
            .map(|s| s["rows"].as_u64().unwrap())
    };
    assert_eq!(count("motCode"), Some(1), "{set_aside}");
    assert_eq!(count("customsCode"), Some(1), "{set_aside}");
    assert_eq!(count("partner2Code"), Some(1), "{set_aside}");
}

#[test]
fn flows_beyond_the_four_are_rejected_with_their_code() {
    let (c, err, _) = run(
        "raw/f.csv",
        "reporterISO,partnerISO,flowCode,refYear,primaryValue\nUSA,CHN,X,2023,100\nUSA,CHN,DX,2023,90\nUSA,CHN,FM,2023,5\n",
        "[validate]\nmax_rejected = 0",
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("\"DX\"") && err.contains("\"FM\""), "{err}");
}

#[test]
fn columns_and_files_that_are_not_money_are_never_dollars() {
    // a share, a weight and a count beside the value: only the value is read
    let (c, err, rows) = run(
        "raw/w.csv",
        "Reporter,Partner,Year,Export (US$ Thousand),Export share (%),Exports (Tonnes),No Of products\nTurkey,Kazakhstan,2019,900,15.2,5982,120\n",
        "",
    );
    assert_eq!(c, 0, "{err}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["value_usd"], "900000");
    // a file of only tonnes is refused with its unit named
    let (c, err, _) = run(
        "raw/t.csv",
        "Year,Exports (Tonnes),Imports (Tonnes)\n2019,5982,120\n",
        "reporter = \"TUR\"\npartner = \"KAZ\"",
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("Tonnes") && err.contains("not money"), "{err}");
}

#[test]
fn another_currency_is_refused_by_name() {
    let (c, err, _) = run(
        "raw/eur.csv",
        "Year,Exports to Kazakhstan (EUR million)\n2019,812\n",
        "reporter = \"DEU\"",
    );
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("EUR") && err.contains("not US dollars"),
        "{err}"
    );
}

#[test]
fn an_excel_97_workbook_named_xlsx_is_read_as_what_it_is() {
    let w = Workdir::empty();
    std::fs::create_dir_all(w.path().join("raw")).unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/merged/merged.xls"),
        w.path().join("raw/merged.xlsx"),
    )
    .unwrap();
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/merged.xlsx\"\nreporter = \"TUR\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(csv_rows(&w.read("processed/trade.csv")).len(), 16);
}

#[test]
fn a_source_of_nothing_fails_and_says_what_it_saw() {
    let (c, err, _) = run(
        "raw/n.csv",
        "Reporter,Partner,Year,Netweight (kg)\nTurkey,Kazakhstan,2019,5982\n",
        "",
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("yielded no figures"), "{err}");
    assert!(
        err.contains("Netweight (kg)") && err.contains("weight"),
        "{err}"
    );
}

#[test]
fn another_currency_is_converted_exactly_with_a_declared_rate_table() {
    let rates = "[[rates]]\ncurrency = \"EUR\"\nsource = \"ECB euro reference rates, annual averages\"\nusd_per_unit = { \"2019\" = \"1.1195\", \"2020\" = \"1.1422\" }\n";
    let w = Workdir::empty();
    w.write(
        "raw/eur.csv",
        "Year,Exports to Kazakhstan (EUR million)\n2019,812.5\n2020,700\n",
    );
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"raw/eur.csv\"\nreporter = \"DEU\"\n\n{rates}"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    // 812.5 million euros at 1.1195 dollars: 909,593,750 dollars, exactly
    assert_eq!(rows[0]["value_usd"], "909593750");
    assert_eq!(rows[1]["value_usd"], "799540000");
    assert!(
        rows.iter()
            .all(|r| r["flags"].contains("converted_currency")),
        "{rows:?}"
    );
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    assert_eq!(m["rates"][0]["currency"], "EUR");
    assert_eq!(
        m["rates"][0]["source"],
        "ECB euro reference rates, annual averages"
    );
    assert_eq!(m["rates"][0]["usd_per_unit"]["2019"], "1.1195");
    // a year the table lacks is refused, naming the table's source
    w.write(
        "raw/eur.csv",
        "Year,Exports to Kazakhstan (EUR million)\n2018,812.5\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no rate for 2018") && stderr(&o).contains("ECB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_rate_table_is_checked_with_the_config() {
    let w = Workdir::empty();
    w.write("raw/a.csv", "Year,Exports (USD)\n2019,1\n");
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/a.csv\"\nreporter = \"TUR\"\npartner = \"KAZ\"\n\n[[rates]]\ncurrency = \"Florin\"\nsource = \"x\"\nusd_per_unit = { \"2019\" = \"1\" }\n\n[[rates]]\ncurrency = \"TRY\"\nsource = \"CBRT\"\nusd_per_unit = { \"20x9\" = \"0.17\", \"2020\" = \"-1\" }\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("pipeline.toml:7: rates[0].currency: \"Florin\""),
        "{e}"
    );
    assert!(e.contains("\"20x9\" is not a year"), "{e}");
    assert!(e.contains("rates[1].usd_per_unit.2020: \"-1\""), "{e}");
}

/// The years across, in US$ million, written the English way: `1,135` is decided by
/// `969.98` elsewhere in the table (`,` is a thousands mark here), `1,150` by its own
/// column; the title says who trades with whom.
pub(crate) const YEARS_ACROSS: &str = "\"Turkey: merchandise trade with Uzbekistan, US$ million\",,,,,\nIndicator,2016,2017,2018,2019,2020\nExports to Uzbekistan,533,680,951,\"1,135\",\"1,150\"\nImports from Uzbekistan,709,823,795,\"1,076\",969.98\n\"Source: Ministry of Trade\",,,,,\n";

/// The years down with a note column: its texts (one that looks like a formula) are
/// no figures and no rejects.
const YEARS_DOWN_WITH_NOTES: &str = "Year,Exports to Uzbekistan (US$ million),Imports from Uzbekistan (US$ million),Note\n2016,533,709,ok\n2017,680,823,ok\n2018,951,795,ok\n2019,\"1,135\",\"1,076\",ok\n2020,\"1,150\",969.98,\"=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\"\n";

pub(crate) fn uzbekistan(
    rows: &[BTreeMap<String, String>],
) -> Vec<(String, String, String, String)> {
    rows.iter()
        .map(|r| {
            (
                format!("{} {}", r["reporter"], r["partner"]),
                r["flow"].clone(),
                r["year"].clone(),
                r["value_usd"].clone(),
            )
        })
        .collect()
}

pub(crate) fn uzbekistan_expected() -> Vec<(String, String, String, String)> {
    let mut v = Vec::new();
    for (flow, values) in [
        ("export", ["533", "680", "951", "1135", "1150"]),
        ("import", ["709", "823", "795", "1076", "969.98"]),
    ] {
        for (y, m) in (2016..).zip(values) {
            let usd = (m.parse::<rust_decimal::Decimal>().unwrap()
                * rust_decimal::Decimal::from(1_000_000))
            .normalize()
            .to_string();
            v.push(("TUR UZB".into(), flow.into(), y.to_string(), usd));
        }
    }
    v
}

#[test]
fn the_table_decides_its_decimal_mark_and_note_columns_are_no_figures() {
    let (c, err, rows) = run("raw/across.csv", YEARS_ACROSS, "");
    assert_eq!(c, 0, "{err}");
    assert_eq!(uzbekistan(&rows), uzbekistan_expected());
    let flag = |y: &str, f: &str| {
        rows.iter()
            .find(|r| r["year"] == y && r["flow"] == f)
            .unwrap()["flags"]
            .clone()
    };
    assert_eq!(flag("2019", "export"), "decimal_from_table");
    assert_eq!(flag("2020", "export"), "decimal_from_column");
    let (c, err, rows) = run("raw/down.csv", YEARS_DOWN_WITH_NOTES, "reporter = \"TUR\"");
    assert_eq!(c, 0, "{err}");
    assert_eq!(uzbekistan(&rows), uzbekistan_expected());
    // the note column is no figure: no text of it anywhere in the outputs
    assert!(rows
        .iter()
        .all(|r| !r.values().any(|v| v.contains("HYPERLINK"))));
}

/// One source decides for all its tables: a second table whose cells say nothing is read
/// as the first one writes numbers.
#[test]
fn a_source_is_written_one_way() {
    let w = Workdir::empty();
    w.write(
        "raw/two.md",
        "Table 1: TURKEY – UZBEKISTAN (Million dollars)\n\n| YEARS | EXPORTS | IMPORTS |\n|---|---|---|\n| 2019 | 1,135.5 | 1,076.25 |\n\nTable 2: TURKEY – KAZAKHSTAN (Million dollars)\n\n| YEARS | EXPORTS | IMPORTS |\n|---|---|---|\n| 2019 | 1,234 | 3,004 |\n",
    );
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/two.md\"\nreporter = \"TUR\"\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    let kaz: Vec<_> = rows
        .iter()
        .filter(|r| r["partner"] == "KAZ")
        .map(|r| (r["value_usd"].as_str(), r["flags"].as_str()))
        .collect();
    assert_eq!(
        kaz,
        [
            ("1234000000", "decimal_from_source"),
            ("3004000000", "decimal_from_source")
        ]
    );
}

/// Both files as workbooks whose numbers are text cells, as a ministry's export writes
/// them: the same figures.
#[test]
fn the_table_decides_in_a_workbook_of_text_cells_too() {
    for (name, text, extra) in [
        ("across", YEARS_ACROSS, ""),
        ("down", YEARS_DOWN_WITH_NOTES, "reporter = \"TUR\""),
    ] {
        let w = Workdir::empty();
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        for (i, rec) in r.records().enumerate() {
            for (j, cell) in rec.unwrap().iter().enumerate() {
                if !cell.is_empty() {
                    ws.write_string(i as u32, j as u16, cell).unwrap();
                }
            }
        }
        std::fs::create_dir_all(w.path().join("raw")).unwrap();
        wb.save(w.path().join(format!("raw/{name}.xlsx"))).unwrap();
        w.write(
            "pipeline.toml",
            format!("[[sources]]\npath = \"raw/{name}.xlsx\"\n{extra}\n"),
        );
        let o = w.run(&["run"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let rows = csv_rows(&w.read("processed/trade.csv"));
        assert_eq!(uzbekistan(&rows), uzbekistan_expected(), "{name}");
    }
}

/// Where no cell decides, the file's locale signals do: `;` between the fields, a
/// Cyrillic code page or Cyrillic headers, Turkish headers (all written where `,` is the
/// decimal mark); English headers say nothing.
#[test]
fn the_files_locale_signals_decide_last() {
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "semicolon.csv",
            b"Year;Exports (USD million)\n2019;1.135\n",
            "1135000000",
        ),
        (
            "cyrillic.csv",
            "Год,Экспорт (млн долл. США)\n2019,\"1,135\"\n".as_bytes(),
            "1135000",
        ),
        (
            "turkish.csv",
            "Yıl,İhracat (Milyon $)\n2019,\"1,135\"\n".as_bytes(),
            "1135000",
        ),
    ];
    for (name, text, want) in cases {
        let w = Workdir::empty();
        w.write(&format!("raw/{name}"), text);
        w.write(
            "pipeline.toml",
            format!("[[sources]]\npath = \"raw/{name}\"\nreporter = \"TUR\"\npartner = \"KAZ\"\n"),
        );
        let o = w.run(&["run"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let rows = csv_rows(&w.read("processed/trade.csv"));
        assert_eq!(rows[0]["value_usd"], want, "{name}");
        assert_eq!(rows[0]["flags"], "decimal_from_source", "{name}");
        let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
        assert_eq!(r["sources"][0]["decimal_hint"]["decimal"], ",", "{name}");
    }
    // English headers over a lone ambiguous number: nothing decides it
    let (c, err, _) = run(
        "raw/en.csv",
        "Year,Exports (USD million)\n2019,\"1,135\"\n",
        "reporter = \"TUR\"\npartner = \"KAZ\"",
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("ambiguous_number"), "{err}");
}
