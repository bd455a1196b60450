//! Tables in HTML reports and saved web pages: every `<table>`, its `<caption>` (or the
//! nearest heading before it) as title, `<th>`/`<td>` cells with `colspan` and `rowspan`
//! spread over the cells they cover, and the table's rows handed to the grid table finder.

use scraper::{ElementRef, Html, Selector};

use super::{grid, Cell, Row, Table};
use crate::model::RefStyle;

fn text_of(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Puts the cells a `rowspan` above still covers at the end of `cells`.
fn carry_down(cells: &mut Vec<Cell>, carried: &mut [(u32, Cell)]) {
    while let Some((left, cell)) = carried.get_mut(cells.len()).filter(|(left, _)| *left > 0) {
        *left -= 1;
        cells.push(cell.clone());
    }
}

/// The tables of an HTML document.
pub fn tables(text: &str) -> Vec<Table> {
    let doc = Html::parse_document(text);
    let sel = |s: &str| Selector::parse(s).expect("a valid selector");
    let (table_sel, tr_sel, cell_sel, caption_sel) =
        (sel("table"), sel("tr"), sel("th, td"), sel("caption"));
    let heading_sel = sel("h1, h2, h3, h4, h5, h6, p");
    let mut out = Vec::new();
    for (k, t) in doc.select(&table_sel).enumerate() {
        let mut rows = Vec::new();
        if let Some(c) = t.select(&caption_sel).next() {
            rows.push(Row {
                pos: 0,
                cells: vec![Cell::Text(text_of(c))],
            });
        } else {
            // the nearest heading or paragraph before the table
            let before: Vec<String> = doc
                .select(&heading_sel)
                .filter(|h| h.id() < t.id())
                .map(text_of)
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(h) = before.last() {
                rows.push(Row {
                    pos: 0,
                    cells: vec![Cell::Text(h.clone())],
                });
            }
        }
        // rows of nested tables belong to those tables
        // cells a `rowspan` above carries down: column -> (rows left, the cell)
        let mut carried: Vec<(u32, Cell)> = Vec::new();
        for (i, tr) in t
            .select(&tr_sel)
            .filter(|tr| {
                tr.ancestors()
                    .filter_map(ElementRef::wrap)
                    .find(|a| a.value().name() == "table")
                    == Some(t)
            })
            .enumerate()
        {
            let mut cells = Vec::new();
            for c in tr.select(&cell_sel) {
                carry_down(&mut cells, &mut carried);
                let span = |name: &str| {
                    c.value()
                        .attr(name)
                        .and_then(|s| s.trim().parse::<u32>().ok())
                        .unwrap_or(1)
                        .clamp(1, 64)
                };
                let txt = text_of(c);
                let cell = if txt.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(txt)
                };
                for _ in 0..span("colspan") {
                    let col = cells.len();
                    if carried.len() <= col {
                        carried.resize(col + 1, (0, Cell::Empty));
                    }
                    carried[col] = (span("rowspan") - 1, cell.clone());
                    cells.push(cell.clone());
                }
            }
            carry_down(&mut cells, &mut carried);
            rows.push(Row {
                pos: i as u32 + 1,
                cells,
            });
        }
        let label = format!("table {}", k + 1);
        out.extend(grid::tables(&rows, &label, None, RefStyle::Record));
    }
    out
}
