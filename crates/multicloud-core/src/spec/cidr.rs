//! IPv4 CIDR blocks (a tiny parser over [`Ipv4Addr`]) and the network rules built on them.

use std::fmt;
use std::net::Ipv4Addr;

use super::network::Network;
use super::validate::{Rule, ValidationError};

/// Smallest network prefix (largest network) the clouds accept for a VPC / VNet.
const MIN_NETWORK_PREFIX: u8 = 16;
/// Largest prefix (smallest block) accepted for a network or a subnet.
const MAX_PREFIX: u8 = 28;

/// An IPv4 block `a.b.c.d/prefix` whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cidr {
    addr: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/prefix`; the prefix is `0..=32` and the host bits must be zero.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a CIDR block: expected `a.b.c.d/prefix`"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            format!("`{text}` is not a CIDR block: `{addr}` is not an IPv4 address")
        })?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && prefix.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a CIDR block: prefix `{prefix}` is not a number from 0 to 32"
                )
            })?;
        let addr = u32::from(addr);
        let cidr = Self {
            addr: addr & mask(prefix),
            prefix,
        };
        if cidr.addr != addr {
            return Err(format!(
                "`{text}` has host bits set after the /{prefix} prefix; did you mean `{cidr}`?"
            ));
        }
        Ok(cidr)
    }

    /// The prefix length.
    pub(super) fn prefix(self) -> u8 {
        self.prefix
    }

    fn last(self) -> u32 {
        self.addr | !mask(self.prefix)
    }

    /// Whether `other` lies entirely inside this block.
    pub(super) fn contains(self, other: Cidr) -> bool {
        other.prefix >= self.prefix && other.addr & mask(self.prefix) == self.addr
    }

    /// Whether the two blocks share an address.
    pub(super) fn overlaps(self, other: Cidr) -> bool {
        self.addr <= other.last() && other.addr <= self.last()
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

/// The network's range: a valid CIDR, a /16 to /28 (`MIN_NETWORK_PREFIX..=MAX_PREFIX`).
fn check_range(cidr: &str, errors: &mut Vec<ValidationError>) -> Option<Cidr> {
    match Cidr::parse(cidr) {
        Ok(range) => {
            if !(MIN_NETWORK_PREFIX..=MAX_PREFIX).contains(&range.prefix()) {
                errors.push(ValidationError::new(
                    "spec.network.cidr",
                    Rule::Range,
                    format!(
                        "network range `{range}` is a /{}; it must be a /{MIN_NETWORK_PREFIX} to /{MAX_PREFIX}",
                        range.prefix()
                    ),
                ));
            }
            Some(range)
        }
        Err(message) => {
            errors.push(ValidationError::new(
                "spec.network.cidr",
                Rule::Cidr,
                message,
            ));
            None
        }
    }
}

/// The network rules: the range parses and is a /16 to /28; every subnet parses, is no
/// smaller than a /28, lies inside the range and overlaps no other subnet; there is one public
/// and one private subnet per zone, and at least two zones when a cluster is present.
pub(super) fn check_network(net: &Network, has_cluster: bool, errors: &mut Vec<ValidationError>) {
    let range = check_range(&net.cidr, errors);

    if net.zones == 0 {
        errors.push(ValidationError::new(
            "spec.network.zones",
            Rule::Range,
            "zones is 0; at least 1 is needed",
        ));
    } else if has_cluster && net.zones < 2 {
        errors.push(ValidationError::new(
            "spec.network.zones",
            Rule::Range,
            format!(
                "zones is {}; a cluster needs at least 2 (EKS requires subnets in two availability zones)",
                net.zones
            ),
        ));
    }

    // Subnets left out of a range that does not parse could not be derived: that is the
    // range's error, reported once at `cidr`, not again as missing subnets.
    let underived =
        range.is_none() && net.public_subnets.is_empty() && net.private_subnets.is_empty();
    let mut parsed: Vec<(String, Cidr)> = Vec::new();
    for (field, subnets) in [
        ("public_subnets", &net.public_subnets),
        ("private_subnets", &net.private_subnets),
    ] {
        if subnets.len() != usize::from(net.zones) && !underived {
            errors.push(ValidationError::new(
                format!("spec.network.{field}"),
                Rule::Range,
                format!(
                    "{} {field} given for {} zone(s); give exactly one per zone",
                    subnets.len(),
                    net.zones
                ),
            ));
        }
        for (i, text) in subnets.iter().enumerate() {
            let path = format!("spec.network.{field}[{i}]");
            let subnet = match Cidr::parse(text) {
                Ok(subnet) => subnet,
                Err(message) => {
                    errors.push(ValidationError::new(path, Rule::Cidr, message));
                    continue;
                }
            };
            if let Some(range) = range
                && !range.contains(subnet)
            {
                errors.push(ValidationError::new(
                    &path,
                    Rule::CidrOutside,
                    format!("subnet `{subnet}` lies outside the network range `{range}`"),
                ));
            } else if subnet.prefix() > MAX_PREFIX {
                errors.push(ValidationError::new(
                    &path,
                    Rule::Range,
                    format!("subnet `{subnet}` is smaller than a /{MAX_PREFIX}, the smallest subnet the clouds allow"),
                ));
            }
            if let Some((other_path, other)) =
                parsed.iter().find(|(_, other)| other.overlaps(subnet))
            {
                errors.push(ValidationError::new(
                    &path,
                    Rule::CidrOverlap,
                    format!("subnet `{subnet}` overlaps subnet `{other}` at {other_path}"),
                ));
            }
            parsed.push((path, subnet));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares_blocks() {
        let net = Cidr::parse("10.0.0.0/16").expect("valid");
        assert_eq!(net.to_string(), "10.0.0.0/16");
        let a = Cidr::parse("10.0.16.0/20").expect("valid");
        let b = Cidr::parse("10.0.20.0/24").expect("valid");
        assert!(net.contains(a) && a.overlaps(b) && b.overlaps(a));
        assert!(!a.contains(net));
        assert!(!Cidr::parse("10.1.0.0/24").expect("valid").overlaps(a));
        assert!(Cidr::parse("0.0.0.0/0").expect("valid").contains(net));
        assert_eq!(Cidr::parse("1.2.3.4/32").expect("valid").prefix(), 32);
    }

    #[test]
    fn rejects_bad_blocks() {
        for bad in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "a/8",
            "10.0.0.1/16",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let e = Cidr::parse("10.0.0.1/16").expect_err("host bits");
        assert!(e.contains("10.0.0.0/16"), "{e}");
    }
}
