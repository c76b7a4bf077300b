//! The subnets of a network given by its range only (`network: {cidr: 10.1.0.0/16}`), laid
//! out as [`Network::default`] is: for a range of prefix `p`, the public subnets are the
//! first blocks of prefix `p + 8` (a /16's first /24s) and the private ones the blocks of
//! prefix `p + 4` after the first, which holds the public ones (a /16's second, third...
//! /20s), one of each per zone.

use std::net::Ipv4Addr;

use super::network::Network;

/// The largest prefix a derived public subnet may have (the clouds' smallest subnet, /28),
/// so the largest range prefix subnets are derived for is this minus 8.
const MAX_SUBNET_PREFIX: u32 = 28;

/// The public and private subnets of `zones` zones in `cidr` (see the module docs), or why
/// there are none: `cidr` is not a range with zero host bits, is smaller than a /20, or
/// `zones` is not 1 to 15.
pub(super) fn derive(cidr: &str, zones: u8) -> Result<(Vec<String>, Vec<String>), String> {
    let (addr, prefix) = parse(cidr)?;
    if prefix + 8 > MAX_SUBNET_PREFIX {
        return Err(format!(
            "`{cidr}` is smaller than a /{}: give its subnets",
            MAX_SUBNET_PREFIX - 8
        ));
    }
    if !(1..=15).contains(&zones) {
        return Err(format!(
            "subnets are derived for 1 to 15 zones, not {zones}"
        ));
    }
    let block = |index: u32, prefix: u32| {
        let size = 1u32 << (32 - prefix);
        format!("{}/{prefix}", Ipv4Addr::from(addr + index * size))
    };
    let zones = u32::from(zones);
    let public = (0..zones).map(|i| block(i, prefix + 8)).collect();
    let private = (1..=zones).map(|i| block(i, prefix + 4)).collect();
    Ok((public, private))
}

/// `a.b.c.d/p` as its address and prefix; host bits must be zero.
fn parse(cidr: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{cidr}` is not a CIDR range such as 10.0.0.0/16");
    let (addr, prefix) = cidr.split_once('/').ok_or_else(bad)?;
    let addr = u32::from(addr.parse::<Ipv4Addr>().map_err(|_| bad())?);
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    if prefix == 0 || prefix > 32 || addr & (u32::MAX >> prefix) != 0 {
        return Err(bad());
    }
    Ok((addr, prefix))
}

/// Gives `network` the derived subnets when it names neither public nor private ones
/// (validation reports a range they cannot be derived for, as subnets missing).
pub(super) fn fill(network: &mut Network) {
    if !network.public_subnets.is_empty() || !network.private_subnets.is_empty() {
        return;
    }
    if let Ok((public, private)) = derive(&network.cidr, network.zones) {
        network.public_subnets = public;
        network.private_subnets = private;
    }
}

impl Network {
    /// The range `cidr` over 2 zones with its subnets derived as for [`Network::default`]
    /// (`10.1.0.0/16`: public `10.1.0.0/24`, `10.1.1.0/24`; private `10.1.16.0/20`,
    /// `10.1.32.0/20`). For a range smaller than a /20 none are derived, which validation
    /// reports.
    pub fn from_cidr(cidr: impl Into<String>) -> Self {
        let mut network = Self {
            cidr: cidr.into(),
            public_subnets: Vec::new(),
            private_subnets: Vec::new(),
            ..Self::default()
        };
        fill(&mut network);
        network
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_16_is_laid_out_as_the_default_network() {
        let default = Network::default();
        let (public, private) = derive(&default.cidr, default.zones).expect("derived");
        assert_eq!(
            (public, private),
            (
                default.public_subnets.clone(),
                default.private_subnets.clone()
            )
        );
        assert_eq!(Network::from_cidr("10.0.0.0/16"), default);
    }

    #[test]
    fn other_ranges_and_zone_counts() {
        let (public, private) = derive("10.1.0.0/16", 3).expect("derived");
        assert_eq!(
            public,
            strings(&["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"])
        );
        assert_eq!(
            private,
            strings(&["10.1.16.0/20", "10.1.32.0/20", "10.1.48.0/20"])
        );
        let (public, private) = derive("172.16.0.0/12", 2).expect("derived");
        assert_eq!(public, strings(&["172.16.0.0/20", "172.16.16.0/20"]));
        assert_eq!(private, strings(&["172.17.0.0/16", "172.18.0.0/16"]));
        let (public, private) = derive("192.168.16.0/20", 2).expect("derived");
        assert_eq!(public, strings(&["192.168.16.0/28", "192.168.16.16/28"]));
        assert_eq!(private, strings(&["192.168.17.0/24", "192.168.18.0/24"]));
        let (_, private) = derive("10.0.0.0/16", 15).expect("15 zones fit");
        assert_eq!(private.last().map(String::as_str), Some("10.0.240.0/20"));
    }

    #[test]
    fn what_cannot_be_split_says_why() {
        for (cidr, zones, why) in [
            ("10.0.0.0/22", 2, "smaller than a /20"),
            ("10.0.0.0/16", 0, "1 to 15 zones"),
            ("10.0.0.0/16", 16, "1 to 15 zones"),
            ("10.0.0.1/16", 2, "not a CIDR range"),
            ("10.0.0.0", 2, "not a CIDR range"),
            ("10.0.0.0/x", 2, "not a CIDR range"),
        ] {
            let err = derive(cidr, zones).expect_err(cidr);
            assert!(err.contains(why), "{cidr}: {err}");
        }
        let mut small = Network::from_cidr("10.0.0.0/24");
        assert!(small.public_subnets.is_empty() && small.private_subnets.is_empty());
        // Given subnets are kept.
        small.public_subnets = strings(&["10.0.0.0/28"]);
        fill(&mut small);
        assert_eq!(small.public_subnets, strings(&["10.0.0.0/28"]));
        assert!(small.private_subnets.is_empty());
    }
}
