//! `30s` / `15m` / `4h` / `2d` durations for the YAML form of a spec.

use std::time::Duration;

/// Parses `<number><unit>` with unit `s`, `m`, `h` or `d`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration `{text}` needs a unit: s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("duration `{text}` must start with a whole number"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => return Err(format!("duration unit `{other}` is not one of s, m, h, d")),
    };
    Ok(Duration::from_secs(secs))
}

/// Formats with the largest unit that divides the duration exactly.
pub(crate) fn format(d: Duration) -> String {
    let s = d.as_secs();
    if s != 0 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// serde `with` module for `Option<Duration>`.
pub(crate) mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| super::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (text, secs) in [("30s", 30), ("15m", 900), ("4h", 14_400), ("2d", 172_800)] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)));
            assert_eq!(format(Duration::from_secs(secs)), text);
        }
        assert!(parse("4").is_err());
        assert!(parse("h").is_err());
        assert!(parse("4w").is_err());
    }
}
