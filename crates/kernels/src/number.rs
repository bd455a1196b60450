//! Numbers as people write them, read exactly: `1,234.5`, `1.234,5`, `1 234,5`, `1'234.5`,
//! `(1,234)`, `−1234`, `1.135 Billion`, `4 billion 181 million dollars`, `1.234*`.
//!
//! Text becomes an exact [`Decimal`] (never a float), with the scale written in the text
//! if any. A separator that could be read two ways (`1.180`: 1.18 or 1180) is not
//! guessed here: both readings are returned and the caller decides with the evidence it
//! has (declared locale, the rest of the column, plausibility). Pure functions.

use rust_decimal::Decimal;
use std::str::FromStr;

use crate::units::{currency_word, scale_word, words, Currency};

/// Texts that mean "no figure": never zero.
pub const MISSING_MARKERS: &[&str] = &[
    "", "-", "–", "—", "..", "...", "…", "n/a", "na", "n.a.", "x", ":", "nan", "null", "none", "--",
];

/// What a separator in a number says about the decimal mark, for column evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The text shows its decimal mark is this character (`985.68` shows `.`).
    DecimalIs(char),
}

/// A number read from text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The number as written, without the scale of its words.
    pub value: Decimal,
    /// The power of ten of the scale words written beside it (`Billion` is 9).
    pub scale: Option<u32>,
    /// When the separator was ambiguous: the reading with the separator as a thousands
    /// mark (`value` then holds the decimal-mark reading), and the separator.
    pub alt: Option<(Decimal, char)>,
    /// What the text proves about the decimal mark.
    pub evidence: Option<Evidence>,
    /// A currency other than the dollar was written.
    pub foreign_currency: bool,
}

/// The outcome of reading a value text.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Empty or a missing-value marker (`..`, `n/a`, `x`).
    Missing,
    Number(Reading),
    /// Not a number: the reason, for a person.
    Invalid(String),
}

/// Reads a value text. `decimal` is the declared decimal mark, if any.
///
/// # Examples
/// ```
/// use tradeflow_kernels::number::{parse, Parsed};
/// let Parsed::Number(r) = parse("1.135 Billion", Some('.')) else { panic!() };
/// assert_eq!(r.value.to_string(), "1.135");
/// assert_eq!(r.scale, Some(9));
/// ```
pub fn parse(text: &str, decimal: Option<char>) -> Parsed {
    let bare = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    let t = if bare(text.as_bytes().first()) && bare(text.as_bytes().last()) {
        text
    } else {
        text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
    };
    // the common case first: plain digits with at most one separator, no words
    if !t.is_empty()
        && t.len() < 30
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && t.as_bytes()[0].is_ascii_digit()
    {
        let read = plain_digits(t, decimal).map_or_else(|| read_digits(t, decimal), Ok);
        if let Ok((value, alt, evidence)) = read {
            return Parsed::Number(Reading {
                value,
                scale: None,
                alt,
                evidence,
                foreign_currency: false,
            });
        }
    }
    // the next most common: a plain number, one space and a scale word (`12.5 Billion`,
    // `250 mn`), read as the general reader below would read it, without its segments
    if let Some((num, word)) = t.split_once(' ') {
        let plain_number = !num.is_empty()
            && num.len() < 30
            && num.as_bytes()[0].is_ascii_digit()
            && num
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b',');
        if plain_number && !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic()) {
            // the word folded as `name_key` folds ASCII letters (to lower case), on the
            // stack where it is short
            let mut folded = [0u8; 16];
            let scale = match folded.get_mut(..word.len()) {
                Some(f) => {
                    f.copy_from_slice(word.as_bytes());
                    f.make_ascii_lowercase();
                    std::str::from_utf8(f).ok().and_then(scale_word)
                }
                None => scale_word(&crate::countries::name_key(word)),
            };
            if let (Some((value, alt, evidence)), Some((e, _))) =
                (plain_digits(num, decimal), scale)
            {
                return Parsed::Number(Reading {
                    value,
                    scale: Some(e),
                    alt,
                    evidence,
                    foreign_currency: false,
                });
            }
        }
    }
    parse_general(t, decimal)
}

/// [`parse`] of a trimmed text, by segments: every form it reads.
fn parse_general(t: &str, decimal: Option<char>) -> Parsed {
    if t.len() <= 4 && MISSING_MARKERS.iter().any(|m| m.eq_ignore_ascii_case(t)) {
        return Parsed::Missing;
    }
    // sign: leading -, − (U+2212), +, or parentheses
    let (neg, body) = strip_sign(t);
    // footnote markers at the end: 1.234*, 1.234¹, 1.234†
    let body = body
        .trim_end_matches(|c: char| {
            matches!(
                c,
                '*' | '†' | '‡' | '¹' | '²' | '³' | '⁴' | '⁵' | '⁶' | '⁷' | '⁸' | '⁹' | '⁰'
            )
        })
        .trim();
    let segments = match split_segments(body) {
        Ok(s) => s,
        Err(e) => return Parsed::Invalid(e),
    };
    if segments.is_empty() {
        return Parsed::Invalid(format!("{t:?} is not a number"));
    }
    // one segment: a number with optional scale words
    // several: a spelled amount, each part but the last with its own scale
    let mut total = Decimal::ZERO;
    let mut first: Option<Reading> = None;
    let n = segments.len();
    let mut foreign = false;
    for (i, seg) in segments.iter().enumerate() {
        let (value, alt, evidence) = match read_digits(&seg.digits, decimal) {
            Ok(x) => x,
            Err(e) => return Parsed::Invalid(format!("{e} in {t:?}")),
        };
        let mut scale: Option<u32> = None;
        for w in &seg.words {
            if let Some((e, _)) = scale_word(w) {
                if scale.is_some_and(|s| s != e) {
                    return Parsed::Invalid(format!("two scales after one number in {t:?}"));
                }
                scale = Some(e);
            } else if let Some(c) = currency_word(w) {
                foreign |= matches!(c, Currency::Other(_));
            } else if w == "%" {
                return Parsed::Invalid(format!("a percentage is not a value: {t:?}"));
            } else {
                return Parsed::Invalid(format!("unexpected text {w:?} in {t:?}"));
            }
        }
        if n == 1 {
            first = Some(Reading {
                value,
                scale,
                alt,
                evidence,
                foreign_currency: foreign,
            });
            break;
        }
        if alt.is_some() {
            return Parsed::Invalid(format!("ambiguous separator in a spelled amount {t:?}"));
        }
        let Some(s) = scale else {
            if i + 1 < n {
                return Parsed::Invalid(format!("a number without a scale inside {t:?}"));
            }
            total += value;
            continue;
        };
        match value.checked_mul(pow10(s)) {
            Some(v) => total += v,
            None => return Parsed::Invalid(format!("too large: {t:?}")),
        }
    }
    let mut r = first.unwrap_or(Reading {
        value: total,
        scale: Some(0),
        alt: None,
        evidence: None,
        foreign_currency: foreign,
    });
    if n > 1 {
        r.scale = Some(0);
        r.foreign_currency = foreign;
    }
    if neg {
        r.value = -r.value;
        r.alt = r.alt.map(|(a, c)| (-a, c));
    }
    Parsed::Number(r)
}

/// 10^e as a decimal.
pub fn pow10(e: u32) -> Decimal {
    Decimal::from_i128_with_scale(10i128.pow(e.min(27)), 0)
}

fn strip_sign(t: &str) -> (bool, &str) {
    if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        return (true, inner.trim());
    }
    for p in ['-', '−', '–'] {
        if let Some(rest) = t.strip_prefix(p) {
            return (true, rest.trim_start());
        }
    }
    (false, t.strip_prefix('+').map(str::trim_start).unwrap_or(t))
}

/// A number's digits and the words that follow it (or, for the first, precede it).
#[derive(Debug)]
struct Segment {
    digits: String,
    words: Vec<String>,
}

fn is_group_space(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}')
}

/// Splits `US$ 4 billion 181 million` into `[4 billion, 181 million]`, words before the
/// first number going to the first.
fn split_segments(body: &str) -> Result<Vec<Segment>, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut segs: Vec<Segment> = Vec::new();
    let mut pending_words = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // `'000` is a scale word (thousands), not a number
        if c == '\''
            && chars[i + 1..].starts_with(&['0', '0', '0'])
            && !chars.get(i + 4).is_some_and(|d| d.is_ascii_digit())
        {
            pending_words.push_str(" '000 ");
            i += 4;
            continue;
        }
        let starts_number = c.is_ascii_digit()
            || (matches!(c, '.' | ',')
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                && !pending_words
                    .trim_end()
                    .ends_with(|c: char| c.is_alphanumeric()));
        if starts_number {
            let mut digits = String::new();
            while i < chars.len() {
                let c = chars[i];
                let next_digit = chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
                if c.is_ascii_digit() || (matches!(c, '.' | ',' | '\'') && next_digit) {
                    digits.push(c);
                } else if is_group_space(c) && next_digit && group_continues(&chars, i + 1) {
                    digits.push(' ');
                } else {
                    break;
                }
                i += 1;
            }
            let words = words(&pending_words);
            pending_words.clear();
            if let Some(last) = segs.last_mut() {
                // words between two numbers belong to the earlier one
                last.words.extend(words);
                segs.push(Segment {
                    digits,
                    words: Vec::new(),
                });
            } else {
                segs.push(Segment { digits, words });
            }
        } else {
            pending_words.push(c);
            i += 1;
        }
    }
    let tail = words(&pending_words);
    match segs.last_mut() {
        Some(last) => last.words.extend(tail),
        None => return Ok(Vec::new()),
    }
    Ok(segs)
}

/// A space is a thousands mark only when exactly three digits follow it.
fn group_continues(chars: &[char], start: usize) -> bool {
    let n = chars[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    n == 3
}

type DigitsRead = (Decimal, Option<(Decimal, char)>, Option<Evidence>);

/// The most common value texts, read without allocating: at most 18 digits with marks
/// (`.` or `,`) between them: one (`82414`, `82.414`, `3,5`), or several that group
/// thousands (`1,234,567`, `1,234.56`, `1.234.567,8`). Gives exactly what
/// [`read_digits`] gives (same value, same scale, same alternative and evidence), or
/// `None` to leave the text to it: a mark that the declared one says groups thousands,
/// digits grouped otherwise than by three, more digits, anything else.
fn plain_digits(s: &str, decimal: Option<char>) -> Option<DigitsRead> {
    let b = s.as_bytes();
    let (mut marks, mut last, mut mixed) = (0usize, None::<usize>, false);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {}
            b'.' | b',' => {
                mixed |= last.is_some_and(|l| b[l] != c);
                marks += 1;
                last = Some(i);
            }
            _ => return None,
        }
    }
    if b.len() - marks > 18 {
        return None;
    }
    let num = |d: &[u8]| {
        d.iter()
            .filter(|c| c.is_ascii_digit())
            .fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'))
    };
    let Some(at) = last else {
        return (!b.is_empty()).then(|| (Decimal::new(num(b), 0), None, None));
    };
    let mark = char::from(b[at]);
    let other = if mark == '.' { ',' } else { '.' };
    // digits grouped by three after a first group of one to three, by `sep`
    let grouped = |int: &[u8], sep: u8| {
        let mut parts = int.split(|&c| c == sep);
        let first = parts.next().unwrap_or_default();
        (1..=3).contains(&first.len()) && parts.all(|p| p.len() == 3)
    };
    if marks > 1 {
        let (int, frac) = (&b[..at], &b[at + 1..]);
        if !mixed {
            // 1,234,567: every mark groups thousands
            if decimal == Some(mark) || !grouped(b, b[at]) {
                return None;
            }
            return Some((
                Decimal::new(num(b), 0),
                None,
                Some(Evidence::DecimalIs(other)),
            ));
        }
        // 1,234.5: the last mark is the decimal one, once, and the other groups
        let once = !int.contains(&b[at]);
        if !once || decimal.is_some_and(|d| d != mark) || frac.is_empty() {
            return None;
        }
        if !grouped(int, other as u8) {
            return None;
        }
        let whole = num(int) * 10i64.pow(frac.len() as u32) + num(frac);
        return Some((
            Decimal::new(whole, frac.len() as u32),
            None,
            Some(Evidence::DecimalIs(mark)),
        ));
    }
    let (int, frac) = (&b[..at], &b[at + 1..]);
    if int.is_empty() || frac.is_empty() {
        return None;
    }
    let whole = num(int) * 10i64.pow(frac.len() as u32) + num(frac);
    let as_decimal = Decimal::new(whole, frac.len() as u32);
    if decimal == Some(mark) {
        return Some((as_decimal, None, None));
    }
    if decimal == Some(other) {
        return None;
    }
    // undeclared: only `d{1,3}<mark>ddd` can be either
    let could_group = frac.len() == 3 && (1..=3).contains(&int.len()) && int != b"0";
    if !could_group {
        return Some((as_decimal, None, Some(Evidence::DecimalIs(mark))));
    }
    Some((as_decimal, Some((Decimal::new(whole, 0), mark)), None))
}

/// Reads the digits and separators of one number.
fn read_digits(s: &str, decimal: Option<char>) -> Result<DigitsRead, String> {
    let spaced = s.contains(' ') || s.contains('\'');
    let plain: String = s.chars().filter(|c| *c != ' ' && *c != '\'').collect();
    let dots = plain.matches('.').count();
    let commas = plain.matches(',').count();
    let grouped_ok = |int: &str, sep: char| -> bool {
        let mut parts = int.split(sep);
        let first = parts.next().unwrap_or("");
        (1..=3).contains(&first.len()) && parts.all(|p| p.len() == 3)
    };
    let dec = |digits: &str| Decimal::from_str(digits).map_err(|e| format!("not a number ({e})"));
    if spaced {
        // spaces/apostrophes group thousands: the other mark, if any, is decimal
        let int_part: String = s.split(['.', ',']).next().unwrap_or("").replace('\'', " ");
        if !grouped_ok(&int_part, ' ') {
            return Err("badly grouped digits".into());
        }
    }
    match (dots, commas) {
        (0, 0) => Ok((dec(&plain)?, None, None)),
        (d, c) if d > 0 && c > 0 => {
            let last_dot = plain.rfind('.').unwrap_or(0);
            let last_comma = plain.rfind(',').unwrap_or(0);
            let (dmark, tmark) = if last_dot > last_comma {
                ('.', ',')
            } else {
                (',', '.')
            };
            if plain.matches(dmark).count() > 1 {
                return Err("two decimal marks".into());
            }
            if decimal.is_some_and(|d| d != dmark) {
                return Err(format!(
                    "the decimal mark here is {dmark:?}, the declared one {:?}",
                    decimal.unwrap_or('.')
                ));
            }
            let (int, frac) = plain.split_once(dmark).unwrap_or((&plain, ""));
            if !grouped_ok(int, tmark) {
                return Err("badly grouped digits".into());
            }
            Ok((
                dec(&format!("{}.{frac}", int.replace(tmark, "")))?,
                None,
                Some(Evidence::DecimalIs(dmark)),
            ))
        }
        _ => {
            let mark = if dots > 0 { '.' } else { ',' };
            let count = dots.max(commas);
            let other = if mark == '.' { ',' } else { '.' };
            if count > 1 {
                // 1.234.567: thousands marks
                if decimal == Some(mark) {
                    return Err(format!(
                        "{mark:?} appears {count} times but is the declared decimal mark"
                    ));
                }
                if !grouped_ok(&plain, mark) {
                    return Err("badly grouped digits".into());
                }
                return Ok((
                    dec(&plain.replace(mark, ""))?,
                    None,
                    Some(Evidence::DecimalIs(other)),
                ));
            }
            let (int, frac) = plain.split_once(mark).unwrap_or((&plain, ""));
            let as_decimal = || {
                dec(&format!(
                    "{}.{frac}",
                    if int.is_empty() { "0" } else { int }
                ))
            };
            let as_thousands = || dec(&format!("{int}{frac}"));
            if spaced || decimal == Some(mark) {
                return Ok((as_decimal()?, None, None));
            }
            if decimal == Some(other) {
                if frac.len() != 3 || !grouped_ok(int, ' ') {
                    return Err(format!("{mark:?} is not the declared decimal mark {other:?} and does not group thousands"));
                }
                return Ok((as_thousands()?, None, None));
            }
            // undeclared: only `d{1,3}<mark>ddd` can be either
            let could_group = frac.len() == 3 && (1..=3).contains(&int.len()) && int != "0";
            if !could_group {
                return Ok((as_decimal()?, None, Some(Evidence::DecimalIs(mark))));
            }
            Ok((as_decimal()?, Some((as_thousands()?, mark)), None))
        }
    }
}

/// An exact decimal for a spreadsheet float: the shortest decimal that gives back the
/// float, snapped to 15 significant digits (as many as Excel shows) so that float noise
/// (1.1799999999999999, 0.30000000000000004) becomes what the cell shows (1.18, 0.3)
/// while a figure typed with up to 15 digits (17880630.52827) is kept as typed. The flag
/// says whether snapping changed the shortest round-trip text.
pub fn from_float(x: f64) -> Option<(Decimal, bool)> {
    if !x.is_finite() {
        return None;
    }
    let shortest = format!("{x}");
    let exact = Decimal::from_str(&shortest).ok();
    // a shortest text of at most 15 significant digits is already the snapped value: the
    // float is within half a unit of its last bit of that text, and the next 15-digit
    // value is at least that far away. Only when the text was read exactly:
    // past 28 decimals a Decimal rounds (1e-30 would read as 0)
    let decimals = shortest.split_once('.').map_or(0, |(_, f)| f.len());
    if let Some(e) = exact.filter(|_| decimals <= 28).map(|e| e.normalize()) {
        if e.mantissa().unsigned_abs() < 1_000_000_000_000_000 {
            return Some((e, false));
        }
    }
    by_rounding(x, exact)
}

/// `x` rounded to 15 significant digits, flagged when that differs from `exact` (its
/// shortest text read as a decimal).
fn by_rounding(x: f64, exact: Option<Decimal>) -> Option<(Decimal, bool)> {
    let snapped = Decimal::from_scientific(&format!("{x:.14e}"))
        .ok()?
        .normalize();
    match exact {
        Some(e) if e.normalize() == snapped => Some((snapped, false)),
        _ => Some((snapped, true)),
    }
}

#[cfg(test)]
mod tests {
    /// `from_float` as it was before its shortcut: always through the 12-digit rounding.
    fn from_float_reference(x: f64) -> Option<(Decimal, bool)> {
        if !x.is_finite() {
            return None;
        }
        by_rounding(x, Decimal::from_str(&format!("{x}")).ok())
    }

    #[test]
    fn floats_snap_as_they_did_before_the_shortcut() {
        let same = |a: Option<(Decimal, bool)>, b: Option<(Decimal, bool)>| {
            a.map(|(d, f)| (d.serialize(), f)) == b.map(|(d, f)| (d.serialize(), f))
        };
        let mut cases: Vec<f64> = vec![
            0.0,
            -0.0,
            1.18,
            // the floats either side of 1.18 (a literal `1.1799999999999999` is 1.18)
            f64::from_bits(1.18f64.to_bits() - 1),
            f64::from_bits(1.18f64.to_bits() + 1),
            0.1 + 0.2,
            1e-7,
            123456.789,
            999999999999.0,
            1234567890123.0,
            1e15,
            1e28,
            1e30,
            -2.5,
            0.000031688,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        for x in crate::test_numbers(0x9E37_79B9_7F4A_7C15) {
            // values as spreadsheets hold them: a few significant digits at many scales,
            // and raw bit patterns
            let digits = (x % 10_000_000) as f64;
            let scale = 10f64.powi((x >> 40) as i32 % 24 - 12);
            cases.push(digits * scale);
            cases.push(f64::from_bits(x >> 2));
        }
        for c in cases {
            assert!(
                same(from_float(c), from_float_reference(c)),
                "{c:e}: {:?} vs {:?}",
                from_float(c),
                from_float_reference(c)
            );
        }
    }

    #[test]
    fn a_number_and_a_scale_word_read_as_the_general_reader() {
        let mut n = 0;
        for num in [
            "0", "7", "12.5", "1.135", "1,135", "999.99", "1234", "12,5", "1.2.3", "05",
        ] {
            for word in [
                "thousand",
                "Thousand",
                "th",
                "K",
                "k",
                "mn",
                "MN",
                "bn",
                "Billion",
                "million",
                "m",
                "b",
                "USD",
                "dollars",
                "xyz",
                "Bin",
                "milyar",
                "T",
                "tn",
                // longer than the stack's fold
                "Millionsandbillions",
                "SIXTEENLETTERSXY",
                "SEVENTEENLETTERSX",
            ] {
                let t = format!("{num} {word}");
                for decimal in [None, Some('.'), Some(',')] {
                    assert_eq!(
                        parse(&t, decimal),
                        parse_general(&t, decimal),
                        "{t:?} {decimal:?}"
                    );
                    n += 1;
                }
            }
        }
        assert_eq!(n, 10 * 22 * 3);
    }

    #[test]
    fn plain_digits_read_exactly_as_the_general_reader() {
        // every text of digits and at most one separator, under every declared mark:
        // the fast path gives the same readings, to the scale, or leaves the text alone
        let same = |a: &DigitsRead, b: &DigitsRead| {
            a.0.serialize() == b.0.serialize()
                && a.1.map(|(d, c)| (d.serialize(), c)) == b.1.map(|(d, c)| (d.serialize(), c))
                && a.2 == b.2
        };
        let mut texts: Vec<String> = Vec::new();
        for int in [
            "0",
            "00",
            "1",
            "12",
            "123",
            "1234",
            "0001",
            "999999999999999999",
        ] {
            texts.push(int.to_string());
            for frac in ["0", "5", "50", "123", "000", "1234", "999999999"] {
                for mark in ['.', ','] {
                    texts.push(format!("{int}{mark}{frac}"));
                }
            }
        }
        texts.extend(["1.", ".5", "1.2.3", "1,2.3", "1234567890123456789", ""].map(String::from));
        // several marks: thousands groups, well and badly formed, with and without a
        // decimal part, marks mixed and repeated
        for int in [
            "1,234",
            "12,345",
            "123,456",
            "1.234",
            "1,234,567",
            "1.234.567",
            "123.456.789.012.345.678",
            "1234,567",
            "1,23",
            "1,2345",
            ",123",
            "0,000",
            "1.234,567",
            "1,234.567",
        ] {
            texts.push(int.to_string());
            for tail in [
                "", ".", ",", ".5", ",5", ".56", ",56", ".000", ",123", ".1.2", ",9999",
            ] {
                texts.push(format!("{int}{tail}"));
            }
        }
        let mut fast = 0;
        for t in &texts {
            for decimal in [None, Some('.'), Some(',')] {
                if let Some(quick) = plain_digits(t, decimal) {
                    fast += 1;
                    let general = read_digits(t, decimal).unwrap_or_else(|e| {
                        panic!("{t:?} {decimal:?}: fast path read what the reader refuses: {e}")
                    });
                    assert!(
                        same(&quick, &general),
                        "{t:?} {decimal:?}: {quick:?} vs {general:?}"
                    );
                }
            }
        }
        assert!(fast > 300, "the fast path took {fast} texts");
        let grouped = texts
            .iter()
            .filter(|t| t.matches(['.', ',']).count() > 1)
            .filter(|t| plain_digits(t, None).is_some())
            .count();
        assert!(grouped >= 40, "the fast path took {grouped} grouped texts");
        assert_eq!(
            plain_digits("1,234,567.5", None).map(|r| r.0.serialize()),
            Some(Decimal::new(12345675, 1).serialize())
        );
        assert!(
            plain_digits("1,234,567", Some(',')).is_none(),
            "a declared mark repeated"
        );
        assert!(plain_digits("1,23.5", None).is_none(), "badly grouped");
        assert!(
            plain_digits("1234567890123456789", None).is_none(),
            "19 digits"
        );
        assert!(
            plain_digits("1.234", Some(',')).is_none(),
            "thousands under a declared comma"
        );
    }

    use super::*;
    use rstest::rstest;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[rstest]
    #[case("625", None, "625", None)]
    #[case("985.68", None, "985.68", None)]
    #[case("1.135 Billion", None, "1.135", Some(9))]
    #[case("1.135 Billion", Some('.'), "1.135", Some(9))]
    #[case("1,234.5", None, "1234.5", None)]
    #[case("1.234,5", None, "1234.5", None)]
    #[case("1 234,5", None, "1234.5", None)]
    #[case("1\u{a0}234,5", None, "1234.5", None)]
    #[case("1\u{202f}234,5", None, "1234.5", None)]
    #[case("1'234.5", None, "1234.5", None)]
    #[case("(1,234)", Some('.'), "-1234", None)]
    #[case("−1234", None, "-1234", None)]
    #[case("+12", None, "12", None)]
    #[case("  12,5  ", None, "12.5", None)]
    #[case("1.234*", Some(','), "1234", None)]
    #[case("1.234¹", Some('.'), "1.234", None)]
    #[case("$1.5bn", None, "1.5", Some(9))]
    #[case("USD 250 mln", None, "250", Some(6))]
    #[case("12,5 mn", None, "12.5", Some(6))]
    #[case("1.234.567", None, "1234567", None)]
    #[case("0.125", None, "0.125", None)]
    #[case("4 billion 181 million dollars", None, "4181000000", Some(0))]
    #[case("1,5 млрд", None, "1.5", Some(9))]
    #[case("3,2 milyar", None, "3.2", Some(9))]
    fn reads(
        #[case] text: &str,
        #[case] decimal: Option<char>,
        #[case] want: &str,
        #[case] scale: Option<u32>,
    ) {
        match parse(text, decimal) {
            Parsed::Number(r) => {
                assert_eq!(r.value, d(want), "{text}");
                assert_eq!(r.scale, scale, "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[rstest]
    #[case("1.180")]
    #[case("3,004")]
    fn ambiguous_keeps_both_readings(#[case] text: &str) {
        let Parsed::Number(r) = parse(text, None) else {
            panic!()
        };
        let (alt, _) = r.alt.expect("ambiguous");
        assert!(alt > r.value);
    }

    #[rstest]
    #[case("")]
    #[case("..")]
    #[case("n/a")]
    #[case("x")]
    #[case("–")]
    #[case("…")]
    fn missing_markers(#[case] text: &str) {
        assert_eq!(parse(text, None), Parsed::Missing);
    }

    #[rstest]
    #[case("abc")]
    #[case("12 apples")]
    #[case("1.2.3,4,5")]
    #[case("12%")]
    #[case("1,2345.6")]
    fn invalid(#[case] text: &str) {
        assert!(
            matches!(parse(text, None), Parsed::Invalid(_)),
            "{text}: {:?}",
            parse(text, None)
        );
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the float a spreadsheet stores for 1.18
    fn floats_snap_to_display() {
        assert_eq!(from_float(1.18), Some((d("1.18"), false)));
        assert_eq!(from_float(1.1799999999999999), Some((d("1.18"), false)));
        // fifteen significant digits are kept as typed; past them is float noise
        assert_eq!(
            from_float(1.17999999999998),
            Some((d("1.17999999999998"), false))
        );
        assert_eq!(
            from_float(17880630.52827),
            Some((d("17880630.52827"), false))
        );
        let (v, snapped) = from_float(0.30000000000000004).unwrap();
        assert_eq!(v, d("0.3"));
        assert!(snapped);
        let (v, snapped) = from_float(1.179999999999999).unwrap();
        assert_eq!(v, d("1.18"));
        assert!(snapped);
        assert_eq!(from_float(985.68).unwrap().0, d("985.68"));
    }
}
