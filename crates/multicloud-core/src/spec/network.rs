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
    /// Public subnets, one per zone. In YAML, leaving out both lists derives them from
    /// `cidr` as [`Network::from_cidr`] does.
    #[serde(default)]
    pub public_subnets: Vec<String>,
    /// Private subnets, one per zone (cluster nodes, database, cache).
    #[serde(default)]
    pub private_subnets: Vec<String>,
    /// How the private subnets reach the internet (cluster nodes pulling images, joining
    /// the cluster): one NAT gateway per zone by default.
    #[serde(default, skip_serializing_if = "Nat::is_default")]
    pub nat: Nat,
    /// Cloud services reached privately from inside the network, without the internet (on
    /// AWS, VPC endpoints in the private subnets); none by default. With [`Nat::None`] they
    /// are the nodes' only way to the services they need.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<ServiceEndpoint>,
    /// What only Azure reads of the network (`azure:` in `network`).
    #[serde(default, skip_serializing_if = "AzureNetwork::is_default")]
    pub azure: AzureNetwork,
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
            endpoints: Vec::new(),
            azure: AzureNetwork::default(),
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
            endpoints: Vec::new(),
            azure: AzureNetwork::default(),
        }
    }

    /// How the private subnets reach the internet ([`Nat::PerZone`] by default).
    pub fn nat(mut self, nat: Nat) -> Self {
        self.nat = nat;
        self
    }

    /// Reaches `endpoint` privately from inside the network (added once).
    pub fn endpoint(mut self, endpoint: ServiceEndpoint) -> Self {
        if !self.endpoints.contains(&endpoint) {
            self.endpoints.push(endpoint);
        }
        self
    }

    /// Every endpoint a private cluster's nodes and workloads need
    /// ([`ServiceEndpoint::PRIVATE_CLUSTER`]): with [`Nat::None`], a network with no way to
    /// the internet whose nodes still pull images, join the cluster, assume their workload
    /// roles and read their secrets.
    pub fn private_endpoints(self) -> Self {
        ServiceEndpoint::PRIVATE_CLUSTER
            .iter()
            .fold(self, |net, e| net.endpoint(*e))
    }

    /// How AKS nodes reach the internet (Azure; [`AksOutbound::LoadBalancer`] by default).
    pub fn aks_outbound(mut self, outbound: AksOutbound) -> Self {
        self.azure.outbound = outbound;
        self
    }

    /// Whether the private subnets have a route to the internet.
    pub fn has_internet_egress(&self) -> bool {
        self.nat != Nat::None
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
    /// No NAT gateway: the private subnets have no route to the internet (their route table
    /// holds only the network's own range and the [`ServiceEndpoint`]s' routes). For private
    /// clusters: the nodes reach the cloud's services through
    /// [`Network::private_endpoints`], which validation then requires.
    None,
}

impl Nat {
    /// Whether this is the default ([`Nat::PerZone`]), left out when serialized.
    pub fn is_default(&self) -> bool {
        *self == Nat::default()
    }
}

/// What only Azure reads of the network (`azure:` in `network`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureNetwork {
    /// How the AKS nodes reach the internet.
    #[serde(default, skip_serializing_if = "AksOutbound::is_default")]
    pub outbound: AksOutbound,
}

impl AzureNetwork {
    /// Whether nothing differs from the defaults (left out when serialized).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// How AKS nodes reach the internet (the cluster's `outboundType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AksOutbound {
    /// Through the cluster's standard load balancer (`loadBalancer`, AKS's default): no extra
    /// resource, outbound rules managed by AKS; its SNAT ports are shared by the nodes, which
    /// busy clusters can run out of.
    #[default]
    LoadBalancer,
    /// Through a NAT gateway of the stack (`userAssignedNATGateway`: a Standard public IP and
    /// a NAT gateway associated with the cluster subnet; AKS's managed NAT gateway works only
    /// with a network AKS creates itself, and ours is the stack's): up to 64,512 flows per
    /// address, one stable egress address to allow-list.
    NatGateway,
}

impl AksOutbound {
    /// Whether this is the default ([`AksOutbound::LoadBalancer`]).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A cloud service the network reaches privately, without the internet. On AWS each is one or
/// more VPC endpoints in the private subnets (interface endpoints with private DNS behind a
/// security group open on 443 to the VPC's range; S3 as a gateway endpoint on the private
/// route tables). Azure ignores them: AKS nodes leave through the cluster's load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceEndpoint {
    /// The container registry: `ecr.api`, `ecr.dkr`, and the S3 gateway (image layers are
    /// S3 objects).
    Registry,
    /// The compute API (`ec2`): what the nodes' network plugin and bootstrap call.
    Compute,
    /// The token service (`sts`): workload identities (IRSA) exchange their tokens there.
    Identity,
    /// The secret store (`secretsmanager`).
    Secrets,
    /// The load balancer API (`elasticloadbalancing`), for in-cluster load balancer
    /// controllers.
    LoadBalancing,
    /// The log service (`logs`), for node and workload log shippers.
    Logs,
}

impl ServiceEndpoint {
    /// What a private cluster needs (the EKS private-cluster requirements): the registry,
    /// the compute API, the token service and the secret store.
    pub const PRIVATE_CLUSTER: &'static [ServiceEndpoint] = &[
        ServiceEndpoint::Registry,
        ServiceEndpoint::Compute,
        ServiceEndpoint::Identity,
        ServiceEndpoint::Secrets,
    ];

    /// Its name in a spec (`registry`, `load_balancing`…).
    pub fn as_str(&self) -> &'static str {
        match self {
            ServiceEndpoint::Registry => "registry",
            ServiceEndpoint::Compute => "compute",
            ServiceEndpoint::Identity => "identity",
            ServiceEndpoint::Secrets => "secrets",
            ServiceEndpoint::LoadBalancing => "load_balancing",
            ServiceEndpoint::Logs => "logs",
        }
    }
}

/// Nodes in private subnets without NAT must reach the registry and the compute API through
/// endpoints (they pull images and join the cluster through them).
pub(super) fn check_egress(
    net: &Network,
    has_nodes: bool,
    errors: &mut Vec<super::ValidationError>,
) {
    if net.has_internet_egress() || !has_nodes {
        return;
    }
    let missing: Vec<String> = [ServiceEndpoint::Registry, ServiceEndpoint::Compute]
        .into_iter()
        .filter(|e| !net.endpoints.contains(e))
        .map(|e| e.as_str().to_string())
        .collect();
    if !missing.is_empty() {
        errors.push(super::ValidationError::new(
            "spec.network.endpoints",
            super::Rule::Unsupported,
            format!(
                "nat is none, so the cluster's nodes have no way to the internet: they need the \
                 endpoints {} to pull images and join the cluster (add them, e.g. \
                 `Network::private_endpoints()` / `endpoints: [registry, compute, identity, \
                 secrets]`, or choose nat single)",
                missing.join(", ")
            ),
        ));
    }
}
