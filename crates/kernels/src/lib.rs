//! tradeflow's parsing kernels, kept in a crate of their own with three small
//! dependencies so that fuzzing and benchmarking them needs no polars build:
//! [`number`] (value texts to exact decimals), [`units`] (scale and currency words),
//! [`countries`] (names in many languages to ISO 3166-1 alpha-3), [`decimal`] (exact
//! decimals out as text and as the nearest Float64).
//!
//! Pure functions over text: nothing here reads files or keeps state beyond the
//! built-in country table.

pub mod countries;
pub mod decimal;
pub mod number;
pub mod units;

/// 20,000 pseudo-random numbers (xorshift), the same on every run, for the tests that
/// compare a fast path with the general one.
#[cfg(test)]
fn test_numbers(mut x: u64) -> impl Iterator<Item = u64> {
    (0..20_000).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    })
}
