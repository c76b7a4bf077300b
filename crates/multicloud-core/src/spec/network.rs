//! The network part of a [`StackSpec`](super::StackSpec): an address range, public and
//! private subnets per zone, and the way out of the private subnets.

use serde::{Deserialize, Serialize};

/// The network: an address range split into public and private subnets across zones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The address range of the whole network (`10.0.0.0/16`).
    pub cidr: String,
    /// Number of availability zones the subnets are spread over (2 by default).
    #[serde(default = "default_zones")]
    pub zones: u8,
    /// Public subnets, one per zone.
    pub public_subnets: Vec<String>,
    /// Private subnets, one per zone (cluster nodes, database, cache).
    pub private_subnets: Vec<String>,
    /// How the private subnets reach the internet (cluster nodes pulling images, joining
    /// the cluster): one NAT gateway per zone by default.
    #[serde(default, skip_serializing_if = "Nat::is_default")]
    pub nat: Nat,
}

fn default_zones() -> u8 {
    2
}

impl Default for Network {
    /// `10.0.0.0/16` over 2 zones: public `10.0.0.0/24`, `10.0.1.0/24`; private
    /// `10.0.16.0/20`, `10.0.32.0/20`.
    fn default() -> Self {
        Self {
            cidr: "10.0.0.0/16".into(),
            zones: 2,
            public_subnets: vec!["10.0.0.0/24".into(), "10.0.1.0/24".into()],
            private_subnets: vec!["10.0.16.0/20".into(), "10.0.32.0/20".into()],
            nat: Nat::default(),
        }
    }
}

impl Network {
    /// A network with the given range and explicit subnets.
    pub fn new(cidr: impl Into<String>, public: &[&str], private: &[&str]) -> Self {
        Self {
            cidr: cidr.into(),
            zones: public.len().max(private.len()) as u8,
            public_subnets: public.iter().map(|s| s.to_string()).collect(),
            private_subnets: private.iter().map(|s| s.to_string()).collect(),
            nat: Nat::default(),
        }
    }

    /// How the private subnets reach the internet ([`Nat::PerZone`] by default).
    pub fn nat(mut self, nat: Nat) -> Self {
        self.nat = nat;
        self
    }
}

/// How the private subnets (cluster nodes, database, cache) reach the internet. On AWS the
/// nodes of an EKS managed node group in private subnets need a way out to pull images and
/// join the cluster: a NAT gateway with an Elastic IP in a public subnet, and a private
/// route table sending `0.0.0.0/0` to it. (Azure: AKS nodes leave through the cluster's
/// load balancer, `outboundType: loadBalancer`, whatever this says.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nat {
    /// One NAT gateway per zone, each zone's private subnet routed to its own: a zone's
    /// outage leaves the other zones' egress working (AWS's recommendation for production).
    #[default]
    PerZone,
    /// One NAT gateway in the first zone shared by every private subnet: cheaper (one
    /// gateway, one address), for ephemeral and test environments; cross-zone traffic and
    /// one zone's outage cut the others' egress.
    Single,
}

impl Nat {
    /// Whether this is the default ([`Nat::PerZone`]), left out when serialized.
    pub fn is_default(&self) -> bool {
        *self == Nat::default()
    }
}
