//! Units of money as people write them: scale words (thousand, milyon, млрд, mln, '000)
//! and currency words (USD, US$, dollars, ABD Doları, долл. США), in English, Turkish,
//! Russian and the languages of the Turkic states.
//!
//! A unit is a power of ten and, where written, a currency. Pure functions over text.

use crate::countries::name_key;

/// A unit of money: a power of ten of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// 0 for dollars, 3 for thousands, 6 for millions, 9 for billions, 12 for trillions.
    pub exp: u32,
    /// Whether a currency word was written (and which: only US dollars are known).
    pub currency: Option<Currency>,
}

/// Currencies the tool knows. Only US dollars are accepted as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    Usd,
    /// A currency other than the dollar (`TL`, `EUR`, `руб`), by its ISO 4217 code:
    /// values in it are refused by name.
    Other(&'static str),
}

impl Unit {
    /// `USD million`, `USD`, `× 1000`.
    pub fn describe(&self) -> String {
        let scale = match self.exp {
            0 => "",
            3 => " thousand",
            6 => " million",
            9 => " billion",
            12 => " trillion",
            _ => " ×10^n",
        };
        match self.currency {
            Some(Currency::Other(code)) => format!("{code}{scale}"),
            _ => format!("USD{scale}"),
        }
    }
}

/// Strength of a scale word: a strong one is read anywhere in a header; a weak one
/// (`m`, `b`, `k`, `min`) only beside a number or a currency word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    Strong,
    Weak,
}

/// The power of ten of a folded scale word, with its strength.
pub fn scale_word(key: &str) -> Option<(u32, Strength)> {
    use Strength::*;
    let k = key.trim_end_matches('.');
    Some(match k {
        "thousand" | "thousands" | "bin" | "тыс" | "тысяч" | "тысячи" | "тысяча" | "мың"
        | "ming" | "'000" | "000s" | "'000s" | "миң" => (3, Strong),
        "k" | "th" | "min" => (3, Weak),
        "million" | "millions" | "milyon" | "milyonlar" | "млн" | "миллион" | "миллиона"
        | "миллионов" | "mln" | "mio" | "mn" | "million's" | "millon" => (6, Strong),
        "m" => (6, Weak),
        "billion"
        | "billions"
        | "milyar"
        | "milyard"
        | "mlrd"
        | "млрд"
        | "миллиард"
        | "миллиарда"
        | "миллиардов"
        | "bn"
        | "bln" => (9, Strong),
        "b" => (9, Weak),
        "trillion"
        | "trillions"
        | "trilyon"
        | "trln"
        | "трлн"
        | "триллион"
        | "триллиона"
        | "триллионов"
        | "tn" => (12, Strong),
        _ => return None,
    })
}

/// The currency of a folded word, if it is one.
pub fn currency_word(key: &str) -> Option<Currency> {
    let k = key.trim_end_matches('.');
    Some(match k {
        "usd" | "us$" | "$" | "us" | "u.s" | "dollar" | "dollars" | "dolar" | "dolari"
        | "doları" | "dollari" | "dolları" | "dollari'" | "abd" | "доллар" | "долларов"
        | "доллара" | "долл" | "сша" | "дол" | "aqsh" | "акш" | "ақш" | "доллары" | "dollarы" => {
            Currency::Usd
        }
        "tl" | "try" | "₺" | "lira" | "lirasi" => Currency::Other("TRY"),
        "eur" | "euro" | "euros" | "€" | "евро" => Currency::Other("EUR"),
        "£" | "gbp" => Currency::Other("GBP"),
        "руб" | "рублей" | "rub" | "рубль" | "рубля" => Currency::Other("RUB"),
        "тенге" | "kzt" | "теңге" => Currency::Other("KZT"),
        "manat" | "azn" => Currency::Other("AZN"),
        "tmt" => Currency::Other("TMT"),
        "som" | "сом" | "kgs" => Currency::Other("KGS"),
        "so'm" | "uzs" => Currency::Other("UZS"),
        "cny" | "rmb" | "yuan" => Currency::Other("CNY"),
        "jpy" | "yen" | "¥" => Currency::Other("JPY"),
        "chf" => Currency::Other("CHF"),
        "inr" | "rupees" => Currency::Other("INR"),
        _ => return None,
    })
}

/// Splits text into folded words, keeping `$` and `'000` as words of their own.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '(' | ')' | '[' | ']' | ',' | ';' | ':' | '/' | '|' | '–' | '—' | '_'
            )
    }) {
        if raw.is_empty() {
            continue;
        }
        let mut w = name_key(raw);
        if w.len() > 1 && (w.starts_with('$') || w.ends_with('$')) && w != "us$" {
            out.push("$".to_string());
            w = w.trim_matches('$').to_string();
        }
        if !w.is_empty() {
            out.push(w);
        }
    }
    out
}

/// The outcome of reading a unit from a header, title or config text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRead {
    /// The text names no unit.
    None,
    /// One unit.
    Unit(Unit),
    /// Two different scales in one text (`thousand ... million`): the words found.
    Conflict(Vec<String>),
}

/// Reads the unit written in a header, a title or a config value: `(Million dollars)`,
/// `Bin ABD Doları`, `млн долл. США`, `USD '000`. Weak words (`m`, `k`) count only
/// where the text also names a currency or holds nothing but unit words.
pub fn read_unit(text: &str) -> UnitRead {
    let ws = words(text);
    let mut currency = None;
    let mut strong: Vec<(u32, &str)> = Vec::new();
    let mut weak: Vec<(u32, &str)> = Vec::new();
    let mut other_words = false;
    for w in &ws {
        if let Some(c) = currency_word(w) {
            if !matches!(currency, Some(Currency::Other(_))) {
                currency = Some(c);
            }
        } else if let Some((e, s)) = scale_word(w) {
            match s {
                Strength::Strong => strong.push((e, w)),
                Strength::Weak => weak.push((e, w)),
            }
        } else {
            other_words = true;
        }
    }
    if currency.is_some() || !other_words {
        strong.extend(weak);
    }
    let mut exps: Vec<u32> = strong.iter().map(|(e, _)| *e).collect();
    exps.dedup();
    match exps.as_slice() {
        [] if currency.is_some() => UnitRead::Unit(Unit { exp: 0, currency }),
        [] => UnitRead::None,
        [e] => UnitRead::Unit(Unit { exp: *e, currency }),
        _ => UnitRead::Conflict(strong.iter().map(|(_, w)| w.to_string()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("TURKEY'S EXPORT TO AZERBAIJAN (Million dollars)", Some(6))]
    #[case("TURKEY'S IMPORT FROM KAZAKHSTAN (Billion dollars)", Some(9))]
    #[case("Bin ABD Doları", Some(3))]
    #[case("Milyon $", Some(6))]
    #[case("тыс. долларов США", Some(3))]
    #[case("млн долл.", Some(6))]
    #[case("USD '000", Some(3))]
    #[case("USD m", Some(6))]
    #[case("US$", Some(0))]
    #[case("mln AQSh dollari", Some(6))]
    #[case("YEARS", None)]
    #[case("Table 2: TURKEY – KAZAKHSTAN TRADE RELATIONSHIP", None)]
    #[case("M", Some(6))]
    #[case("value_usd", Some(0))]
    #[case("Value (USD thousand)", Some(3))]
    #[case("Imports M to B", None)]
    fn header_units(#[case] text: &str, #[case] exp: Option<u32>) {
        let got = match read_unit(text) {
            UnitRead::Unit(u) => Some(u.exp),
            UnitRead::None => None,
            UnitRead::Conflict(w) => panic!("conflict {w:?}"),
        };
        assert_eq!(got, exp, "{text}");
    }

    #[test]
    fn two_scales_conflict() {
        assert!(matches!(
            read_unit("thousand or million dollars"),
            UnitRead::Conflict(_)
        ));
    }
}
