//! Real files that agencies published (listed with their provenance in
//! `tests/fixtures/real/MANIFEST.tsv`), read with nothing but their path: every figure
//! against the figures `tests/fixtures/real/expected.py` computed from the same file without
//! tradeflow, and every file that is not money (or not in dollars, or not HS) refused with
//! the word that says why.
//!
//! The files themselves are not in the repository (files fetched from others' repositories
//! are kept out of it; see `tests/fixtures/real/README.md`): each is looked for, by its
//! path in the manifest, under `$TRADEFLOW_REAL_FILES`, `../shared/real-files/` beside the
//! repository, `tests/fixtures/real/` and `~/.cache/tradeflow/real-files/`, and its sha256
//! must be the manifest's. Where none of them is found the tests say so and check nothing.

use crate::util::{code, repo, stderr, stdout, Workdir};
use std::collections::BTreeMap;

struct Entry {
    file: String,
    sha256: String,
    publisher: String,
    expect: String,
    /// Config lines the manifest's note asks for (`config: reporter=USA`), else none.
    config: String,
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/real/MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (f, p, e, n) = (col("file"), col("publisher"), col("expect"), col("note"));
    let sha = col("sha256");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let note = c.get(n).copied().unwrap_or("");
            let config = note
                .split_once("config:")
                .map(|(_, rest)| {
                    rest.split(';')
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| format!("{} = {:?}\n", k.trim(), v.trim().trim_matches('"')))
                        .collect()
                })
                .unwrap_or_default();
            Entry {
                file: c[f].to_string(),
                sha256: c[sha].to_string(),
                publisher: c[p].to_string(),
                expect: c[e].to_string(),
                config,
            }
        })
        .collect()
}

/// Where a real file is, if it is on this machine (its sha256 the manifest's).
fn locate(e: &Entry) -> Option<std::path::PathBuf> {
    use sha2::Digest;
    let mut roots: Vec<std::path::PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("TRADEFLOW_REAL_FILES") {
        roots.push(d.into());
    }
    roots.push(repo().join("../shared/real-files"));
    roots.push(repo().join("tests/fixtures/real"));
    if let Some(h) = std::env::var_os("HOME") {
        roots.push(std::path::PathBuf::from(h).join(".cache/tradeflow/real-files"));
    }
    let path = roots
        .into_iter()
        .map(|r| r.join(&e.file))
        .find(|p| p.is_file())?;
    let bytes = std::fs::read(&path).unwrap();
    let got = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert_eq!(got, e.sha256, "{}: not the manifest's file", path.display());
    Some(path)
}

/// The entries whose files are on this machine, with their paths; says which are not.
fn present() -> Vec<(Entry, std::path::PathBuf)> {
    let entries = manifest();
    assert!(entries.len() >= 30, "{} real files listed", entries.len());
    let total = entries.len();
    let found: Vec<_> = entries
        .into_iter()
        .filter_map(|e| locate(&e).map(|p| (e, p)))
        .collect();
    if found.len() < total {
        eprintln!(
            "real files: {} of {total} found on this machine (see tests/fixtures/real/README.md); the others are not checked",
            found.len()
        );
    }
    found
}

type Key = (String, String, String, String, String, String);

/// The figures of a CSV with the clean table's key columns and `value_usd`.
fn figures(csv_text: &str) -> BTreeMap<Key, String> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let head = r.headers().unwrap().clone();
    let at = |n: &str| head.iter().position(|h| h == n).unwrap();
    let ix = [
        at("reporter"),
        at("partner"),
        at("flow"),
        at("year"),
        at("month"),
        at("commodity"),
        at("value_usd"),
    ];
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let g = |k: usize| rec.get(ix[k]).unwrap_or("").to_string();
            ((g(0), g(1), g(2), g(3), g(4), g(5)), g(6))
        })
        .collect()
}

/// Runs one real file with the smallest config; what went wrong, if anything.
fn check(e: &Entry, path: &std::path::Path) -> Option<String> {
    let w = Workdir::empty();
    let expected_at = repo().join("tests/fixtures/real").join(&e.file);
    w.write(
        "pipeline.toml",
        format!(
            "[[sources]]\npath = {:?}\n{}\n[output]\nformats = [\"csv\"]\n",
            path.display().to_string(),
            e.config
        ),
    );
    let o = w.run(&["run"]);
    let label = format!("{} ({})", e.file, e.publisher);
    if e.expect == "refused" {
        let word =
            std::fs::read_to_string(format!("{}.expected-refusal.txt", expected_at.display()))
                .unwrap()
                .trim()
                .to_string();
        let err = stderr(&o);
        if code(&o) == 0 || !err.contains(&word) {
            return Some(format!(
                "{label}: expected a refusal naming {word:?}, got exit {}:\n{err}",
                code(&o)
            ));
        }
        return None;
    }
    if code(&o) != 0 {
        return Some(format!("{label}: exit {}:\n{}", code(&o), stderr(&o)));
    }
    let expected = figures(
        &std::fs::read_to_string(format!("{}.expected.csv", expected_at.display())).unwrap(),
    );
    let got = figures(&w.read("processed/trade.csv"));
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    let wrong: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, v)| (k, v, &got[k]))
        .collect();
    if missing.is_empty() && extra.is_empty() && wrong.is_empty() {
        return None;
    }
    Some(format!(
        "{label}: {} expected, {} published: {} missing (e.g. {:?}), {} extra (e.g. {:?}), {} with another value (e.g. {:?})",
        expected.len(),
        got.len(),
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(3).collect::<Vec<_>>(),
        wrong.len(),
        wrong.iter().take(3).collect::<Vec<_>>(),
    ))
}

/// The manifest's every file has its expected figures or refusal word beside it, from at
/// least eight publishers' downloads: what the other tests compare against, on every machine.
#[test]
fn every_real_file_has_its_expected_outcome() {
    let entries = manifest();
    let mut publishers: Vec<&str> = entries.iter().map(|e| e.publisher.as_str()).collect();
    publishers.sort_unstable();
    publishers.dedup();
    assert!(publishers.len() >= 8, "{publishers:?}");
    for e in &entries {
        let at = repo().join("tests/fixtures/real").join(&e.file);
        let beside = match e.expect.as_str() {
            "figures" => format!("{}.expected.csv", at.display()),
            "refused" => format!("{}.expected-refusal.txt", at.display()),
            other => panic!("{}: expect {other:?}", e.file),
        };
        let text = std::fs::read_to_string(&beside).unwrap_or_else(|err| panic!("{beside}: {err}"));
        assert!(!text.trim().is_empty(), "{beside} is empty");
        assert_eq!(e.sha256.len(), 64, "{}: sha256", e.file);
    }
}

#[test]
fn every_real_file_reads_with_its_path_alone() {
    let entries = present();
    let failures: Vec<String> = entries.iter().filter_map(|(e, p)| check(e, p)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} real files:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n\n")
    );
}

/// `inspect` on every real file names, for every column of every table read, the role
/// it got and the words that decided it.
#[test]
fn inspect_shows_every_columns_role_and_evidence() {
    for (e, path) in present() {
        let w = Workdir::empty();
        let o = w.run(&["inspect", &path.display().to_string(), "--json"]);
        assert_eq!(code(&o), 0, "{}: {}", e.file, stderr(&o));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let tables = doc["tables"].as_array().unwrap();
        assert!(!tables.is_empty(), "{}: no table", e.file);
        let read: Vec<_> = tables
            .iter()
            .filter(|t| t["figures"].as_array().is_some_and(|f| !f.is_empty()))
            .collect();
        if e.expect == "figures" {
            assert!(!read.is_empty(), "{}: no table with figures", e.file);
        }
        for t in read {
            for c in t["columns"].as_array().unwrap() {
                let role = c["role"].as_str().unwrap();
                assert!(
                    role.contains(" from ") || role.starts_with("values of year"),
                    "{}: column {} has no evidence: {role:?}",
                    e.file,
                    c["header"]
                );
            }
        }
    }
}
