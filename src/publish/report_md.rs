//! `report.md`: the report for a person, most urgent first: the verdict, what needs
//! attention, what came in, what went out, expectations, coverage, mirror gaps.
//! Rendered from `report.json`'s content; decides nothing.

use serde_json::Value;
use std::fmt::Write;

use crate::config::Severity;
use crate::report::Report;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The items of a JSON array, borrowed (none when it is not one): a check can list
/// hundreds of thousands of findings, of which a few are shown.
fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let status = s(&r["status"]);
    let _ = writeln!(
        o,
        "# tradeflow run {}: {}\n",
        s(&r["run_id"]),
        if status == "passed" {
            "passed"
        } else {
            "FAILED"
        }
    );
    if let Some(f) = r["failure"].as_str() {
        let _ = writeln!(o, "**Nothing was published:** {f}\n");
    }
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        o,
        "{} figures read: **{} clean**, {} rejected, {} superseded (duplicates of a higher-precedence source). {} aggregate rows (regions, Total, Areas nes) were read aside.\n",
        n("figures_read"),
        n("figures_clean"),
        n("figures_rejected"),
        n("figures_superseded"),
        r["aggregates"].as_array().map_or(0, Vec::len)
    );

    let _ = writeln!(o, "## Needs attention\n");
    let mut any = false;
    for sev in [Severity::Error, Severity::Warn] {
        for c in r.checks.iter().filter(|c| c.severity == sev) {
            let list = &c.findings;
            if list.is_empty() {
                continue;
            }
            any = true;
            let _ = writeln!(
                o,
                "### {} `{}` ({}): {}\n",
                sev.as_str().to_uppercase(),
                c.id,
                list.len(),
                c.description
            );
            for f in list.iter().take(25) {
                let raw = |raw| r.refs.text(raw);
                let at = if f.refs(&raw).len() == 0 {
                    String::new()
                } else {
                    format!(" ({})", f.refs_joined(&raw))
                };
                let _ = writeln!(o, "- {}{at}", f.message());
            }
            if list.len() > 25 {
                let _ = writeln!(o, "- ... and {} more in report.json", list.len() - 25);
            }
            let _ = writeln!(o);
        }
    }
    if !any {
        let _ = writeln!(o, "Nothing: no errors and no warnings.\n");
    }

    let ch = &r["changes"];
    let _ = writeln!(o, "## Changes since the last publication\n");
    if ch["compared"] == true {
        let list = |k: &str| items(&ch[k]);
        let (added, removed, revised) = (list("added"), list("removed"), list("revised"));
        let _ = writeln!(
            o,
            "Against run {}: {} added, {} removed, {} revised.\n",
            ch["previous_run_id"].as_str().unwrap_or("(unknown)"),
            ch["counts"]["added"].as_u64().unwrap_or(added.len() as u64),
            ch["counts"]["removed"]
                .as_u64()
                .unwrap_or(removed.len() as u64),
            ch["counts"]["revised"]
                .as_u64()
                .unwrap_or(revised.len() as u64)
        );
        if !revised.is_empty() {
            let _ = writeln!(o, "| figure | old | new | change |\n|---|---:|---:|---:|");
            for v in revised.iter().take(50) {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    s(&v["key"]),
                    s(&v["old"]),
                    s(&v["new"]),
                    s(&v["change"])
                );
            }
            let _ = writeln!(o);
        }
        for (what, l) in [("Added", &added), ("Removed", &removed)] {
            for v in l.iter().take(50) {
                let _ = writeln!(o, "- {what}: {}", s(v));
            }
        }
        let _ = writeln!(o);
    } else {
        let _ = writeln!(o, "No previous publication to compare with.\n");
    }

    let _ = writeln!(o, "## Expectations\n");
    let ex = items(&r["expectations"]);
    if ex.is_empty() {
        let _ = writeln!(o, "None declared (`[[expect]]` in pipeline.toml).\n");
    } else {
        let _ = writeln!(o, "| expectation | result | detail |\n|---|---|---|");
        for e in ex {
            let res = if e["passed"] == true {
                "passed"
            } else if e["severity"] == "error" {
                "**FAILED**"
            } else {
                "failed (warn)"
            };
            let _ = writeln!(o, "| {} | {res} | {} |", s(&e["name"]), s(&e["detail"]));
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Coverage\n");
    let cov = items(&r["coverage"]);
    let mut partners: Vec<String> = cov.iter().map(|c| s(&c["partner"]).to_string()).collect();
    partners.dedup();
    partners.sort();
    partners.dedup();
    let mut years: Vec<i64> = cov.iter().filter_map(|c| c["year"].as_i64()).collect();
    years.sort();
    years.dedup();
    if !partners.is_empty() {
        let _ = writeln!(o, "X = exports, M = imports, - = missing.\n");
        let _ = writeln!(
            o,
            "| partner | {} |",
            years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(o, "|---|{}", "---|".repeat(years.len()));
        for p in &partners {
            let cell = |y: i64, flow: &str| {
                cov.iter().any(|c| {
                    s(&c["partner"]) == p
                        && c["year"].as_i64() == Some(y)
                        && s(&c["flow"]) == flow
                        && c["present"] == true
                })
            };
            let cells: Vec<String> = years
                .iter()
                .map(|&y| {
                    format!(
                        "{}{}",
                        if cell(y, "export") { "X" } else { "-" },
                        if cell(y, "import") { "M" } else { "-" }
                    )
                })
                .collect();
            let _ = writeln!(o, "| {p} | {} |", cells.join(" | "));
        }
        let _ = writeln!(o);
    }

    let mirror = items(&r["mirror"]);
    if !mirror.is_empty() {
        let _ = writeln!(o, "## Mirror statistics\n\n| exporter | importer | year | exports | partner's imports | gap | in band |\n|---|---|---|---:|---:|---:|---|");
        for m in mirror {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {:+.1}% | {} |",
                s(&m["exporter"]),
                s(&m["importer"]),
                m["year"],
                s(&m["exports_usd"]),
                s(&m["imports_usd"]),
                m["gap"].as_f64().unwrap_or(0.0) * 100.0,
                if m["within_band"] == true {
                    "yes"
                } else {
                    "**no**"
                }
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(
        o,
        "## In\n\n| source | location | sha256 | tables |\n|---|---|---|---:|"
    );
    for src in r["sources"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "| {} | {} | `{}` | {} |",
            s(&src["id"]),
            s(&src["location"]),
            &s(&src["sha256"])[..12.min(s(&src["sha256"]).len())],
            src["tables"].as_array().map_or(0, Vec::len)
        );
    }
    let _ = writeln!(o, "\n## Rejected, by rule\n");
    match r["rejected_by_rule"].as_object() {
        Some(m) if !m.is_empty() => {
            for (k, v) in m {
                let _ = writeln!(o, "- `{k}`: {v}");
            }
        }
        _ => {
            let _ = writeln!(o, "None.");
        }
    }
    o
}
