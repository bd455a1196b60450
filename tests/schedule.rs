//! Scheduled refreshes: no work when nothing changed, a change report by key, one run at
//! a time per output folder, stale locks, JSON logs, dry runs, and the deploy units.

use crate::util::{code, repo, stderr, stdout, Workdir};
use std::time::{Duration, Instant, SystemTime};

fn mtimes(w: &Workdir) -> Vec<(String, SystemTime)> {
    let mut v: Vec<(String, SystemTime)> = std::fs::read_dir(w.path().join("processed"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_run_with_no_change_rewrites_nothing() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let (bytes, times) = (w.snapshot("processed"), mtimes(&w));
    std::thread::sleep(Duration::from_millis(1100));
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0);
    assert!(
        stderr(&o).contains("nothing changed since run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.snapshot("processed"), bytes);
    assert_eq!(mtimes(&w), times, "not even rewritten with the same bytes");
    let o = w.run(&["run", "--full-refresh"]);
    assert_eq!(code(&o), 0);
    assert_ne!(mtimes(&w), times, "--full-refresh rebuilds");
}

#[test]
fn a_changed_config_or_a_deleted_output_is_rebuilt() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    std::fs::remove_file(w.path().join("processed/trade.xlsx")).unwrap();
    let o = w.run(&["run"]);
    assert!(!stderr(&o).contains("nothing changed"), "{}", stderr(&o));
    assert!(w.path().join("processed/trade.xlsx").exists());
    w.write(
        "pipeline.toml",
        w.read("pipeline.toml") + "\n# a comment changes the config's hash\n",
    );
    assert!(!stderr(&w.run(&["run"])).contains("nothing changed"));
}

fn revise_kazakhstan_2016(w: &Workdir) {
    w.write(
        "raw/turkic-trade-report.md",
        w.read("raw/turkic-trade-report.md")
            .replace("| 2016  | 625   |", "| 2016  | 626   |"),
    );
    // the workbook still says 625: a conflict the report's table wins, within a tolerance
    w.write(
        "pipeline.toml",
        w.read("pipeline.toml").replace(
            "max_rejected = 0",
            "max_rejected = 1\nmax_rejected_share = 0.5",
        ),
    );
}

#[test]
fn one_changed_figure_is_exactly_one_revision() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    revise_kazakhstan_2016(&w);
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    let ch = &r["changes"];
    assert_eq!(ch["compared"], true);
    assert_eq!(ch["added"].as_array().unwrap().len(), 0);
    assert_eq!(ch["removed"].as_array().unwrap().len(), 0);
    let revised = ch["revised"].as_array().unwrap();
    assert_eq!(revised.len(), 1);
    assert_eq!(revised[0]["key"], "TUR KAZ export 2016 TOTAL");
    assert_eq!(revised[0]["old"], "625000000");
    assert_eq!(revised[0]["new"], "626000000");
    assert_eq!(revised[0]["change"], "1000000");
    assert!(w
        .read("processed/report.md")
        .contains("| TUR KAZ export 2016 TOTAL | 625000000 | 626000000 | 1000000 |"));
    use calamine::{open_workbook, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(w.path().join("processed/trade.xlsx")).unwrap();
    let changes = wb.worksheet_range("Changes").unwrap();
    assert_eq!(changes.rows().count(), 2, "header and one revision");
}

#[test]
fn dry_run_shows_the_changes_and_writes_nothing() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    revise_kazakhstan_2016(&w);
    let before = w.snapshot("processed");
    let o = w.run(&["run", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("changes 0 added, 0 removed, 1 revised"),
        "{out}"
    );
    assert!(
        out.contains("revised TUR KAZ export 2016 TOTAL: 625000000 -> 626000000"),
        "{out}"
    );
    assert_eq!(w.snapshot("processed"), before);
    assert_eq!(
        w.read(".processed.lock"),
        "",
        "a dry run takes no lock (the file is the first run's, released)"
    );
}

fn wait_for_staging(w: &Workdir) {
    let t0 = Instant::now();
    while !w.path().join(".processed.staging/manifest.json").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the first run never staged its outputs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_concurrent_run_fails_clearly_and_the_first_publishes_whole() {
    let w = Workdir::with_default_pipeline();
    let child = w
        .command(&["run", "--full-refresh"])
        .env("TRADEFLOW_TEST_PAUSE_BEFORE_SWAP_MS", "3000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_staging(&w);
    let o = w.run(&["run", "--full-refresh"]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is publishing into processed; try again when it has finished"),
        "{}",
        stderr(&o)
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    use sha2::Digest;
    for o in m["outputs"].as_array().unwrap() {
        let bytes =
            std::fs::read(w.path().join("processed").join(o["file"].as_str().unwrap())).unwrap();
        assert_eq!(
            tradeflow::config::hex(&sha2::Sha256::digest(&bytes)),
            o["sha256"].as_str().unwrap(),
            "{o}"
        );
    }
}

#[test]
fn a_stale_lock_from_a_killed_run_is_cleared() {
    let w = Workdir::with_default_pipeline();
    let mut child = w
        .command(&["run"])
        .env("TRADEFLOW_TEST_PAUSE_BEFORE_SWAP_MS", "30000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_staging(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        w.read(".processed.lock").starts_with("pid "),
        "the killed run's lock file is left behind"
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cleared a stale lock"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let w = Workdir::with_default_pipeline();
    let o = w.run(&["--log-format", "json", "run"]);
    assert_eq!(code(&o), 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 3, "{err}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{l}");
    }
}

fn unit_file(name: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy").join(name)).unwrap();
    let mut section = String::new();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') {
            assert!(l.ends_with(']'), "{name}:{}: bad section {l}", n + 1);
            section = l[1..l.len() - 1].to_string();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("{name}:{}: not key=value: {l}", n + 1));
        assert!(
            !section.is_empty(),
            "{name}:{}: key outside a section",
            n + 1
        );
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

#[test]
fn deploy_units_parse_and_name_what_they_must() {
    let svc = unit_file("tradeflow.service");
    let get = |u: &[(String, String, String)], s: &str, k: &str| {
        u.iter()
            .find(|(a, b, _)| a == s && b == k)
            .map(|x| x.2.clone())
    };
    assert_eq!(get(&svc, "Service", "Type").as_deref(), Some("oneshot"));
    assert!(get(&svc, "Service", "ExecStart")
        .unwrap()
        .contains("tradeflow --log-format json run"));
    let timer = unit_file("tradeflow.timer");
    let cal = get(&timer, "Timer", "OnCalendar").unwrap();
    assert_eq!(get(&timer, "Timer", "Persistent").as_deref(), Some("true"));
    assert_eq!(
        get(&timer, "Install", "WantedBy").as_deref(),
        Some("timers.target")
    );
    // where systemd's own checker is installed, it must accept the calendar expression
    if let Ok(o) = std::process::Command::new("systemd-analyze")
        .args(["calendar", &cal])
        .output()
    {
        assert!(
            o.status.success(),
            "systemd-analyze calendar {cal}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let cron = std::fs::read_to_string(repo().join("deploy/crontab")).unwrap();
    let line = cron
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields.len() > 5
            && fields[..5]
                .iter()
                .all(|f| f.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c))),
        "{line}"
    );
}

#[test]
fn added_and_removed_figures_are_named() {
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/t.csv\"\nreporter = \"TUR\"\n",
    );
    w.write("raw/t.csv", "partner,flow,year,value,unit\nKazakhstan,export,2019,900,USD million\nKazakhstan,import,2019,3004,USD million\n");
    assert_eq!(code(&w.run(&["run"])), 0);
    w.write("raw/t.csv", "partner,flow,year,value,unit\nKazakhstan,export,2019,900,USD million\nKazakhstan,export,2020,985.68,USD million\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(
        r["changes"]["added"][0],
        "TUR KAZ export 2020 TOTAL = 985680000"
    );
    assert_eq!(
        r["changes"]["removed"][0],
        "TUR KAZ import 2019 TOTAL = 3004000000"
    );
    assert_eq!(r["changes"]["revised"].as_array().unwrap().len(), 0);
}

/// Monthly exports: 13 years (2000-2012) of each partner in turn, valued 1, 2, 3, ...
/// times `scale` dollars.
fn long_csv(rows: usize, scale: u64) -> String {
    let partners = [
        "Kazakhstan",
        "Azerbaijan",
        "Uzbekistan",
        "Kyrgyzstan",
        "Turkmenistan",
        "Germany",
        "France",
        "Italy",
        "Spain",
        "Japan",
    ];
    let mut s = String::from("partner,flow,year,month,value,unit\n");
    for i in 0..rows {
        let (partner, year, month) = (partners[i / 156], 2000 + (i % 156) / 12, i % 12 + 1);
        s.push_str(&format!(
            "{partner},export,{year},{month},{},USD\n",
            (i as u64 + 1) * scale
        ));
    }
    s
}

#[test]
fn changes_found_from_the_key_file_with_only_parquet_published() {
    let w = Workdir::empty();
    w.write("pipeline.toml", "[[sources]]\npath = \"raw/t.csv\"\nreporter = \"TUR\"\n[output]\nformats = [\"parquet\"]\n");
    w.write("raw/t.csv", long_csv(3, 1));
    assert_eq!(code(&w.run(&["run"])), 0);
    assert!(!w.path().join("processed/trade.csv").exists());
    w.write("raw/t.csv", long_csv(3, 1).replace(",3,USD", ",4,USD"));
    assert_eq!(code(&w.run(&["run"])), 0);
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(r["changes"]["compared"], true);
    assert_eq!(
        r["changes"]["revised"][0]["key"],
        "TUR KAZ export 2000-03 TOTAL"
    );
    assert_eq!(r["changes"]["revised"][0]["change"], "1");
    assert_eq!(r["changes"]["counts"]["revised"], 1);
}

#[test]
fn changes_against_an_older_publication_read_its_csv() {
    // a folder published before the key file existed has only trade.csv to compare with
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/t.csv\"\nreporter = \"TUR\"\n",
    );
    w.write("raw/t.csv", long_csv(3, 1));
    assert_eq!(code(&w.run(&["run"])), 0);
    std::fs::remove_file(w.path().join("processed/.keys.bin")).unwrap();
    w.write(
        "raw/t.csv",
        long_csv(2, 1) + "Kazakhstan,import,2000,1,7,USD\n",
    );
    assert_eq!(code(&w.run(&["run"])), 0);
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(r["changes"]["added"][0], "TUR KAZ import 2000-01 TOTAL = 7");
    assert_eq!(
        r["changes"]["removed"][0],
        "TUR KAZ export 2000-03 TOTAL = 3"
    );
}

#[test]
fn a_refresh_that_changes_everything_lists_the_first_thousand_and_counts_all() {
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        "[[sources]]\npath = \"raw/t.csv\"\nreporter = \"TUR\"\n[validate]\njump_factor = 1000\n",
    );
    w.write("raw/t.csv", long_csv(1500, 1));
    assert_eq!(code(&w.run(&["run"])), 0);
    w.write("raw/t.csv", long_csv(1200, 2));
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    let ch = &r["changes"];
    assert_eq!(
        (
            ch["counts"]["revised"].as_u64(),
            ch["counts"]["removed"].as_u64(),
            ch["counts"]["added"].as_u64()
        ),
        (Some(1200), Some(300), Some(0))
    );
    assert_eq!(ch["revised"].as_array().unwrap().len(), 1000);
    assert_eq!(ch["removed"].as_array().unwrap().len(), 300);
    // the first thousand in key order: AZE before DEU, ...; January 2000, then February
    assert_eq!(ch["revised"][0]["key"], "TUR AZE export 2000-01 TOTAL");
    assert_eq!(ch["revised"][1]["key"], "TUR AZE export 2000-02 TOTAL");
    assert!(w.read("processed/report.md").contains("1200 revised"));
}
