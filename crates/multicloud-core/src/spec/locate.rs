//! Where a field path is in a YAML text: line and column, as the YAML parser marks them.
//!
//! The text is read again with a probe that follows the path (map keys, sequence indexes,
//! the variant of a tagged value) and fails on purpose at the node it looks for; the
//! parser marks that failure with the node's position, which is the answer. So positions
//! are exactly the parser's, for block and flow YAML alike.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, IgnoredAny, MapAccess, SeqAccess};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// A map key (or a tagged value's variant).
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Which position of the node at the end of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// The key naming it (`network:` for a `network` missing a field).
    Key,
    /// Its value, or its key when the value is a map or a sequence (which start on the
    /// line after their key).
    Value,
}

/// The marker of the probe's own failure: `<MARK><depth reached>:<kind>`.
const MARK: &str = "\u{1}located:";

/// The line and column (1-based) of `path` in `text`. A step the text does not have is
/// skipped (a validation path may name a field the text leaves implicit, such as `source`
/// in `secrets[0].source.generated.length` written `generated: {length: ..}`); when nothing
/// further matches, the deepest node found is the answer.
pub(super) fn locate(text: &str, path: &[Step], want: Want) -> Option<(usize, usize)> {
    let mut path = path.to_vec();
    for _ in 0..=path.len() {
        let (at, depth, container) = probe(text, &path, want)?;
        if depth == path.len() {
            if want == Want::Value && container && matches!(path.last(), Some(Step::Key(_))) {
                return probe(text, &path, Want::Key).map(|(at, ..)| at);
            }
            return Some(at);
        }
        path.remove(depth);
    }
    None
}

/// One probe: where it stopped, how deep it got, and whether it stopped on a map or
/// sequence.
fn probe(text: &str, path: &[Step], want: Want) -> Option<((usize, usize), usize, bool)> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let err = match (Probe {
        path,
        depth: 0,
        want,
    })
    .deserialize(de)
    {
        Ok(()) => return None,
        Err(err) => err,
    };
    let message = err.to_string();
    let (_, rest) = message.split_once(MARK)?;
    let (depth, kind) = rest.split_once(':')?;
    let depth = depth.parse().ok()?;
    let location = err.location()?;
    Some((
        (location.line(), location.column()),
        depth,
        kind.starts_with("container"),
    ))
}

/// Follows `path` from the node it is given; always fails, with [`MARK`].
struct Probe<'p> {
    path: &'p [Step],
    depth: usize,
    want: Want,
}

impl Probe<'_> {
    fn here<E: de::Error>(&self, container: bool) -> E {
        let kind = if container { "container" } else { "scalar" };
        E::custom(format!("{MARK}{}:{kind}", self.depth))
    }

    fn child(&self) -> Probe<'_> {
        Probe {
            path: &self.path[1..],
            depth: self.depth + 1,
            want: self.want,
        }
    }

    /// Whether the key at the end of the path is what is looked for.
    fn key_wanted(&self) -> bool {
        self.want == Want::Key && self.path.len() == 1
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! scalar {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
            Err(self.here(false))
        }
    )*};
}

impl<'de> de::Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.here(false))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(self.here(false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(Step::Index(index)) = self.path.first() else {
            return Err(self.here(true));
        };
        for _ in 0..*index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(self.here(true));
            }
        }
        seq.next_element_seed(self.child())?;
        Err(self.here(true))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(Step::Key(wanted)) = self.path.first() else {
            return Err(self.here(true));
        };
        if self.key_wanted() {
            while map
                .next_key_seed(KeyProbe {
                    wanted,
                    depth: self.depth + 1,
                })?
                .is_some()
            {
                map.next_value::<IgnoredAny>()?;
            }
            return Err(self.here(true));
        }
        while let Some(key) = map.next_key::<String>()? {
            if key == *wanted {
                map.next_value_seed(self.child())?;
                break;
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(self.here(true))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (variant, access) = data.variant::<String>()?;
        match self.path.first() {
            Some(Step::Key(wanted)) if *wanted == variant && !self.key_wanted() => {
                de::VariantAccess::newtype_variant_seed(access, self.child())?;
            }
            _ => {
                de::VariantAccess::newtype_variant::<IgnoredAny>(access)?;
            }
        }
        Err(self.here(true))
    }
}

/// A map key; fails (at the key) when it is the one wanted.
struct KeyProbe<'p> {
    wanted: &'p str,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> de::Visitor<'de> for KeyProbe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v == self.wanted {
            return Err(E::custom(format!("{MARK}{}:scalar", self.depth)));
        }
        Ok(())
    }
}

/// The steps of a field path as validation writes it (`spec.apps[0].image`), without the
/// leading `spec`.
pub(super) fn steps(path: &str) -> Vec<Step> {
    let path = path.strip_prefix("spec").unwrap_or(path);
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                steps.push(Step::Key(rest[..open].to_owned()));
            }
            rest = &rest[open..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some((index, after)) = inner.split_once(']') else {
                    break;
                };
                if let Ok(index) = index.parse() {
                    steps.push(Step::Index(index));
                }
                rest = after;
            }
        } else {
            steps.push(Step::Key(rest.to_owned()));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
name: shop
network:
  cidr: 10.0.0.0/16
  public_subnets: [10.0.0.0/24, 10.0.1.0/24]
secrets:
  - name: a
    source: !generated
      length: 8
  - {name: b, generated: {length: 40}}
ttl: 4x
";

    fn at(path: &str, want: Want) -> Option<(usize, usize)> {
        locate(TEXT, &steps(path), want)
    }

    /// Line `line` and the column where `needle` starts on it.
    fn pos(line: usize, needle: &str) -> Option<(usize, usize)> {
        let text = TEXT.lines().nth(line - 1).expect("line");
        Some((line, text.find(needle).expect("needle") + 1))
    }

    #[test]
    fn paths_are_found_at_the_parsers_positions() {
        assert_eq!(at("spec.ttl", Want::Value), pos(10, "4x"));
        assert_eq!(at("spec.ttl", Want::Key), pos(10, "ttl"));
        // A map value is pointed at by its key.
        assert_eq!(at("spec.network", Want::Value), pos(2, "network"));
        let subnet = at("spec.network.public_subnets[1]", Want::Value);
        assert_eq!(subnet, pos(4, "10.0.1.0/24"));
        let tagged = at("spec.secrets[0].source.generated.length", Want::Value);
        assert_eq!(tagged, pos(8, "8"));
        // `source` is implicit in the flat form: skipped.
        let flat = at("spec.secrets[1].source.generated.length", Want::Value);
        assert_eq!(flat, pos(9, "40"));
        // What the text does not have: the nearest node it has.
        assert_eq!(at("spec.network.zones", Want::Value), pos(2, "network"));
        assert_eq!(at("spec.cluster", Want::Value), pos(1, "name"));
        assert_eq!(at("spec.secrets[7]", Want::Value), pos(5, "secrets"));
    }

    #[test]
    fn validation_paths_split_into_steps() {
        assert_eq!(
            steps("spec.cluster.node_pools[2].max"),
            [
                Step::Key("cluster".into()),
                Step::Key("node_pools".into()),
                Step::Index(2),
                Step::Key("max".into())
            ]
        );
        assert!(steps("spec").is_empty());
    }
}
