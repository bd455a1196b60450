//! Fuzzes the value parser and the unit and country readers with arbitrary text:
//! none may panic, and a parsed number must scale without overflow-panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeflow_kernels::{countries, number, units};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for decimal in [None, Some('.'), Some(',')] {
        if let number::Parsed::Number(r) = number::parse(text, decimal) {
            let _ = r.value.checked_mul(number::pow10(r.scale.unwrap_or(0)));
            if let Some((alt, _)) = r.alt {
                let _ = alt.checked_mul(number::pow10(r.scale.unwrap_or(0)));
            }
        }
    }
    let _ = units::read_unit(text);
    let _ = countries::lookup(text);
    let _ = countries::find_in_text(text);
});
