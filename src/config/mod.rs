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
use crate::model::Flow;
use crate::normalize::{countries, parse_flow, units};

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
    /// Units and country names beyond what the tool knows.
    #[serde(default)]
    normalize: NormalizeConfig,
    /// Assertions about the data, checked on every run (`[[expect]]`).
    #[serde(default)]
    expect: Vec<ExpectConfig>,
    /// How URL sources are fetched.
    #[serde(default)]
    http: HttpConfig,
    /// Rates to convert values in other currencies into US dollars (`[[rates]]`).
    #[serde(default)]
    rates: Vec<RateConfig>,
}

/// One `[[rates]]`: how many US dollars one unit of a currency was worth, by year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateConfig {
    /// The currency's ISO 4217 code (`EUR`, `TRY`, `RUB`, `KZT`, ...).
    currency: Spanned<String>,
    /// Where the rates come from (`ECB euro reference rates, annual averages`).
    source: Spanned<String>,
    /// US dollars per unit, by year: `{ "2019" = "1.1195", "2020" = "1.1422" }`.
    usd_per_unit: std::collections::BTreeMap<String, Spanned<String>>,
}

/// `[http]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct HttpConfig {
    /// Seconds to wait for a connection.
    connect_timeout_secs: f64,
    /// Seconds one request may take, body included.
    timeout_secs: f64,
    /// Requests per URL at most, the first included.
    max_attempts: u32,
    /// The first retry waits up to this many milliseconds; each next one twice as long.
    backoff_ms: u64,
    /// Seconds all attempts for one URL may take together.
    max_total_secs: f64,
    /// The largest body accepted, in bytes.
    max_bytes: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout_secs: 10.0,
            timeout_secs: 120.0,
            max_attempts: 5,
            backoff_ms: 1000,
            max_total_secs: 600.0,
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// How URL sources are fetched, compiled.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: std::time::Duration,
    pub timeout: std::time::Duration,
    pub max_attempts: u32,
    pub backoff: std::time::Duration,
    pub max_total: std::time::Duration,
    pub max_bytes: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions::from(&HttpConfig::default())
    }
}

impl From<&HttpConfig> for HttpOptions {
    fn from(h: &HttpConfig) -> Self {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
        HttpOptions {
            connect_timeout: secs(h.connect_timeout_secs),
            timeout: secs(h.timeout_secs),
            max_attempts: h.max_attempts.max(1),
            backoff: std::time::Duration::from_millis(h.backoff_ms),
            max_total: secs(h.max_total_secs),
            max_bytes: h.max_bytes,
        }
    }
}

/// `[normalize]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NormalizeConfig {
    /// The unit of figures whose file and source say none (lowest precedence).
    default_unit: Option<Spanned<String>>,
    /// Extra country names: `"Kazakstan Cumhuriyeti" = "KAZ"`; `"AGGREGATE"` marks a sum row.
    aliases: std::collections::BTreeMap<String, Spanned<String>>,
}

/// One `[[expect]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectConfig {
    /// What a person calls it in the report.
    name: String,
    /// `value` (one flow), `volume` (exports + imports), `balance` (exports - imports),
    /// or `complete` (every partner has every flow in every year).
    kind: Spanned<String>,
    reporter: Option<Spanned<String>>,
    partner: Option<Spanned<String>>,
    /// For `complete`: the partners that must all be present.
    #[serde(default)]
    partners: Vec<Spanned<String>>,
    flow: Option<Spanned<String>>,
    year: Option<i32>,
    /// For `complete`: first and last year.
    years: Option<[i32; 2]>,
    /// The expected amount, with its unit: `"2.2 billion"`, `"USD 985.68 million"`.
    equals: Option<Spanned<String>>,
    /// Relative tolerance: 0.05 is 5 %.
    #[serde(default)]
    within: f64,
    /// `error` (default: a failed expectation fails the run) or `warn`.
    severity: Option<Spanned<String>>,
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
    /// The text encoding, where detection is not enough (`"windows-1251"`, `"cp866"`).
    encoding: Option<Spanned<String>>,
    /// For `url` sources: the sha256 the download must have.
    sha256: Option<Spanned<String>>,
    /// `"file"` (default) or `"comtrade"`: a query of the UN Comtrade API.
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    /// Comtrade: the partners to ask for (ISO3 or names; `"WLD"` for the world).
    #[serde(default)]
    partners: Vec<Spanned<String>>,
    /// Comtrade: the flows to ask for (default export and import).
    #[serde(default)]
    flows: Vec<Spanned<String>>,
    /// Comtrade: first and last year.
    years: Option<[i32; 2]>,
    /// Comtrade: `TOTAL` (default) or HS codes separated by commas.
    commodity: Option<String>,
    /// Comtrade: the environment variable holding the subscription key.
    key_env: Option<String>,
    /// Comtrade: the API's row cap per request; a result this long is truncated.
    max_records: Option<usize>,
    /// Comtrade: requests per second at most.
    rate_per_sec: Option<f64>,
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
    /// A year-on-year change by more than this factor (up or down) is a finding.
    jump_factor: f64,
    /// How many figures may be rejected before the run fails (exit 1); unset: no count limit.
    max_rejected: Option<usize>,
    /// The share of figures that may be rejected before the run fails (default 0.05).
    max_rejected_share: f64,
    /// Accept negative values (adjustments, re-imports).
    allow_negative: bool,
    /// A figure above this many dollars is implausible (default: a hundred trillion, above
    /// every flow on record: the world's exports were about 31 trillion in 2022, China's
    /// 3.4 trillion in 2023). Between two countries (neither the World) an ambiguous
    /// reading above one trillion, or above this where lower, is implausible too: it
    /// decides `1.180` under `Billion dollars` as 1.18 billion.
    plausible_max_usd: f64,
    /// Mirror statistics: the partner's imports over our exports, minus one, may lie in
    /// this band (default [-0.10, 0.20]: imports are valued CIF, exports FOB).
    mirror_band: [f64; 2],
    /// Parts may differ from their total row by this share (default 0.01).
    total_tolerance: f64,
    /// The same value this many years running is suspicious (default 3).
    repeat_run: usize,
    /// Severity per rule: `"error"` (rejects, or fails the run), `"warn"`, `"off"`.
    severity: std::collections::BTreeMap<String, Spanned<String>>,
    /// The partner x year x flow matrix that should be complete.
    coverage: Option<CoverageConfig>,
}

/// `[validate.coverage]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverageConfig {
    reporter: Option<Spanned<String>>,
    partners: Vec<Spanned<String>>,
    years: [i32; 2],
    #[serde(default = "both_flows")]
    flows: Vec<Spanned<String>>,
}

fn both_flows() -> Vec<Spanned<String>> {
    ["export", "import"]
        .iter()
        .map(|s| Spanned::new(0..0, s.to_string()))
        .collect()
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            year_min: 1950,
            year_max: 2100,
            jump_factor: 2.0,
            max_rejected: None,
            max_rejected_share: 0.05,
            allow_negative: false,
            plausible_max_usd: 1e14,
            mirror_band: [-0.10, 0.20],
            total_tolerance: 0.01,
            repeat_run: 3,
            severity: Default::default(),
            coverage: None,
        }
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
    /// Start the CSV files with a UTF-8 byte-order mark (for Excel).
    csv_bom: bool,
    /// `","` (default) or `";"` for spreadsheets in comma-decimal locales.
    csv_delimiter: Spanned<String>,
    /// Also write `trade/` as a hive-partitioned Parquet dataset by these columns
    /// (`["year"]`, `["reporter", "year"]`).
    partition_by: Vec<Spanned<String>>,
    /// Data rows per worksheet before the `Data` sheet continues on `Data (2)`.
    xlsx_max_rows: usize,
    /// Keep the publication before `.previous` beside the output folder for the next run
    /// to write over (its disk blocks used again rather than freed and allocated anew).
    recycle: bool,
}

/// Data rows an Excel sheet holds under its header row.
pub const XLSX_MAX_ROWS: usize = 1_048_575;

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: "processed".into(),
            formats: ["parquet", "csv", "xlsx"]
                .iter()
                .map(|s| Spanned::new(0..0, s.to_string()))
                .collect(),
            csv_bom: false,
            csv_delimiter: Spanned::new(0..0, ",".into()),
            partition_by: Vec::new(),
            xlsx_max_rows: XLSX_MAX_ROWS,
            recycle: true,
        }
    }
}

/// Columns a Parquet dataset may be partitioned by.
pub const PARTITION_COLUMNS: [&str; 4] = ["reporter", "partner", "flow", "year"];

/// How outputs are written.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub csv_bom: bool,
    pub csv_delimiter: u8,
    pub partition_by: Vec<&'static str>,
    pub xlsx_max_rows: usize,
    /// Keep the publication before the last as a spare that the next run writes over.
    pub recycle: bool,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            csv_bom: false,
            csv_delimiter: b',',
            partition_by: Vec::new(),
            xlsx_max_rows: XLSX_MAX_ROWS,
            recycle: true,
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
    /// The declared text encoding.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The sha256 a download must have.
    pub sha256: Option<String>,
    /// A header sent with requests (API keys), never logged or recorded.
    pub auth_header: Option<(String, String)>,
    /// For `type = "comtrade"`: the query.
    pub comtrade: Option<ComtradeQuery>,
    /// The pipeline's extra country names.
    pub aliases: std::sync::Arc<Aliases>,
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
            encoding: None,
            sha256: None,
            auth_header: None,
            comtrade: None,
            aliases: Default::default(),
        }
    }
}

/// A query of the UN Comtrade API (`type = "comtrade"`).
#[derive(Debug, Clone)]
pub struct ComtradeQuery {
    pub reporter: String,
    pub partners: Vec<String>,
    pub flows: Vec<Flow>,
    pub years: (i32, i32),
    pub commodity: String,
    /// The environment variable holding the subscription key (its value is read at fetch
    /// time and never written anywhere).
    pub key_env: Option<String>,
    pub max_records: usize,
    pub rate_per_sec: f64,
}

/// The Comtrade API's endpoint for annual goods data.
pub const COMTRADE_URL: &str = "https://comtradeapi.un.org/data/v1/get/C/A/HS";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Xlsx,
}

/// How serious a rule's findings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Rejects the figure, or fails the run for a check on the whole set.
    Error,
    /// Keeps the figure with a flag; a person should look.
    Warn,
    /// For the record.
    Info,
    /// Not checked.
    Off,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
            Severity::Off => "off",
        }
    }
}

/// The partner x year x flow matrix that should be complete.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub reporter: Option<String>,
    pub partners: Vec<String>,
    pub years: (i32, i32),
    pub flows: Vec<Flow>,
}

/// What an expectation asserts.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectKind {
    /// One flow's value.
    Value(Flow),
    /// Exports plus imports.
    Volume,
    /// Exports minus imports.
    Balance,
    /// Every partner has every flow in every year.
    Complete {
        partners: Vec<String>,
        years: (i32, i32),
    },
}

/// A user's assertion about the data.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub name: String,
    pub kind: ExpectKind,
    pub reporter: Option<String>,
    pub partner: Option<String>,
    pub year: Option<i32>,
    pub equals: Option<rust_decimal::Decimal>,
    pub within: f64,
    pub severity: Severity,
}

/// The validate stage's parameters.
#[derive(Debug, Clone)]
pub struct Rules {
    pub year_min: i32,
    pub year_max: i32,
    pub jump_factor: f64,
    pub max_rejected: Option<usize>,
    pub max_rejected_share: f64,
    pub allow_negative: bool,
    pub plausible_max_usd: f64,
    pub mirror_band: (f64, f64),
    pub total_tolerance: f64,
    pub repeat_run: usize,
    /// Severity of each configurable rule (every id of [`crate::validate::RULES`]).
    pub severity: std::collections::HashMap<&'static str, Severity>,
    pub coverage: Option<Coverage>,
    pub expectations: Vec<Expectation>,
}

impl Rules {
    /// The severity of a rule.
    pub fn severity(&self, rule: &str) -> Severity {
        self.severity.get(rule).copied().unwrap_or(Severity::Error)
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::from_config(&ValidateConfig::default())
    }
}

impl Rules {
    /// The parameters of `[validate]`, with every rule at its default severity.
    fn from_config(v: &ValidateConfig) -> Rules {
        Rules {
            year_min: v.year_min,
            year_max: v.year_max,
            jump_factor: v.jump_factor,
            max_rejected: v.max_rejected,
            max_rejected_share: v.max_rejected_share,
            allow_negative: v.allow_negative,
            plausible_max_usd: v.plausible_max_usd,
            mirror_band: (v.mirror_band[0], v.mirror_band[1]),
            total_tolerance: v.total_tolerance,
            repeat_run: v.repeat_run.max(2),
            severity: crate::validate::RULES
                .iter()
                .map(|(id, s, _)| (*id, *s))
                .collect(),
            coverage: None,
            expectations: Vec::new(),
        }
    }
}

pub use crate::normalize::countries::Aliases;

/// A declared rate table: US dollars per unit of one currency, by year, and its source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RateTable {
    /// ISO 4217 code, as the units kernel names the currency (`EUR`).
    pub currency: String,
    pub source: String,
    pub usd_per_unit: std::collections::BTreeMap<i32, rust_decimal::Decimal>,
}

/// Every declared rate table (`[[rates]]`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Rates(pub Vec<RateTable>);

impl Rates {
    /// The table of a currency, if one is declared.
    pub fn of(&self, currency: &str) -> Option<&RateTable> {
        self.0.iter().find(|t| t.currency == currency)
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
    pub output: OutputOptions,
    pub http: HttpOptions,
    /// The unit of figures whose file and source say none.
    pub default_unit: Option<String>,
    pub aliases: std::sync::Arc<Aliases>,
    /// Rates to convert other currencies into US dollars.
    pub rates: std::sync::Arc<Rates>,
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "source".into())
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(vec![format!(
            "{}: cannot read the config: {e}",
            path.display()
        )])
    })?;
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
    let mut c = Compiler {
        file: file.to_string(),
        text,
        errors: Vec::new(),
        aliases: Aliases::default(),
    };

    // aliases first: every country named elsewhere in the file may use them
    for (name, target) in &cfg.normalize.aliases {
        let t = target.get_ref();
        let place = if t.eq_ignore_ascii_case("aggregate") {
            Some(countries::Place::Aggregate)
        } else {
            countries::country(t).map(countries::Place::Country)
        };
        match place {
            Some(pl) => {
                c.aliases.0.insert(countries::name_key(name), pl);
            }
            None => c.err(&target.span(), format!("normalize.aliases.{name:?}: {t:?} is not a known country code or name (or \"AGGREGATE\")")),
        }
    }
    let default_unit = cfg
        .normalize
        .default_unit
        .as_ref()
        .and_then(|u| c.unit(u, "normalize.default_unit"));

    let mut rates = Rates::default();
    for (n, r) in cfg.rates.iter().enumerate() {
        let key = |k: &str| format!("rates[{n}].{k}");
        let written = r.currency.get_ref();
        let code = match units::currency_word(&countries::name_key(written)) {
            Some(units::Currency::Other(code)) => code,
            Some(units::Currency::Usd) => {
                c.err(
                    &r.currency.span(),
                    format!(
                        "{}: {written:?} is the US dollar: nothing to convert",
                        key("currency")
                    ),
                );
                continue;
            }
            None => {
                c.err(
                    &r.currency.span(),
                    format!("{}: {written:?} is not a currency tradeflow knows (EUR, TRY, RUB, KZT, AZN, KGS, UZS, TMT, GBP, CNY, JPY, CHF, INR)", key("currency")),
                );
                continue;
            }
        };
        if rates.of(code).is_some() {
            c.err(
                &r.currency.span(),
                format!("{}: a second table for {code}", key("currency")),
            );
        }
        if r.source.get_ref().trim().is_empty() {
            c.err(
                &r.source.span(),
                format!("{}: say where the rates come from", key("source")),
            );
        }
        let mut by_year = std::collections::BTreeMap::new();
        for (year, rate) in &r.usd_per_unit {
            let y = year
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|y| (1800..=2200).contains(y));
            let d = rate
                .get_ref()
                .trim()
                .parse::<rust_decimal::Decimal>()
                .ok()
                .filter(|d| d.is_sign_positive() && !d.is_zero());
            match (y, d) {
                (Some(y), Some(d)) => {
                    by_year.insert(y, d);
                }
                (None, _) => c.err(
                    &rate.span(),
                    format!("{}: {year:?} is not a year", key("usd_per_unit")),
                ),
                (_, None) => c.err(
                    &rate.span(),
                    format!(
                        "{}.{year}: {:?} is not a positive decimal number of US dollars",
                        key("usd_per_unit"),
                        rate.get_ref()
                    ),
                ),
            }
        }
        rates.0.push(RateTable {
            currency: code.to_string(),
            source: r.source.get_ref().trim().to_string(),
            usd_per_unit: by_year,
        });
    }

    if cfg.sources.is_empty() {
        c.errors.push(format!(
            "{file}:1: no [[sources]]: add at least one with `path` or `url`"
        ));
    }
    let aliases = std::sync::Arc::new(c.aliases.clone());
    let mut sources = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (n, s) in cfg.sources.iter().enumerate() {
        let key = |k: &str| format!("sources[{n}].{k}");
        let location = match (&s.path, &s.url) {
            (Some(p), None) => Some((
                Location::File(base.join(p.get_ref())),
                p.get_ref().clone(),
                stem(Path::new(p.get_ref())),
            )),
            (None, Some(u)) => {
                let url = u.get_ref();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    c.err(
                        &u.span(),
                        format!("{}: {url:?} is not an http(s) URL", key("url")),
                    );
                }
                let name = url_file_name(url);
                Some((
                    Location::Url(url.clone()),
                    redacted_url(url),
                    stem(Path::new(name)),
                ))
            }
            (Some(p), Some(_)) => {
                c.err(
                    &p.span(),
                    format!("sources[{n}]: give `path` or `url`, not both"),
                );
                None
            }
            (None, None) => {
                if s.kind.as_ref().map(|k| k.get_ref().as_str()) != Some("comtrade") {
                    c.errors.push(format!(
                        "{file}:{}: sources[{n}]: needs `path` or `url`",
                        source_line(text, n)
                    ));
                }
                None
            }
        };
        let reporter = s
            .reporter
            .as_ref()
            .and_then(|v| c.country(v, &key("reporter")));
        let partner = s
            .partner
            .as_ref()
            .and_then(|v| c.country(v, &key("partner")));
        let unit = s.unit.as_ref().and_then(|u| c.unit(u, &key("unit")));
        let decimal = s.decimal.as_ref().and_then(|d| match d.get_ref().as_str() {
            "." => Some('.'),
            "," => Some(','),
            other => {
                c.err(
                    &d.span(),
                    format!("{}: {other:?} must be \".\" or \",\"", key("decimal")),
                );
                None
            }
        });
        let flow = s.flow.as_ref().and_then(|f| c.flow(f, &key("flow")));
        let encoding = s.encoding.as_ref().and_then(|e| match encoding_rs::Encoding::for_label(e.get_ref().trim().as_bytes()) {
            Some(enc) => Some(enc),
            None => {
                c.err(&e.span(), format!("{}: unknown encoding {:?} (e.g. \"utf-8\", \"windows-1251\", \"windows-1254\", \"iso-8859-1\", \"ibm866\")", key("encoding"), e.get_ref()));
                None
            }
        });
        let comtrade = match s.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("file") => {
                let extra = [
                    ("partners", !s.partners.is_empty()),
                    ("flows", !s.flows.is_empty()),
                    ("years", s.years.is_some()),
                    ("commodity", s.commodity.is_some()),
                    ("key_env", s.key_env.is_some()),
                    ("max_records", s.max_records.is_some()),
                    ("rate_per_sec", s.rate_per_sec.is_some()),
                ];
                for (k, set) in extra {
                    if set {
                        c.errors.push(format!(
                            "{file}:{}: sources[{n}].{k} is for `type = \"comtrade\"` sources only",
                            source_line(text, n)
                        ));
                    }
                }
                None
            }
            Some("comtrade") => {
                let partners: Vec<String> = s
                    .partners
                    .iter()
                    .filter_map(|p| {
                        if p.get_ref().eq_ignore_ascii_case("WLD")
                            || p.get_ref().eq_ignore_ascii_case("world")
                        {
                            Some("WLD".to_string())
                        } else {
                            c.country(p, &key("partners"))
                        }
                    })
                    .collect();
                let flows: Vec<Flow> = if s.flows.is_empty() {
                    vec![Flow::Export, Flow::Import]
                } else {
                    s.flows
                        .iter()
                        .filter_map(|f| c.flow(f, &key("flows")))
                        .collect()
                };
                match (&reporter, s.years) {
                    (Some(r), Some([a, b])) if a <= b && !partners.is_empty() => {
                        Some(ComtradeQuery {
                            reporter: r.clone(),
                            partners,
                            flows,
                            years: (a, b),
                            commodity: s.commodity.clone().unwrap_or_else(|| "TOTAL".into()),
                            key_env: s.key_env.clone(),
                            max_records: s.max_records.unwrap_or(100_000).max(1),
                            rate_per_sec: s.rate_per_sec.unwrap_or(1.0).max(0.01),
                        })
                    }
                    _ => {
                        c.errors.push(format!("{file}:{}: sources[{n}]: a comtrade source needs `reporter`, `partners` and `years = [first, last]`", source_line(text, n)));
                        None
                    }
                }
            }
            Some(other) => {
                let span = s.kind.as_ref().map(|k| k.span()).unwrap_or_default();
                c.err(
                    &span,
                    format!(
                        "{}: unknown source type {other:?} (\"file\", \"comtrade\")",
                        key("type")
                    ),
                );
                None
            }
        };
        let location = match (&comtrade, location) {
            (Some(_), None) => Some((
                Location::Url(COMTRADE_URL.to_string()),
                COMTRADE_URL.to_string(),
                "comtrade".to_string(),
            )),
            (_, l) => l,
        };
        let sha256 = s.sha256.as_ref().and_then(|h| {
            let v = h.get_ref().trim().to_lowercase();
            if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                Some(v)
            } else {
                c.err(
                    &h.span(),
                    format!(
                        "{}: {:?} is not a sha256 (64 hex digits)",
                        key("sha256"),
                        h.get_ref()
                    ),
                );
                None
            }
        });
        if let Some((location, display, default_id)) = location {
            let id =
                s.id.as_ref()
                    .map(|i| i.get_ref().clone())
                    .unwrap_or(default_id);
            if ids.contains(&id) {
                let line =
                    s.id.as_ref()
                        .map(|i| line_of(text, i.span().start))
                        .unwrap_or_else(|| source_line(text, n));
                c.errors.push(format!("{file}:{line}: sources[{n}]: id {id:?} is used twice; give each source its own `id`"));
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
                encoding,
                sha256,
                auth_header: None,
                comtrade,
                aliases: aliases.clone(),
            });
        }
    }
    let rules = c.rules(&cfg.validate, &cfg.expect);
    let mut formats = Vec::new();
    for f in &cfg.output.formats {
        match f.get_ref().as_str() {
            "parquet" => formats.push(Format::Parquet),
            "csv" => formats.push(Format::Csv),
            "xlsx" => formats.push(Format::Xlsx),
            other => c.err(&f.span(), format!("output.formats: unknown format {other:?} (allowed: \"parquet\", \"csv\", \"xlsx\")")),
        }
    }
    let o = &cfg.output;
    let csv_delimiter = match o.csv_delimiter.get_ref().as_str() {
        "," => b',',
        ";" => b';',
        "\t" => b'\t',
        other => {
            c.err(
                &o.csv_delimiter.span(),
                format!("output.csv_delimiter: {other:?} must be \",\", \";\" or \"\\t\""),
            );
            b','
        }
    };
    let mut partition_by = Vec::new();
    for p in &o.partition_by {
        match PARTITION_COLUMNS.iter().find(|c| **c == p.get_ref()) {
            Some(col) => partition_by.push(*col),
            None => c.err(
                &p.span(),
                format!(
                    "output.partition_by: {:?} is not a column to partition by ({})",
                    p.get_ref(),
                    PARTITION_COLUMNS.join(", ")
                ),
            ),
        }
    }
    if o.xlsx_max_rows == 0 || o.xlsx_max_rows > XLSX_MAX_ROWS {
        c.errors.push(format!(
            "{file}: output.xlsx_max_rows must be 1 to {XLSX_MAX_ROWS}"
        ));
    }
    let output = OutputOptions {
        csv_bom: o.csv_bom,
        csv_delimiter,
        partition_by,
        xlsx_max_rows: o.xlsx_max_rows,
        recycle: o.recycle,
    };
    if !c.errors.is_empty() {
        return Err(Error::Config(c.errors));
    }
    Ok(Pipeline {
        config_path: path.to_path_buf(),
        config_hash: hex(&Sha256::digest(text.as_bytes())),
        sources,
        rules,
        output_dir: base.join(&cfg.output.dir),
        formats,
        output,
        http: HttpOptions::from(&cfg.http),
        default_unit,
        aliases,
        rates: std::sync::Arc::new(rates),
    })
}

/// Collects every error of a config file, each with its line.
struct Compiler<'a> {
    file: String,
    text: &'a str,
    errors: Vec<String>,
    aliases: Aliases,
}

impl Compiler<'_> {
    fn err(&mut self, span: &std::ops::Range<usize>, msg: String) {
        let line = if span.is_empty() && span.start == 0 {
            0
        } else {
            line_of(self.text, span.start)
        };
        self.errors.push(format!("{}:{line}: {msg}", self.file));
    }

    /// A country code or name, through the aliases; its ISO3.
    fn country(&mut self, v: &Spanned<String>, key: &str) -> Option<String> {
        if let Some(countries::Place::Country(c)) =
            self.aliases.0.get(&countries::name_key(v.get_ref()))
        {
            return Some(c.iso3.to_string());
        }
        match countries::country(v.get_ref()) {
            Some(c) => Some(c.iso3.to_string()),
            None => {
                let sug = countries::suggestions(v.get_ref());
                let hint = if sug.is_empty() {
                    String::new()
                } else {
                    format!(" (closest: {})", sug.join(", "))
                };
                self.err(
                    &v.span(),
                    format!("{key}: unknown country {:?}{hint}", v.get_ref()),
                );
                None
            }
        }
    }

    fn unit(&mut self, u: &Spanned<String>, key: &str) -> Option<String> {
        match units::read_unit(u.get_ref()) {
            units::UnitRead::Unit(_) => Some(u.get_ref().clone()),
            _ => {
                self.err(
                    &u.span(),
                    format!("{key}: {:?} is not a unit (try \"USD\", \"USD thousand\", \"USD million\", \"USD billion\")", u.get_ref()),
                );
                None
            }
        }
    }

    fn flow(&mut self, f: &Spanned<String>, key: &str) -> Option<Flow> {
        let parsed = parse_flow(f.get_ref());
        if parsed.is_none() {
            self.err(
                &f.span(),
                format!(
                    "{key}: {:?} is not a flow (export, import, re_export, re_import)",
                    f.get_ref()
                ),
            );
        }
        parsed
    }

    fn severity(&mut self, s: &Spanned<String>, key: &str) -> Option<Severity> {
        match s.get_ref().as_str() {
            "error" => Some(Severity::Error),
            "warn" | "warning" => Some(Severity::Warn),
            "off" => Some(Severity::Off),
            other => {
                self.err(
                    &s.span(),
                    format!("{key}: {other:?} is not a severity (\"error\", \"warn\", \"off\")"),
                );
                None
            }
        }
    }

    fn rules(&mut self, v: &ValidateConfig, expect: &[ExpectConfig]) -> Rules {
        let file = self.file.clone();
        if v.year_min > v.year_max {
            self.errors.push(format!(
                "{file}: [validate] year_min {} is after year_max {}",
                v.year_min, v.year_max
            ));
        }
        // written so that NaN fails too
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(v.jump_factor > 1.0) {
            self.errors.push(format!(
                "{file}: [validate] jump_factor must be greater than 1, not {}",
                v.jump_factor
            ));
        }
        if !(0.0..=1.0).contains(&v.max_rejected_share) {
            self.errors.push(format!(
                "{file}: [validate] max_rejected_share must be between 0 and 1, not {}",
                v.max_rejected_share
            ));
        }
        if v.mirror_band[0] > v.mirror_band[1] {
            self.errors.push(format!(
                "{file}: [validate] mirror_band must be [low, high] with low <= high"
            ));
        }
        let mut rules = Rules::from_config(v);
        for (rule, sev) in &v.severity {
            let Some((id, _, _)) = crate::validate::RULES.iter().find(|(id, _, _)| id == rule)
            else {
                let known: Vec<&str> = crate::validate::RULES
                    .iter()
                    .map(|(id, _, _)| *id)
                    .collect();
                self.err(
                    &sev.span(),
                    format!(
                        "validate.severity: unknown rule {rule:?} (rules: {})",
                        known.join(", ")
                    ),
                );
                continue;
            };
            if let Some(s) = self.severity(sev, &format!("validate.severity.{rule}")) {
                rules.severity.insert(id, s);
            }
        }
        if let Some(cv) = &v.coverage {
            let partners = cv
                .partners
                .iter()
                .filter_map(|p| self.country(p, "validate.coverage.partners"))
                .collect();
            let reporter = cv
                .reporter
                .as_ref()
                .and_then(|r| self.country(r, "validate.coverage.reporter"));
            let flows = cv
                .flows
                .iter()
                .filter_map(|f| self.flow(f, "validate.coverage.flows"))
                .collect();
            rules.coverage = Some(Coverage {
                reporter,
                partners,
                years: (cv.years[0], cv.years[1]),
                flows,
            });
        }
        for (n, e) in expect.iter().enumerate() {
            let key = |k: &str| format!("expect[{n}].{k}");
            let flow = e.flow.as_ref().and_then(|f| self.flow(f, &key("flow")));
            let kind = match e.kind.get_ref().as_str() {
                "value" => match flow {
                    Some(f) => Some(ExpectKind::Value(f)),
                    None => {
                        self.err(
                            &e.kind.span(),
                            format!("{}: kind \"value\" needs a `flow`", key("kind")),
                        );
                        None
                    }
                },
                "volume" => Some(ExpectKind::Volume),
                "balance" => Some(ExpectKind::Balance),
                "complete" => {
                    let partners: Vec<String> = e
                        .partners
                        .iter()
                        .filter_map(|p| self.country(p, &key("partners")))
                        .collect();
                    match e.years {
                        Some([a, b]) if !partners.is_empty() => Some(ExpectKind::Complete {
                            partners,
                            years: (a, b),
                        }),
                        _ => {
                            self.err(&e.kind.span(), format!("{}: kind \"complete\" needs `partners` and `years = [first, last]`", key("kind")));
                            None
                        }
                    }
                }
                other => {
                    self.err(
                        &e.kind.span(),
                        format!(
                            "{}: unknown kind {other:?} (value, volume, balance, complete)",
                            key("kind")
                        ),
                    );
                    None
                }
            };
            let equals =
                e.equals
                    .as_ref()
                    .and_then(|q| match crate::normalize::amount(q.get_ref()) {
                        Some(d) => Some(d),
                        None => {
                            self.err(
                                &q.span(),
                                format!(
                                    "{}: {:?} is not an amount (e.g. \"2.2 billion\")",
                                    key("equals"),
                                    q.get_ref()
                                ),
                            );
                            None
                        }
                    });
            if !matches!(kind, Some(ExpectKind::Complete { .. }) | None)
                && (equals.is_none() || e.year.is_none() || e.partner.is_none())
            {
                self.err(
                    &e.kind.span(),
                    format!("{}: needs `partner`, `year` and `equals`", key("kind")),
                );
            }
            let reporter = e
                .reporter
                .as_ref()
                .and_then(|r| self.country(r, &key("reporter")));
            let partner = e
                .partner
                .as_ref()
                .and_then(|p| self.country(p, &key("partner")));
            let severity = e
                .severity
                .as_ref()
                .and_then(|s| self.severity(s, &key("severity")))
                .unwrap_or(Severity::Error);
            if let Some(kind) = kind {
                rules.expectations.push(Expectation {
                    name: e.name.clone(),
                    kind,
                    reporter,
                    partner,
                    year: e.year,
                    equals,
                    within: e.within,
                    severity,
                });
            }
        }
        rules
    }
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

/// The last path segment of a URL, without query or fragment: `.../exports.csv?x=1` gives
/// `exports.csv`.
/// A URL as it may be shown and written (logs, manifest, report, `source_ref`, the fetch
/// record): a password in it (`https://user:secret@host/`) and the values of query
/// parameters that carry credentials (`token`, `key`, `apikey`, `password`, `secret`,
/// `signature`, ...) replaced by `***`. The URL fetched is the one the config gives.
pub fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_string(),
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = if scheme.is_empty() {
        format!("{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}")
    };
    if let Some(q) = query {
        let (q, fragment) = q.split_once('#').map_or((q, None), |(a, b)| (a, Some(b)));
        let secret = |k: &str| {
            let k = k.to_ascii_lowercase().replace(['-', '_'], "");
            [
                "token",
                "key",
                "apikey",
                "password",
                "passwd",
                "pwd",
                "secret",
                "signature",
                "sig",
                "auth",
                "accesstoken",
                "subscriptionkey",
                "credential",
            ]
            .iter()
            .any(|s| k == *s || k.ends_with(s))
        };
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if secret(k) => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}

pub fn url_file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// A file's sha256 (hex) and size, streamed: the file is never held in memory whole. A
/// file of a MiB or more is read through a mapping of its pages (no copy), let go behind
/// the pass; a smaller one, or one that cannot be mapped, is read 1 MiB at a time
/// (`io::copy`'s 8 KiB took 16,000 reads for the outputs of a million-row run).
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() >= 1 << 20 {
        // SAFETY: the mapping is only read, here. Inputs and outputs are files of this
        // run or files it reads: one cut shorter meanwhile faults (SIGBUS), which the
        // binary makes an error of its source (see `crate::cli::fail_on_files_cut_short`)
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            let bytes = crate::mapped::Bytes::Mapped(map);
            return Ok((bytes.sha256(), bytes.len() as u64));
        }
    }
    let mut file = std::io::BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex(&hasher.finalize()), bytes))
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
    fn a_file_is_hashed_whole_read_or_mapped() {
        let dir = tempfile::tempdir().unwrap();
        // below a MiB (read), and of several steps of a mapped pass with a rest
        for len in [
            0,
            1000,
            (1 << 20) - 1,
            2 * crate::mapped::Pass::STEP + 12_345,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let (sha, n) = sha256_file(&path).unwrap();
            assert_eq!(
                (sha, n),
                (hex(&Sha256::digest(&bytes)), len as u64),
                "{len}"
            );
        }
    }

    #[test]
    fn smallest_config_compiles() {
        let p = parse(
            Path::new("/x/p.toml"),
            "[[sources]]\npath = \"raw/a.xlsx\"\nreporter = \"TUR\"\n",
        )
        .unwrap();
        assert_eq!(p.sources[0].id, "a");
        assert_eq!(p.sources[0].reporter.as_deref(), Some("TUR"));
        assert_eq!(p.output_dir, Path::new("/x/processed"));
        assert_eq!(p.formats, [Format::Parquet, Format::Csv, Format::Xlsx]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = errors("[[sources]]\npath = \"a.md\"\nreportr = \"TUR\"\n");
        assert!(
            e[0].starts_with("p.toml:3: unknown field `reportr`"),
            "{e:?}"
        );
    }

    #[test]
    fn every_error_at_once() {
        let e = errors("[[sources]]\npath = \"a.md\"\nreporter = \"Atlantis\"\ndecimal = \";\"\n[output]\nformats = [\"pdf\"]\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("p.toml:3: sources[0].reporter: unknown country \"Atlantis\""),
            "{e:?}"
        );
        assert!(e[1].starts_with("p.toml:4: sources[0].decimal"), "{e:?}");
        assert!(
            e[2].starts_with("p.toml:6: output.formats: unknown format \"pdf\""),
            "{e:?}"
        );
    }
}
