//! A float as JSON text: ryu's shortest text that reads back as the same
//! number, taken a shorter way for the floats logs are full of.
//!
//! nginx's `$request_time` and `$upstream_response_time` (`0.005`) and
//! uWSGI's durations (`5000` micros → `0.005`) have at most six decimals.
//! For such a number ryu's general method (128-bit products and tables)
//! cost about 540 instructions, 8 % of an image nginx line with two of them;
//! its decimal digits are found here with one multiplication and a check.
//! The text is byte for byte ryu's: the tests hold the two together.

/// The longest text written: a sign, ten digits, a point, six decimals.
pub const MAX_LEN: usize = 18;

/// Writes `f` (finite) as ryu would into `buf` (at least [`MAX_LEN`]
/// bytes) when it is a decimal of at most six places whose size is in
/// [1e-5, 4e9); its length, or `None` for any other number (ryu's turn).
///
/// Why these bounds: below 2^32 neighbouring doubles are less than 1e-6
/// apart, so the one decimal of at most six places that reads back as `f`
/// is also the shortest (ryu's); from 1e-5 up ryu writes no exponent.
pub fn few_decimals(f: f64, buf: &mut [u8]) -> Option<usize> {
    let size = f.abs();
    if !(1e-5..4e9).contains(&size) {
        return None;
    }
    let millionths = (size * 1e6).round();
    // Reads back as `f`: the division is correctly rounded, so this is
    // the double nearest the decimal `millionths / 10^6`.
    if millionths / 1e6 != size {
        return None;
    }
    // Below 4e15: exact in a u64.
    let millionths = millionths as u64;
    let (whole, mut frac) = (millionths / 1_000_000, millionths % 1_000_000);
    let mut places = 6;
    if frac == 0 {
        places = 1;
    } else {
        while frac % 10 == 0 {
            frac /= 10;
            places -= 1;
        }
    }
    let mut at = 0;
    if f.is_sign_negative() {
        *buf.first_mut()? = b'-';
        at = 1;
    }
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(whole).as_bytes();
    buf.get_mut(at..at + whole.len())?.copy_from_slice(whole);
    at += whole.len();
    *buf.get_mut(at)? = b'.';
    at += 1;
    // The decimals, leading zeros kept (`0.005`).
    for i in (0..places).rev() {
        *buf.get_mut(at + i)? = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    Some(at + places)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ryu_text(f: f64) -> String {
        ryu::Buffer::new().format_finite(f).to_string()
    }

    fn ours(f: f64) -> Option<String> {
        let mut buf = [0u8; MAX_LEN];
        let n = few_decimals(f, &mut buf)?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    #[test]
    fn writes_what_ryu_writes_for_log_times() {
        for f in [
            0.005,
            0.0,
            1e-5,
            2.0,
            0.1,
            0.123456,
            123456.5,
            3999999999.999999,
            -0.005,
            0.3,
            1.001,
        ] {
            if let Some(text) = ours(f) {
                assert_eq!(text, ryu_text(f), "{f}");
            }
        }
        assert_eq!(ours(0.005).as_deref(), Some("0.005"));
        assert_eq!(ours(2.0).as_deref(), Some("2.0"));
        assert_eq!(ours(1e-5).as_deref(), Some("0.00001"));
        assert_eq!(ours(-1.5).as_deref(), Some("-1.5"));
        // ryu's turn: an exponent, seven places, too large.
        assert_eq!(ours(1e-6), None);
        assert_eq!(ours(0.1234567), None);
        assert_eq!(ours(5e9), None);
        assert_eq!(ours(1.0 / 3.0), None);
    }

    proptest! {
        #[test]
        fn agrees_with_ryu_on_decimals(m in 0u64..4_000_000_000_000_000, places in 0u32..9, negative: bool) {
            let f = m as f64 / 10f64.powi(places as i32);
            let f = if negative { -f } else { f };
            if let Some(text) = ours(f) {
                prop_assert_eq!(text, ryu_text(f));
            }
        }

        #[test]
        fn agrees_with_ryu_on_any_double(bits: u64) {
            let f = f64::from_bits(bits);
            if f.is_finite() {
                if let Some(text) = ours(f) {
                    prop_assert_eq!(text, ryu_text(f));
                }
            }
        }
    }
}
