//! URL sources against an HTTP server each test starts on 127.0.0.1: success, conditional
//! requests, 429 with Retry-After, 5xx, a reset mid-body, a slow server, an HTML page for
//! a workbook, a body over the limit, a checksum mismatch, offline runs.
//! The server answers a fixed script of responses, then stops by itself (bounded in
//! requests and time).

use crate::util::{code, csv_rows, stderr, Workdir};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
enum Reply {
    Ok {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Declares a longer body than it sends, then closes.
    Reset { body: Vec<u8> },
    /// Waits before answering.
    Slow { delay: Duration },
}

fn ok(status: u16, headers: &[(&'static str, &str)], body: &[u8]) -> Reply {
    Reply::Ok {
        status,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        body: body.to_vec(),
    }
}

struct Server {
    url: String,
    /// The request heads received, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

fn serve(path: &str, script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut i = 0;
        while i < script.len() && Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let reply = script[i].clone();
            i += 1;
            let write = |s: &mut std::net::TcpStream,
                         status: u16,
                         headers: &[(&str, String)],
                         body: &[u8],
                         len: usize| {
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n"
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let _ = s.write_all(out.as_bytes());
                let _ = s.write_all(body);
                let _ = s.flush();
            };
            match reply {
                Reply::Ok {
                    status,
                    headers,
                    body,
                } => write(&mut s, status, &headers, &body, body.len()),
                Reply::Reset { body } => write(&mut s, 200, &[], &body, body.len() * 100),
                Reply::Slow { delay } => {
                    std::thread::sleep(delay);
                    write(&mut s, 200, &[], b"late", 4);
                }
            }
        }
    });
    Server { url, requests }
}

const CSV: &[u8] = b"partner,flow,year,value,unit\nKazakhstan,export,2019,900,USD million\nKazakhstan,import,2019,3004,USD million\n";

fn pipeline(w: &Workdir, url: &str, extra: &str) {
    w.write(
        "pipeline.toml",
        format!("[[sources]]\nid = \"ministry\"\nurl = \"{url}\"\nreporter = \"TUR\"\n{extra}\n[http]\nbackoff_ms = 20\nmax_attempts = 4\ntimeout_secs = 2\n"),
    );
}

fn manifest_fetch(w: &Workdir) -> serde_json::Value {
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    m["inputs"][0]["fetch"].clone()
}

#[test]
fn ok_then_not_modified_uses_the_cache() {
    let s = serve(
        "/trade.csv",
        vec![
            ok(
                200,
                &[("ETag", "\"v1\""), ("Content-Type", "text/csv")],
                CSV,
            ),
            ok(304, &[], b""),
            ok(304, &[], b""),
        ],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(csv_rows(&w.read("processed/trade.csv")).len(), 2);
    let f = manifest_fetch(&w);
    assert_eq!(f["status"], 200);
    assert_eq!(f["etag"], "\"v1\"");
    assert_eq!(f["url"], s.url.as_str());
    assert!(w.path().join("raw/.cache/ministry.csv").exists());
    let o = w.run(&["run", "--full-refresh"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reqs = s.requests.lock().unwrap().clone();
    assert!(reqs.len() >= 2);
    assert!(
        reqs[1].to_lowercase().contains("if-none-match: \"v1\""),
        "{}",
        reqs[1]
    );
    assert!(
        reqs[0].to_lowercase().contains("user-agent: tradeflow/"),
        "{}",
        reqs[0]
    );
    let f = manifest_fetch(&w);
    assert_eq!(f["status"], 304);
    assert_eq!(f["from_cache"], true);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let s = serve(
        "/t.csv",
        vec![
            ok(429, &[("Retry-After", "1")], b"slow down"),
            ok(200, &[], CSV),
        ],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    let t0 = Instant::now();
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After: {:?}",
        t0.elapsed()
    );
    assert_eq!(manifest_fetch(&w)["attempts"], 2);
}

#[test]
fn server_errors_are_retried() {
    let s = serve(
        "/t.csv",
        vec![
            ok(500, &[], b"oops"),
            ok(503, &[], b"oops"),
            ok(200, &[], CSV),
        ],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(manifest_fetch(&w)["attempts"], 3);
    assert_eq!(s.requests.lock().unwrap().len(), 3);
}

#[test]
fn a_reset_mid_body_keeps_the_good_cached_copy() {
    let s = serve(
        "/t.csv",
        vec![
            ok(200, &[("ETag", "\"v1\"")], CSV),
            Reply::Reset {
                body: b"partner,fl".to_vec(),
            },
            Reply::Reset {
                body: b"partner,fl".to_vec(),
            },
        ],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    assert_eq!(code(&w.run(&["run"])), 0);
    let cached = std::fs::read(w.path().join("raw/.cache/ministry.csv")).unwrap();
    let before = w.snapshot("processed");
    w.write(
        "pipeline.toml",
        w.read("pipeline.toml")
            .replace("max_attempts = 4", "max_attempts = 2"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("gave up after 2 attempts"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(w.path().join("raw/.cache/ministry.csv")).unwrap(),
        cached,
        "the cached copy is intact"
    );
    assert_eq!(w.snapshot("processed"), before);
}

#[test]
fn a_slow_server_times_out() {
    let s = serve(
        "/t.csv",
        vec![Reply::Slow {
            delay: Duration::from_secs(3),
        }],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    w.write(
        "pipeline.toml",
        w.read("pipeline.toml")
            .replace("max_attempts = 4", "max_attempts = 1")
            .replace("timeout_secs = 2", "timeout_secs = 0.5"),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
}

#[test]
fn an_html_page_served_for_a_workbook_says_so() {
    let s = serve(
        "/report.xlsx",
        vec![ok(
            200,
            &[("Content-Type", "text/html")],
            b"<!DOCTYPE html><html><body>Please log in</body></html>",
        )],
    );
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains(
            "the server sent an HTML page (content type text/html) where a .xlsx file was expected"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let s = serve("/t.csv", vec![ok(200, &[], &CSV.repeat(50))]);
    let w = Workdir::empty();
    pipeline(&w, &s.url, "");
    w.write(
        "pipeline.toml",
        w.read("pipeline.toml") + "max_bytes = 1000\n",
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("larger than the limit of 1000 bytes"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_pinned_sha256_must_match() {
    let s = serve("/t.csv", vec![ok(200, &[], CSV)]);
    let w = Workdir::empty();
    pipeline(&w, &s.url, &format!("sha256 = \"{}\"", "0".repeat(64)));
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("sha256 mismatch"), "{}", stderr(&o));
    assert!(
        !w.path().join("raw/.cache/ministry.csv").exists(),
        "a mismatching body is not cached"
    );
}

#[test]
fn offline_uses_the_cache_or_fails_clearly() {
    let w = Workdir::empty();
    pipeline(&w, "http://127.0.0.1:9/t.csv", "");
    let o = w.run(&["run", "--offline"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("--offline and no cached copy"),
        "{}",
        stderr(&o)
    );
    let s = serve("/t.csv", vec![ok(200, &[], CSV)]);
    pipeline(&w, &s.url, "");
    assert_eq!(code(&w.run(&["run"])), 0);
    let o = w.run(&["run", "--offline", "--full-refresh"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(manifest_fetch(&w)["from_cache"], true);
}

#[test]
fn one_http_source_and_one_file_source_end_to_end() {
    let s = serve("/t.csv", vec![ok(200, &[], CSV)]);
    let w = Workdir::with_default_pipeline();
    let cfg = w.read("pipeline.toml").replace(
        "[validate]",
        &format!(
            "[[sources]]\nid = \"ministry\"\nurl = \"{}\"\nreporter = \"TUR\"\n\n[validate]",
            s.url
        ),
    );
    w.write("pipeline.toml", cfg);
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(
        rows.len(),
        40,
        "the URL's two figures equal the report's: superseded"
    );
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    assert_eq!(r["figures_superseded"], 42);
    let m: serde_json::Value = serde_json::from_str(&w.read("processed/manifest.json")).unwrap();
    assert_eq!(m["inputs"][2]["location"], s.url.as_str());
    assert_eq!(m["inputs"][2]["fetch"]["status"], 200);
}

fn comtrade_pipeline(w: &Workdir, url: &str, extra: &str) {
    w.write(
        "pipeline.toml",
        format!(
            "[[sources]]\nid = \"comtrade\"\ntype = \"comtrade\"\nurl = \"{url}\"\nreporter = \"TUR\"\npartners = [\"AZE\", \"KAZ\"]\nyears = [2019, 2019]\nkey_env = \"TRADEFLOW_TEST_COMTRADE_KEY\"\nrate_per_sec = 50\n{extra}\n[http]\nbackoff_ms = 20\nmax_attempts = 2\n"
        ),
    );
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        crate::util::repo()
            .join("tests/fixtures/comtrade")
            .join(name),
    )
    .unwrap()
}

#[test]
fn comtrade_answer_is_read_into_figures_and_the_key_stays_secret() {
    let s = serve(
        "/data/v1/get/C/A/HS",
        vec![ok(
            200,
            &[("Content-Type", "application/json")],
            &fixture("tur-2019.json"),
        )],
    );
    let w = Workdir::empty();
    comtrade_pipeline(&w, &s.url, "");
    let o = w
        .command(&["run"])
        .env("TRADEFLOW_TEST_COMTRADE_KEY", "s3cr3t-key-123")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(rows.len(), 5, "the World is a partner like any other");
    assert!(rows.iter().any(|r| r["partner"] == "WLD"), "{rows:?}");
    let kaz = rows
        .iter()
        .find(|r| r["partner"] == "KAZ" && r["flow"] == "import")
        .unwrap();
    assert_eq!(kaz["value_usd"], "3004000000");
    let req = s.requests.lock().unwrap()[0].clone();
    assert!(req.starts_with("GET /data/v1/get/C/A/HS?reporterCode=792&partnerCode=31,398&flowCode=X,M&period=2019&cmdCode=TOTAL"), "{req}");
    assert!(
        req.contains("s3cr3t-key-123"),
        "the key is sent as a header"
    );
    for f in [
        "processed/manifest.json",
        "processed/report.json",
        "processed/report.md",
    ] {
        assert!(!w.read(f).contains("s3cr3t"), "{f} must not hold the key");
    }
    assert!(!stderr(&o).contains("s3cr3t"), "nor the logs");
    let r: serde_json::Value = serde_json::from_str(&w.read("processed/report.json")).unwrap();
    // Comtrade's World (W00) is a figure with partner WLD, not an aggregate
    assert_eq!(r["aggregate_rows"], 0);
}

#[test]
fn comtrade_result_at_the_row_cap_is_truncated() {
    let s = serve("/get", vec![ok(200, &[], &fixture("tur-2019.json"))]);
    let w = Workdir::empty();
    comtrade_pipeline(&w, &s.url, "max_records = 5");
    let o = w
        .command(&["run"])
        .env("TRADEFLOW_TEST_COMTRADE_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("5 rows, exactly the row cap (max_records = 5): the result is truncated"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn comtrade_empty_result_is_a_warning_naming_the_query() {
    let s = serve("/get", vec![ok(200, &[], &fixture("empty.json"))]);
    let w = Workdir::empty();
    comtrade_pipeline(&w, &s.url, "");
    let o = w
        .command(&["run"])
        .env("TRADEFLOW_TEST_COMTRADE_KEY", "k")
        .output()
        .unwrap();
    assert!(stderr(&o).contains("the query returned no rows: reporter TUR partners AZE,KAZ flows X,M years 2019 commodity TOTAL"), "{}", stderr(&o));
}

#[test]
fn comtrade_key_missing_from_the_environment() {
    let w = Workdir::empty();
    comtrade_pipeline(&w, "http://127.0.0.1:9/get", "");
    let o = w
        .command(&["run"])
        .env_remove("TRADEFLOW_TEST_COMTRADE_KEY")
        .output()
        .unwrap();
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o)
            .contains("the environment variable TRADEFLOW_TEST_COMTRADE_KEY (key_env) is not set"),
        "{}",
        stderr(&o)
    );
}

/// The table decides its decimal mark in a file served over HTTP as on the disk.
#[test]
fn the_table_decides_its_decimal_mark_over_http() {
    let s = serve(
        "/uzb.csv",
        vec![ok(
            200,
            &[("Content-Type", "text/csv")],
            crate::publishers::YEARS_ACROSS.as_bytes(),
        )],
    );
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        format!("[[sources]]\nid = \"ministry\"\nurl = \"{}\"\n\n[http]\nbackoff_ms = 20\nmax_attempts = 2\ntimeout_secs = 2\n", s.url),
    );
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert_eq!(
        crate::publishers::uzbekistan(&rows),
        crate::publishers::uzbekistan_expected()
    );
}

/// A password in a source's URL and a token in its query are sent, and written nowhere:
/// not in the logs (text and JSON), the manifest, the report, the rows' `source_ref` (the
/// texts Parquet and the workbook hold too), or the fetch record of the cache.
#[test]
fn credentials_in_a_url_are_never_written() {
    let s = serve("/t.csv", vec![ok(200, &[], CSV), ok(200, &[], CSV)]);
    let url = s.url.replacen("http://", "http://analyst:pa55w0rd-xyz@", 1)
        + "?access_token=t0k3n-abc&year=2019";
    let w = Workdir::empty();
    w.write(
        "pipeline.toml",
        format!("[[sources]]\nid = \"ministry\"\nurl = \"{url}\"\nreporter = \"TUR\"\n\n[http]\nbackoff_ms = 20\nmax_attempts = 2\ntimeout_secs = 2\n[output]\nformats = [\"csv\"]\n"),
    );
    for args in [
        &["run"][..],
        &["--log-format", "json", "-v", "run", "--full-refresh"][..],
    ] {
        let o = w.run(args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.contains("pa55w0rd") && !err.contains("t0k3n"), "{err}");
    }
    let req = s.requests.lock().unwrap()[0].clone();
    assert!(
        req.contains("access_token=t0k3n-abc"),
        "the URL is fetched as given: {req}"
    );
    assert!(
        req.to_ascii_lowercase().contains("authorization: basic"),
        "{req}"
    );
    let mut files = Vec::new();
    for dir in ["processed", "raw"] {
        for (name, bytes) in w.snapshot(dir) {
            files.push((format!("{dir}/{name}"), bytes));
        }
    }
    assert!(files.iter().any(|(n, _)| n.ends_with("trade.csv")));
    assert!(
        files.iter().any(|(n, _)| n.contains(".cache")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("pa55w0rd") && !text.contains("t0k3n"),
            "{name} holds a credential"
        );
    }
    let rows = csv_rows(&w.read("processed/trade.csv"));
    assert!(rows[0]["source_ref"].contains("analyst:***@"), "{rows:?}");
}
