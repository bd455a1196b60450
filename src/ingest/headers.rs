//! Column headers read by their words, not by exact names: `Trade Value (US$)`,
//! `reporterISO`, `Export (US$ Thousand)`, `Netweight (kg)`, `İhracat (Bin $)`,
//! `Стоимость, тыс. долл. США` each get a role (what the column holds), a form (how it
//! writes a country or a flow: ISO3 code, numeric code, name) and the unit written with
//! it, with the words that decided, for `inspect`.
//!
//! The header is split into words (camelCase and digits apart: `partner2Code` is
//! `partner 2 code`), each folded as country names are, and the unit in brackets (or after
//! a comma) is taken apart from the name. Words that make a column something other than
//! money (`%`, `share`, `kg`, `qty`, `count`, `flag`) are looked at first: such a column is
//! never read as values, whatever else its header says.

use crate::model::Flow;
use crate::normalize::countries::name_key;
use crate::normalize::units::{self, UnitRead};
use crate::normalize::{is_year_label, parse_flow};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Reporter,
    Partner,
    /// A column of countries that does not say whose side they are on (`Country Name`,
    /// `Ülke`, `Страна`): the table decides (see `layout`).
    Country,
    /// A second partner (Comtrade+ `partner2Code`): a breakdown of the partner.
    Partner2,
    Flow,
    Year,
    /// A year or a year and month in one (`Period`: `2018`, `201805`).
    Period,
    Month,
    Commodity,
    /// A series' name (`Indicator Name`): says the flow and the unit of its row.
    Indicator,
    /// The nomenclature of the row's commodity code (`Classification`: `H4`, `S4`, `SITC3`).
    Classification,
    Value,
    /// A value the publisher gives beside the main one (`CIF Trade Value (US$)`).
    AltValue,
    Quantity,
    Weight,
    /// Shares, percentages, growth rates, indices, tariffs: not money.
    Share,
    Count,
    /// Prices per unit of quantity: not money either.
    Price,
    Flag,
    /// A breakdown of the figures (mode of transport, customs procedure).
    Breakdown,
    /// The text of a code held in another column (`Commodity`, `cmdDesc`).
    CodeName,
    Unit,
    Note,
    Ignored,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::Partner => "partner",
            Role::Country => "country",
            Role::Partner2 => "second partner (breakdown)",
            Role::Flow => "flow",
            Role::Year => "year",
            Role::Period => "period",
            Role::Month => "month",
            Role::Commodity => "commodity",
            Role::Indicator => "indicator",
            Role::Classification => "classification",
            Role::Value => "value",
            Role::AltValue => "alternative value",
            Role::Quantity => "quantity",
            Role::Weight => "weight",
            Role::Share => "share or rate",
            Role::Count => "count",
            Role::Price => "price per unit",
            Role::Flag => "flag",
            Role::Breakdown => "breakdown",
            Role::CodeName => "name of a code",
            Role::Unit => "unit",
            Role::Note => "note",
            Role::Ignored => "ignored",
        }
    }

    /// Roles whose numbers are never money.
    pub fn not_money(self) -> bool {
        matches!(
            self,
            Role::Quantity | Role::Weight | Role::Share | Role::Count | Role::Price
        )
    }
}

/// How a column writes a country, a flow or a commodity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Iso3,
    /// A code: numeric for countries (M49, Comtrade's), a letter or digit for flows.
    Code,
    Name,
}

/// A header, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub role: Role,
    pub form: Form,
    /// The unit written with the header (`US$ Thousand`, `kg`, `тыс. долл. США`).
    pub unit: Option<String>,
    /// The flow a value column names (`Export (US$ Thousand)`).
    pub flow: Option<Flow>,
    /// The words that decided, for `inspect`.
    pub why: String,
}

/// What a breakdown column breaks the figures down by: `partner2`, `transport`, `customs`
/// or `supply` (mode of supply, services), from its header's words.
pub fn breakdown_kind(header: &str) -> &'static str {
    let w = words_of(&name_and_unit(header).0);
    let has = |l: &[&str]| w.iter().any(|x| l.contains(&x.as_str()));
    if has(&["mos", "supply"]) {
        "supply"
    } else if has(&["mot", "transport"]) {
        "transport"
    } else if has(&["customs", "cpc", "procedure", "gumruk"]) {
        "customs"
    } else {
        "partner2"
    }
}

/// Splits `partner2Code` into `partner 2 Code` and `reporterISO` into `reporter ISO`.
fn split_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if let Some(p) = prev {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_alphabetic() && c.is_ascii_digit())
                || (p.is_ascii_digit() && c.is_alphabetic())
                || (p.is_uppercase() && c.is_uppercase() && next_lower);
            if boundary {
                out.push(' ');
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// The name part of a header and its unit: `Trade Value (US$)` is `Trade Value` and
/// `US$`; `Стоимость, тыс. долл. США` is `Стоимость` and `тыс. долл. США`.
fn name_and_unit(h: &str) -> (String, Option<String>) {
    if let Some(open) = h.find(['(', '[']) {
        let close = h[open..].find([')', ']']).map_or(h.len(), |c| open + c);
        let unit = h[open + 1..close].trim().to_string();
        let name = format!("{} {}", &h[..open], h.get(close + 1..).unwrap_or(""));
        return (name.trim().to_string(), (!unit.is_empty()).then_some(unit));
    }
    if let Some((name, rest)) = h.split_once(',') {
        let rest = rest.trim();
        if rest == "%" || !matches!(units::read_unit(rest), UnitRead::None) {
            return (name.trim().to_string(), Some(rest.to_string()));
        }
    }
    (h.trim().to_string(), None)
}

/// The folded words of a text, camelCase split.
fn words_of(text: &str) -> Vec<String> {
    name_key(&split_camel(text))
        .split(|c: char| !(c.is_alphanumeric() || c == '%' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads a header.
pub fn read(header: &str) -> Header {
    let (name, unit) = name_and_unit(header);
    let words = words_of(&name);
    let unit_words = unit.as_deref().map(words_of).unwrap_or_default();
    let all: Vec<&str> = words
        .iter()
        .chain(unit_words.iter())
        .map(String::as_str)
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let is = |list: &[&str]| w.iter().find(|x| list.contains(x)).copied();
    let any = |list: &[&str]| all.iter().find(|x| list.contains(x)).copied();
    let h = |role: Role, form: Form, why: String| Header {
        role,
        form,
        unit: unit.clone(),
        flow: None,
        why,
    };
    let form_of = |w: &[&str]| -> (Form, &'static str) {
        if w.iter()
            .any(|x| matches!(*x, "iso" | "iso3" | "alpha" | "alpha3"))
        {
            (Form::Iso3, "ISO code")
        } else if w
            .iter()
            .any(|x| matches!(*x, "code" | "kod" | "kodu" | "код" | "id" | "m49"))
        {
            (Form::Code, "code")
        } else {
            (Form::Name, "name")
        }
    };

    // what is never money, whatever else the header says
    if header.contains('%') {
        return h(Role::Share, Form::Name, "`%`".into());
    }
    if let Some(x) = is(&[
        "share",
        "shares",
        "pay",
        "payi",
        "доля",
        "percent",
        "percentage",
        "pct",
        "oran",
        "orani",
    ]) {
        return h(Role::Share, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = is(&[
        "growth",
        "rca",
        "revealed",
        "index",
        "tariff",
        "tariffs",
        "duty",
        "ahs",
        "mfn",
        "rate",
        "artis",
        "degisim",
        "рост",
        "темп",
        "индекс",
        "gdp",
    ]) {
        return h(Role::Share, Form::Name, format!("`{x}`: a rate, not money"));
    }
    if let Some(x) = is(&["price", "fiyat", "цена", "uv", "per"]) {
        return h(Role::Price, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = any(&[
        "weight",
        "wgt",
        "netweight",
        "kg",
        "kgs",
        "ton",
        "tons",
        "tonnes",
        "tonne",
        "agirlik",
        "вес",
        "кг",
        "тонн",
        "тонна",
        "т",
    ]) {
        return h(Role::Weight, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = is(&["qty", "quantity", "miktar", "miktari", "количество", "кол"])
    {
        if w.iter()
            .any(|y| matches!(*y, "unit" | "abbr" | "birim" | "code"))
        {
            return h(
                Role::Ignored,
                Form::Name,
                format!("`{x}` and a unit: the unit of the quantity"),
            );
        }
        return h(Role::Quantity, Form::Name, format!("`{x}`"));
    }
    if w.windows(2)
        .any(|p| matches!(p[0], "no" | "number" | "num") && p[1] == "of")
    {
        return h(Role::Count, Form::Name, "`number of`".into());
    }
    if crate::normalize::is_derived_measure(&name) && parse_flow(&name).is_none() {
        return h(
            Role::Ignored,
            Form::Name,
            "a measure derived from the flows (balance, volume), not a figure".into(),
        );
    }
    if let Some(x) = is(&["count", "sayi", "sayisi", "число", "firms", "firma"]) {
        return h(Role::Count, Form::Name, format!("`{x}`"));
    }
    if w.first() == Some(&"is") || is(&["flag", "flags", "estimated", "estimation"]).is_some() {
        return h(
            Role::Flag,
            Form::Name,
            format!("`{}`: a flag of the row", w.join(" ")),
        );
    }
    // breakdowns
    let partner_word = |x: &str| {
        matches!(
            x,
            "partner" | "counterpart" | "ortak" | "партнер" | "партнёр" | "контрагент"
        )
    };
    if w.windows(2).any(|p| {
        (partner_word(p[0]) && p[1] == "2")
            || (matches!(p[0], "2nd" | "second" | "nd") && partner_word(p[1]))
    }) {
        let (form, _) = form_of(&w);
        return h(Role::Partner2, form, "a second partner: a breakdown".into());
    }
    if let Some(x) = is(&[
        "mot",
        "mos",
        "transport",
        "customs",
        "cpc",
        "procedure",
        "gumruk",
    ]) {
        if is(&["desc", "description", "name"]).is_some() {
            return h(Role::CodeName, Form::Name, format!("`{x}` described"));
        }
        let (form, _) = form_of(&w);
        return h(Role::Breakdown, form, format!("`{x}`: a breakdown"));
    }
    let described = is(&[
        "desc",
        "description",
        "descr",
        "label",
        "text",
        "aciklama",
        "adi",
    ]);
    // who and whom
    if let Some(x) = is(&[
        "reporter",
        "reporting",
        "geo",
        "declarant",
        "raportor",
        "beyan",
        "отчитывающаяся",
    ]) {
        let (form, f) = form_of(&w);
        return h(Role::Reporter, form, format!("`{x}` ({f})"));
    }
    if let Some(x) = w
        .iter()
        .find(|x| partner_word(x))
        .copied()
        .or_else(|| is(&["destination", "origin", "hedef", "mensei"]))
    {
        let (form, f) = form_of(&w);
        return h(Role::Partner, form, format!("`{x}` ({f})"));
    }
    if let Some(x) = is(&[
        "ulke",
        "ulkeler",
        "страна",
        "страны",
        "mamlakat",
        "country",
        "countries",
        "economy",
        "мемлекет",
        "olke",
    ]) {
        let (form, f) = form_of(&w);
        return h(Role::Country, form, format!("`{x}` ({f})"));
    }
    // when
    if let Some(x) = is(&["month", "months", "ay", "aylar", "месяц", "месяцы"]) {
        return h(Role::Month, Form::Code, format!("`{x}`"));
    }
    if let Some(x) = is(&["period", "donem", "период"]) {
        if described.is_some() {
            return h(Role::CodeName, Form::Name, format!("`{x}` described"));
        }
        if w.contains(&"id") {
            return h(Role::Ignored, Form::Code, format!("`{x}` id"));
        }
        return h(Role::Period, Form::Code, format!("`{x}`"));
    }
    if is_year_label(&name)
        || is(&[
            "year", "years", "yil", "yillar", "год", "годы", "jil", "жыл",
        ])
        .is_some()
    {
        return h(Role::Year, Form::Code, format!("`{}`: a year", w.join(" ")));
    }
    // the flow
    if let Some(x) = is(&[
        "flow",
        "flows",
        "akis",
        "akisi",
        "yon",
        "yonu",
        "rejim",
        "направление",
        "поток",
    ]) {
        let (form, f) = form_of(&w);
        if described.is_some() {
            return h(Role::Flow, Form::Name, format!("`{x}` (name)"));
        }
        return h(Role::Flow, form, format!("`{x}` ({f})"));
    }
    if is(&["classification"]).is_some() {
        return h(
            Role::Classification,
            Form::Code,
            "`classification`: the nomenclature of the row's commodity".into(),
        );
    }
    // what goods
    if let Some(x) = is(&[
        "commodity",
        "commodities",
        "cmd",
        "hs",
        "hs2",
        "hs4",
        "hs6",
        "product",
        "products",
        "gtip",
        "tnved",
        "тн",
        "вэд",
        "sitc",
        "heading",
        "chapter",
        "fasil",
        "mal",
        "товар",
        "товары",
        "nomenclature",
    ]) {
        if described.is_some() {
            return h(Role::CodeName, Form::Name, format!("`{x}` described"));
        }
        // `Commodity` beside `Commodity Code` is its name: the code is preferred (layout)
        let (form, f) = form_of(&w);
        return h(Role::Commodity, form, format!("`{x}` ({f})"));
    }
    if let Some(x) = is(&["indicator", "series", "gosterge", "показатель", "measure"]) {
        if w.iter().any(|y| matches!(*y, "code" | "id")) {
            return h(Role::Ignored, Form::Code, format!("`{x}` code"));
        }
        return h(Role::Indicator, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = is(&[
        "note",
        "notes",
        "comment",
        "comments",
        "remark",
        "remarks",
        "aciklama",
        "not",
        "примечание",
        "примечания",
        "footnote",
        "source",
        "kaynak",
        "источник",
    ]) {
        return h(Role::Note, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = is(&[
        "aggregate",
        "aggr",
        "level",
        "type",
        "freq",
        "frequency",
        "leaf",
        "legacy",
    ]) {
        return h(
            Role::Ignored,
            Form::Name,
            format!("`{x}`: describes the row"),
        );
    }
    // money
    let flow = parse_flow(&name);
    let unit_read = unit.as_deref().map(units::read_unit);
    let money_unit = matches!(unit_read, Some(UnitRead::Unit(_)))
        || !matches!(units::read_unit(&name), UnitRead::None);
    if let Some(x) = is(&["cif", "fob"]) {
        if is(&["value", "values", "deger"]).is_some() && is(&["trade", "primary"]).is_some() {
            return h(
                Role::AltValue,
                Form::Name,
                format!("`{x}`: a valuation beside the trade value"),
            );
        }
    }
    let value_word = is(&[
        "value",
        "values",
        "deger",
        "degeri",
        "стоимость",
        "amount",
        "tutar",
        "tutari",
        "primary",
        "usd",
        "us$",
        "$",
        "dollar",
        "dollars",
        "trade",
        "сумма",
        "obs",
    ]);
    if flow.is_some() || value_word.is_some() || money_unit {
        let mut why = Vec::new();
        if let Some(x) = value_word {
            why.push(format!("`{x}`"));
        }
        if let Some(f) = flow {
            why.push(format!("flow {}", f.as_str()));
        }
        if let Some(u) = &unit {
            why.push(format!("unit `{u}`"));
        } else if money_unit {
            why.push("a unit of money".into());
        }
        return Header {
            role: Role::Value,
            form: Form::Name,
            unit: unit.clone(),
            flow,
            why: why.join(", "),
        };
    }
    if let Some(x) = is(&[
        "unit",
        "units",
        "birim",
        "единица",
        "единицы",
        "ед",
        "изм",
        "currency",
        "para",
        "валюта",
    ]) {
        return h(Role::Unit, Form::Name, format!("`{x}`"));
    }
    if let Some(x) = is(&["name", "desc", "description", "label"]) {
        return h(Role::CodeName, Form::Name, format!("`{x}`"));
    }
    h(Role::Ignored, Form::Name, "no word known".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    // UN Comtrade's legacy download
    #[case("Classification", Role::Classification, None)]
    #[case("classificationCode", Role::Classification, None)]
    #[case("Product/Sector Classification Code", Role::Classification, None)]
    #[case("Year", Role::Year, None)]
    #[case("Period", Role::Period, None)]
    #[case("Period Desc.", Role::CodeName, None)]
    #[case("Aggregate Level", Role::Ignored, None)]
    #[case("Is Leaf Code", Role::Flag, None)]
    #[case("Trade Flow Code", Role::Flow, Some(Form::Code))]
    #[case("Trade Flow", Role::Flow, Some(Form::Name))]
    #[case("Reporter Code", Role::Reporter, Some(Form::Code))]
    #[case("Reporter", Role::Reporter, Some(Form::Name))]
    #[case("Reporter ISO", Role::Reporter, Some(Form::Iso3))]
    #[case("Partner Code", Role::Partner, Some(Form::Code))]
    #[case("Partner", Role::Partner, Some(Form::Name))]
    #[case("Partner ISO", Role::Partner, Some(Form::Iso3))]
    #[case("2nd Partner Code", Role::Partner2, None)]
    #[case("2nd Partner ISO", Role::Partner2, None)]
    #[case("Customs Proc. Code", Role::Breakdown, None)]
    #[case("Mode of Transport Code", Role::Breakdown, None)]
    #[case("Commodity Code", Role::Commodity, Some(Form::Code))]
    #[case("Commodity", Role::Commodity, Some(Form::Name))]
    #[case("Qty Unit Code", Role::Ignored, None)]
    #[case("Qty Unit", Role::Ignored, None)]
    #[case("Qty", Role::Quantity, None)]
    #[case("Alt Qty Unit Code", Role::Ignored, None)]
    #[case("Alt Qty", Role::Quantity, None)]
    #[case("Netweight (kg)", Role::Weight, None)]
    #[case("Gross weight (kg)", Role::Weight, None)]
    #[case("Trade Value (US$)", Role::Value, None)]
    #[case("CIF Trade Value (US$)", Role::AltValue, None)]
    #[case("FOB Trade Value (US$)", Role::AltValue, None)]
    #[case("Flag", Role::Flag, None)]
    // Comtrade+
    #[case("refYear", Role::Year, None)]
    #[case("refMonth", Role::Month, None)]
    #[case("refPeriodId", Role::Ignored, None)]
    #[case("reporterISO", Role::Reporter, Some(Form::Iso3))]
    #[case("reporterCode", Role::Reporter, Some(Form::Code))]
    #[case("reporterDesc", Role::Reporter, Some(Form::Name))]
    #[case("flowCode", Role::Flow, Some(Form::Code))]
    #[case("flowDesc", Role::Flow, Some(Form::Name))]
    #[case("partnerISO", Role::Partner, Some(Form::Iso3))]
    #[case("partner2Code", Role::Partner2, None)]
    #[case("partner2ISO", Role::Partner2, None)]
    #[case("cmdCode", Role::Commodity, Some(Form::Code))]
    #[case("cmdDesc", Role::CodeName, None)]
    #[case("customsCode", Role::Breakdown, None)]
    #[case("motCode", Role::Breakdown, None)]
    #[case("mosCode", Role::Breakdown, None)]
    #[case("qtyUnitAbbr", Role::Ignored, None)]
    #[case("netWgt", Role::Weight, None)]
    #[case("isNetWgtEstimated", Role::Weight, None)]
    #[case("isReported", Role::Flag, None)]
    #[case("cifvalue", Role::Ignored, None)]
    #[case("primaryValue", Role::Value, None)]
    #[case("legacyEstimationFlag", Role::Flag, None)]
    // WITS
    #[case("Reporter Name", Role::Reporter, Some(Form::Name))]
    #[case("Partner Name", Role::Partner, Some(Form::Name))]
    #[case("Product Group", Role::Commodity, Some(Form::Name))]
    #[case("Export (US$ Thousand)", Role::Value, None)]
    #[case("Export Partner Share (%)", Role::Share, None)]
    #[case("No Of exported HS6 digit Products", Role::Count, None)]
    #[case("Trade Balance (US$ Thousand)", Role::Ignored, None)]
    #[case("AHS Dutiable Imports (US$ Thousand)", Role::Share, None)]
    #[case("Reporting Economy ISO3A Code", Role::Reporter, Some(Form::Iso3))]
    #[case("Partner Economy", Role::Partner, Some(Form::Name))]
    #[case("Product/Sector Code", Role::Commodity, Some(Form::Code))]
    #[case("Unit", Role::Unit, None)]
    #[case("Value", Role::Value, None)]
    #[case("Attribute", Role::Ignored, None)]
    #[case("Revealed comparative advantage", Role::Share, None)]
    #[case("World Growth (%)", Role::Share, None)]
    // World Bank, IMF
    #[case("Country Name", Role::Country, Some(Form::Name))]
    #[case("Country Code", Role::Country, Some(Form::Code))]
    #[case("Indicator Name", Role::Indicator, None)]
    #[case("Indicator Code", Role::Ignored, None)]
    #[case("Counterpart Country Name", Role::Partner, Some(Form::Name))]
    // national statistics
    #[case("İhracat (Bin $)", Role::Value, None)]
    #[case("Стоимость, тыс. долл. США", Role::Value, None)]
    #[case("Экспорт, тыс. долл. США", Role::Value, None)]
    #[case("Ülke", Role::Country, Some(Form::Name))]
    #[case("Страна", Role::Country, Some(Form::Name))]
    #[case("Partner Country", Role::Partner, Some(Form::Name))]
    #[case("Exports (Tonnes)", Role::Weight, None)]
    #[case("Export share (%)", Role::Share, None)]
    #[case("Note", Role::Note, None)]
    #[case("Ед. изм.", Role::Unit, None)]
    // our own long tables
    #[case("reporter", Role::Reporter, Some(Form::Name))]
    #[case("partner", Role::Partner, Some(Form::Name))]
    #[case("hs_code", Role::Commodity, Some(Form::Code))]
    #[case("flow", Role::Flow, Some(Form::Name))]
    #[case("value", Role::Value, None)]
    #[case("unit", Role::Unit, None)]
    #[case("month", Role::Month, None)]
    #[case("value_usd", Role::Value, None)]
    #[case("TURKEY'S EXPORT TO AZERBAIJAN (Billion dollars)", Role::Value, None)]
    fn roles(#[case] header: &str, #[case] role: Role, #[case] form: Option<Form>) {
        let got = read(header);
        assert_eq!(got.role, role, "{header}: {got:?}");
        if let Some(f) = form {
            assert_eq!(got.form, f, "{header}: {got:?}");
        }
        assert!(!got.why.is_empty());
    }

    #[test]
    fn units_and_flows_taken_apart() {
        let h = read("Export (US$ Thousand)");
        assert_eq!(h.unit.as_deref(), Some("US$ Thousand"));
        assert_eq!(h.flow, Some(Flow::Export));
        let h = read("Стоимость, тыс. долл. США");
        assert_eq!(h.unit.as_deref(), Some("тыс. долл. США"));
        assert_eq!(h.flow, None);
        assert_eq!(read("Import (US$ Thousand)").flow, Some(Flow::Import));
        assert_eq!(split_camel("partner2ISO"), "partner 2 ISO");
        assert_eq!(split_camel("reporterISO"), "reporter ISO");
    }
}
