//! A source that queries the UN Comtrade API: reporter, partners, flows, years and
//! commodity become requests within the API's limits (at most 12 periods per request,
//! and no more expected rows than its row cap), sent no faster than the configured rate,
//! with the subscription key from an environment variable (sent as a header, never
//! logged or written). A result exactly at the row cap is truncated: an error. An empty
//! result for a query that should have data is a warning naming the query.
//!
//! The records of every request are gathered into one JSON file in the cache, which the
//! JSON reader then takes like any other (`reporterISO`, `partnerISO`, `flowCode`,
//! `refYear`, `cmdCode`, `primaryValue` in dollars).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fetch;
use crate::config::{ComtradeQuery, HttpOptions, Source};
use crate::error::{Error, Result};
use crate::model::Flow;
use crate::normalize::countries;

/// Most periods the API takes in one request.
pub const MAX_PERIODS: usize = 12;

fn flow_code(f: Flow) -> &'static str {
    match f {
        Flow::Export => "X",
        Flow::Import => "M",
        Flow::ReExport => "RX",
        Flow::ReImport => "RM",
    }
}

/// The request URLs of a query, each with a description for messages.
pub fn requests(
    base: &str,
    q: &ComtradeQuery,
) -> std::result::Result<Vec<(String, String)>, String> {
    let code = |iso: &str| -> std::result::Result<String, String> {
        if iso == "WLD" {
            return Ok("0".into());
        }
        countries::comtrade_code(iso)
            .map(|c| c.to_string())
            .ok_or_else(|| format!("no Comtrade code for {iso}"))
    };
    let reporter = code(&q.reporter)?;
    let partners = q
        .partners
        .iter()
        .map(|p| code(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let flows: Vec<&str> = q.flows.iter().map(|f| flow_code(*f)).collect();
    let years: Vec<i32> = (q.years.0..=q.years.1).collect();
    let per_year = (partners.len() * flows.len()).max(1);
    let chunk = (q.max_records / per_year).clamp(1, MAX_PERIODS);
    Ok(years
        .chunks(chunk)
        .map(|ys| {
            let period = ys.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            let url = format!(
                "{base}?reporterCode={reporter}&partnerCode={}&flowCode={}&period={period}&cmdCode={}&maxRecords={}&includeDesc=true",
                partners.join(","),
                flows.join(","),
                q.commodity,
                q.max_records
            );
            let what = format!("reporter {} partners {} flows {} years {period} commodity {}", q.reporter, q.partners.join(","), flows.join(","), q.commodity);
            (url, what)
        })
        .collect())
}

/// Runs the query (or, offline, reads the cache) and returns the gathered JSON file.
///
/// # Errors
/// [`Error::Source`] for a failed request, a truncated result, a missing key.
pub fn fetch(
    src: &Source,
    q: &ComtradeQuery,
    base: &str,
    cache_dir: &Path,
    offline: bool,
    http: &HttpOptions,
) -> Result<PathBuf> {
    let fail = |reason: String| Error::source(&src.id, base, reason);
    let mut authed = src.clone();
    if let Some(var) = &q.key_env {
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => {
                authed.auth_header =
                    Some(("Ocp-Apim-Subscription-Key".into(), k.trim().to_string()))
            }
            _ if offline => {}
            _ => {
                return Err(fail(format!(
                    "the environment variable {var} (key_env) is not set"
                )))
            }
        }
    }
    let reqs = requests(base, q).map_err(fail)?;
    let mut records: Vec<Value> = Vec::new();
    for (k, (url, what)) in reqs.iter().enumerate() {
        if k > 0 && !offline {
            std::thread::sleep(Duration::from_secs_f64(1.0 / q.rate_per_sec));
        }
        let part = cache_dir.join(format!("{}-{k}.json", src.id));
        let path = fetch::fetch_to(&authed, url, &part, offline, http)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("{what}: cannot read the cached answer: {e}")))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{what}: the answer is not JSON: {e}")))?;
        if let Some(err) = v
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            return Err(fail(format!("{what}: the API says: {err}")));
        }
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if data.len() >= q.max_records {
            return Err(fail(format!(
                "{what}: {} rows, exactly the row cap (max_records = {}): the result is truncated; ask for fewer partners or years per source",
                data.len(),
                q.max_records
            )));
        }
        if data.is_empty() {
            tracing::warn!(source = %src.id, "the query returned no rows: {what}");
        }
        records.extend(data);
    }
    let dest = cache_dir.join(format!("{}.json", src.id));
    let body =
        serde_json::to_vec_pretty(&serde_json::json!({ "count": records.len(), "data": records }))
            .map_err(|e| fail(e.to_string()))?;
    let tmp = dest.with_extension("json.part");
    std::fs::write(&tmp, &body)
        .and_then(|_| std::fs::rename(&tmp, &dest))
        .map_err(|e| fail(format!("cannot store the answers: {e}")))?;
    let first = fetch::record(&cache_dir.join(format!("{}-0.json", src.id)));
    use sha2::Digest;
    let rec = fetch::FetchRecord {
        url: base.to_string(),
        status: first.as_ref().map_or(200, |r| r.status),
        etag: None,
        last_modified: None,
        fetched_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        bytes: body.len() as u64,
        sha256: crate::config::hex(&sha2::Sha256::digest(&body)),
        attempts: reqs.len() as u32,
        from_cache: offline,
    };
    let _ = std::fs::write(
        fetch::record_path(&dest),
        serde_json::to_string_pretty(&rec).unwrap_or_default(),
    );
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(partners: usize, years: (i32, i32), max: usize) -> ComtradeQuery {
        ComtradeQuery {
            reporter: "TUR".into(),
            partners: ["AZE", "KAZ", "KGZ", "TKM", "UZB", "USA"][..partners]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            flows: vec![Flow::Export, Flow::Import],
            years,
            commodity: "TOTAL".into(),
            key_env: None,
            max_records: max,
            rate_per_sec: 10.0,
        }
    }

    #[test]
    fn requests_stay_within_the_limits() {
        let r = requests("http://x/get", &q(5, (2000, 2020), 100_000)).unwrap();
        assert_eq!(r.len(), 2, "21 years in chunks of 12");
        assert!(
            r[0].0.contains(
                "reporterCode=792&partnerCode=31,398,417,795,860&flowCode=X,M&period=2000,2001"
            ),
            "{}",
            r[0].0
        );
        let r = requests("http://x/get", &q(6, (2016, 2020), 25)).unwrap();
        assert_eq!(
            r.len(),
            3,
            "12 rows a year, 25 at most a request: 2 years a request"
        );
        assert!(
            r[0].0.contains("partnerCode=31,398,417,795,860,842"),
            "the United States are 842 at Comtrade: {}",
            r[0].0
        );
    }
}
