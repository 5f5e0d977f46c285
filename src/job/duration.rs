//! Lava durations (`parameters.timeout`, `config.docker_timeout`): a number of seconds, or text
//! `[+-]NUMBER[UNIT]` with unit `s`, `m`, `h`, `d` or `w` (none: seconds), whitespace allowed around
//! both; and the number printed as Python prints a float (the worker's "Timed out after 600.0
//! seconds"). Pure.
use serde_json::Value;
use std::time::Duration;

/// The longest wait this runner schedules; a longer timeout never fires (no overflow, no panic).
pub const LONGEST: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Seconds of a lava duration, or None when lava would not read it either.
pub fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse(s),
        _ => None,
    }
}

fn parse(s: &str) -> Option<f64> {
    let t = s.trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (t[..i].trim_end(), c),
        _ => (t, 's'),
    };
    let factor = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        'w' => 604_800.0,
        _ => return None,
    };
    number_ok(number).then_some(())?;
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// `[+-]` then digits with an optional fraction (or a fraction alone), then an optional exponent:
/// the numbers lava's pattern takes (Rust's parser also takes `inf`, `nan`, which lava does not).
fn number_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let digits = |b: &[u8], i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut i = 0;
    let whole = digits(b, &mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(b, &mut i);
    }
    if whole == 0 && frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(b, &mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A wait of `secs` (> 0, finite) seconds, capped at [`LONGEST`].
pub fn wait(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs)
        .unwrap_or(LONGEST)
        .min(LONGEST)
}

/// `secs` as Python's `str(float)`: `600.0`, `90.5`, `1e+300`.
pub fn python_float(secs: f64) -> String {
    if !secs.is_finite() {
        return if secs.is_nan() {
            "nan".into()
        } else if secs > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let exp = if secs == 0.0 {
        0
    } else {
        secs.abs().log10().floor() as i32
    };
    if (-4..16).contains(&exp) {
        let s = format!("{secs}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        // Rust's shortest repr in scientific form, with Python's sign and two-digit exponent.
        let s = format!("{secs:e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match e.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', e),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lava_durations_read() {
        let s = |v: Value| seconds(&v);
        assert_eq!(s(json!("10s")), Some(10.0));
        assert_eq!(s(json!("600")), Some(600.0));
        assert_eq!(s(json!(600)), Some(600.0));
        assert_eq!(s(json!(1.5)), Some(1.5));
        assert_eq!(s(json!("1.5m")), Some(90.0));
        assert_eq!(s(json!(" 2 h ")), Some(7200.0));
        assert_eq!(s(json!("1d")), Some(86_400.0));
        assert_eq!(s(json!("2w")), Some(1_209_600.0));
        assert_eq!(s(json!(".5m")), Some(30.0));
        assert_eq!(s(json!("1e3s")), Some(1000.0));
        assert_eq!(s(json!("-1m")), Some(-60.0));
        for bad in [
            json!("10x"),
            json!("m"),
            json!("10 m s"),
            json!("inf"),
            json!("nan"),
            json!("1M"),
            json!(""),
            json!(true),
            json!(null),
            json!(["10s"]),
        ] {
            assert_eq!(seconds(&bad), None, "{bad}");
        }
    }

    #[test]
    fn floats_print_as_python_prints_them() {
        assert_eq!(python_float(600.0), "600.0");
        assert_eq!(python_float(90.5), "90.5");
        assert_eq!(python_float(0.0001), "0.0001");
        assert_eq!(python_float(1e300), "1e+300");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.5e-5), "1.5e-05");
        assert_eq!(python_float(123456789012345.0), "123456789012345.0");
    }

    #[test]
    fn huge_waits_are_capped_not_a_panic() {
        assert_eq!(wait(1e300), LONGEST);
        assert_eq!(wait(f64::MAX), LONGEST);
        assert_eq!(wait(2.5), Duration::from_millis(2500));
    }
}
