//! Writes `raw/turkic-trade.xlsx`: the report's four tables keyed into a workbook the way
//! an analyst would, one sheet per partner, numbers as numbers and the cells that carry
//! their own unit (`1.135 Billion`) as text.
//!
//! `cargo run --release --example make_raw_workbook -- raw/turkic-trade.xlsx`

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

enum V {
    N(f64),
    T(&'static str),
}
use V::{N, T};

type Sheet = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    [(u16, V, V); 5],
);

fn main() -> Result<(), XlsxError> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "raw/turkic-trade.xlsx".into());
    let sheets: [Sheet; 4] = [
        (
            "Azerbaijan",
            "AZERBAIJAN",
            "Billion",
            "Billion",
            [
                (2016, N(1.18), N(1.18)),
                (2017, N(1.27), N(2.27)),
                (2018, N(1.57), N(1.82)),
                (2019, N(1.64), N(2.86)),
                (2020, N(1.56), N(2.59)),
            ],
        ),
        (
            "Kazakhstan",
            "KAZAKHSTAN",
            "Million",
            "Billion",
            [
                (2016, N(625.0), N(1.334)),
                (2017, N(747.0), N(1.463)),
                (2018, N(695.0), N(1.470)),
                (2019, N(900.0), N(3.004)),
                (2020, N(985.68), N(1.180)),
            ],
        ),
        (
            "Uzbekistan",
            "UZBEKISTAN",
            "Million",
            "Million",
            [
                (2016, N(533.0), N(709.0)),
                (2017, N(680.0), N(823.0)),
                (2018, N(951.0), N(795.0)),
                (2019, T("1.135 Billion"), T("1.076 Billion")),
                (2020, T("1.15 Billion"), N(969.98)),
            ],
        ),
        (
            "Kyrgyzstan",
            "KYRGYZSTAN",
            "Million",
            "Million",
            [
                (2016, N(309.0), N(101.0)),
                (2017, N(343.0), N(143.0)),
                (2018, N(377.0), N(47.0)),
                (2019, N(442.0), N(77.0)),
                (2020, N(417.54), N(91.15)),
            ],
        ),
    ];
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title("Turkey's trade with the Turkic states, 2016-2020")
            .set_comment("Keyed from the four trade tables of OpSour Turkish Studies Series No. 2 (Feb 2022); figures: Republic of Turkey Ministry of Trade")
            .set_creation_datetime(&ExcelDateTime::from_ymd(2022, 3, 1)?),
    );
    let bold = Format::new().set_bold();
    for (name, upper, ex_unit, im_unit, rows) in sheets {
        let ws = wb.add_worksheet().set_name(name)?;
        ws.write_string_with_format(0, 0, format!("TURKEY – {upper} TRADE RELATIONSHIP"), &bold)?;
        ws.write_string(2, 0, "YEARS")?;
        ws.write_string(
            2,
            1,
            format!("TURKEY'S EXPORT TO {upper} ({ex_unit} dollars)"),
        )?;
        ws.write_string(
            2,
            2,
            format!("TURKEY'S IMPORT FROM {upper} ({im_unit} dollars)"),
        )?;
        for (i, (year, ex, im)) in rows.into_iter().enumerate() {
            let r = 3 + i as u32;
            ws.write_number(r, 0, year)?;
            for (c, v) in [(1u16, ex), (2, im)] {
                match v {
                    N(x) => ws.write_number(r, c, x)?,
                    T(s) => ws.write_string(r, c, s)?,
                };
            }
        }
        ws.write_string(9, 0, "Source: Republic of Turkey Ministry of Trade")?;
        ws.set_column_width(0, 8)?;
        ws.set_column_width(1, 48)?;
        ws.set_column_width(2, 50)?;
    }
    wb.save(&out)?;
    eprintln!("wrote {out}");
    Ok(())
}
