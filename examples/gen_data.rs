//! Deterministic, seeded benchmark inputs in the shapes tradeflow meets: a Comtrade-like
//! long CSV (reporter spellings, partner names in English and Turkish, flows as words or
//! codes, units per row, values plain, grouped and with scale words, a few defects and
//! duplicates) and a ministry-style workbook (one sheet per partner: YEARS | MONTHS |
//! HS CODE | EXPORT | IMPORT). Same seed and sizes, same bytes.
//!
//! `cargo run --release --example gen_data -- --out /tmp/tf-bench --rows 1000000 --xlsx-rows 200000 --seed 20240601`

use std::io::Write;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const TUR: [&str; 6] = [
    "Turkey",
    "Türkiye",
    "TURKIYE",
    "Turkiye",
    "TÜRKİYE",
    "Republic of Türkiye",
];
const PARTNERS: [(&str, &str); 24] = [
    ("Azerbaijan", "Azerbaycan"),
    ("Kazakhstan", "Kazakistan"),
    ("Kyrgyz Republic", "Kırgızistan"),
    ("Uzbekistan", "Özbekistan"),
    ("Turkmenistan", "Türkmenistan"),
    ("Germany", "Almanya"),
    ("Russian Federation", "Rusya"),
    ("China", "Çin"),
    ("United States", "ABD"),
    ("Italy", "İtalya"),
    ("France", "Fransa"),
    ("United Kingdom", "Birleşik Krallık"),
    ("Iraq", "Irak"),
    ("Iran", "İran"),
    ("Spain", "İspanya"),
    ("Netherlands", "Hollanda"),
    ("Israel", "İsrail"),
    ("Romania", "Romanya"),
    ("Poland", "Polonya"),
    ("Belgium", "Belçika"),
    ("Georgia", "Gürcistan"),
    ("Ukraine", "Ukrayna"),
    ("Greece", "Yunanistan"),
    ("Egypt", "Mısır"),
];
const UNITS: [(&str, f64); 3] = [("USD", 1.0), ("USD thousand", 1e3), ("USD million", 1e6)];

fn value_text(r: &mut Rng, usd: f64, unit: usize) -> String {
    let x = usd / UNITS[unit].1;
    match r.below(10) {
        0..=4 => format!("{x:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        5 if x >= 1000.0 => {
            let s = format!("{:.2}", x);
            let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
            let mut g = String::new();
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    g.push(',');
                }
                g.push(c);
            }
            format!("{g}.{frac}")
        }
        6..=8 if usd >= 1e6 => {
            let (v, w) = if usd >= 1e9 {
                (usd / 1e9, ["Billion", "bn", "bln"])
            } else {
                (usd / 1e6, ["million", "mn", "mio"])
            };
            format!("{v:.3} {}", w[r.below(3) as usize])
        }
        _ => format!(
            " {} ",
            format!("{x:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
        ),
    }
}

fn long_csv(path: &std::path::Path, rows: usize, seed: u64) -> std::io::Result<()> {
    let mut r = Rng(seed | 1);
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(w, "reporter,partner,year,month,hs_code,flow,value,unit")?;
    let mut last: Option<String> = None;
    for i in 0..rows {
        // one in a thousand repeats an earlier row (a duplicate to supersede)
        if let (Some(l), true) = (&last, r.below(1000) == 0) {
            writeln!(w, "{l}")?;
            continue;
        }
        let reporter = TUR[r.below(6) as usize];
        let (en, tr) = PARTNERS[r.below(PARTNERS.len() as u64) as usize];
        let partner = if r.below(2) == 0 { en } else { tr };
        let year = 2000 + (i * 25 / rows.max(1)) as u32;
        let month = 1 + r.below(12);
        let hs = 10000 + r.below(960000);
        let flow = ["Export", "Import", "X", "M"][r.below(4) as usize];
        let unit = r.below(3) as usize;
        let usd = (r.unit() * 14.0).exp() * 10.0;
        let mut value = value_text(&mut r, usd, unit);
        match r.below(2000) {
            0 => value = "..".into(),
            1 => value = "approx. 5".into(),
            2 => value = format!("-{value}").replace("- ", "-"),
            _ => {}
        }
        let quoted = if value.contains(',') {
            format!("\"{value}\"")
        } else {
            value
        };
        let line = format!(
            "{reporter},{partner},{year},{month},{hs:06},{flow},{quoted},{}",
            UNITS[unit].0
        );
        writeln!(w, "{line}")?;
        last = Some(line);
    }
    w.flush()
}

fn workbook(
    path: &std::path::Path,
    rows: usize,
    seed: u64,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut r = Rng(seed.rotate_left(17) | 1);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheets = 20usize;
    let per = rows.div_ceil(sheets);
    for s in 0..sheets {
        let (en, _) = PARTNERS[s % PARTNERS.len()];
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(format!("{} {}", en.split(' ').next().unwrap_or(en), s + 1))?;
        ws.write_string(
            0,
            0,
            format!("TURKEY - {} TRADE BY MONTH AND HS CODE", en.to_uppercase()),
        )?;
        for (c, h) in [
            "YEARS",
            "MONTHS",
            "HS CODE",
            &format!(
                "TURKEY'S EXPORT TO {} (Thousand dollars)",
                en.to_uppercase()
            ),
            &format!(
                "TURKEY'S IMPORT FROM {} (Thousand dollars)",
                en.to_uppercase()
            ),
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(2, c as u16, *h)?;
        }
        for i in 0..per {
            let row = 3 + i as u32;
            ws.write_number(row, 0, (2000 + i * 25 / per) as f64)?;
            ws.write_number(row, 1, (1 + i % 12) as f64)?;
            ws.write_string(row, 2, format!("{:06}", 10000 + (i * 7919) % 960000))?;
            ws.write_number(row, 3, ((r.unit() * 12.0).exp() * 1000.0).round() / 1000.0)?;
            ws.write_number(row, 4, ((r.unit() * 12.0).exp() * 1000.0).round() / 1000.0)?;
        }
    }
    wb.save(path)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut rows, mut xrows, mut seed) = (
        std::path::PathBuf::from("/tmp/tf-bench"),
        1_000_000usize,
        200_000usize,
        20240601u64,
    );
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--out" => out = v.into(),
            "--rows" => rows = v.parse().expect("--rows N"),
            "--xlsx-rows" => xrows = v.parse().expect("--xlsx-rows N"),
            "--seed" => seed = v.parse().expect("--seed N"),
            other => panic!("unknown argument {other}"),
        }
    }
    std::fs::create_dir_all(&out).expect("output folder");
    long_csv(&out.join("long.csv"), rows, seed).expect("long.csv");
    if xrows > 0 {
        workbook(&out.join("wide_big.xlsx"), xrows, seed).expect("wide_big.xlsx");
    }
    eprintln!(
        "wrote {} (rows {rows}, workbook rows {xrows}, seed {seed})",
        out.display()
    );
}
