//! Tables in Markdown reports: pipe tables with their caption above (`Table 2: ...`) and
//! footer below (`Source: ...`). A table whose header is empty and whose width matches
//! the table before it continues that table after a page break.

use super::{Cell, Row, Table};
use crate::model::RefStyle;

/// Footer words that end a table and are kept as its notes.
pub const FOOTER_PREFIXES: &[&str] = &[
    "source",
    "sources",
    "note",
    "notes",
    "kaynak",
    "not:",
    "источник",
    "примечание",
    "manba",
    "дереккөз",
];

/// True when a line is a table footer such as `Source: Ministry of Trade`.
pub fn is_footer(line: &str) -> bool {
    let l = line.trim().trim_start_matches(['*', '_']).to_lowercase();
    FOOTER_PREFIXES
        .iter()
        .any(|p| l.starts_with(p) && l[p.len()..].trim_start().starts_with([':', '.', ' ']))
        || FOOTER_PREFIXES
            .iter()
            .any(|p| l.starts_with(p) && l.len() == p.len())
}

fn is_separator(cells: &[String]) -> bool {
    cells.iter().any(|c| c.contains('-'))
        && cells
            .iter()
            .all(|c| c.is_empty() || c.trim_matches(':').chars().all(|x| x == '-'))
}

fn split_row(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(|c| c.trim().replace("\\|", "|")).collect()
}

fn clean_caption(line: &str) -> String {
    line.trim()
        .trim_start_matches('#')
        .trim()
        .trim_matches(['*', '_'])
        .trim()
        .to_string()
}

/// Every table in a Markdown text, page-break continuations merged.
pub fn tables(text: &str) -> Vec<Table> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Table> = Vec::new();
    let mut i = 0;
    let mut last_end = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with('|') {
            i += 1;
            continue;
        }
        let start = i;
        let mut rows: Vec<(u32, Vec<String>)> = Vec::new();
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            let cells = split_row(lines[i]);
            if !is_separator(&cells) {
                rows.push((i as u32, cells));
            }
            i += 1;
        }
        // the footer: the first non-empty line after the table, if it is one
        let notes: Vec<String> = lines[i..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .filter(|l| is_footer(l))
            .map(|l| vec![clean_caption(l)])
            .unwrap_or_default();
        if rows.is_empty() {
            continue;
        }
        let (hpos, header) = rows.remove(0);
        let header_empty = header.iter().all(String::is_empty);
        if header_empty {
            if let Some(prev) = out
                .last_mut()
                .filter(|p| p.header.cells.len() == header.len())
            {
                prev.continued_at.push(rows.first().map_or(hpos, |r| r.0));
                prev.rows.extend(rows.into_iter().map(|(pos, cells)| Row {
                    pos,
                    cells: cells.into_iter().map(text_cell).collect(),
                }));
                prev.notes.extend(notes);
                last_end = i;
                continue;
            }
        }
        // the caption: nearest non-empty line above, within the text since the last table
        let caption = lines[last_end..start]
            .iter()
            .rev()
            .take(4)
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|'))
            .map(|l| clean_caption(l));
        let label = caption
            .as_deref()
            .and_then(|c| {
                c.split(':')
                    .next()
                    .filter(|p| p.len() < c.len() && p.len() <= 20)
            })
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| format!("table {}", out.len() + 1));
        out.push(Table {
            label,
            style: RefStyle::Line,
            sheet: None,
            titles: caption.into_iter().collect(),
            header: Row {
                pos: hpos,
                cells: header.into_iter().map(text_cell).collect(),
            },
            rows: rows
                .into_iter()
                .map(|(pos, cells)| Row {
                    pos,
                    cells: cells.into_iter().map(text_cell).collect(),
                })
                .collect(),
            notes,
            col_offset: 0,
            continued_at: Vec::new(),
        });
        last_end = i;
    }
    out
}

fn text_cell(s: String) -> Cell {
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPLIT: &str = "Table 4: A – B\n\n| YEARS | EXPORT (Million dollars) |\n|---|---|\n| 2016 | 309 |\n\nfootnote text\n\n|   |   |\n|---|---|\n| 2020 | 417.54 |\n|---|---|\n\nSource: somewhere\n";

    #[test]
    fn page_break_continuation_is_merged() {
        let t = tables(SPLIT);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].label, "Table 4");
        assert_eq!(t[0].rows.len(), 2);
        assert_eq!(t[0].rows[1].cells[1], Cell::Text("417.54".into()));
        assert_eq!(t[0].rows[1].pos, 10);
        assert_eq!(t[0].notes, ["Source: somewhere"]);
        assert_eq!(t[0].continued_at, [10]);
    }

    #[test]
    fn footers() {
        assert!(is_footer("Source: Republic of Turkey Ministry of Trade"));
        assert!(is_footer("Kaynak: TÜİK"));
        assert!(is_footer("Источник: Росстат"));
        assert!(!is_footer("Sourced figures follow"));
    }
}
