//! Reads a table's layout and emits its raw figures: which column holds the years, which
//! the values, what flow and partner each value column is about, and where each of those
//! was read (cell, column header, title, sheet name, config).
//!
//! Layouts: years down with flows across (the report's tables), years across with flows
//! or partners down, tables of series with the years across whose labels are columns of
//! roles (the World Bank's, the IMF's, WITS's time series, Eurostat's packed dimensions),
//! and long tables (one row per figure: UN Comtrade's and Comtrade+'s downloads, WITS's
//! partner files, WTO's). Columns are known by their headers' words ([`headers::read`]).
//! The texts found are passed on as they are; normalise interprets them.

use crate::config::Source;
use crate::ingest::headers::{self, Form, Role};
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
    /// Rows set aside as breakdowns (not their total), by the column that breaks down.
    pub set_aside: Vec<SetAside>,
    /// Rows not read, by reason (a unit or an indicator that is not money).
    pub not_read: Vec<NotRead>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub table: u32,
    #[serde(skip)]
    pub first_figure: usize,
}

/// Rows of a table broken down by a column (a second partner, a mode of transport, a
/// customs procedure), not its total: set aside, counted, not figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetAside {
    pub column: String,
    pub rows: usize,
}

/// Rows of a table not read, and why (their unit or indicator is not money).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotRead {
    pub why: String,
    pub rows: usize,
}

impl TableReading {
    /// Counts the rows a reader set aside or did not read.
    pub fn add_set_aside(&mut self, reader: &LongReader) {
        let skipped = reader.skipped.lock().unwrap_or_else(|e| e.into_inner());
        for (why, n) in skipped.iter() {
            match self.not_read.iter_mut().find(|s| s.why == *why) {
                Some(s) => s.rows += n,
                None => self.not_read.push(NotRead {
                    why: why.clone(),
                    rows: *n,
                }),
            }
        }
        for (b, n) in reader.cols.breakdowns.iter().zip(&reader.set_aside) {
            let n = n.load(std::sync::atomic::Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            match self.set_aside.iter_mut().find(|s| s.column == b.header) {
                Some(s) => s.rows += n,
                None => self.set_aside.push(SetAside {
                    column: b.header.clone(),
                    rows: n,
                }),
            }
        }
    }
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

/// Whether a country named in a title is the one whose trade the table is: a possessive
/// (`Türkiye's`, `Türkiye'nin`), an adjective (`Georgian`, `Turkish`, `Kazakh`), or a
/// Russian genitive after a flow (`Экспорт Казахстана`, `Импорт России`).
fn whose(m: &Mention) -> bool {
    let k = countries::name_key(&m.text);
    if k.contains('\'') {
        return true;
    }
    // the adjectives `countries.tsv` holds as names of their countries
    const ADJECTIVES: &[&str] = &[
        "turkish",
        "georgian",
        "kazakh",
        "kazakhstani",
        "uzbek",
        "uzbekistani",
        "kyrgyz",
        "azerbaijani",
        "turkmen",
        "russian",
        "chinese",
        "german",
        "iranian",
        "ukrainian",
        "belarusian",
    ];
    if ADJECTIVES.contains(&k.as_str()) {
        return true;
    }
    // `экспорт казахстана`: the genitive ends in -а/-и/-ы after a flow word
    (k.ends_with('а') || k.ends_with('и') || k.ends_with('ы'))
        && ["экспорт", "импорт", "товарооборот", "торговля"]
            .iter()
            .any(|f| m.before.starts_with(f))
}

/// Who trades with whom, from the texts around a value: the config first (a declared
/// choice overrides detection), then the header, the title, the sheet name.
fn parties(src: &Source, header: &[Mention], title: &[Mention], sheet: Option<&str>) -> Parties {
    let (h, t) = (distinct(header), distinct(title));
    let reporter: Option<(String, Origin)> = match &src.reporter {
        Some(r) => Some((r.clone(), Origin::Config)),
        None if h.len() >= 2 => Some((h[0].text.clone(), Origin::Column)),
        None if t.len() >= 2 => Some((t[0].text.clone(), Origin::Title)),
        // one country in the title, named as the one whose trade it is: `Türkiye's
        // trade`, `Türkiye'nin ihracatı`, `Georgian exports`, `Экспорт Казахстана`
        None if t.len() == 1 && whose(t[0]) => Some((t[0].text.clone(), Origin::Title)),
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
                before: String::new(),
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

/// The role of a long table's column, from its header's words (see [`headers::read`]).
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

/// The role a column header names, if it is one a long table's key or value is read from.
pub fn long_role(header: &str) -> Option<LongRole> {
    use headers::Role;
    Some(match headers::read(header).role {
        Role::Year | Role::Period => LongRole::Year,
        Role::Month => LongRole::Month,
        Role::Reporter => LongRole::Reporter,
        Role::Partner | Role::Country => LongRole::Partner,
        Role::Flow => LongRole::Flow,
        Role::Commodity => LongRole::Commodity,
        Role::Value => LongRole::Value,
        Role::Unit => LongRole::Unit,
        _ => return None,
    })
}

/// A table whose first column packs several dimensions in one cell, as Eurostat's
/// tab-separated downloads write them (`freq,unit,geo\TIME_PERIOD` over `A,PC_GDP,AT`):
/// the same table with one column a dimension. `None` for any other table.
fn unpacked(t: &Table) -> Option<Table> {
    let first = t.header.cells.first()?.text();
    let (dims, _across) = first.split_once('\\')?;
    let names: Vec<&str> = dims.split(',').map(str::trim).collect();
    if names.len() < 2 {
        return None;
    }
    let split = |row: &Row, head: Vec<Cell>| -> Row {
        let mut cells = head;
        cells.extend(row.cells.iter().skip(1).cloned());
        Row {
            pos: row.pos,
            cells,
        }
    };
    let mut u = t.clone();
    u.header = split(
        &t.header,
        names.iter().map(|n| Cell::Text(n.to_string())).collect(),
    );
    u.rows = t
        .rows
        .iter()
        .map(|r| {
            let text = r.cells.first().map(Cell::text).unwrap_or_default();
            let mut parts: Vec<Cell> = text
                .split(',')
                .map(|p| Cell::Text(p.trim().to_string()))
                .collect();
            parts.resize(names.len(), Cell::Empty);
            split(r, parts)
        })
        .collect();
    // a value's place counts the dimensions as columns: `source_ref` names the column
    // of the unpacked table (the file's column plus the dimensions less one)
    Some(u)
}

/// Reads a table's figures into `out`; says how it read them.
pub fn read_table(t: &Table, src: &Source, table_ix: u32, out: &mut RawFigures) -> TableReading {
    if let Some(u) = unpacked(t) {
        let mut reading = read_table_as_is(&u, src, table_ix, out);
        reading.notes.push(format!(
            "its first column packs {} dimensions in one cell: read as one column each",
            u.header.cells.len() - t.header.cells.len() + 1
        ));
        return reading;
    }
    read_table_as_is(t, src, table_ix, out)
}

fn read_table_as_is(t: &Table, src: &Source, table_ix: u32, out: &mut RawFigures) -> TableReading {
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
        set_aside: Vec::new(),
        not_read: Vec::new(),
        notes: t.notes.clone(),
        table: table_ix,
        first_figure: out.len(),
    };
    let year_cols: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| year_in(h).is_some())
        .map(|(i, _)| i)
        .collect();
    if is_long(&headers) {
        reading.layout = "long: one row per figure";
        read_long(t, src, table_ix, &headers, out, &mut reading);
    } else if year_cols.len() >= 2 || (year_cols.len() == 1 && names_series(&headers)) {
        reading.layout = "years across, flows or partners down";
        read_years_across(t, src, table_ix, &headers, &year_cols, out, &mut reading);
    } else {
        reading.layout = "years down, flows across";
        read_years_down(t, src, table_ix, &headers, out, &mut reading);
    }
    reading.figures = out.len() - reading.first_figure;
    reading
}

/// Whether a header names the columns of a table of series (`Country Name`, `Indicator
/// Name`, `Counterpart Country Name`): then a single year across (`2024M2`) is enough.
fn names_series(headers: &[String]) -> bool {
    let roles: Vec<Role> = headers.iter().map(|h| headers::read(h).role).collect();
    roles.contains(&Role::Indicator)
        && roles
            .iter()
            .any(|r| matches!(r, Role::Country | Role::Reporter | Role::Partner))
}

/// The year a header names: the whole text (`2019`, `2020*`) or a word of it
/// (`Exports 2019`, `2019 İhracat`).
fn year_in(h: &str) -> Option<String> {
    if parse_year(h).is_some() {
        return Some(h.to_string());
    }
    if let (y, Some(_)) = split_period(h) {
        return Some(y.to_string());
    }
    h.split(|c: char| c.is_whitespace() || c == '|' || c == '/')
        .find(|w| parse_year(w).is_some())
        .map(str::to_string)
}

/// Whether most non-empty cells of a column are texts that are not numbers in any
/// writing (`ok`, `revised`, `=HYPERLINK(...)`): a column of notes, not of values.
fn is_text_column(t: &Table, c: usize) -> bool {
    let (mut texts, mut all) = (0usize, 0usize);
    for r in &t.rows {
        match r.cells.get(c) {
            Some(Cell::Text(x)) if !x.trim().is_empty() => {
                all += 1;
                if matches!(
                    crate::normalize::number::parse(x.trim(), None),
                    crate::normalize::number::Parsed::Invalid(_)
                ) {
                    texts += 1;
                }
            }
            Some(Cell::Number(_)) => all += 1,
            _ => {}
        }
    }
    all > 0 && texts * 2 > all
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
        let read = headers::read(h);
        if read.role.not_money() || matches!(read.role, Role::Note | Role::Flag) {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: format!(
                    "ignored: a {} ({}), not money",
                    read.role.as_str(),
                    read.why
                ),
            });
            continue;
        }
        if is_text_column(t, c) {
            reading.columns.push(ColumnReading {
                col: c as u32,
                header: h.clone(),
                role: "ignored: its cells are texts, not numbers (a note column)".into(),
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

/// A table of series with the years across, whose row labels are columns of roles
/// (`Country Name`, `Country Code`, `Indicator Name`, `Counterpart Country Name`): the
/// World Bank's and the IMF's downloads. The reporter, partner, flow and unit of each
/// row come from its cells (the flow and unit from the indicator's name); a row whose
/// indicator is not money is set aside with the reason; an empty cell is no figure.
#[allow(clippy::too_many_arguments)]
fn read_series(
    t: &Table,
    src: &Source,
    table_ix: u32,
    headers: &[String],
    year_cols: &[usize],
    label: &[(usize, headers::Header)],
    out: &mut RawFigures,
    reading: &mut TableReading,
) {
    let title = title_text(t);
    let best = |role: Role| {
        label
            .iter()
            .filter(|(_, h)| h.role == role)
            .min_by_key(|(c, h)| (country_rank(h.form), *c))
            .map(|(c, h)| (*c, h.form))
    };
    let indicator = best(Role::Indicator).map(|x| x.0);
    let (rep, par) = sides(
        best(Role::Reporter),
        best(Role::Partner),
        best(Role::Country),
        src,
        indicator.is_some(),
    );
    let flow_col = best(Role::Flow);
    let cmd = best(Role::Commodity).map(|x| x.0);
    let unit_col = best(Role::Unit).map(|x| x.0);
    // the World is the partner of a country's series that names none
    let world_partner =
        par.is_none() && src.partner.is_none() && indicator.is_some() && rep.is_some();
    let title_p = parties(
        src,
        &[],
        &src.aliases.find_in_text(&title),
        t.sheet.as_deref(),
    );
    // a balance or volume over the years is derived from the flows, not a figure
    let year_cols: Vec<usize> = year_cols
        .iter()
        .copied()
        .filter(|&c| !is_derived_measure(&headers[c]))
        .collect();
    let year_cols = year_cols.as_slice();
    for (c, h) in headers.iter().enumerate() {
        let is = |x: Option<usize>| x == Some(c);
        let role = if is_derived_measure(h) && year_in(h).is_some() {
            "ignored: a measure derived from the flows (balance, volume), not a figure".into()
        } else if year_cols.contains(&c) {
            format!(
                "values of year {}",
                year_in(h).and_then(|y| parse_year(&y)).unwrap_or_default()
            )
        } else if let Some((_, r)) = label.iter().find(|(k, _)| *k == c) {
            let what = if is(rep.map(|x| x.0)) {
                "reporter (row label)".to_string()
            } else if is(par.map(|x| x.0)) {
                "partner (row label)".into()
            } else if is(indicator) {
                "indicator: the flow and unit of its row".into()
            } else if is(flow_col.map(|x| x.0)) {
                "flow (row label)".into()
            } else if is(cmd) {
                "commodity (row label)".into()
            } else if is(unit_col) {
                "unit of the row".into()
            } else {
                format!("ignored: {}", r.role.as_str())
            };
            format!("{what}; {} from {}", r.role.as_str(), r.why)
        } else {
            "ignored".into()
        };
        reading.columns.push(ColumnReading {
            col: c as u32,
            header: h.clone(),
            role,
        });
    }
    if world_partner {
        reading
            .notes
            .push("partner: the World (WLD), the rows being series of a country's trade".into());
    }
    let cell_text = |row: &Row, c: Option<usize>| {
        c.and_then(|c| row.cells.get(c))
            .map(Cell::text)
            .filter(|s| !s.is_empty())
    };
    let mut said: Vec<String> = Vec::new();
    // the IMF's `Attribute` column: a row of `Value`s, then one of their `Status`
    let attribute = label
        .iter()
        .find(|(c, _)| countries::name_key(&headers[*c]) == "attribute")
        .map(|(c, _)| *c);
    let mut status_rows = 0usize;
    // imports valued both CIF and FOB (the IMF's TMG_CIF_USD and TMG_FOB_USD): the CIF
    // series is the imports' figure, the FOB one an alternative valuation beside it
    let valued = |i: &str, how: &str| {
        parse_flow(i) == Some(crate::model::Flow::Import)
            && countries::name_key(i)
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == how)
    };
    let cif_imports = t
        .rows
        .iter()
        .any(|r| cell_text(r, indicator).is_some_and(|i| valued(&i, "cif")));
    let mut fob_rows = 0usize;
    let mut derived_rows = 0usize;
    for row in &t.rows {
        if let Some(a) = cell_text(row, attribute) {
            if countries::name_key(&a) != "value" {
                status_rows += 1;
                continue;
            }
        }
        let country = |col: Col| -> Option<String> {
            let (i, form) = col?;
            cell_text(row, Some(i)).map(|t| country_cell(&t, form).to_string())
        };
        if let Some(u) = cell_text(row, unit_col) {
            if let Some(why) = not_money_cell(&u) {
                if !said.contains(&u) {
                    reading.skipped.push(format!("unit {why}: not read"));
                    said.push(u);
                }
                continue;
            }
        }
        let ind = cell_text(row, indicator);
        if cif_imports && ind.as_deref().is_some_and(|i| valued(i, "fob")) {
            fob_rows += 1;
            continue;
        }
        if ind
            .as_deref()
            .is_some_and(|i| crate::normalize::is_derived_measure(i) && parse_flow(i).is_none())
        {
            derived_rows += 1;
            continue;
        }
        if let Some(i) = &ind {
            if let Some(why) = not_money_cell(i) {
                if !said.contains(i) {
                    reading.skipped.push(format!("indicator {why}: not read"));
                    said.push(i.clone());
                }
                continue;
            }
        }
        let reporter = src
            .reporter
            .clone()
            .or_else(|| country(rep))
            .or_else(|| text(&title_p.reporter).map(str::to_string));
        let partner = src
            .partner
            .clone()
            .or_else(|| country(par))
            .or_else(|| world_partner.then(|| "WLD".to_string()))
            .or_else(|| {
                // a series named for its partner (`Exports to Uzbekistan`)
                let reporter_iso = reporter
                    .as_deref()
                    .and_then(countries::country)
                    .map(|c| c.iso3);
                ind.as_deref()
                    .map(|i| src.aliases.find_in_text(i))
                    .and_then(|m| m.into_iter().find(|m| Some(m.country.iso3) != reporter_iso))
                    .map(|m| m.text)
            })
            .or_else(|| text(&title_p.partner).map(str::to_string));
        let flow = src.flow.map(|f| f.as_str().to_string()).or_else(|| {
            cell_text(row, flow_col.map(|x| x.0))
                .or_else(|| ind.clone().filter(|i| parse_flow(i).is_some()))
                .or_else(|| parse_flow(&title).is_some().then(|| title.clone()))
        });
        let unit = [cell_text(row, unit_col), ind.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let commodity = cell_text(row, cmd);
        for &c in year_cols {
            let cell = row.cells.get(c).cloned().unwrap_or(Cell::Empty);
            if cell.is_empty() {
                continue;
            }
            let value = value_of(&cell, out);
            let year = year_in(&headers[c]);
            // a flow over the years (`Exports 2019`) speaks for its column
            let col_flow = src
                .flow
                .is_none()
                .then(|| parse_flow(&headers[c]).map(|f| f.as_str()))
                .flatten();
            let f = RawFigureRef {
                reporter: reporter.as_deref(),
                partner: partner.as_deref(),
                flow: col_flow.or(flow.as_deref()),
                year: year.as_deref(),
                month: month_in(&headers[c]),
                commodity: commodity.as_deref(),
                unit_column: Some(&unit),
                unit_title: Some(&title),
                unit_config: src.unit.as_deref(),
                decimal: src.decimal,
            };
            out.push(f, value, place(t, table_ix, row, c));
        }
    }
    if derived_rows > 0 {
        reading.skipped.push(format!(
            "{derived_rows} rows of a measure derived from the flows (a balance): not figures"
        ));
    }
    if fob_rows > 0 {
        reading.skipped.push(format!(
            "{fob_rows} rows of imports valued FOB beside those valued CIF: an alternative valuation, not read"
        ));
    }
    if status_rows > 0 {
        reading.skipped.push(format!(
            "{status_rows} rows whose `Attribute` is not `Value` (status flags): not figures"
        ));
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
    // row labels that are columns of roles: a table of series
    let label: Vec<(usize, headers::Header)> = (0..headers.len())
        .filter(|c| !year_cols.contains(c))
        .map(|c| (c, headers::read(&headers[c])))
        .collect();
    if label.iter().any(|(_, h)| {
        matches!(
            h.role,
            Role::Reporter | Role::Partner | Role::Country | Role::Indicator
        )
    }) {
        reading.layout = "years across, series down (their labels in columns)";
        return read_series(t, src, table_ix, headers, year_cols, &label, out, reading);
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

/// A value column of a long table: where it is, the flow its header names, its unit.
#[derive(Debug, Clone)]
struct ValueColumn {
    col: usize,
    flow: Option<&'static str>,
    unit: String,
}

/// A column whose rows are a breakdown (second partner, mode of transport, customs
/// procedure): only the rows of its total (`0`, `W00`, `C00`, `All MOTs`) are figures.
#[derive(Debug, Clone)]
struct BreakdownColumn {
    col: usize,
    header: String,
}

/// Whether a breakdown cell is the total over the breakdown: empty, the World or code 0
/// (second partner), `C00` / `All CPCs` (customs), `0` / `All MOTs` (transport).
fn is_breakdown_total(text: &str) -> bool {
    let t = text.trim();
    // the codes of nearly every row, without folding
    if matches!(t, "" | "0" | "-1" | "C00" | "W00" | "WLD" | "World") {
        return true;
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return t.trim_end_matches(".0").bytes().all(|b| b == b'0');
    }
    let k = countries::name_key(t);
    matches!(
        k.as_str(),
        "c00" | "w00" | "wld" | "world" | "total" | "all" | "tot" | "total mot" | "total cpc"
    ) || k.starts_with("all ")
        || k.starts_with("total ")
}

/// The columns a long table's figures are read from, chosen among those that name the
/// same role by the form they write it in, and what each other column is.
struct LongColumns {
    year: Option<usize>,
    /// A period column (`2018`, `201805`, `2018-05`, `2018M05`): year and month, read
    /// before the year column where its cell holds a year.
    period: Option<usize>,
    month: Option<usize>,
    /// Each side's columns, best first: a cell left empty in one is read from the next.
    rep: Vec<(usize, Form)>,
    par: Vec<(usize, Form)>,
    flow: Option<(usize, Form)>,
    cmd: Option<usize>,
    /// A series' name (`Indicator`): the flow of its row where no column says one, and
    /// a row whose indicator is not money is set aside.
    indicator: Option<usize>,
    /// The nomenclature of the commodity codes (`H4`, `S4`, `SITC3`), if a column says it.
    classification: Option<usize>,
    values: Vec<ValueColumn>,
    unit: Option<usize>,
    breakdowns: Vec<BreakdownColumn>,
    /// For every column, its role and the words that decided it.
    roles: Vec<String>,
}

/// The column of a role whose header has the fewest words (`Unit` before `Unit Code`,
/// `Indicator` before `Indicator Category`), the first of those.
fn fewest_words(read: &[headers::Header], headers: &[String], role: Role) -> Option<usize> {
    (0..read.len())
        .filter(|&c| read[c].role == role)
        .min_by_key(|&c| (headers[c].split_whitespace().count(), c))
}

/// Rank of a form for a country column: ISO3 first, then a name, then a numeric code.
fn country_rank(f: Form) -> u8 {
    match f {
        Form::Iso3 => 0,
        Form::Name => 1,
        Form::Code => 2,
    }
}

impl LongColumns {
    fn of(headers: &[String], src: &Source) -> LongColumns {
        let read: Vec<headers::Header> = headers.iter().map(|h| headers::read(h)).collect();
        let best = |role: Role, rank: &dyn Fn(Form) -> u8| {
            read.iter()
                .enumerate()
                .filter(|(_, h)| h.role == role)
                .min_by_key(|(c, h)| (rank(h.form), *c))
                .map(|(c, h)| (c, h.form))
        };
        // a column of countries is the partner, unless another names the partner
        // (`Country` beside `Counterpart Country`, `Reporter` beside `Country`) or the
        // config does: then it is the reporter
        let (rep, par) = sides(
            best(Role::Reporter, &country_rank),
            best(Role::Partner, &country_rank),
            best(Role::Country, &country_rank),
            src,
            false,
        );
        // the chosen column first, then the others of its role by rank; a numeric code
        // only as the last resort where it is the only column (codes differ by publisher)
        let ranked = |chosen: Col| -> Vec<(usize, Form)> {
            let Some((c0, f0)) = chosen else {
                return Vec::new();
            };
            let role = read[c0].role;
            let mut v: Vec<(usize, Form)> = read
                .iter()
                .enumerate()
                .filter(|(c, h)| *c != c0 && h.role == role && h.form != Form::Code)
                .map(|(c, h)| (c, h.form))
                .collect();
            v.sort_by_key(|(c, f)| (country_rank(*f), *c));
            v.insert(0, (c0, f0));
            v
        };
        let (rep, par) = (ranked(rep), ranked(par));
        let flow = best(Role::Flow, &|f| match f {
            Form::Name => 0,
            Form::Iso3 => 1,
            Form::Code => 2,
        });
        let cmd = best(Role::Commodity, &|f| match f {
            Form::Code | Form::Iso3 => 0,
            Form::Name => 1,
        })
        .map(|(c, _)| c);
        let year = read.iter().position(|h| h.role == Role::Year);
        let period = read.iter().position(|h| h.role == Role::Period);
        let month = read.iter().position(|h| h.role == Role::Month);
        // `Unit` before `Unit Code`: the fewest words
        let unit = fewest_words(&read, headers, Role::Unit);
        // `Indicator` before `Indicator Category`: the fewest words name the series
        let indicator = fewest_words(&read, headers, Role::Indicator);
        let classification = fewest_words(&read, headers, Role::Classification);
        let all_values: Vec<usize> = (0..read.len())
            .filter(|&c| read[c].role == Role::Value)
            .collect();
        // several value columns: those that name a flow are each a flow's values;
        // else the first is the value and the others are set aside
        let with_flow: Vec<usize> = all_values
            .iter()
            .copied()
            .filter(|&c| read[c].flow.is_some())
            .collect();
        let chosen: Vec<usize> =
            if with_flow.len() >= 2 || (with_flow.len() == 1 && all_values.len() == 1) {
                with_flow
            } else {
                all_values.first().copied().into_iter().collect()
            };
        let values: Vec<ValueColumn> = chosen
            .iter()
            .map(|&c| ValueColumn {
                col: c,
                flow: read[c].flow.map(|f| f.as_str()),
                unit: value_header_unit(&headers[c]),
            })
            .collect();
        // one column a breakdown: its code, not its description or ISO twin (Comtrade's
        // `Customs Proc. Code` and `Customs`, `2nd Partner Code` and `2nd Partner ISO`);
        // the mode of supply (services) breaks nothing down that goods figures have
        let mut breakdowns: Vec<BreakdownColumn> = Vec::new();
        let mut kinds: Vec<&str> = Vec::new();
        let mut candidates: Vec<usize> = (0..read.len())
            .filter(|&c| matches!(read[c].role, Role::Partner2 | Role::Breakdown))
            .collect();
        candidates.sort_by_key(|&c| (read[c].form != Form::Code, c));
        for c in candidates {
            let kind = headers::breakdown_kind(&headers[c]);
            if kind == "supply" || kinds.contains(&kind) {
                continue;
            }
            kinds.push(kind);
            breakdowns.push(BreakdownColumn {
                col: c,
                header: headers[c].clone(),
            });
        }
        breakdowns.sort_by_key(|b| b.col);
        let roles = read
            .iter()
            .enumerate()
            .map(|(c, h)| {
                let taken = |x: Option<usize>| x == Some(c);
                let what = if taken(period) {
                    "period: year and month (key)".to_string()
                } else if taken(year) {
                    "year (key)".to_string()
                } else if taken(month) {
                    "month (key)".into()
                } else if rep.first().map(|x| x.0) == Some(c) {
                    "reporter (key)".into()
                } else if par.first().map(|x| x.0) == Some(c) {
                    "partner (key)".into()
                } else if rep.iter().chain(&par).any(|x| x.0 == c) {
                    "read where the chosen column is empty".into()
                } else if taken(classification) {
                    "classification: a commodity code of another than the HS is refused".into()
                } else if taken(indicator) {
                    "indicator: the flow of its row, if no column says it".into()
                } else if taken(flow.map(|x| x.0)) {
                    "flow (key)".into()
                } else if taken(cmd) {
                    "commodity (key)".into()
                } else if chosen.contains(&c) {
                    match h.flow {
                        Some(f) => format!("values: flow {}", f.as_str()),
                        None => "values".into(),
                    }
                } else if taken(unit) {
                    "unit of the values".into()
                } else if breakdowns.iter().any(|b| b.col == c) {
                    "breakdown: only its total rows are figures".into()
                } else if h.role.not_money() {
                    format!("ignored: {} is not money", h.role.as_str())
                } else if h.role == Role::Value {
                    "ignored: a value column beside the one read".into()
                } else if matches!(
                    h.role,
                    Role::Reporter | Role::Partner | Role::Flow | Role::Commodity
                ) {
                    format!(
                        "ignored: the {} is read from another column",
                        h.role.as_str()
                    )
                } else {
                    format!("ignored: {}", h.role.as_str())
                };
                format!("{what}; {} from {}", h.role.as_str(), h.why)
            })
            .collect();
        LongColumns {
            year,
            period,
            month,
            indicator,
            classification,
            rep,
            par,
            flow,
            cmd,
            values,
            unit,
            breakdowns,
            roles,
        }
    }
}

/// Reporter and partner columns from those that name them and a column of countries
/// that does not say which side it is: the reporter where another column or the config
/// names the partner, or where the rows are series of a country's trade (`Indicator
/// Name`: the World Bank's, the IMF's); else the partner.
type Col = Option<(usize, Form)>;
fn sides(rep: Col, par: Col, country: Col, src: &Source, series: bool) -> (Col, Col) {
    let country_is_reporter = src.reporter.is_none() && (src.partner.is_some() || series);
    match (rep, par, country) {
        (r, p, None) | (r @ Some(_), p @ Some(_), Some(_)) => (r, p),
        (None, Some(p), c) => (c, Some(p)),
        (Some(r), None, c) => (Some(r), c),
        (None, None, c) if country_is_reporter => (c, None),
        (None, None, c) => (None, c),
    }
}

/// Why a unit or indicator text says its values are not money (`Percent`, `Tonnes`,
/// `Exports of goods and services (% of GDP)`), if it does.
fn not_money(text: &str) -> Option<String> {
    let h = headers::read(text);
    h.role
        .not_money()
        .then(|| format!("{text:?} is a {} ({}), not money", h.role.as_str(), h.why))
}

/// [`not_money`] of a row's unit or indicator cell: a file has few distinct ones, so each
/// thread keeps the last answers (a header is read in microseconds, a row in less).
fn not_money_cell(text: &str) -> Option<String> {
    thread_local! {
        static SEEN: std::cell::RefCell<Vec<(Box<str>, Option<String>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if let Some((_, why)) = seen.iter().find(|(t, _)| **t == *text) {
            return why.clone();
        }
        let why = not_money(text);
        if seen.len() >= 64 {
            seen.remove(0);
        }
        seen.push((text.into(), why.clone()));
        why
    })
}

/// The month a header of a year and month names (`2024M2`, `2024-02`), if any.
fn month_in(h: &str) -> Option<&str> {
    split_period(h).1
}

/// Year and month of a period text: `2018`, `201805`, `2018-05`, `2018M05`, `2024M2`
/// (a month from 1 to 12; `2016.0` and `2018-19` are no year and month).
fn split_period(t: &str) -> (&str, Option<&str>) {
    let t = t.trim();
    let b = t.as_bytes();
    if b.len() >= 6 && b[..4].iter().all(u8::is_ascii_digit) {
        let rest = t[4..].trim_start_matches(['-', 'M', 'm', '/', '.']);
        let month = rest.parse::<u8>().ok().filter(|m| (1..=12).contains(m));
        if rest.len() <= 2 && rest.bytes().all(|c| c.is_ascii_digit()) && month.is_some() {
            return (&t[..4], Some(rest));
        }
    }
    (t, None)
}

/// Whether a classification code names the Harmonized System (`HS`, `H0` to `H6`, `HS17`).
fn is_hs(k: &str) -> bool {
    let b = k.trim().as_bytes();
    match b {
        [] => true,
        [h, d] if h.eq_ignore_ascii_case(&b'H') && d.is_ascii_digit() => true,
        [h, s, ..] => h.eq_ignore_ascii_case(&b'H') && s.eq_ignore_ascii_case(&b'S'),
        _ => false,
    }
}

/// A numeric flow code of UN Comtrade's legacy files: 1 import, 2 export, 3 re-export,
/// 4 re-import.
fn flow_of_code(t: &str) -> Option<&'static str> {
    Some(match t.trim() {
        "1" => "Import",
        "2" => "Export",
        "3" => "Re-Export",
        "4" => "Re-Import",
        _ => return None,
    })
}

/// A country cell as normalise is to read it: in a column of codes, a numeric code (UN
/// Comtrade's or M49) as the ISO3 code it stands for; else the text as written.
fn country_cell(t: &str, form: Form) -> &str {
    if form == Form::Code && t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Some(iso) = country_of_code(t) {
            return iso;
        }
    }
    t
}

/// A numeric country code (UN Comtrade's or M49) as the ISO3 code it stands for.
fn country_of_code(t: &str) -> Option<&'static str> {
    let n: u16 = t.trim().trim_end_matches(".0").parse().ok()?;
    match countries::from_comtrade_code(n)? {
        countries::Place::Country(c) => Some(c.iso3),
        countries::Place::Aggregate => None,
    }
}

/// Reads the rows of a long table one at a time: built from the header once, then fed
/// rows from a table or, for large CSV files, records streamed straight from the file.
pub struct LongReader {
    cols: LongColumns,
    title: String,
    title_p: Parties,
    table_ix: u32,
    col_offset: u32,
    /// Rows set aside as breakdowns, by breakdown column.
    set_aside: Vec<std::sync::atomic::AtomicUsize>,
    /// Rows not read, by reason (a unit or indicator that is not money).
    skipped: std::sync::Mutex<Vec<(String, usize)>>,
}

impl LongReader {
    /// `None` when the header names no value column.
    pub fn new(t: &Table, src: &Source, table_ix: u32, headers: &[String]) -> Option<LongReader> {
        let cols = LongColumns::of(headers, src);
        if cols.values.is_empty() {
            return None;
        }
        let title = title_text(t);
        let title_p = parties(
            src,
            &[],
            &src.aliases.find_in_text(&title),
            t.sheet.as_deref(),
        );
        let set_aside = cols.breakdowns.iter().map(|_| Default::default()).collect();
        Some(LongReader {
            cols,
            title,
            title_p,
            table_ix,
            col_offset: t.col_offset,
            set_aside,
            skipped: Default::default(),
        })
    }

    /// Counts a row not read, by its reason.
    fn skip(&self, why: String) {
        let mut v = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        match v.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => v.push((why, 1)),
        }
    }

    /// Appends the figures of one row, whose texts `get` gives by column.
    fn emit<'a>(
        &self,
        src: &Source,
        get: impl Fn(Option<usize>) -> Option<&'a str>,
        value: impl Fn(usize, &mut RawFigures) -> RawValue,
        pos: u32,
        out: &mut RawFigures,
    ) {
        let c = &self.cols;
        for (k, b) in c.breakdowns.iter().enumerate() {
            if !get(Some(b.col)).is_none_or(is_breakdown_total) {
                self.set_aside[k].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        }
        let country = |cols: &[(usize, Form)]| -> Option<&'a str> {
            cols.iter()
                .find_map(|&(i, form)| get(Some(i)).map(|t| country_cell(t, form)))
        };
        let indicator = get(c.indicator);
        if let Some(why) = get(c.unit).and_then(not_money_cell).or_else(|| {
            indicator
                .filter(|_| src.unit.is_none())
                .and_then(not_money_cell)
        }) {
            self.skip(why);
            return;
        }
        // a declared reporter or partner overrides the file; the row's own next; the title's last
        let reporter = src
            .reporter
            .as_deref()
            .or_else(|| country(&c.rep))
            .or_else(|| text(&self.title_p.reporter));
        let partner = src
            .partner
            .as_deref()
            .or_else(|| country(&c.par))
            .or_else(|| text(&self.title_p.partner));
        let row_flow = src.flow.map(|f| f.as_str()).or_else(|| {
            let (i, form) = c.flow?;
            let t = get(Some(i))?;
            if form == Form::Code {
                return flow_of_code(t).or(Some(t));
            }
            Some(t)
        });
        let row_flow = row_flow.or(indicator.filter(|i| parse_flow(i).is_some()));
        let (year, month) = match get(c.period) {
            Some(p) if p.len() >= 4 && p.as_bytes()[..4].iter().all(u8::is_ascii_digit) => {
                // a period of a year alone is annual: a month column beside it counts only
                // where it holds a month (Comtrade+ writes 52 there for a year)
                let (y, m) = split_period(p);
                let month_col = get(c.month)
                    .filter(|t| t.trim().parse::<u8>().is_ok_and(|m| (1..=12).contains(&m)));
                (Some(y), m.or(month_col))
            }
            _ => (get(c.year), get(c.month)),
        };
        // a code of another nomenclature than the HS (SITC, BEC) is not an HS code: it
        // goes on with its nomenclature named, for normalise to refuse unless the total
        let non_hs;
        let mut commodity = get(c.cmd);
        if let (Some(k), Some(code)) = (get(c.classification), commodity) {
            if !is_hs(k) && !crate::normalize::is_total_commodity(code) {
                non_hs = format!("{code} (a {k} code, not HS)");
                commodity = Some(&non_hs);
            }
        }
        for v in &c.values {
            let f = RawFigureRef {
                reporter,
                partner,
                flow: src.flow.map(|f| f.as_str()).or(v.flow).or(row_flow),
                year,
                month,
                commodity,
                unit_column: Some(get(c.unit).unwrap_or(&v.unit)),
                unit_title: Some(&self.title),
                unit_config: src.unit.as_deref(),
                decimal: src.decimal,
            };
            let value = value(v.col, out);
            // a row of several flows' columns gives the figures it holds
            if c.values.len() > 1 && matches!(value, RawValue::Empty) {
                continue;
            }
            out.push(
                f,
                value,
                Place {
                    table: self.table_ix,
                    row: pos,
                    col: self.col_offset + v.col as u32,
                },
            );
        }
    }

    /// A row of a table.
    pub fn push_row(&self, src: &Source, row: &Row, out: &mut RawFigures) {
        let texts: Vec<String> = row.cells.iter().map(Cell::text).collect();
        self.emit(
            src,
            |c| {
                c.and_then(|c| texts.get(c))
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
            },
            |c, out| value_of(row.cells.get(c).unwrap_or(&Cell::Empty), out),
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
        self.emit(
            src,
            get,
            |c, out| match get(Some(c)) {
                Some(v) => out.text_value(v),
                None => RawValue::Empty,
            },
            pos,
            out,
        );
    }

    /// How each column was read, for `inspect`.
    pub fn roles(&self) -> &[String] {
        &self.cols.roles
    }
}

fn read_long(
    t: &Table,
    src: &Source,
    table_ix: u32,
    headers: &[String],
    out: &mut RawFigures,
    reading: &mut TableReading,
) {
    let cols = LongColumns::of(headers, src);
    for (c, h) in headers.iter().enumerate() {
        reading.columns.push(ColumnReading {
            col: c as u32,
            header: h.clone(),
            role: cols.roles[c].clone(),
        });
    }
    let Some(reader) = LongReader::new(t, src, table_ix, headers) else {
        return;
    };
    for row in &t.rows {
        reader.push_row(src, row, out);
    }
    reading.add_set_aside(&reader);
}

/// True when a header makes a long table (one row per figure): a value column, a year
/// (or period) column, and a column of partners, reporters or flows.
pub fn is_long(headers: &[String]) -> bool {
    let roles: Vec<Role> = headers.iter().map(|h| headers::read(h).role).collect();
    let has = |r: Role| roles.contains(&r);
    has(Role::Value)
        && (has(Role::Year) || has(Role::Period))
        && (has(Role::Partner) || has(Role::Country) || has(Role::Flow) || has(Role::Reporter))
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
