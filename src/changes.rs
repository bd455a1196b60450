//! The change report: the new clean table against the previous publication's, by key
//! (reporter, partner, flow, year, month, commodity): figures added, removed, and revised
//! with old value, new value and change. Revisions are normal in trade statistics; this
//! is how a data owner sees them.
//!
//! Reads the previous `trade.csv` of the output folder, if any; writes nothing.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap as HashMap;
use std::path::Path;

use crate::publish::CleanTable;

/// One revised figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revision {
    pub key: String,
    pub old: String,
    pub new: String,
    pub change: String,
    /// new / old - 1, when old is not zero.
    pub change_share: Option<f64>,
}

/// What changed since the previous publication.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Changes {
    /// False when there was no previous publication to compare with.
    pub compared: bool,
    pub previous_run_id: Option<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub revised: Vec<Revision>,
}


fn key_of(rep: &str, par: &str, flow: &str, year: &str, month: &str, cmd: &str) -> String {
    format!("{rep}\t{par}\t{flow}\t{year}\t{month}\t{cmd}")
}

fn key_text(k: &str) -> String {
    let p: Vec<&str> = k.split('\t').collect();
    let m = if p[4].is_empty() { String::new() } else { format!("-{:0>2}", p[4]) };
    format!("{} {} {} {}{m} {}", p[0], p[1], p[2], p[3], p[5])
}

/// Values of a published `trade.csv` by key.
fn previous(path: &Path) -> Option<HashMap<String, String>> {
    let bytes = std::fs::read(path).ok()?;
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let delim = if text.split(|b| *b == b'\n').next().is_some_and(|h| h.contains(&b';')) { b';' } else { b',' };
    let mut r = csv::ReaderBuilder::new().delimiter(delim).from_reader(text);
    let h = r.headers().ok()?.clone();
    let col = |n: &str| h.iter().position(|x| x == n);
    let (rep, par, flow, year, month, cmd, val) = (col("reporter")?, col("partner")?, col("flow")?, col("year")?, col("month")?, col("commodity")?, col("value_usd")?);
    let mut out = HashMap::default();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).ok()? {
        let g = |i: usize| rec.get(i).unwrap_or("");
        out.insert(key_of(g(rep), g(par), g(flow), g(year), g(month), g(cmd)), g(val).to_string());
    }
    Some(out)
}

/// Compares the clean table with the previous publication in `dir`.
pub fn compare(dir: &Path, t: &CleanTable) -> Changes {
    let Some(mut old) = previous(&dir.join("trade.csv")) else { return Changes::default() };
    let previous_run_id = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|m| m["run_id"].as_str().map(str::to_string));
    let mut c = Changes { compared: true, previous_run_id, ..Default::default() };
    for i in 0..t.len() {
        let month = t.month[i].map(|m| m.to_string()).unwrap_or_default();
        let k = key_of(t.reporter[i], t.partner[i], t.flow[i], &t.year[i].to_string(), &month, &t.commodity[i]);
        let v = &t.value_text[i];
        match old.remove(&k) {
            None => c.added.push(format!("{} = {v}", key_text(&k))),
            Some(o) if &o != v => {
                let (od, nd) = (o.parse::<Decimal>().ok(), v.parse::<Decimal>().ok());
                let change = match (od, nd) {
                    (Some(a), Some(b)) => (b - a).normalize().to_string(),
                    _ => String::new(),
                };
                let change_share = match (od, nd) {
                    (Some(a), Some(b)) if !a.is_zero() => rust_decimal::prelude::ToPrimitive::to_f64(&(b / a - Decimal::ONE)),
                    _ => None,
                };
                c.revised.push(Revision { key: key_text(&k), old: o, new: v.clone(), change, change_share });
            }
            _ => {}
        }
    }
    let mut removed: Vec<(String, String)> = old.into_iter().collect();
    removed.sort();
    c.removed = removed.into_iter().map(|(k, v)| format!("{} = {v}", key_text(&k))).collect();
    c.added.sort();
    c.revised.sort_by(|a, b| a.key.cmp(&b.key));
    c
}
