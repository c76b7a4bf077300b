//! YAML as people write it: a secret's source and an app's image as plain maps and strings,
//! no YAML tags.
//!
//! ```yaml
//! secrets:
//!   - name: api-token
//!     generated: {length: 40}          # or: source: {generated: {length: 40}}
//!   - name: api-key
//!     from_env: API_KEY
//! apps:
//!   - name: api
//!     image: {registry: shop-api, tag: v1}
//!   - name: web
//!     image: nginx:1.27                 # a plain string: an image from outside the stack
//! ```
//!
//! The tagged forms of earlier releases (`source: !generated {length: 32}`,
//! `image: !registry {registry: shop-api, tag: v1}`, `!external {image: ...}`) and the
//! one-key maps of their JSON (`{registry: {registry: .., tag: ..}}`) keep loading; what is
//! written is the plain form. Every key is read through [`Names`], so an unknown one is
//! reported at its own line, with the fields it could have been.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::existing::ExistingCluster;
use super::types::{ImageRef, SecretSource, SecretSpec};

/// A key of a map read by hand ([`Names::fields`]) or the variant of a tagged value
/// (`!generated`, [`Names::variants`]): deserialized as an identifier, so an unknown one is
/// an error raised at the key itself (`unknown field` or `unknown variant`, with the
/// expected names).
#[derive(Clone, Copy)]
struct Names {
    names: &'static [&'static str],
    variant: bool,
}

impl Names {
    /// The keys of a map.
    fn fields(names: &'static [&'static str]) -> Self {
        Self {
            names,
            variant: false,
        }
    }

    /// The variants of a tagged value.
    fn variants(names: &'static [&'static str]) -> Self {
        Self {
            names,
            variant: true,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Names {
    type Value = &'static str;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> de::Visitor<'de> for Names {
    type Value = &'static str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {:?}", self.names)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        let found = self.names.iter().find(|f| **f == v).copied();
        found.ok_or_else(|| match self.variant {
            false => E::unknown_field(v, self.names),
            true => E::unknown_variant(v, self.names),
        })
    }
}

/// Sets `slot` once; a second value is an error naming both ways of saying it.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format!("{what} is given twice; give it once")));
    }
    *slot = Some(value);
    Ok(())
}

/// The value of the map `{<field>: value}` of one field, given once.
fn only_field<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    mut map: A,
    field: &'static [&'static str; 1],
) -> Result<T, A::Error> {
    let mut value = None;
    while map.next_key_seed(Names::fields(field))?.is_some() {
        once(
            &mut value,
            map.next_value::<T>()?,
            &format!("`{}`", field[0]),
        )?;
    }
    value.ok_or_else(|| de::Error::missing_field(field[0]))
}

/// `{length: N}`: a generated secret's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Length {
    length: u32,
}

/// An environment variable's name: `VAR`, or the map `{var: VAR}` of earlier releases.
struct EnvVar(String);

impl<'de> Deserialize<'de> for EnvVar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EnvVarVisitor)
    }
}

struct EnvVarVisitor;

impl<'de> de::Visitor<'de> for EnvVarVisitor {
    type Value = EnvVar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an environment variable's name (`from_env: API_KEY`)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvVar, E> {
        Ok(EnvVar(v.to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EnvVar, A::Error> {
        only_field(map, &["var"]).map(EnvVar)
    }
}

const SOURCES: &[&str] = &["generated", "from_env"];

/// The source named `key` (`generated`, `from_env`), its content read from `map`.
fn source_from<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<SecretSource, A::Error> {
    Ok(match key {
        "generated" => SecretSource::Generated {
            length: map.next_value::<Length>()?.length,
        },
        _ => SecretSource::FromEnv {
            var: map.next_value::<EnvVar>()?.0,
        },
    })
}

impl SecretSource {
    /// Writes the source into `map` as its one entry: `generated: {length: N}` or
    /// `from_env: VAR`.
    fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Self::Generated { length } => {
                map.serialize_entry("generated", &Length { length: *length })
            }
            Self::FromEnv { var } => map.serialize_entry("from_env", var),
        }
    }
}

impl Serialize for SecretSource {
    /// `generated: {length: N}` or `from_env: VAR`, as a one-key map.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        self.serialize_entry(&mut map)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    /// `{generated: {length: N}}`, `{from_env: VAR}`, or the tagged `!generated {length: N}`
    /// / `!from_env {var: VAR}` of earlier releases.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

impl<'de> de::Visitor<'de> for SourceVisitor {
    type Value = SecretSource;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`{generated: {length: N}}` or `{from_env: VAR}`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSource, A::Error> {
        let mut source = None;
        while let Some(key) = map.next_key_seed(Names::fields(SOURCES))? {
            once(
                &mut source,
                source_from(key, &mut map)?,
                "the secret's source",
            )?;
        }
        source.ok_or_else(|| de::Error::custom("give `generated: {length: N}` or `from_env: VAR`"))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<SecretSource, A::Error> {
        let (variant, access) = data.variant_seed(Names::variants(SOURCES))?;
        Ok(match variant {
            "generated" => SecretSource::Generated {
                length: access.newtype_variant::<Length>()?.length,
            },
            _ => SecretSource::FromEnv {
                var: access.newtype_variant::<EnvVar>()?.0,
            },
        })
    }
}

impl Serialize for SecretSpec {
    /// `{name, generated: {length: N}}` or `{name, from_env: VAR}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("name", &self.name)?;
        self.source.serialize_entry(&mut map)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for SecretSpec {
    /// `name` and one of `generated`, `from_env` or `source` (see the module docs).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> de::Visitor<'de> for SecretVisitor {
    type Value = SecretSpec;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a secret: `{name: ..., generated: {length: N}}` or `{name: ..., from_env: VAR}`",
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSpec, A::Error> {
        const FIELDS: &[&str] = &["name", "generated", "from_env", "source"];
        let (mut name, mut source) = (None, None);
        while let Some(key) = map.next_key_seed(Names::fields(FIELDS))? {
            match key {
                "name" => once(&mut name, map.next_value::<String>()?, "`name`")?,
                "source" => once(&mut source, map.next_value()?, "the secret's source")?,
                key => once(
                    &mut source,
                    source_from(key, &mut map)?,
                    "the secret's source",
                )?,
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let source = source.ok_or_else(|| {
            de::Error::custom(format!(
                "secret `{name}` needs where its value comes from: `generated: {{length: N}}` \
                 or `from_env: VAR`"
            ))
        })?;
        Ok(SecretSpec { name, source })
    }
}

/// serde `with` module for an app's image: `nginx:1.27` (from outside the stack) or
/// `{registry: shop-api, tag: v1}` (one of the stack's registries).
pub(super) mod image {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(image: &ImageRef, s: S) -> Result<S::Ok, S::Error> {
        match image {
            ImageRef::External { image } => s.serialize_str(image),
            ImageRef::Registry { registry, tag } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("registry", registry)?;
                map.serialize_entry("tag", tag)?;
                map.end()
            }
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ImageRef, D::Error> {
        d.deserialize_any(ImageVisitor)
    }
}

/// `{registry, tag}` (a registry image's parts, as in the tagged form of earlier releases).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryImage {
    registry: String,
    tag: String,
}

/// `{image}` (the tagged external form of earlier releases).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalImage {
    image: String,
}

/// The value of `registry:` in an image map: the registry's name, or (earlier releases'
/// JSON) the whole `{registry, tag}`.
enum RegistryValue {
    Name(String),
    Whole(RegistryImage),
}

impl<'de> Deserialize<'de> for RegistryValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = RegistryValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the name of one of the stack's registries")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RegistryValue, E> {
                Ok(RegistryValue::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RegistryValue, A::Error> {
                RegistryImage::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RegistryValue::Whole)
            }
        }
        d.deserialize_any(V)
    }
}

struct ImageVisitor;

impl<'de> de::Visitor<'de> for ImageVisitor {
    type Value = ImageRef;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an image: `nginx:1.27`, or `{registry: <registry name>, tag: v1}`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ImageRef, E> {
        Ok(ImageRef::External {
            image: v.to_owned(),
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ImageRef, A::Error> {
        const FIELDS: &[&str] = &["registry", "tag", "external"];
        let (mut registry, mut tag, mut external) = (None, None, None);
        while let Some(key) = map.next_key_seed(Names::fields(FIELDS))? {
            match key {
                "registry" => once(
                    &mut registry,
                    map.next_value::<RegistryValue>()?,
                    "`registry`",
                )?,
                "tag" => once(&mut tag, map.next_value::<String>()?, "`tag`")?,
                _ => once(
                    &mut external,
                    map.next_value::<ExternalImage>()?.image,
                    "`external`",
                )?,
            }
        }
        match (registry, tag, external) {
            (Some(RegistryValue::Name(registry)), Some(tag), None) => {
                Ok(ImageRef::Registry { registry, tag })
            }
            (Some(RegistryValue::Name(_)), None, None) => Err(de::Error::missing_field("tag")),
            (Some(RegistryValue::Whole(r)), None, None) => Ok(ImageRef::Registry {
                registry: r.registry,
                tag: r.tag,
            }),
            (None, None, Some(image)) => Ok(ImageRef::External { image }),
            (None, Some(_), None) => Err(de::Error::missing_field("registry")),
            _ => Err(de::Error::custom(
                "an image is `nginx:1.27` or `{registry: <registry name>, tag: v1}`, not both",
            )),
        }
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<ImageRef, A::Error> {
        let (variant, access) = data.variant_seed(Names::variants(&["registry", "external"]))?;
        Ok(match variant {
            "registry" => {
                let r = access.newtype_variant::<RegistryImage>()?;
                ImageRef::Registry {
                    registry: r.registry,
                    tag: r.tag,
                }
            }
            _ => ImageRef::External {
                image: access.newtype_variant::<ExternalImage>()?.image,
            },
        })
    }
}

impl<'de> Deserialize<'de> for ExistingCluster {
    /// `attached`, or `{id: <cluster id>}`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExistingClusterVisitor)
    }
}

struct ExistingClusterVisitor;

impl<'de> de::Visitor<'de> for ExistingClusterVisitor {
    type Value = ExistingCluster;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`attached` or a map `{id: <cluster id>}`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ExistingCluster, E> {
        match v {
            "attached" => Ok(ExistingCluster::Attached),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExistingCluster, A::Error> {
        only_field(map, &["id"]).map(ExistingCluster::Id)
    }
}
