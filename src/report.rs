//! The run's report, as `report.json` holds it: the checks with their findings, kept as
//! validate made them, and everything else as a JSON tree.
//!
//! The checks are not turned into JSON values: a large run's checks can list hundreds of
//! thousands of findings (276,638 year-on-year jumps in 10M rows of the peers' benchmark
//! data), and as a tree of JSON values they took about 600 bytes a finding more than as
//! findings (that run's resident memory after the report was made: 955 MB with the tree,
//! 779 MB without; the stage 1.15 -> 0.43 s). They are written straight from their own
//! types, in their place among the report's entries, so `report.json` reads exactly as it
//! would from one tree.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::validate::Check;

/// The key of the checks among the report's entries.
const CHECKS: &str = "checks";

/// A run's report: [`Report::tree`] for every entry, [`Report::checks`] for the content
/// of `checks`.
#[derive(Debug, Default)]
pub struct Report {
    /// The report's entries in order; where `checks` has a place, it holds a null.
    pub tree: Value,
    /// The checks, in order, with their findings.
    pub checks: Vec<Check>,
    /// How the checks' refs to raw figures are written out.
    pub refs: RawRefs,
}

/// Writes out a raw figure's `source_ref` by its index, for the checks' refs held as
/// indices ([`crate::validate::Finding::at`]): the run's sources and the raw figures'
/// places, shared. Without them (a report made by hand), an empty text.
#[derive(Clone, Default)]
pub struct RawRefs(Option<std::sync::Arc<dyn Fn(u32) -> String + Send + Sync>>);

impl RawRefs {
    pub fn new(text: impl Fn(u32) -> String + Send + Sync + 'static) -> RawRefs {
        RawRefs(Some(std::sync::Arc::new(text)))
    }

    /// The `source_ref` of raw figure `raw`.
    pub fn text(&self, raw: u32) -> String {
        self.0.as_ref().map_or_else(String::new, |text| text(raw))
    }
}

impl std::fmt::Debug for RawRefs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RawRefs(..)"
        } else {
            "RawRefs(none)"
        })
    }
}

impl Report {
    /// A report of the entries of `tree` with `checks` in the place of its `checks` entry
    /// (added at the end if it has none; a report that is not an object has no checks).
    pub fn new(mut tree: Value, checks: Vec<Check>) -> Report {
        if let Some(map) = tree.as_object_mut() {
            map.entry(CHECKS).or_insert(Value::Null);
        }
        Report {
            tree,
            checks,
            refs: RawRefs::default(),
        }
    }

    /// A report with no checks (a run that stopped before validation, or changed nothing).
    pub fn of(tree: Value) -> Report {
        Report {
            tree,
            checks: Vec::new(),
            refs: RawRefs::default(),
        }
    }
}

impl std::ops::Index<&str> for Report {
    type Output = Value;

    /// An entry of the tree (`checks` reads as null: see [`Report::checks`]).
    fn index(&self, key: &str) -> &Value {
        &self.tree[key]
    }
}

impl std::ops::IndexMut<&str> for Report {
    /// An entry of the tree, added if missing.
    fn index_mut(&mut self, key: &str) -> &mut Value {
        &mut self.tree[key]
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(map) = self.tree.as_object() else {
            return self.tree.serialize(s);
        };
        let mut m = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            if k == CHECKS {
                let refs = |raw| self.refs.text(raw);
                m.serialize_entry(k, &crate::validate::Shown(&self.checks, &refs))?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Severity;
    use crate::validate::Finding;
    use serde_json::json;

    fn checks() -> Vec<Check> {
        vec![Check {
            id: "yoy_jump",
            severity: Severity::Warn,
            description: "a jump",
            findings: vec![Finding::new(
                "TUR KAZ export 2019 -> 2020: 1 -> 9 (x9)".into(),
                vec!["a.csv line 3".into(), "a \"b\".csv line 4".into()],
            )],
        }]
    }

    #[test]
    fn writes_what_one_json_tree_would() {
        let tree =
            json!({"run_id": "r1", "figures_read": 3, "checks": null, "mirror": [1.5, null]});
        let report = Report::new(tree.clone(), checks());
        let mut whole = tree;
        whole["checks"] =
            serde_json::to_value(crate::validate::Shown(&checks(), &|_| String::new())).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&report).unwrap(),
            serde_json::to_string_pretty(&whole).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            serde_json::to_string(&whole).unwrap()
        );
        // the entries keep their order, the checks in their place
        let text = serde_json::to_string(&report).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(at("figures_read") < at("checks") && at("checks") < at("mirror"));
    }

    #[test]
    fn checks_go_last_when_the_tree_has_no_place_for_them() {
        let report = Report::new(json!({"status": "passed"}), checks());
        let back: Value = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(back["checks"][0]["id"], "yoy_jump");
        assert_eq!(
            back["checks"][0]["findings"][0]["refs"][1],
            "a \"b\".csv line 4"
        );
        assert_eq!(
            back.as_object().unwrap().keys().next_back().unwrap(),
            "checks"
        );
        // a report with no checks is its tree
        let plain = Report::of(json!({"status": "unchanged"}));
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"status":"unchanged"}"#
        );
    }
}
