//! Finds tables in a grid of cells (a sheet, a CSV file): title rows above, a header row,
//! data rows, footer rows (`Source:`), several tables on one grid, and a table continued
//! after blank rows (a page break) when the rows that follow carry on its years.

use super::headers::{self, Role};
use super::layout::LongRole;
use super::markdown::is_footer;
use super::{Cell, Row, Table};
use crate::model::RefStyle;
use crate::normalize::countries;
use crate::normalize::{is_year_label, parse_year};

fn non_empty(r: &Row) -> usize {
    r.cells.iter().filter(|c| !c.is_empty()).count()
}

fn first_text(r: &Row) -> Option<String> {
    r.cells.iter().find(|c| !c.is_empty()).map(Cell::text)
}

fn is_note(r: &Row) -> bool {
    non_empty(r) == 1 && first_text(r).is_some_and(|t| is_footer(&t))
}

fn starts_with_year(r: &Row) -> bool {
    first_text(r).is_some_and(|t| parse_year(&t).is_some())
}

/// A row that is a header by itself: a year label, years across, or column names of a
/// long table (`partner`, `flow`, `value`).
fn is_strong_header(r: &Row) -> bool {
    let texts: Vec<String> = r.cells.iter().map(Cell::text).collect();
    texts.iter().any(|t| is_year_label(t))
        || texts.iter().filter(|t| parse_year(t).is_some()).count() >= 2
        || texts.iter().filter(|t| known_name(t).is_some()).count() >= 2
        || key_roles(&texts) >= 3
}

/// Whether a text is one of the exact column names of a long table (`partner`, `flow`,
/// `value`, `refYear`), as a header row holds them and a data row does not.
fn known_name(header: &str) -> Option<LongRole> {
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

/// How many distinct key roles (who, whom, when, what flow, what goods) the texts name by
/// their words (`Reporter ISO`, `Trade Flow`, `Period`): three make a header.
fn key_roles(texts: &[String]) -> usize {
    let mut seen: Vec<Role> = Vec::new();
    for t in texts {
        let r = headers::read(t).role;
        let r = if r == Role::Period { Role::Year } else { r };
        if matches!(
            r,
            Role::Reporter
                | Role::Partner
                | Role::Flow
                | Role::Year
                | Role::Month
                | Role::Commodity
                | Role::Indicator
        ) && !seen.contains(&r)
        {
            seen.push(r);
        }
    }
    seen.len()
}

fn is_header(rows: &[Row], i: usize) -> bool {
    let r = &rows[i];
    if non_empty(r) < 2 {
        return false;
    }
    // a row led by a year in its first cell is data; `,2018,2019` (an empty corner) is not
    let year_first = r
        .cells
        .first()
        .is_some_and(|c| parse_year(&c.text()).is_some());
    if is_strong_header(r) && !year_first {
        return true;
    }
    if starts_with_year(r) {
        return false;
    }
    // a few cells of metadata over a wide header a few rows down (`Data Source, World
    // Development Indicators`, `Last Updated Date, 2024-06-28`): titles, not a header
    let wide_header_below = rows[i + 1..]
        .iter()
        .filter(|n| non_empty(n) > 0)
        .take(6)
        .any(|n| is_strong_header(n) && non_empty(n) >= 2 * non_empty(r).max(2));
    if non_empty(r) <= 3 && wide_header_below {
        return false;
    }
    // else the next non-empty row holds data, and is not a header itself
    rows[i + 1..]
        .iter()
        .find(|r| non_empty(r) > 0)
        .is_some_and(|n| non_empty(n) >= 2 && !is_note(n) && !is_strong_header(n))
}

/// Tables in a grid. `rows` carry their positions; `label` names the grid in `source_ref`.
pub fn tables(rows: &[Row], label: &str, sheet: Option<&str>, style: RefStyle) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    let mut titles: Vec<String> = Vec::new();
    // the last text-only row, which may turn out to be a group header (`Exports` over years)
    let mut group: Option<(Row, Option<usize>)> = None;
    let mut i = 0;
    while i < rows.len() {
        let r = &rows[i];
        if non_empty(r) == 0 {
            i += 1;
            continue;
        }
        if is_note(r) {
            if let Some(t) = out.last_mut() {
                t.notes.push(first_text(r).unwrap_or_default());
            }
            i += 1;
            continue;
        }
        if !is_header(rows, i) {
            // a title: text only (a CSV may have split an unquoted title at its commas)
            // a label spread over several cells (a merged cell, an HTML colspan) counts once
            let mut texts: Vec<String> = r
                .cells
                .iter()
                .filter(|c| !c.is_empty())
                .map(Cell::text)
                .collect();
            texts.dedup();
            let text_only = r.cells.iter().all(|c| !matches!(c, Cell::Number(_)))
                && texts.iter().all(|t| parse_year(t).is_none());
            if text_only {
                // a title (three parts at most), or labels over the header's columns
                let title = texts.len() <= 3;
                if title {
                    titles.push(texts.join(", "));
                    if titles.len() > 3 {
                        titles.remove(0);
                    }
                }
                group = Some((r.clone(), title.then_some(titles.len())));
            }
            i += 1;
            continue;
        }
        let mut header = r.clone();
        if let Some((g, at)) = group.take() {
            // a row right above the header with labels over its columns (not its first):
            // spread each label over the blank cells after it, and prefix the header cells
            let over_columns = g
                .cells
                .iter()
                .enumerate()
                .filter(|(c, x)| *c > 0 && !x.is_empty())
                .count();
            if g.pos + 1 == header.pos && over_columns >= 2 && at.is_none_or(|n| n == titles.len())
            {
                if at.is_some() {
                    titles.pop();
                }
                // a label written once is carried over the blank cells after it; a label
                // already spread (merged cells, colspan) says itself which columns it covers
                let text_at = |c: usize| g.cells.get(c).filter(|x| !x.is_empty()).map(Cell::text);
                let mut label = String::new();
                let mut spread = false;
                for (c, cell) in header.cells.iter_mut().enumerate() {
                    match text_at(c) {
                        Some(t) => {
                            spread = c > 0 && text_at(c - 1).as_ref() == Some(&t)
                                || text_at(c + 1).as_ref() == Some(&t);
                            label = t;
                        }
                        None if c == 0 || spread => label.clear(),
                        None => {}
                    }
                    let own = cell.text();
                    if !label.is_empty() && c > 0 && own != label {
                        *cell = Cell::Text(format!("{label} {own}").trim().to_string());
                    }
                }
            }
        }
        let mut data = Vec::new();
        let mut continued = Vec::new();
        i += 1;
        while i < rows.len() {
            let r = &rows[i];
            if non_empty(r) == 0 {
                // a page break: blank rows, then more years under the same columns
                let next = rows[i..]
                    .iter()
                    .position(|r| non_empty(r) > 0)
                    .map(|k| i + k);
                match next {
                    Some(n)
                        if starts_with_year(&rows[n])
                            && !is_header(rows, n)
                            && !data.is_empty() =>
                    {
                        continued.push(rows[n].pos);
                        i = n;
                        continue;
                    }
                    _ => break,
                }
            }
            // a footer, or a lone text (the next table's title) ends the table
            if is_note(r)
                || (non_empty(r) == 1
                    && !starts_with_year(r)
                    && matches!(r.cells.iter().find(|c| !c.is_empty()), Some(Cell::Text(_))))
            {
                break;
            }
            data.push(r.clone());
            i += 1;
        }
        out.push(Table {
            label: label.to_string(),
            style,
            sheet: sheet.map(str::to_string),
            titles: std::mem::take(&mut titles),
            header,
            rows: data,
            notes: Vec::new(),
            col_offset: 0,
            continued_at: continued,
        });
    }
    out
}
