//! `pipeline.toml`: typed, strict (unknown keys are errors) and checked as a whole, so a
//! user sees every mistake at once as `file:line: message`.
//!
//! [`load`] parses the file and compiles it into a [`Pipeline`], the runtime form every
//! stage reads. Nothing here touches the sources themselves.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::normalize::{countries, parse_flow, units};
use crate::model::Flow;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// The inputs, in order of precedence: when two give the same figure, the first wins.
    #[serde(default)]
    sources: Vec<SourceConfig>,
    /// Rules and tolerance of the validate stage.
    #[serde(default)]
    validate: ValidateConfig,
    /// Where and what to publish.
    #[serde(default)]
    output: OutputConfig,
}

/// One `[[sources]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceConfig {
    /// The source's id (default: the file's stem).
    id: Option<Spanned<String>>,
    /// A file, relative to the config's folder.
    path: Option<Spanned<String>>,
    /// A file fetched over HTTP and cached under `raw/.cache/`.
    url: Option<Spanned<String>>,
    /// Whose trade it is, where the file does not say (ISO3 or a known name).
    reporter: Option<Spanned<String>>,
    /// The partner, where the file does not say.
    partner: Option<Spanned<String>>,
    /// Read only this sheet (name or 0-based index).
    sheet: Option<Spanned<SheetSel>>,
    /// The unit where the file does not say, or to correct it (`"USD million"`).
    unit: Option<Spanned<String>>,
    /// The decimal mark of text numbers: `"."` or `","`.
    decimal: Option<Spanned<String>>,
    /// When the whole file is one flow.
    flow: Option<Spanned<String>>,
}

/// A sheet by name or by 0-based index.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SheetSel {
    Name(String),
    Index(usize),
}

/// `[validate]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ValidateConfig {
    /// Earliest accepted year.
    year_min: i32,
    /// Latest accepted year.
    year_max: i32,
    /// A year-on-year change by more than this factor (up or down) is a warning.
    jump_factor: f64,
    /// How many figures may be rejected before the run fails (exit 1).
    max_rejected: usize,
    /// Accept negative values (adjustments, re-imports).
    allow_negative: bool,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig { year_min: 1950, year_max: 2100, jump_factor: 2.0, max_rejected: 0, allow_negative: false }
    }
}

/// `[output]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OutputConfig {
    /// The output folder, relative to the config's folder.
    dir: String,
    /// Any of `parquet`, `csv`, `xlsx`.
    formats: Vec<Spanned<String>>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: "processed".into(),
            formats: ["parquet", "csv", "xlsx"].iter().map(|s| Spanned::new(0..0, s.to_string())).collect(),
        }
    }
}

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Url(String),
}

/// A source, compiled.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub location: Location,
    /// The path or URL as the config wrote it, for messages and `source_ref`.
    pub display: String,
    pub reporter: Option<String>,
    pub partner: Option<String>,
    pub sheet: Option<SheetSel>,
    pub unit: Option<String>,
    pub decimal: Option<char>,
    pub flow: Option<Flow>,
}

impl Source {
    /// A source for one file with nothing declared (what `inspect` reads).
    pub fn for_file(path: &Path) -> Source {
        Source {
            id: stem(path),
            location: Location::File(path.to_path_buf()),
            display: path.display().to_string(),
            reporter: None,
            partner: None,
            sheet: None,
            unit: None,
            decimal: None,
            flow: None,
        }
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Xlsx,
}

/// The validate stage's parameters.
#[derive(Debug, Clone)]
pub struct Rules {
    pub year_min: i32,
    pub year_max: i32,
    pub jump_factor: f64,
    pub max_rejected: usize,
    pub allow_negative: bool,
}

impl Default for Rules {
    fn default() -> Self {
        let v = ValidateConfig::default();
        Rules { year_min: v.year_min, year_max: v.year_max, jump_factor: v.jump_factor, max_rejected: v.max_rejected, allow_negative: v.allow_negative }
    }
}

/// The whole pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub config_path: PathBuf,
    /// sha256 of the config file's bytes.
    pub config_hash: String,
    pub sources: Vec<Source>,
    pub rules: Rules,
    pub output_dir: PathBuf,
    pub formats: Vec<Format>,
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "source".into())
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads and compiles a config file.
///
/// # Errors
/// [`Error::Config`] with every problem found, each as `file:line: message`.
pub fn load(path: &Path) -> Result<Pipeline> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(vec![format!("{}: cannot read the config: {e}", path.display())]))?;
    parse(path, &text)
}

/// Compiles config text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Pipeline> {
    let file = path.display();
    let cfg: ConfigFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        Error::Config(vec![format!("{file}:{line}: {}", e.message().trim())])
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut errors = Vec::new();
    let at = |s: &std::ops::Range<usize>| line_of(text, s.start);

    if cfg.sources.is_empty() {
        errors.push(format!("{file}:1: no [[sources]]: add at least one with `path` or `url`"));
    }
    let mut sources = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (n, s) in cfg.sources.iter().enumerate() {
        let location = match (&s.path, &s.url) {
            (Some(p), None) => Some((Location::File(base.join(p.get_ref())), p.get_ref().clone(), stem(Path::new(p.get_ref())))),
            (None, Some(u)) => {
                let url = u.get_ref();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    errors.push(format!("{file}:{}: sources[{n}].url: {url:?} is not an http(s) URL", at(&u.span())));
                }
                let name = url.rsplit('/').next().unwrap_or("download");
                Some((Location::Url(url.clone()), url.clone(), stem(Path::new(name))))
            }
            (Some(p), Some(_)) => {
                errors.push(format!("{file}:{}: sources[{n}]: give `path` or `url`, not both", at(&p.span())));
                None
            }
            (None, None) => {
                errors.push(format!("{file}:{}: sources[{n}]: needs `path` or `url`", source_line(text, n)));
                None
            }
        };
        let country = |v: &Option<Spanned<String>>, key: &str, errors: &mut Vec<String>| -> Option<String> {
            let v = v.as_ref()?;
            match countries::country(v.get_ref()) {
                Some(c) => Some(c.iso3.to_string()),
                None => {
                    let sug = countries::suggestions(v.get_ref());
                    let hint = if sug.is_empty() { String::new() } else { format!(" (closest: {})", sug.join(", ")) };
                    errors.push(format!("{file}:{}: sources[{n}].{key}: unknown country {:?}{hint}", at(&v.span()), v.get_ref()));
                    None
                }
            }
        };
        let reporter = country(&s.reporter, "reporter", &mut errors);
        let partner = country(&s.partner, "partner", &mut errors);
        let unit = s.unit.as_ref().and_then(|u| match units::read_unit(u.get_ref()) {
            units::UnitRead::Unit(_) => Some(u.get_ref().clone()),
            _ => {
                errors.push(format!(
                    "{file}:{}: sources[{n}].unit: {:?} is not a unit (try \"USD\", \"USD thousand\", \"USD million\", \"USD billion\")",
                    at(&u.span()),
                    u.get_ref()
                ));
                None
            }
        });
        let decimal = s.decimal.as_ref().and_then(|d| match d.get_ref().as_str() {
            "." => Some('.'),
            "," => Some(','),
            other => {
                errors.push(format!("{file}:{}: sources[{n}].decimal: {other:?} must be \".\" or \",\"", at(&d.span())));
                None
            }
        });
        let flow = s.flow.as_ref().and_then(|f| {
            let parsed = parse_flow(f.get_ref());
            if parsed.is_none() {
                errors.push(format!(
                    "{file}:{}: sources[{n}].flow: {:?} is not a flow (export, import, re_export, re_import)",
                    at(&f.span()),
                    f.get_ref()
                ));
            }
            parsed
        });
        if let Some((location, display, default_id)) = location {
            let id = s.id.as_ref().map(|i| i.get_ref().clone()).unwrap_or(default_id);
            if ids.contains(&id) {
                let line = s.id.as_ref().map(|i| at(&i.span())).unwrap_or_else(|| source_line(text, n));
                errors.push(format!("{file}:{line}: sources[{n}]: id {id:?} is used twice; give each source its own `id`"));
            }
            ids.push(id.clone());
            sources.push(Source {
                id,
                location,
                display,
                reporter,
                partner,
                sheet: s.sheet.as_ref().map(|s| s.get_ref().clone()),
                unit,
                decimal,
                flow,
            });
        }
    }
    let v = &cfg.validate;
    if v.year_min > v.year_max {
        errors.push(format!("{file}: [validate] year_min {} is after year_max {}", v.year_min, v.year_max));
    }
    if !(v.jump_factor > 1.0) {
        errors.push(format!("{file}: [validate] jump_factor must be greater than 1, not {}", v.jump_factor));
    }
    let mut formats = Vec::new();
    for f in &cfg.output.formats {
        match f.get_ref().as_str() {
            "parquet" => formats.push(Format::Parquet),
            "csv" => formats.push(Format::Csv),
            "xlsx" => formats.push(Format::Xlsx),
            other => errors.push(format!(
                "{file}:{}: output.formats: unknown format {other:?} (allowed: \"parquet\", \"csv\", \"xlsx\")",
                at(&f.span())
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Config(errors));
    }
    Ok(Pipeline {
        config_path: path.to_path_buf(),
        config_hash: hex(&Sha256::digest(text.as_bytes())),
        sources,
        rules: Rules {
            year_min: v.year_min,
            year_max: v.year_max,
            jump_factor: v.jump_factor,
            max_rejected: v.max_rejected,
            allow_negative: v.allow_negative,
        },
        output_dir: base.join(&cfg.output.dir),
        formats,
    })
}

/// Line of the n-th `[[sources]]` header.
fn source_line(text: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[sources]]"))
        .nth(n)
        .map(|(i, _)| i + 1)
        .unwrap_or(1)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("p.toml"), text) {
            Err(Error::Config(e)) => e,
            other => panic!("expected config errors, got {other:?}"),
        }
    }

    #[test]
    fn smallest_config_compiles() {
        let p = parse(Path::new("/x/p.toml"), "[[sources]]\npath = \"raw/a.xlsx\"\nreporter = \"TUR\"\n").unwrap();
        assert_eq!(p.sources[0].id, "a");
        assert_eq!(p.sources[0].reporter.as_deref(), Some("TUR"));
        assert_eq!(p.output_dir, Path::new("/x/processed"));
        assert_eq!(p.formats, [Format::Parquet, Format::Csv, Format::Xlsx]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = errors("[[sources]]\npath = \"a.md\"\nreportr = \"TUR\"\n");
        assert!(e[0].starts_with("p.toml:3: unknown field `reportr`"), "{e:?}");
    }

    #[test]
    fn every_error_at_once() {
        let e = errors("[[sources]]\npath = \"a.md\"\nreporter = \"Atlantis\"\ndecimal = \";\"\n[output]\nformats = [\"pdf\"]\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("p.toml:3: sources[0].reporter: unknown country \"Atlantis\""), "{e:?}");
        assert!(e[1].starts_with("p.toml:4: sources[0].decimal"), "{e:?}");
        assert!(e[2].starts_with("p.toml:6: output.formats: unknown format \"pdf\""), "{e:?}");
    }
}
