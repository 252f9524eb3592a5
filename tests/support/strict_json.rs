//! A strict I-JSON (RFC 7493) reader for tests and fuzz targets: a line must
//! be one JSON object that serde_json reads, with no key twice in any
//! object, no number that overflows or underflows a double, and nesting
//! within serde_json's limit of 128. Written apart from logmux's own
//! `ijson` check, so the two can disagree.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why a line is not strict I-JSON.
pub fn check(line: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let top = Strict::deserialize(&mut de).map_err(|e| format!("{e}: {line}"))?;
    de.end().map_err(|e| format!("{e}: {line}"))?;
    if !top.0 {
        return Err(format!("not an object: {line}"));
    }
    numbers_in_range(line)
}

/// Deserialised for its checks only; `true` when it was an object.
struct Strict(bool);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict(false))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Strict, E> {
        if f.is_finite() {
            Ok(Strict(false))
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict(false))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict(false))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<Strict>()?;
        }
        Ok(Strict(true))
    }
}

/// serde_json reads `1.5e-400` as 0: every number outside strings whose
/// digits are not all zero must read as non-zero.
fn numbers_in_range(line: &str) -> Result<(), String> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let n = &line[start..i];
                let mantissa = n.split(['e', 'E']).next().unwrap_or("");
                let zero = n.parse::<f64>().map_or(true, |f| f == 0.0);
                if zero && mantissa.bytes().any(|c| matches!(c, b'1'..=b'9')) {
                    return Err(format!("number {n} underflows a double: {line}"));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}
