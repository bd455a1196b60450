//! Exact decimals out: `v / 10^shift` as plain text and as the nearest Float64, with no
//! float arithmetic in between, so a value in millions reads `0.00057618`, never
//! `0.0005761799999999999`.

use rust_decimal::Decimal;

/// Appends `v / 10^shift` in plain decimal notation, exactly: no exponent, no trailing
/// zeros after the point, `0` for zero whatever its sign.
///
/// ```
/// use rust_decimal::Decimal;
/// let mut s = String::new();
/// tradeflow_kernels::decimal::push(&mut s, Decimal::new(57618, 2), 6);
/// assert_eq!(s, "0.00057618");
/// ```
pub fn push(out: &mut String, v: Decimal, shift: u32) {
    let mut buf = itoa::Buffer::new();
    put(
        out,
        digits(&mut buf, v),
        v.scale() + shift,
        v.is_sign_negative(),
    );
}

/// [`push`] of `v` into `a` and of `v / 10^shift` into `b`, from one formatting of its
/// digits: a value and the same value in millions.
///
/// ```
/// use rust_decimal::Decimal;
/// let (mut a, mut b) = (String::new(), String::new());
/// tradeflow_kernels::decimal::push_both(&mut a, &mut b, Decimal::new(8960000, 0), 6);
/// assert_eq!((a.as_str(), b.as_str()), ("8960000", "8.96"));
/// ```
pub fn push_both(a: &mut String, b: &mut String, v: Decimal, shift: u32) {
    let mut buf = itoa::Buffer::new();
    let digits = digits(&mut buf, v);
    let negative = v.is_sign_negative();
    put(a, digits, v.scale(), negative);
    put(b, digits, v.scale() + shift, negative);
}

/// The digits of `v`'s mantissa, without its sign, in 64 bits where it fits (u128
/// formatting goes through software division).
fn digits(buf: &mut itoa::Buffer, v: Decimal) -> &str {
    let m = v.mantissa().unsigned_abs();
    match u64::try_from(m) {
        Ok(d) => buf.format(d),
        Err(_) => buf.format(m),
    }
}

/// Appends the number of mantissa `digits` over `10^scale`, the fraction's trailing
/// zeros dropped, `0` for zero whatever its sign.
fn put(out: &mut String, digits: &str, scale: u32, negative: bool) {
    if digits == "0" {
        out.push('0');
        return;
    }
    // a mantissa that is not zero has a digit that is not: the zeros stop before it
    let zeros = digits
        .bytes()
        .rev()
        .take(scale as usize)
        .take_while(|&c| c == b'0')
        .count();
    let (digits, scale) = (&digits[..digits.len() - zeros], scale as usize - zeros);
    if negative {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    }
}

/// A mantissa and its scale with the trailing zeros of the fraction dropped, in 64-bit
/// steps where the mantissa fits (nearly always: u128 division by ten is a software
/// routine, and rust_decimal divides all 96 bits for each zero).
fn trimmed(m: u128, mut scale: u32) -> (u128, u32) {
    if let Ok(mut d) = u64::try_from(m) {
        while scale > 0 && d != 0 && d.is_multiple_of(10) {
            d /= 10;
            scale -= 1;
        }
        return (d.into(), scale);
    }
    let mut d = m;
    while scale > 0 && d.is_multiple_of(10) {
        d /= 10;
        scale -= 1;
    }
    (d, scale)
}

/// `v` with the trailing zeros of its fraction dropped, the same Decimal as
/// `v.normalize()` gives (a zero of either sign is `0`), by [`trimmed`]: normalise does
/// this for every figure.
pub fn normalized(v: Decimal) -> Decimal {
    let (d, scale) = trimmed(v.mantissa().unsigned_abs(), v.scale());
    if d == 0 {
        return Decimal::ZERO;
    }
    Decimal::from_parts(
        d as u32,
        (d >> 32) as u32,
        (d >> 64) as u32,
        v.is_sign_negative(),
        scale,
    )
}

/// Powers of ten that Float64 holds exactly.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The Float64 nearest to `v / 10^shift` (correctly rounded). A mantissa of at most 53
/// bits over an exactly held power of ten is one IEEE division, which rounds correctly;
/// anything else goes through the exact text and the standard library's parser.
pub fn to_f64(v: Decimal, shift: u32) -> f64 {
    let m = v.mantissa();
    let scale = (v.scale() + shift) as usize;
    if m.unsigned_abs() <= 1 << 53 && scale < EXACT_POW10.len() {
        // in 64 bits, exactly (i128 to f64 is a software routine)
        return m as i64 as f64 / EXACT_POW10[scale];
    }
    let mut s = String::with_capacity(48);
    push(&mut s, v, shift);
    s.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::str::FromStr;

    fn text(v: &str, shift: u32) -> String {
        let mut s = String::new();
        push(&mut s, Decimal::from_str(v).unwrap(), shift);
        s
    }

    #[rstest]
    #[case("576.18", 6, "0.00057618")]
    #[case("198948.96", 6, "0.19894896")]
    #[case("8960000", 6, "8.96")]
    #[case("1135000000", 6, "1135")]
    #[case("-2500", 6, "-0.0025")]
    #[case("0", 6, "0")]
    #[case("-0.00", 0, "0")]
    #[case("12.3400", 0, "12.34")]
    #[case("79228162514264337593543950335", 6, "79228162514264337593543.950335")]
    // either side of 64 bits, with trailing zeros to drop
    #[case("18446744073709551615", 0, "18446744073709551615")]
    #[case("18446744073709551615", 6, "18446744073709.551615")]
    #[case("184467440737095516160", 6, "184467440737095.51616")]
    #[case("1844674407370955161600.0", 2, "18446744073709551616")]
    #[case(
        "0.0000000000000000000000000001",
        6,
        "0.0000000000000000000000000000000001"
    )]
    fn exact_text(#[case] v: &str, #[case] shift: u32, #[case] want: &str) {
        assert_eq!(text(v, shift), want);
    }

    #[test]
    fn both_texts_at_once_are_the_texts_one_at_a_time() {
        for x in crate::test_numbers(0x2545_F491_4F6C_DD1D) {
            for v in [
                Decimal::new(
                    (x >> 1) as i64 * if x & 1 == 0 { 1 } else { -1 },
                    (x % 29) as u32,
                ),
                // past 64 bits, trailing zeros, zeros of either sign
                Decimal::from_i128_with_scale(i128::from(x >> 8) << 30, (x % 20) as u32),
                Decimal::new(((x % 1000) * 1000) as i64, (x % 5) as u32),
                Decimal::new(0, (x % 9) as u32) * Decimal::NEGATIVE_ONE,
            ] {
                for shift in [0, 3, 6] {
                    let (mut a, mut b) = (String::new(), String::new());
                    push_both(&mut a, &mut b, v, shift);
                    let one = |shift| {
                        let mut s = String::new();
                        push(&mut s, v, shift);
                        s
                    };
                    assert_eq!((a, b), (one(0), one(shift)), "{v:?} {shift}");
                }
            }
        }
    }

    #[test]
    fn text_agrees_with_the_decimals_own_display() {
        // every shift-free text is what rust_decimal prints for the normalised value
        for x in crate::test_numbers(0x9E37_79B9_7F4A_7C15) {
            let v = Decimal::new(
                (x >> 1) as i64 * if x & 1 == 0 { 1 } else { -1 },
                (x % 29) as u32,
            );
            assert_eq!(text(&v.to_string(), 0), v.normalize().to_string(), "{v:?}");
        }
    }

    #[test]
    fn normalized_is_the_decimals_own_normalize() {
        // mantissas of every size to 96 bits, every scale, both signs, zeros among them;
        // the same bytes, not only an equal value
        let same = |v: Decimal| {
            assert_eq!(
                normalized(v).serialize(),
                v.normalize().serialize(),
                "{v:?}"
            )
        };
        for x in crate::test_numbers(0xD1B5_4A32_D192_ED03) {
            let m = match x % 4 {
                0 => i128::from(x % 1000) * 10i128.pow((x % 12) as u32),
                1 => i128::from(x >> 1),
                2 => (i128::from(x) << 32) | i128::from(x >> 40),
                _ => 0,
            };
            let mut v = Decimal::from_i128_with_scale(m, (x % 29) as u32);
            v.set_sign_negative(x & 4 != 0);
            same(v);
        }
        same(Decimal::MAX);
        same(Decimal::MIN);
    }

    #[test]
    fn floats_are_the_nearest_to_the_exact_value() {
        for x in crate::test_numbers(0x2545_F491_4F6C_DD1D) {
            let v = Decimal::new(
                (x >> 3) as i64 * if x & 1 == 0 { 1 } else { -1 },
                (x % 12) as u32,
            );
            for shift in [0, 6] {
                let want: f64 = text(&v.to_string(), shift).parse().unwrap();
                assert_eq!(to_f64(v, shift), want, "{v} / 10^{shift}");
            }
        }
        // the case that drifted when the float was divided by 1e6
        assert_eq!(
            to_f64(Decimal::from_str("576.18").unwrap(), 6).to_string(),
            "0.00057618"
        );
    }
}
