//! A run that fails, or is killed, leaves the previous outputs byte-identical.

use crate::util::{code, stderr, Workdir};
use std::time::{Duration, Instant};

#[test]
fn failed_publish_leaves_previous_outputs_byte_identical() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let before = w.snapshot("processed");
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    for f in [
        "trade.parquet",
        "trade.csv",
        "trade.xlsx",
        "rejects.csv",
        "report.json",
        "manifest.json",
        "report.md",
    ] {
        assert!(names.contains(&f), "{names:?}");
    }
    let o = w
        .command(&["run", "--full-refresh"])
        .env("TRADEFLOW_TEST_FAIL_BEFORE_SWAP", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("previous outputs are untouched"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.snapshot("processed"), before);
    assert!(
        !w.path().join(".processed.staging").exists(),
        "staging removed"
    );
}

#[test]
fn killed_run_leaves_previous_outputs_byte_identical() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let before = w.snapshot("processed");
    let mut child = w
        .command(&["run", "--full-refresh"])
        .env("TRADEFLOW_TEST_PAUSE_BEFORE_SWAP_MS", "20000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staging = w.path().join(".processed.staging");
    let t0 = Instant::now();
    while !staging.join("manifest.json").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run never staged its outputs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        w.snapshot("processed"),
        before,
        "killed midway: previous outputs untouched"
    );
    // the next run clears the leftovers and publishes
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!staging.exists());
}

#[test]
fn run_killed_mid_swap_is_recovered_by_the_next_run() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let before = w.snapshot("processed");
    // the state a kill between the two renames leaves: old outputs aside, none in place
    std::fs::rename(w.path().join("processed"), w.path().join(".processed.old")).unwrap();
    // even a run that then fails validation puts the old publication back first
    w.write(
        "raw/turkic-trade-report.md",
        w.read("raw/turkic-trade-report.md")
            .replace("| 2017  | 747   |", "| 2017  | seven |"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(w.path().join("processed").exists());
    assert_eq!(w.snapshot("processed"), before);
}

#[test]
fn validation_failure_exits_1_and_publishes_nothing() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let before = w.snapshot("processed");
    w.write(
        "raw/turkic-trade-report.md",
        w.read("raw/turkic-trade-report.md")
            .replace("| 2017  | 747   |", "| 2017  | seven |"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("validation failed: 1 figures rejected, more than max_rejected = 0"),
        "{err}"
    );
    assert!(
        err.contains("unparseable_value: \"seven\" is not a number"),
        "{err}"
    );
    assert_eq!(w.snapshot("processed"), before);
}
