//! Numbers as text. As dcm2niix prints them, so that ancilla's sidecars and `.bval`/`.bvec`
//! files hold the same digits: C's `%g` (six significant digits, no trailing zeros) and `%.Ng`;
//! the values are rounded as the text is, so a JSON number compares equal to dcm2niix's. And in
//! full for the tables ([`shortest`]), in the form every reader reads back exactly.

/// `x` rounded to six significant digits, as C's `%g` prints it (dcm2niix's SliceTiming).
pub fn significant6(x: f64) -> f64 {
    significant(x, 6)
}

/// `x` with `digits` significant digits (C's `%.Ng`).
pub fn significant(x: f64, digits: usize) -> f64 {
    format!("{x:.*e}", digits.saturating_sub(1))
        .parse()
        .unwrap_or(x)
}

/// `x` as C's `%g` prints it (6 significant digits, no trailing zeros), as in dcm2niix's
/// files; −0 prints as 0. As C does, the style follows the exponent of `x` rounded to six
/// digits: 9.999996e-5 is "0.0001", 999999.5 is "1e+06".
pub fn g6(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let rounded = format!("{x:.5e}");
    let (mantissa, exp) = rounded.split_once('e').unwrap_or((&rounded, "0"));
    let exponent: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (5 - exponent).max(0) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `x` in full, for a table cell: the shortest digits that read back as `x`, with an exponent
/// below 1e-4 and from 1e16 up, as Python's `repr` writes them. Without the exponent a small value
/// is a long run of zeros (`0.00000000000032516550378012527`) that pandas' default CSV parser
/// reads as 3.251e-13, and a large whole one (`12345678901234567000`) reads as text. −0 is "0";
/// not finite is empty (a missing cell).
pub fn shortest(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs();
    if (1e-4..1e16).contains(&magnitude) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_numbers_read_back_exactly_with_an_exponent_when_tiny_or_huge() {
        // Expected strings: Python's repr of the same doubles (which writes e+20 where Rust
        // writes e20; pandas, polars and R read both), then the round trip.
        assert_eq!(shortest(3.2516550378012527e-13), "3.2516550378012527e-13");
        assert_eq!(shortest(1.2345678901234568e20), "1.2345678901234568e20");
        assert_eq!(shortest(0.0001), "0.0001");
        assert_eq!(shortest(0.5), "0.5");
        assert_eq!(shortest(-2.5), "-2.5");
        assert_eq!(shortest(114051529.05026916), "114051529.05026916");
        assert_eq!(shortest(1234567890123456.0), "1234567890123456");
        assert_eq!(shortest(1e16), "1e16");
        assert_eq!(shortest(-0.0), "0");
        assert_eq!(shortest(f64::NAN), "");
        assert_eq!(shortest(f64::INFINITY), "");
        for x in [
            3.2516550378012527e-13,
            1.2345678901234568e20,
            0.1,
            -7.25e-300,
            5e-324,
        ] {
            assert_eq!(shortest(x).parse::<f64>().ok(), Some(x));
        }
    }

    #[test]
    fn values_round_to_significant_digits_as_printf_does() {
        // Expected values are printf("%g") and printf("%.4g") of the same numbers, read back.
        assert_eq!(significant6(0.123456789), 0.123457);
        assert_eq!(significant6(1234567.0), 1234570.0);
        assert_eq!(significant6(-2.5e-7), -2.5e-7);
        assert_eq!(significant6(0.0), 0.0);
        assert_eq!(significant(4.56789012, 4), 4.568);
        assert_eq!(significant(99999.5, 5), 100000.0);
    }

    #[test]
    fn numbers_print_as_c_g_format() {
        // Expected strings are printf("%g") of the same numbers.
        assert_eq!(g6(1000.0), "1000");
        assert_eq!(g6(-0.7905712345), "-0.790571");
        assert_eq!(g6(0.00989135123), "0.00989135");
        assert_eq!(g6(0.5), "0.5");
        assert_eq!(g6(-0.0), "0");
        assert_eq!(g6(-1e-9), "-1e-09");
        assert_eq!(g6(1.234567e-17), "1.23457e-17");
        assert_eq!(g6(0.0001234), "0.0001234");
        assert_eq!(g6(123456.7), "123457");
        assert_eq!(g6(1234567.0), "1.23457e+06");
        // Where rounding to six digits reaches the next power of ten, the rounded exponent
        // chooses the style (Python's '%g', which is C's, gives these).
        assert_eq!(g6(999999.5), "1e+06");
        assert_eq!(g6(9.999996e-5), "0.0001");
        assert_eq!(g6(-9.999996e-5), "-0.0001");
        assert_eq!(g6(9.9999996), "10");
        assert_eq!(g6(1e-5), "1e-05");
        assert_eq!(g6(0.000999999), "0.000999999");
    }
}
