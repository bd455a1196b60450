//! The derived dataset: per reporter, partner and year, exports, imports, trade volume,
//! balance and the volume's growth on the year before. Computed from the clean table's
//! annual all-goods figures (`month` empty, `commodity` TOTAL), exactly, in decimals.
//!
//! Runs after validate and before publish; reads and writes nothing.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

use crate::model::{Figures, Flow};

/// One row of `trade_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub reporter: &'static str,
    pub partner: &'static str,
    pub year: i32,
    pub exports: Option<Decimal>,
    pub imports: Option<Decimal>,
    /// Exports + imports, when both are known.
    pub volume: Option<Decimal>,
    /// Exports - imports, when both are known.
    pub balance: Option<Decimal>,
    /// Volume over the previous year's volume, minus one.
    pub growth: Option<f64>,
}

/// Summarises the clean figures (`clean` indexes into `f`), sorted by reporter, partner, year.
pub fn summarize(f: &Figures, clean: &[u32]) -> Vec<SummaryRow> {
    // reporter, partner, year -> exports, imports
    type Totals = (Option<Decimal>, Option<Decimal>);
    let mut by: BTreeMap<(&'static str, &'static str, i32), Totals> = BTreeMap::new();
    for i in clean.iter().map(|&i| i as usize) {
        if f.month.get(i).is_some() || f.commodity_str(i) != "TOTAL" {
            continue;
        }
        let e = by
            .entry((f.reporter(i), f.partner(i), f.year.get(i)))
            .or_default();
        match f.flow[i] {
            Flow::Export => e.0 = f.value.get(i),
            Flow::Import => e.1 = f.value.get(i),
            _ => {}
        }
    }
    let mut out: Vec<SummaryRow> = Vec::with_capacity(by.len());
    for ((reporter, partner, year), (exports, imports)) in by {
        let (volume, balance) = match (exports, imports) {
            (Some(x), Some(m)) => (Some(x + m), Some(x - m)),
            _ => (None, None),
        };
        let growth = out
            .last()
            .filter(|p| p.reporter == reporter && p.partner == partner && p.year + 1 == year)
            .and_then(|p| p.volume)
            .zip(volume)
            .filter(|(prev, _)| !prev.is_zero())
            .and_then(|(prev, now)| (now / prev - Decimal::ONE).to_f64());
        out.push(SummaryRow {
            reporter,
            partner,
            year,
            exports,
            imports,
            volume,
            balance,
            growth,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_balance_growth() {
        let mut f = Figures {
            countries: vec!["TUR", "KGZ"],
            ..Default::default()
        };
        let t = f.commodities.intern("TOTAL");
        for (flow, year, v) in [
            (Flow::Export, 2018, 377),
            (Flow::Import, 2018, 47),
            (Flow::Export, 2019, 442),
            (Flow::Import, 2019, 77),
        ] {
            f.reporter.push(0);
            f.partner.push(1);
            f.flow.push(flow);
            f.year.push(year);
            f.month.push(None);
            f.commodity.push(t);
            f.value.push(Some(Decimal::from(v)));
            f.flags.push(0);
            f.raw.push(0);
        }
        let s = summarize(&f, &[0, 1, 2, 3]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].volume, Some(Decimal::from(424)));
        assert_eq!(s[1].balance, Some(Decimal::from(365)));
        let g = s[1].growth.unwrap();
        assert!((g - (519.0 / 424.0 - 1.0)).abs() < 1e-12);
        assert_eq!(s[0].growth, None);
    }
}
