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

/// A key as 128 bits: two independent 64-bit hashes of its six fields. Keys of a table
/// are compared by it without building a text per key (a collision among a million keys
/// has a chance near 10^-26).
fn key_hash(fields: [&[u8]; 6]) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut a = rustc_hash::FxHasher::default();
    #[allow(deprecated)]
    let mut b = std::hash::SipHasher::new_with_keys(0x7472_6164_6566_6c6f, 0x7763_6861_6e67_6573);
    for f in fields {
        f.hash(&mut a);
        f.hash(&mut b);
    }
    ((a.finish() as u128) << 64) | b.finish() as u128
}

fn key_text(f: [&str; 6]) -> String {
    let m = if f[4].is_empty() {
        String::new()
    } else {
        format!("-{:0>2}", f[4])
    };
    format!("{} {} {} {}{m} {}", f[0], f[1], f[2], f[3], f[5])
}

/// A published `trade.csv`: its bytes, and each key's hash with the value and the byte
/// offset of its record (the key's text is made only for a figure that was removed).
struct Previous {
    text: Vec<u8>,
    delimiter: u8,
    cols: [usize; 6],
    by_key: HashMap<u128, (u64, Box<str>)>,
}

impl Previous {
    fn read(path: &Path) -> Option<Previous> {
        let mut text = std::fs::read(path).ok()?;
        if text.starts_with(b"\xEF\xBB\xBF") {
            text.drain(..3);
        }
        let delimiter = if text
            .split(|b| *b == b'\n')
            .next()
            .is_some_and(|h| h.contains(&b';'))
        {
            b';'
        } else {
            b','
        };
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(&text[..]);
        let h = r.headers().ok()?.clone();
        let col = |n: &str| h.iter().position(|x| x == n);
        let cols = [
            col("reporter")?,
            col("partner")?,
            col("flow")?,
            col("year")?,
            col("month")?,
            col("commodity")?,
        ];
        let val = col("value_usd")?;
        let mut by_key = HashMap::default();
        let mut rec = csv::ByteRecord::new();
        loop {
            let at = r.position().byte();
            if !r.read_byte_record(&mut rec).ok()? {
                break;
            }
            let f = cols.map(|i| rec.get(i).unwrap_or(b""));
            let value = std::str::from_utf8(rec.get(val).unwrap_or(b"")).unwrap_or("");
            by_key.insert(key_hash(f), (at, value.into()));
        }
        Some(Previous {
            text,
            delimiter,
            cols,
            by_key,
        })
    }

    /// The key text of the record at a byte offset.
    fn key_at(&self, at: u64) -> String {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .from_reader(&self.text[at as usize..]);
        let mut rec = csv::StringRecord::new();
        match r.read_record(&mut rec) {
            Ok(true) => key_text(self.cols.map(|i| rec.get(i).unwrap_or(""))),
            _ => format!("(record at byte {at})"),
        }
    }
}

/// Compares the clean table with the previous publication in `dir`.
pub fn compare(dir: &Path, t: &CleanTable) -> Changes {
    let Some(mut prev) = Previous::read(&dir.join("trade.csv")) else {
        return Changes::default();
    };
    let mut old = std::mem::take(&mut prev.by_key);
    let previous_run_id = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|m| m["run_id"].as_str().map(str::to_string));
    let mut c = Changes {
        compared: true,
        previous_run_id,
        ..Default::default()
    };
    let mut year = String::new();
    let mut month = String::new();
    for i in 0..t.len() {
        use std::fmt::Write;
        year.clear();
        let _ = write!(year, "{}", t.year[i]);
        month.clear();
        if let Some(m) = t.month[i] {
            let _ = write!(month, "{m}");
        }
        let f = [
            t.reporter[i],
            t.partner[i],
            t.flow[i],
            year.as_str(),
            month.as_str(),
            t.commodity(i),
        ];
        let v = &t.value_text(i);
        match old.remove(&key_hash(f.map(str::as_bytes))) {
            None => c.added.push(format!("{} = {v}", key_text(f))),
            Some((_, o)) if &*o != v.as_str() => {
                let (od, nd) = (o.parse::<Decimal>().ok(), v.parse::<Decimal>().ok());
                let change = match (od, nd) {
                    (Some(a), Some(b)) => (b - a).normalize().to_string(),
                    _ => String::new(),
                };
                let change_share = match (od, nd) {
                    (Some(a), Some(b)) if !a.is_zero() => {
                        rust_decimal::prelude::ToPrimitive::to_f64(&(b / a - Decimal::ONE))
                    }
                    _ => None,
                };
                c.revised.push(Revision {
                    key: key_text(f),
                    old: o.into(),
                    new: v.clone(),
                    change,
                    change_share,
                });
            }
            _ => {}
        }
    }
    let mut removed: Vec<String> = old
        .into_values()
        .map(|(at, v)| format!("{} = {v}", prev.key_at(at)))
        .collect();
    removed.sort();
    c.removed = removed;
    c.added.sort();
    c.revised.sort_by(|a, b| a.key.cmp(&b.key));
    c
}
