//! Reads a table's layout and emits its raw figures: which column holds the years, which
//! the values, what flow and partner each value column is about, and where each of those
//! was read (cell, column header, title, sheet name, config).
//!
//! Layouts: years down with flows across (the report's tables), years across with flows
//! or partners down, and long tables (one row per figure with year, partner, flow and
//! value columns). The texts found are passed on as they are; normalise interprets them.

use crate::config::Source;
use crate::ingest::{Cell, Row, Table};
use crate::model::{Origin, Place, RawFigureRef, RawFigures, RawValue};
use crate::normalize::countries::{self, Mention};
use crate::normalize::{is_derived_measure, is_year_label, parse_flow, parse_year};

/// How one column of a table was read, for `inspect` and the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnReading {
    pub col: u32,
    pub header: String,
    pub role: String,
}

/// How one table was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReading {
    pub label: String,
    pub titles: Vec<String>,
    pub header_row: u32,
    pub layout: &'static str,
    pub data_rows: usize,
    pub continued_at: Vec<u32>,
    pub columns: Vec<ColumnReading>,
    pub figures: usize,
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub table: u32,
    #[serde(skip)]
    pub first_figure: usize,
}

/// Reporter and partner of a column or row, with where each was read.
#[derive(Debug, Clone, Default)]
struct Parties {
    reporter: Option<(String, Origin)>,
    partner: Option<(String, Origin)>,
}

/// The mentions of a text, each country once, in order.
fn distinct(m: &[Mention]) -> Vec<&Mention> {
    let mut v: Vec<&Mention> = Vec::new();
    for x in m {
        if !v.iter().any(|y| y.country.iso3 == x.country.iso3) {
            v.push(x);
        }
    }
    v
}

/// Who trades with whom, from the texts around a value: the config first (a declared
/// choice overrides detection), then the header, the title, the sheet name.
fn parties(src: &Source, header: &[Mention], title: &[Mention], sheet: Option<&str>) -> Parties {
    let (h, t) = (distinct(header), distinct(title));
    let reporter: Option<(String, Origin)> = match &src.reporter {
        Some(r) => Some((r.clone(), Origin::Config)),
        None if h.len() >= 2 => Some((h[0].text.clone(), Origin::Column)),
        None if t.len() >= 2 => Some((t[0].text.clone(), Origin::Title)),
        None => None,
    };
    let reporter_iso = reporter
        .as_ref()
        .and_then(|(r, _)| countries::country(r))
        .map(|c| c.iso3);
    let sheet_country: Vec<Mention> = sheet
        .and_then(|s| match src.aliases.lookup(s) {
            Some(countries::Place::Country(c)) => Some(Mention {
                country: c,
                text: s.to_string(),
                word: 0,
            }),
            _ => None,
        })
        .into_iter()
        .collect();
    let partner = match &src.partner {
        Some(p) => Some((p.clone(), Origin::Config)),
        None => [
            (&h, Origin::Column),
            (&t, Origin::Title),
            (&sheet_country.iter().collect(), Origin::Sheet),
        ]
        .into_iter()
        .find_map(|(ms, origin)| {
            ms.iter()
                .find(|m| Some(m.country.iso3) != reporter_iso)
                .map(|m| (m.text.clone(), origin))
        }),
    };
    Parties { reporter, partner }
}

/// The role of a long table's column, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongRole {
    Year,
    Month,
    Reporter,
    Partner,
    Flow,
    Commodity,
    Value,
    Unit,
}

/// The role a long table's column header names, if any.
pub fn long_role(header: &str) -> Option<LongRole> {
    use LongRole::*;
    let k = countries::name_key(header).replace([' ', '-'], "_");
    if is_year_label(header) || matches!(k.as_str(), "refyear" | "ref_year" | "yil/year") {
        return Some(Year);
    }
    Some(match k.as_str() {
        "month" | "months" | "ay" | "aylar" | "месяц" | "месяцы" | "refmonth" | "ref_month" => {
            Month
        }
        "reporter" | "reporter_iso3" | "reporteriso" | "reporter_iso" | "reporterdesc"
        | "reporter_country" | "raportor" => Reporter,
        "partner" | "partner_iso3" | "partneriso" | "partner_iso" | "partnerdesc"
        | "partner_country" | "country" | "ulke" | "ulkeler" | "страна" | "страны" | "mamlakat"
        | "ulke_adi" => Partner,
        "flow"
        | "flowcode"
        | "flow_code"
        | "flowdesc"
        | "trade_flow"
        | "akis"
        | "yon"
        | "направление"
        | "поток"
        | "rejim"
        | "tip"
        | "тип" => Flow,
        "commodity" | "hs" | "hs_code" | "hscode" | "cmdcode" | "cmd_code" | "gtip"
        | "gtip_kodu" | "commodity_code" | "тн_вэд" | "код_тн_вэд" => Commodity,
        "value" | "value_usd" | "primaryvalue" | "primary_value" | "tradevalue" | "trade_value"
        | "deger" | "стоимость" | "amount" | "value_(usd)" | "tutar" => Value,
        "unit" | "units" | "birim" | "единица" | "ед._изм." | "currency_unit" => Unit,
        _ => return None,
    })
}

/// Reads a table's figures into `out`; says how it read them.
pub fn read_table(t: &Table, src: &Source, table_ix: u32, out: &mut RawFigures) -> TableReading {
    let headers: Vec<String> = t.header.cells.iter().map(Cell::text).collect();
    let mut reading = TableReading {
        label: t.label.clone(),
        titles: t.titles.clone(),
        header_row: t.header.pos,
        layout: "",
        data_rows: t.rows.len(),
        continued_at: t.continued_at.clone(),
        columns: Vec::new(),
        figures: 0,
        skipped: Vec::new(),
        notes: t.notes.clone(),
        table: table_ix,
        first_figure: out.len(),
    };
    let roles: Vec<Option<LongRole>> = headers.iter().map(|h| long_role(h)).collect();
    let year_cols: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| year_in(h).is_some())
        .map(|(i, _)| i)
        .collect();
    if is_long(&headers) {
        reading.layout = "long: one row per figure";
        read_long(t, src, table_ix, &headers, &roles, out, &mut reading);
    } else if year_cols.len() >= 2 {
        reading.layout = "years across, flows or partners down";
        read_years_across(t, src, table_ix, &headers, &year_cols, out, &mut reading);
    } else {
        reading.layout = "years down, flows across";
        read_years_down(t, src, table_ix, &headers, out, &mut reading);
    }
    reading.figures = out.len() - reading.first_figure;
    reading
}

/// The year a header names: the whole text (`2019`, `2020*`) or a word of it
/// (`Exports 2019`, `2019 İhracat`).
fn year_in(h: &str) -> Option<String> {
    if parse_year(h).is_some() {
        return Some(h.to_string());
    }
    h.split(|c: char| c.is_whitespace() || c == '|' || c == '/')
        .find(|w| parse_year(w).is_some())
        .map(str::to_string)
}

fn title_text(t: &Table) -> String {
    t.titles.join(" | ")
}

fn value_of(c: &Cell, out: &mut RawFigures) -> RawValue {
    match c {
        Cell::Empty => RawValue::Empty,
        Cell::Number(x) => RawValue::Number(*x),
        Cell::Text(s) if s.trim().is_empty() => RawValue::Empty,
        Cell::Text(s) => out.text_value(s.trim()),
    }
}

fn place(t: &Table, table_ix: u32, row: &Row, col: usize) -> Place {
    Place {
        table: table_ix,
        row: row.pos,
        col: t.col_offset + col as u32,
    }
}

fn read_years_down(
    t: &Table,
    src: &Source,
    table_ix: u32,
    headers: &[String],
    out: &mut RawFigures,
    reading: &mut TableReading,
) {
    let title = title_text(t);
    let title_mentions = src.aliases.find_in_text(&title);
    // the key column: a year label in the header, else the first column holding years
    let key = headers.iter().position(|h| is_year_label(h)).or_else(|| {
        (0..headers.len()).find(|&c| {
            let years = t
                .rows
                .iter()
                .filter(|r| {
                    r.cells
                        .get(c)
                        .is_some_and(|x| parse_year(&x.text()).is_some())
                })
                .count();
            years * 2 > t.rows.len()
        })
    });
    let Some(key) = key else {
        reading
            .skipped
            .push("no column of years and no years in the header: not a table of figures".into());
        for (c, h) in headers.iter().enumerate() {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: "ignored".into(),
            });
        }
        return;
    };
    struct ValueCol {
        col: usize,
        flow: Option<String>,
        parties: Parties,
    }
    let mut cols = Vec::new();
    // other key columns: month, HS code, partner (a header naming them, not a flow)
    let dim = |r: LongRole| {
        headers
            .iter()
            .enumerate()
            .position(|(c, h)| c != key && parse_flow(h).is_none() && long_role(h) == Some(r))
    };
    let (month_col, cmd_col, partner_col) = (
        dim(LongRole::Month),
        dim(LongRole::Commodity),
        dim(LongRole::Partner),
    );
    for (c, h) in headers.iter().enumerate() {
        if c == key {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: "year (key column)".into(),
            });
            continue;
        }
        if [month_col, cmd_col, partner_col].contains(&Some(c)) {
            let role = match long_role(h) {
                Some(LongRole::Month) => "month (key column)",
                Some(LongRole::Commodity) => "commodity (key column)",
                _ => "partner (key column)",
            };
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: role.into(),
            });
            continue;
        }
        let flow = match &src.flow {
            Some(f) => Some(f.as_str().to_string()),
            None => parse_flow(h).map(|f| f.as_str().to_string()),
        };
        if src.flow.is_none() && parse_flow(h).is_none() && is_derived_measure(h) {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: "ignored: a measure derived from the flows (balance, volume), not a figure"
                    .into(),
            });
            continue;
        }
        let has_values = t
            .rows
            .iter()
            .any(|r| r.cells.get(c).is_some_and(|x| !x.is_empty()));
        if flow.is_none() && (h.is_empty() || !has_values) {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: "ignored: no flow and no values".into(),
            });
            continue;
        }
        let p = parties(
            src,
            &src.aliases.find_in_text(h),
            &title_mentions,
            t.sheet.as_deref(),
        );
        reading.columns.push(ColumnReading {
            col: c as u32,
            header: h.clone(),
            role: format!(
                "values: flow {} ; reporter {} ; partner {}",
                flow.as_deref()
                    .map(|f| format!(
                        "{f} (from {})",
                        if src.flow.is_some() {
                            "config"
                        } else {
                            "column header"
                        }
                    ))
                    .unwrap_or_else(|| "unknown".into()),
                describe(&p.reporter),
                describe(&p.partner)
            ),
        });
        cols.push(ValueCol {
            col: c,
            flow,
            parties: p,
        });
    }
    for row in &t.rows {
        let year_cell = row.cells.get(key).cloned().unwrap_or(Cell::Empty);
        let year_text = year_cell.text();
        if parse_year(&year_text).is_none() {
            let all_empty = cols
                .iter()
                .all(|vc| row.cells.get(vc.col).is_none_or(Cell::is_empty));
            if all_empty {
                continue;
            }
            if matches!(
                src.aliases.lookup(&year_text),
                Some(countries::Place::Aggregate)
            ) {
                reading.skipped.push(format!(
                    "row {}: {:?} is a total over years, not a figure",
                    row.pos + 1,
                    year_text
                ));
                continue;
            }
        }
        let at = |c: Option<usize>| {
            c.and_then(|c| row.cells.get(c))
                .map(Cell::text)
                .filter(|s| !s.is_empty())
        };
        let (month, commodity, row_partner) = (at(month_col), at(cmd_col), at(partner_col));
        for vc in &cols {
            let cell = row.cells.get(vc.col).cloned().unwrap_or(Cell::Empty);
            let value = value_of(&cell, out);
            let partner = match (&src.partner, &row_partner) {
                (None, Some(p)) => Some(p.as_str()),
                _ => text(&vc.parties.partner),
            };
            let f = RawFigureRef {
                reporter: text(&vc.parties.reporter),
                partner,
                flow: vc.flow.as_deref(),
                year: Some(&year_text),
                month: month.as_deref(),
                commodity: commodity.as_deref(),
                unit_column: Some(&headers[vc.col]),
                unit_title: Some(&title),
                unit_config: src.unit.as_deref(),
                decimal: src.decimal,
            };
            out.push(f, value, place(t, table_ix, row, vc.col));
        }
    }
}

fn read_years_across(
    t: &Table,
    src: &Source,
    table_ix: u32,
    headers: &[String],
    year_cols: &[usize],
    out: &mut RawFigures,
    reading: &mut TableReading,
) {
    let title = title_text(t);
    let title_mentions = src.aliases.find_in_text(&title);
    // row labels: the columns before the first year (a partner and a flow column, say),
    // else the first column that is not a year
    let first_year = year_cols.first().copied().unwrap_or(0);
    let mut label_cols: Vec<usize> = (0..first_year).collect();
    if label_cols.is_empty() {
        label_cols.extend((0..headers.len()).find(|c| !year_cols.contains(c)));
    }
    for (c, h) in headers.iter().enumerate() {
        let role = if year_cols.contains(&c) && is_derived_measure(h) {
            "ignored: a measure derived from the flows (balance, volume), not a figure".into()
        } else if year_cols.contains(&c) {
            let flow = parse_flow(h)
                .map(|f| format!(", flow {f} (from column header)"))
                .unwrap_or_default();
            format!(
                "values of year {}{flow}",
                year_in(h).and_then(|y| parse_year(&y)).unwrap_or_default()
            )
        } else if label_cols.contains(&c) {
            "row labels: flow or partner".into()
        } else {
            "ignored".into()
        };
        reading.columns.push(ColumnReading {
            col: c as u32,
            header: h.clone(),
            role,
        });
    }
    for row in &t.rows {
        let labels: Vec<String> = label_cols
            .iter()
            .filter_map(|&c| row.cells.get(c))
            .map(Cell::text)
            .filter(|s| !s.is_empty())
            .collect();
        let label = labels.join(" ");
        let label_flow = labels.iter().find_map(|l| parse_flow(l));
        let label_country = labels
            .iter()
            .map(|l| src.aliases.find_in_text(l))
            .find(|m| !m.is_empty())
            .unwrap_or_default();
        let label_is_aggregate = labels
            .iter()
            .any(|l| matches!(src.aliases.lookup(l), Some(countries::Place::Aggregate)));
        let flow = src
            .flow
            .map(|f| f.as_str().to_string())
            .or(label_flow.map(|f| f.as_str().to_string()))
            .or_else(|| parse_flow(&title).map(|f| f.as_str().to_string()));
        let mut p = parties(src, &label_country, &title_mentions, t.sheet.as_deref());
        if label_is_aggregate && src.partner.is_none() {
            p.partner = Some((label.clone(), Origin::Cell));
        } else if let Some((_, o)) = &mut p.partner {
            if *o == Origin::Column {
                *o = Origin::Cell;
            }
        }
        for &c in year_cols
            .iter()
            .filter(|&&c| !is_derived_measure(&headers[c]))
        {
            let cell = row.cells.get(c).cloned().unwrap_or(Cell::Empty);
            let value = value_of(&cell, out);
            let year = year_in(&headers[c]);
            let col_flow = if src.flow.is_none() {
                parse_flow(&headers[c]).map(|f| f.as_str().to_string())
            } else {
                None
            };
            let f = RawFigureRef {
                reporter: text(&p.reporter),
                partner: text(&p.partner),
                flow: col_flow.as_deref().or(flow.as_deref()),
                year: year.as_deref(),
                month: None,
                commodity: None,
                unit_column: Some(&label),
                unit_title: Some(&title),
                unit_config: src.unit.as_deref(),
                decimal: src.decimal,
            };
            out.push(f, value, place(t, table_ix, row, c));
        }
    }
}

/// Reads the rows of a long table one at a time: built from the header once, then fed
/// rows from a table or, for large CSV files, records streamed straight from the file.
pub struct LongReader {
    year: Option<usize>,
    month: Option<usize>,
    rep: Option<usize>,
    par: Option<usize>,
    flow: Option<usize>,
    cmd: Option<usize>,
    val: usize,
    unit: Option<usize>,
    title: String,
    title_p: Parties,
    value_unit: String,
    table_ix: u32,
    col_offset: u32,
}

impl LongReader {
    /// `None` when the header names no value column.
    pub fn new(t: &Table, src: &Source, table_ix: u32, headers: &[String]) -> Option<LongReader> {
        let roles: Vec<Option<LongRole>> = headers.iter().map(|h| long_role(h)).collect();
        let col = |r: LongRole| roles.iter().position(|x| *x == Some(r));
        let val = col(LongRole::Value)?;
        let title = title_text(t);
        let title_p = parties(
            src,
            &[],
            &src.aliases.find_in_text(&title),
            t.sheet.as_deref(),
        );
        Some(LongReader {
            year: col(LongRole::Year),
            month: col(LongRole::Month),
            rep: col(LongRole::Reporter),
            par: col(LongRole::Partner),
            flow: col(LongRole::Flow),
            cmd: col(LongRole::Commodity),
            val,
            unit: col(LongRole::Unit),
            value_unit: value_header_unit(&headers[val]),
            title,
            title_p,
            table_ix,
            col_offset: t.col_offset,
        })
    }

    /// Appends the figure of one row, whose texts `get` gives by column.
    fn emit<'a>(
        &self,
        src: &Source,
        get: impl Fn(Option<usize>) -> Option<&'a str>,
        value: RawValue,
        pos: u32,
        out: &mut RawFigures,
    ) {
        // a declared reporter or partner overrides the file; the row's own next; the title's last
        let reporter = src
            .reporter
            .as_deref()
            .or_else(|| get(self.rep))
            .or_else(|| text(&self.title_p.reporter));
        let partner = src
            .partner
            .as_deref()
            .or_else(|| get(self.par))
            .or_else(|| text(&self.title_p.partner));
        let f = RawFigureRef {
            reporter,
            partner,
            flow: src.flow.map(|f| f.as_str()).or_else(|| get(self.flow)),
            year: get(self.year),
            month: get(self.month),
            commodity: get(self.cmd),
            unit_column: Some(get(self.unit).unwrap_or(&self.value_unit)),
            unit_title: Some(&self.title),
            unit_config: src.unit.as_deref(),
            decimal: src.decimal,
        };
        out.push(
            f,
            value,
            Place {
                table: self.table_ix,
                row: pos,
                col: self.col_offset + self.val as u32,
            },
        );
    }

    /// A row of a table.
    pub fn push_row(&self, src: &Source, row: &Row, out: &mut RawFigures) {
        let texts: Vec<String> = row.cells.iter().map(Cell::text).collect();
        let value = value_of(row.cells.get(self.val).unwrap_or(&Cell::Empty), out);
        self.emit(
            src,
            |c| {
                c.and_then(|c| texts.get(c))
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
            },
            value,
            row.pos,
            out,
        );
    }

    /// A record of a delimited file, without building cells.
    pub fn push_record(
        &self,
        src: &Source,
        rec: super::delimited::Record<'_>,
        pos: u32,
        out: &mut RawFigures,
    ) {
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(super::trim)
                .filter(|s| !s.is_empty())
        };
        let value = match get(Some(self.val)) {
            Some(v) => out.text_value(v),
            None => RawValue::Empty,
        };
        self.emit(src, get, value, pos, out);
    }
}

fn read_long(
    t: &Table,
    src: &Source,
    table_ix: u32,
    headers: &[String],
    roles: &[Option<LongRole>],
    out: &mut RawFigures,
    reading: &mut TableReading,
) {
    for (c, h) in headers.iter().enumerate() {
        let role = roles[c]
            .map(|r| format!("{r:?}").to_lowercase())
            .unwrap_or_else(|| "ignored".into());
        reading.columns.push(ColumnReading {
            col: c as u32,
            header: h.clone(),
            role,
        });
    }
    let Some(reader) = LongReader::new(t, src, table_ix, headers) else {
        return;
    };
    for row in &t.rows {
        reader.push_row(src, row, out);
    }
}

/// True when a header makes a long table (one row per figure).
pub fn is_long(headers: &[String]) -> bool {
    let roles: Vec<Option<LongRole>> = headers.iter().map(|h| long_role(h)).collect();
    let has = |r: LongRole| roles.contains(&Some(r));
    has(LongRole::Value) && has(LongRole::Year) && (has(LongRole::Partner) || has(LongRole::Flow))
}

/// The unit a long table's value header implies: agency names for values in dollars
/// (Comtrade's `primaryValue`) say `USD`; any other header speaks for itself.
fn value_header_unit(header: &str) -> String {
    let k = countries::name_key(header).replace([' ', '-'], "_");
    if matches!(
        k.as_str(),
        "primaryvalue" | "primary_value" | "tradevalue" | "trade_value" | "fobvalue" | "cifvalue"
    ) {
        format!("USD ({header})")
    } else {
        header.to_string()
    }
}

/// The text of a reporter or partner found in a table.
fn text(p: &Option<(String, Origin)>) -> Option<&str> {
    p.as_ref().map(|(s, _)| s.as_str())
}

fn describe(p: &Option<(String, Origin)>) -> String {
    match p {
        Some((s, o)) => format!("{s:?} (from {})", o.as_str()),
        None => "unknown".into(),
    }
}
