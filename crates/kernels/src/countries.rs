//! Country names in many languages to ISO 3166-1 alpha-3 codes, the World (`WLD`, a
//! partner like any country), and aggregates (regions, Total, Toplam, Итого) told apart
//! from countries.
//!
//! Names are compared by a folded key: Turkish `İ`/`ı` mapped to `i` first (a naive
//! lower-casing turns `İ` into `i̇`), then case folding, accents removed (NFKD), apostrophes
//! unified and spaces collapsed. The table lives in `countries.tsv` beside this file.
//! Pure functions: nothing here reads files.

use std::collections::HashMap;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

const TABLE: &str = include_str!("countries.tsv");

/// The names of the published country lists (the World Bank's, UN Comtrade's, UN M49,
/// ISO 3166), each with its ISO3 code, `WLD` or `AGGREGATE`: generated from the lists in
/// `lists/` by `scripts/country_lists.py`. `countries.tsv` wins where both name a key.
const PUBLISHED: &str = include_str!("published_names.tsv");

/// UN Comtrade's area codes (its own where they differ from M49) to ISO3, `WLD` or
/// `AGGREGATE`, from the same script.
const COMTRADE_CODES: &str = include_str!("comtrade_codes.tsv");

/// Names of sums over partners, not countries (folded at lookup).
const AGGREGATES: &[&str] = &[
    "total",
    "totals",
    "grand total",
    "all countries",
    "toplam",
    "genel toplam",
    "итого",
    "всего",
    "barcha",
    "jami",
    "жами",
    "жалпы",
    "cemi",
    "areas, nes",
    "unspecified",
    "other",
    "others",
    "other countries",
    "diger",
    "diger ulkeler",
    "прочие",
    "eu",
    "eu27",
    "eu-27",
    "eu28",
    "european union",
    "avrupa birligi",
    "ес",
    "европейский союз",
    "asia",
    "europe",
    "africa",
    "america",
    "oceania",
    "cis",
    "снг",
    "bdt",
    "turkic states",
    "organization of turkic states",
    "türk devletleri teşkilatı",
];

/// A country: its ISO3 code and English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub iso3: &'static str,
    pub name: &'static str,
}

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Country(Country),
    Aggregate,
}

struct Lexicon {
    /// Folded names (not codes) to places.
    by_key: HashMap<String, Place>,
    /// Folded ISO3 codes: whole-cell lookups only, never inside free text (`AND`, `ARE`).
    codes: HashMap<String, Country>,
    /// (key, iso3) for suggestions.
    keys: Vec<(String, &'static str)>,
    max_words: usize,
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        let mut by_key = HashMap::new();
        let mut codes = HashMap::new();
        let mut keys = Vec::new();
        let mut max_words = 1;
        for line in TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut parts = line.split('\t');
            let iso3 = parts.next().unwrap_or_default();
            let names: Vec<&'static str> = parts.collect();
            let c = Country {
                iso3,
                name: names.first().copied().unwrap_or(iso3),
            };
            codes.insert(name_key(iso3), c);
            for n in names.iter().copied() {
                let k = name_key(n);
                max_words = max_words.max(k.split(' ').count());
                keys.push((k.clone(), iso3));
                by_key.insert(k, Place::Country(c));
            }
        }
        for a in AGGREGATES {
            by_key.insert(name_key(a), Place::Aggregate);
        }
        for line in PUBLISHED.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split('\t');
            let (Some(target), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let place = match target {
                "AGGREGATE" => Place::Aggregate,
                iso => match codes.get(&name_key(iso)) {
                    Some(c) => Place::Country(*c),
                    None => continue,
                },
            };
            let k = name_key(name);
            if let std::collections::hash_map::Entry::Vacant(e) = by_key.entry(k) {
                max_words = max_words.max(e.key().split(' ').count());
                if let Place::Country(c) = place {
                    keys.push((e.key().clone(), c.iso3));
                }
                e.insert(place);
            }
        }
        Lexicon {
            by_key,
            codes,
            keys,
            max_words,
        }
    })
}

/// The folded key of a name: `TÜRKİYE` and ` türkiye ` give `turkiye`.
pub fn name_key(raw: &str) -> String {
    // printable ASCII without spaces or a backtick folds to its lower case: nothing to
    // trim, decompose or turn into an apostrophe
    if raw.bytes().all(|b| b.is_ascii_graphic() && b != b'`') {
        return raw.to_ascii_lowercase();
    }
    name_key_general(raw)
}

fn name_key_general(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        match c {
            'İ' | 'I' | 'ı' | 'i' => s.push('i'),
            '\u{2019}' | '\u{2018}' | '\u{02BB}' | '\u{02BC}' | '`' | '\u{00B4}' => s.push('\''),
            c => s.extend(c.to_lowercase()),
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
    {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if out.chars().any(is_cyrillic) && out.chars().any(|c| c.is_ascii_alphabetic()) {
        return cyrillic_lookalikes(&out);
    }
    out
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// A word of Cyrillic letters with Latin look-alikes typed among them (`Kитай`, `Росcия`,
/// as keyed in some national tables) spelled in Cyrillic throughout: the Latin `a`, `c`,
/// `e`, `o`, `p`, `x`, `y`, `k`, `m`, `t`, `h`, `b` of a word that holds a Cyrillic letter
/// are its Cyrillic twins.
fn cyrillic_lookalikes(key: &str) -> String {
    key.split(' ')
        .map(|w| {
            if !w.chars().any(is_cyrillic) {
                return w.to_string();
            }
            w.chars()
                .map(|c| match c {
                    'a' => 'а',
                    'c' => 'с',
                    'e' => 'е',
                    'o' => 'о',
                    'p' => 'р',
                    'x' => 'х',
                    'y' => 'у',
                    'k' => 'к',
                    'm' => 'м',
                    't' => 'т',
                    'h' => 'н',
                    'b' => 'в',
                    'i' => 'і',
                    c => c,
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Extra names for countries and aggregates (`[normalize] aliases`), by folded key.
#[derive(Debug, Clone, Default)]
pub struct Aliases(pub HashMap<String, Place>);

impl Aliases {
    /// Looks a whole name up in the aliases, then in the built-in table.
    pub fn lookup(&self, name: &str) -> Option<Place> {
        if !self.0.is_empty() {
            if let Some(p) = self.0.get(&name_key(name)) {
                return Some(*p);
            }
        }
        lookup(name)
    }

    /// [`find_in_text`] with the aliases as well.
    pub fn find_in_text(&self, text: &str) -> Vec<Mention> {
        find_with(text, &self.0)
    }
}

/// Looks a whole name up: a country, an aggregate, or nothing.
pub fn lookup(name: &str) -> Option<Place> {
    let l = lexicon();
    let k = name_key(name);
    if let Some(c) = l.codes.get(&k) {
        return Some(Place::Country(*c));
    }
    l.by_key.get(&k).copied().or_else(|| {
        // "Kazakhstan (Republic of)" and "Türkiye'nin" style suffixes
        let trimmed = k.split(['(', '\'']).next().unwrap_or("").trim();
        if trimmed != k && !trimmed.is_empty() {
            l.by_key.get(trimmed).copied()
        } else {
            None
        }
    })
}

/// Looks up a country by name or code; aggregates and unknowns give `None`.
pub fn country(name: &str) -> Option<Country> {
    match lookup(name) {
        Some(Place::Country(c)) => Some(c),
        _ => None,
    }
}

/// Up to three known names closest to `name`, for an `unknown_country` message.
pub fn suggestions(name: &str) -> Vec<String> {
    let k = name_key(name);
    let mut scored: Vec<(f64, &str, &str)> = lexicon()
        .keys
        .iter()
        .filter(|(key, _)| key.len() > 3)
        .map(|(key, iso)| (strsim::jaro_winkler(&k, key), key.as_str(), *iso))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = Vec::new();
    for (score, key, iso) in scored {
        if out.len() == 3 || score < 0.75 {
            break;
        }
        let s = format!("{key} ({iso})");
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

const M49: &str = include_str!("m49.tsv");

/// Numeric codes by ISO3: (M49, UN Comtrade's where it differs).
fn numeric_codes() -> &'static HashMap<&'static str, (u16, Option<u16>)> {
    static N: OnceLock<HashMap<&'static str, (u16, Option<u16>)>> = OnceLock::new();
    N.get_or_init(|| {
        M49.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut p = l.split('\t');
                let iso = p.next()?;
                let m49 = p.next()?.trim().parse().ok()?;
                let ct = p.next().and_then(|c| c.trim().parse().ok());
                Some((iso, (m49, ct)))
            })
            .collect()
    })
}

/// The UN M49 (ISO 3166-1 numeric) code of a country.
pub fn m49(iso3: &str) -> Option<u16> {
    numeric_codes().get(iso3).map(|c| c.0)
}

/// The code UN Comtrade uses for a country: its own where it differs from M49 (the United
/// States are 842, France 251, India 699, Switzerland 757, ...), else M49.
pub fn comtrade_code(iso3: &str) -> Option<u16> {
    numeric_codes().get(iso3).map(|c| c.1.unwrap_or(c.0))
}

/// UN Comtrade's area codes, from its published lists.
fn comtrade_areas() -> &'static HashMap<u16, Place> {
    static C: OnceLock<HashMap<u16, Place>> = OnceLock::new();
    C.get_or_init(|| {
        COMTRADE_CODES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut p = l.split('\t');
                let code: u16 = p.next()?.trim().parse().ok()?;
                let place = match p.next()? {
                    "AGGREGATE" => Place::Aggregate,
                    iso => Place::Country(country(iso)?),
                };
                Some((code, place))
            })
            .collect()
    })
}

/// The country of a UN Comtrade or M49 numeric code; 0 is the World (`WLD`). Comtrade's
/// own codes first (its lists), then M49.
pub fn from_comtrade_code(code: u16) -> Option<Place> {
    if code == 0 {
        return country("WLD").map(Place::Country);
    }
    if let Some(p) = comtrade_areas().get(&code) {
        return Some(*p);
    }
    let iso = numeric_codes()
        .iter()
        .find(|(_, c)| c.1 == Some(code) || (c.0 == code && c.1.is_none()))
        .map(|(i, _)| *i)?;
    country(iso).map(Place::Country)
}

/// A country named inside a longer text, with the words that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub country: Country,
    /// The words as written in the text.
    pub text: String,
    /// Index of the first word.
    pub word: usize,
    /// The folded word before it, if any (`экспорт` in `Экспорт Казахстана`).
    pub before: String,
}

/// Every country named in a text such as `TURKEY'S EXPORT TO AZERBAIJAN (Million dollars)`
/// or `Table 2: TURKEY – KAZAKHSTAN TRADE RELATIONSHIP`, longest names first, in order.
pub fn find_in_text(text: &str) -> Vec<Mention> {
    find_with(text, &HashMap::new())
}

fn find_with(text: &str, extra: &HashMap<String, Place>) -> Vec<Mention> {
    let l = lexicon();
    let words: Vec<&str> = text
        .split(|c: char| {
            c.is_whitespace()
                || matches!(c, '–' | '—' | '-' | ':' | '(' | ')' | ',' | '/' | '|' | ';')
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut found = None;
        for n in (1..=l.max_words.max(6).min(words.len() - i)).rev() {
            let phrase = words[i..i + n].join(" ");
            let mut key = name_key(&phrase);
            // possessives and case suffixes after an apostrophe: TURKEY'S, Türkiye'nin
            if let Some(p) = key.find('\'') {
                if key[p..].contains(' ') {
                    continue;
                }
                key.truncate(p);
            }
            if key.len() < 3 {
                continue;
            }
            // "ABD Doları" is the US dollar, not a mention of the United States
            if key == "abd"
                && words
                    .get(i + 1)
                    .is_some_and(|w| name_key(w).starts_with("dolar"))
            {
                continue;
            }
            if let Some(Place::Country(c)) = extra.get(&key).or_else(|| l.by_key.get(&key)) {
                found = Some((
                    n,
                    Mention {
                        country: *c,
                        text: phrase,
                        word: i,
                        before: i
                            .checked_sub(1)
                            .map(|b| name_key(words[b]))
                            .unwrap_or_default(),
                    },
                ));
                break;
            }
        }
        match found {
            Some((n, m)) => {
                out.push(m);
                i += n;
            }
            None => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn every_code_has_an_index_of_two_bytes() {
        // the figures hold a country as its index among the codes met, in a u16: every
        // code a name or a Comtrade number resolves to comes from these two tables
        let lines = |t: &str| t.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(lines(TABLE) + lines(M49) < usize::from(u16::MAX));
    }

    #[test]
    fn ascii_names_fold_as_the_general_folding() {
        // every printable ASCII byte, alone and inside words, and words of mixed case
        let mut texts: Vec<String> = (0u8..128).map(|b| format!("A{}z", b as char)).collect();
        texts.extend((0u8..128).map(|b| (b as char).to_string()));
        texts.extend(
            [
                "Kazakhstan",
                "TURKEY",
                "Iran",
                "th",
                "K",
                "USD'000",
                "a.b-c",
                "Côte",
                "x y",
                "",
            ]
            .map(String::from),
        );
        for t in &texts {
            assert_eq!(name_key(t), name_key_general(t), "{t:?}");
        }
    }

    #[rstest]
    #[case("Turkey", "TUR")]
    #[case("TÜRKİYE", "TUR")]
    #[case("türkiye", "TUR")]
    #[case("Republic of Türkiye", "TUR")]
    #[case("Турция", "TUR")]
    #[case("Турцией", "TUR")]
    #[case("Kırgızistan", "KGZ")]
    #[case("KIRGIZISTAN", "KGZ")]
    #[case("Kyrgyz Republic", "KGZ")]
    #[case("Кыргызстан", "KGZ")]
    #[case("Özbekistan", "UZB")]
    #[case("O‘zbekiston", "UZB")]
    #[case("Azərbaycan", "AZE")]
    #[case("Қазақстан", "KAZ")]
    #[case("Türkmenistan", "TKM")]
    #[case("kaz", "KAZ")]
    #[case("Kитай", "CHN")]
    #[case("Pоссия", "RUS")]
    #[case("Korea, Rep.", "KOR")]
    #[case("Egypt, Arab Rep.", "EGY")]
    #[case("Iran, Islamic Rep.", "IRN")]
    #[case("Hong Kong, China", "HKG")]
    #[case("Lao PDR", "LAO")]
    #[case("Bahamas, The", "BHS")]
    #[case("Congo, Dem. Rep.", "COD")]
    #[case("Venezuela, RB", "VEN")]
    #[case("United Rep. of Tanzania", "TZA")]
    #[case("Mayotte", "MYT")]
    #[case("Saint Barthélemy", "BLM")]
    #[case("Slovak Republic", "SVK")]
    #[case("Fmr Yugoslavia", "YUG")]
    fn names_fold_to_iso3(#[case] name: &str, #[case] iso: &str) {
        assert_eq!(country(name).map(|c| c.iso3), Some(iso), "{name}");
    }

    #[rstest]
    #[case("World")]
    #[case("WLD")]
    #[case("W00")]
    #[case("Dünya")]
    #[case("Мир")]
    fn the_world_is_a_partner(#[case] name: &str) {
        assert_eq!(country(name).map(|c| c.iso3), Some("WLD"), "{name}");
        assert_eq!(
            from_comtrade_code(0),
            Some(Place::Country(country("WLD").unwrap()))
        );
    }

    #[rstest]
    #[case("Genel Toplam")]
    #[case("Toplam")]
    #[case("Итого")]
    #[case("Areas, nes")]
    #[case("TOTAL")]
    fn aggregates_are_not_countries(#[case] name: &str) {
        assert_eq!(lookup(name), Some(Place::Aggregate));
    }

    #[test]
    fn finds_partner_in_header() {
        let m = find_in_text("TURKEY'S EXPORT TO AZERBAIJAN (Million dollars)");
        let isos: Vec<_> = m.iter().map(|m| m.country.iso3).collect();
        assert_eq!(isos, ["TUR", "AZE"]);
        let m = find_in_text("Table 4: TURKEY – KYRGYZSTAN TRADE RELATIONSHIP");
        let isos: Vec<_> = m.iter().map(|m| m.country.iso3).collect();
        assert_eq!(isos, ["TUR", "KGZ"]);
    }

    #[test]
    fn numeric_codes_both_ways() {
        assert_eq!(m49("TUR"), Some(792));
        assert_eq!(comtrade_code("TUR"), Some(792));
        assert_eq!(m49("USA"), Some(840));
        assert_eq!(comtrade_code("USA"), Some(842));
        assert_eq!(
            from_comtrade_code(842).and_then(|p| if let Place::Country(c) = p {
                Some(c.iso3)
            } else {
                None
            }),
            Some("USA")
        );
        assert_eq!(
            from_comtrade_code(0),
            Some(Place::Country(country("WLD").unwrap()))
        );
        // Comtrade's own area codes: 490 "Other Asia, nes" is an aggregate
        assert_eq!(from_comtrade_code(490), Some(Place::Aggregate));
        assert_eq!(
            from_comtrade_code(398).map(|p| matches!(p, Place::Country(c) if c.iso3 == "KAZ")),
            Some(true)
        );
    }

    #[test]
    fn unknown_name_gets_suggestions() {
        let s = suggestions("Kazakstan");
        assert!(s.iter().any(|s| s.contains("KAZ")), "{s:?}");
    }
}
