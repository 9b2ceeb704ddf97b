//! Numbers as a person reads them.

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A score with four decimals, or "n/a" when it could not be computed (NaN, infinite): a
/// visitor should never read "NaN".
pub fn metric(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

/// A duration in milliseconds as `"850 ms"` or `"2.4 s"`.
pub fn duration_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_never_read_nan() {
        assert_eq!(metric(0.91234), "0.9123");
        assert_eq!(metric(f64::NAN), "n/a");
        assert_eq!(metric(f64::INFINITY), "n/a");
    }

    #[test]
    fn groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration_ms(850.2), "850 ms");
        assert_eq!(duration_ms(2400.0), "2.4 s");
    }
}
