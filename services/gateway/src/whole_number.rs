//! Whole numbers in request bodies, read as the OpenAPI document describes them.
//!
//! JSON has one kind of number, and the JSON Schema of the document (2020-12) counts `10.0` and
//! `1e1` as the integer 10, so every integer field of a request takes them: serde alone would
//! refuse any number written with a fraction or an exponent for an integer field, and the
//! document and the server would disagree. A number with a fractional part (`10.5`) or outside
//! the field's range is still refused, naming the field.
//!
//! Use it as `#[serde(deserialize_with = "whole_number::required")]`, or for an optional field
//! `#[serde(default, deserialize_with = "whole_number::optional")]`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A whole number of type `T`, however it is written.
struct Whole<T>(T);

impl<'de, T> Deserialize<'de> for Whole<T>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WholeVisitor(PhantomData)).map(Whole)
    }
}

struct WholeVisitor<T>(PhantomData<T>);

impl<T> WholeVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    fn out_of_range<E: de::Error>(unexpected: de::Unexpected<'_>) -> E {
        E::invalid_value(unexpected, &"a whole number in the field's range")
    }
}

impl<T> Visitor<'_> for WholeVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| Self::out_of_range(de::Unexpected::Unsigned(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        T::try_from(value).map_err(|_| Self::out_of_range(de::Unexpected::Signed(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // -2^63 and 2^63 are exact as floats; every whole float in between converts exactly.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() != 0.0 || !(-LIMIT..LIMIT).contains(&value) {
            return Err(Self::out_of_range(de::Unexpected::Float(value)));
        }
        #[allow(clippy::cast_possible_truncation)]
        let whole = value as i64;
        T::try_from(whole).map_err(|_| Self::out_of_range(de::Unexpected::Float(value)))
    }
}

/// Reads a whole number field.
pub fn required<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64>,
{
    Whole::deserialize(deserializer).map(|Whole(value)| value)
}

/// Reads an optional whole number field; `null` is absent.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64>,
{
    Option::<Whole<T>>::deserialize(deserializer).map(|value| value.map(|Whole(value)| value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Numbers {
        #[serde(deserialize_with = "required")]
        count: u32,
        #[serde(default, deserialize_with = "optional")]
        price: Option<i64>,
    }

    fn read(json: &str) -> Result<Numbers, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction_or_an_exponent() {
        for json in [r#"{"count": 10}"#, r#"{"count": 10.0}"#, r#"{"count": 1e1}"#, r#"{"count": 1.0E1}"#] {
            assert_eq!(read(json).unwrap().count, 10, "{json}");
        }
        let numbers = read(r#"{"count": 0, "price": -4500.0}"#).unwrap();
        assert_eq!(numbers.price, Some(-4500));
        assert_eq!(read(r#"{"count": 1, "price": null}"#).unwrap().price, None);
        assert_eq!(read(r#"{"count": 1}"#).unwrap().price, None);
        assert_eq!(read(r#"{"count": 4294967295.0}"#).unwrap().count, u32::MAX);
    }

    #[test]
    fn a_fraction_a_number_out_of_range_or_another_type_is_refused() {
        for json in [
            r#"{"count": 10.5}"#,
            r#"{"count": -1}"#,
            r#"{"count": -1.0}"#,
            r#"{"count": 4294967296}"#,
            r#"{"count": 1e300}"#,
            r#"{"count": "10"}"#,
            r#"{"count": true}"#,
            r#"{"count": null}"#,
            r#"{"count": 1, "price": 9.5}"#,
        ] {
            assert!(read(json).is_err(), "{json}");
        }
    }
}
