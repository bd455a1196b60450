//! A temporary working folder with a copy of the repository's `raw/` and
//! `pipeline.toml`, and a way to run the real binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Workdir {
    /// An empty folder.
    pub fn empty() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A folder holding the default pipeline and what `raw/` ships.
    pub fn with_default_pipeline() -> Workdir {
        let w = Workdir::empty();
        std::fs::create_dir_all(w.path().join("raw")).unwrap();
        for f in ["turkic-trade-report.md", "turkic-trade.xlsx"] {
            std::fs::copy(repo().join("raw").join(f), w.path().join("raw").join(f)).unwrap();
        }
        std::fs::copy(repo().join("pipeline.toml"), w.path().join("pipeline.toml")).unwrap();
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tradeflow"));
        c.current_dir(self.path())
            .args(args)
            .env_remove("TRADEFLOW_TEST_FAIL_BEFORE_SWAP")
            .env_remove("TRADEFLOW_TEST_PAUSE_BEFORE_SWAP_MS")
            .env_remove("TRADEFLOW_TEST_SPILL_FIGURES")
            .env_remove("TRADEFLOW_TEST_PART")
            .env_remove("TRADEFLOW_TEST_UNPACKED_KEYS")
            .env_remove("TRADEFLOW_TEST_BUCKETS")
            .env_remove("TRADEFLOW_TEST_ROUTE_FIGURES");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tradeflow")
    }

    /// `run --full-refresh` with test variables set (or none), which must succeed.
    pub fn run_ok_with(&self, test: &[(&str, &str)]) -> Output {
        let mut c = self.command(&["run", "--full-refresh"]);
        c.envs(test.iter().copied());
        let o = c.output().expect("run tradeflow");
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        o
    }

    /// Every file under a folder (recursively) with its bytes, sorted by path.
    pub fn snapshot(&self, dir: &str) -> Vec<(String, Vec<u8>)> {
        fn walk(root: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
                return;
            };
            for e in entries.flatten() {
                let name = format!("{rel}{}", e.file_name().to_string_lossy());
                if e.file_type().unwrap().is_dir() {
                    walk(root, &format!("{name}/"), out);
                } else {
                    out.push((name, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path().join(dir), "", &mut out);
        out.sort();
        out
    }
}

/// Runs a one-source pipeline on `file` and checks that it ends with exit 3, a message
/// naming the file and `want`, and nothing published.
pub fn fails(w: &Workdir, file: &str, want: &str) {
    w.write(
        "pipeline.toml",
        format!("[[sources]]\npath = \"{file}\"\nreporter = \"TUR\"\n"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3, "{file}: {}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(file) && e.contains(want),
        "{file}: expected {want:?} in: {e}"
    );
    assert!(!w.path().join("processed").exists(), "nothing published");
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The rows of a CSV file as maps from header to value.
pub fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A raw figure of Türkiye's exports to Kazakhstan in 2019 whose value's unit is `unit`
/// (a column header's), its decimal mark `decimal` as a source declares it: what the case
/// tables and property tests put their value texts in.
pub fn kaz_export_2019(
    unit: Option<&str>,
    decimal: Option<char>,
) -> tradeflow::model::RawFigureRef<'_> {
    tradeflow::model::RawFigureRef {
        reporter: Some("TUR"),
        partner: Some("KAZ"),
        flow: Some("export"),
        year: Some("2019"),
        month: None,
        commodity: None,
        unit_column: unit,
        unit_title: None,
        unit_config: None,
        decimal,
    }
}
