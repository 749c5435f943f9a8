//! Amounts of money as people read them.

/// The digits after the decimal point of `currency` (ISO 4217): 2 for most, 0 for currencies
/// without minor units (JPY, KRW, ...), 3 for the dinars and rials that have thousandths.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `minor` units of `currency` written out: `EUR 1,234.50`, `JPY 5,000`.
pub fn format_money(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10_u64.pow(digits);
    let magnitude = minor.unsigned_abs();
    let whole = (magnitude / scale).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if digits == 0 {
        format!("{currency} {sign}{grouped}")
    } else {
        let fraction = magnitude % scale;
        format!("{currency} {sign}{grouped}.{fraction:0width$}", width = digits as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(format_money(0, "EUR"), "EUR 0.00");
        assert_eq!(format_money(5, "EUR"), "EUR 0.05");
        assert_eq!(format_money(123_450, "EUR"), "EUR 1,234.50");
        assert_eq!(format_money(100_000_000, "USD"), "USD 1,000,000.00");
        assert_eq!(format_money(5_000, "JPY"), "JPY 5,000");
        assert_eq!(format_money(1_500, "KWD"), "KWD 1.500");
        assert_eq!(format_money(-250, "GBP"), "GBP -2.50");
        assert_eq!(format_money(i64::MIN, "EUR"), "EUR -92,233,720,368,547,758.08");
    }
}
