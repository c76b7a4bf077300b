//! The network of the AWS graph: VPC, public and private subnets, internet gateway, public
//! route table, the private subnets' way out (NAT gateways with their addresses and private
//! route tables, or an isolated private route table without NAT), the VPC endpoints of the
//! spec's [`ServiceEndpoint`]s, and security groups.

use multicloud_core::expand::{ExistingConfig, ExpandError};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId};
use multicloud_core::spec::{
    ExistingNetwork, Nat, Network, Rule, ServiceEndpoint, StackSpec, ValidationError,
};
use multicloud_core::tags::{NameStyle, Naming};

use super::{cluster_name, ids, spec_error};
use crate::kinds;
use crate::model::{
    ElasticIpConfig, IngressRule, InternetGatewayConfig, NatGatewayConfig, RouteTableConfig,
    SecurityGroupConfig, SubnetConfig, VpcConfig, VpcEndpointConfig,
};

/// What the rest of the graph builds on: the private subnets, and what gives them a way out
/// (private route tables, VPC endpoints: what node groups need before their nodes can join).
#[derive(Debug, Default)]
pub(super) struct Subnets {
    pub(super) private: Vec<ResourceId>,
    pub(super) egress: Vec<ResourceId>,
}

/// VPC, subnets, internet gateway, public route table, the private subnets' way out, VPC
/// endpoints and security groups.
pub(super) fn network(
    spec: &StackSpec,
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<Subnets, ExpandError> {
    if let Some(existing) = &spec.existing_network {
        return existing_network(spec, existing, n, g);
    }
    let Some(net) = &spec.network else {
        return Ok(Subnets::default());
    };
    let name = |part: &str| n.name(part, NameStyle::hyphenated(255));
    g.add(
        Resource::new(kinds::VPC, "main", name("vpc")).with_config(&VpcConfig {
            cidr: net.cidr.clone(),
        })?,
    )?;
    let (public, private) = subnets(spec, net, n, g)?;
    g.add(
        Resource::new(kinds::INTERNET_GATEWAY, "main", name("igw"))
            .depends_on(&ids::vpc())
            .with_config(&InternetGatewayConfig {})?,
    )?;
    g.add(
        Resource::new(kinds::ROUTE_TABLE, "public", name("public"))
            .depends_on(&ids::vpc())
            .depends_on(&ids::igw())
            .depends_on_all(&public)
            .with_config(&RouteTableConfig {
                destination: Some("0.0.0.0/0".into()),
                subnets: public.clone(),
                via: None,
            })?,
    )?;
    let mut egress = nat(net.nat, &public, &private, n, g)?;
    egress.extend(endpoints(net, &private, &egress, n, g)?);
    security_groups(spec, &private, n, g)?;
    Ok(Subnets { private, egress })
}

/// An existing VPC and its subnets, read-only (read for their ids and ranges, never changed
/// or deleted), and the stack's own security groups in it. Its way out is its owner's.
fn existing_network(
    spec: &StackSpec,
    existing: &ExistingNetwork,
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<Subnets, ExpandError> {
    let read_only = |kind, id: &ResourceId, cloud_id: &str| -> Result<Resource, ExpandError> {
        Ok(Resource::new(kind, id.key(), cloud_id)
            .read_only()
            .with_config(&ExistingConfig {
                existing: cloud_id.to_string(),
            })?)
    };
    let needs_two = spec.cluster.is_some() || spec.database.is_some() || spec.cache.is_some();
    if needs_two && existing.private_subnets.len() < 2 {
        return Err(spec_error(ValidationError::new(
            "spec.existing_network.private_subnets",
            Rule::Range,
            "EKS clusters and RDS / ElastiCache subnet groups need private subnets in at \
             least two availability zones: name two or more",
        )));
    }
    g.add(read_only(kinds::VPC, &ids::vpc(), &existing.id)?)?;
    let mut private = Vec::new();
    for (is_public, list) in [
        (true, &existing.public_subnets),
        (false, &existing.private_subnets),
    ] {
        for (i, subnet) in list.iter().enumerate() {
            let id = ids::subnet(is_public, i);
            g.add(read_only(kinds::SUBNET, &id, subnet)?.depends_on(&ids::vpc()))?;
            if !is_public {
                private.push(id);
            }
        }
    }
    security_groups(spec, &private, n, g)?;
    Ok(Subnets {
        private,
        egress: Vec::new(),
    })
}

/// The public and private subnets, one of each per zone.
fn subnets(
    spec: &StackSpec,
    net: &Network,
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<(Vec<ResourceId>, Vec<ResourceId>), ExpandError> {
    let cluster_name = cluster_name(spec);
    let (mut public, mut private) = (Vec::new(), Vec::new());
    for (is_public, list) in [(true, &net.public_subnets), (false, &net.private_subnets)] {
        for (i, cidr) in list.iter().enumerate() {
            let id = ids::subnet(is_public, i);
            g.add(
                Resource::new(
                    kinds::SUBNET,
                    id.key(),
                    n.name(id.key(), NameStyle::hyphenated(255)),
                )
                .depends_on(&ids::vpc())
                .with_config(&SubnetConfig {
                    cidr: cidr.clone(),
                    zone_index: i,
                    public: is_public,
                    cluster_name: cluster_name.clone(),
                })?,
            )?;
            if is_public {
                public.push(id)
            } else {
                private.push(id)
            }
        }
    }
    Ok((public, private))
}

/// The cluster's security group, and the database's and cache's: their port from the
/// cluster's group and from the private subnets' ranges, where the nodes and pods are (EKS
/// managed nodes carry the cluster security group EKS makes, not ours).
fn security_groups(
    spec: &StackSpec,
    private: &[ResourceId],
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let name = |part: &str| n.name(part, NameStyle::hyphenated(255));
    g.add(
        Resource::new(kinds::SECURITY_GROUP, "cluster", name("cluster"))
            .depends_on(&ids::vpc())
            .with_config(&SecurityGroupConfig {
                description: "EKS cluster and nodes".into(),
                ingress: Vec::new(),
            })?,
    )?;
    for (role, port, wanted) in [
        ("database", 5432, spec.database.is_some()),
        ("cache", 6379, spec.cache.is_some()),
    ] {
        if !wanted {
            continue;
        }
        let ingress = std::iter::once(ids::sg("cluster"))
            .chain(private.iter().cloned())
            .map(|from| IngressRule { port, from })
            .collect();
        g.add(
            Resource::new(kinds::SECURITY_GROUP, role, name(role))
                .depends_on(&ids::vpc())
                .depends_on(&ids::sg("cluster"))
                .depends_on_all(private)
                .with_config(&SecurityGroupConfig {
                    description: format!("{role}: port {port} from the cluster only"),
                    ingress,
                })?,
        )?;
    }
    Ok(())
}

/// The private subnets' way out: an Elastic IP and a NAT gateway in the public subnet of
/// each zone (or of the first zone only, shared, with [`Nat::Single`]), each behind the
/// internet gateway; a private route table per gateway sending `0.0.0.0/0` to it, associated
/// with the private subnets it serves. With [`Nat::None`], one private route table without a
/// default route. Returns the private route tables.
fn nat(
    mode: Nat,
    public: &[ResourceId],
    private: &[ResourceId],
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    let name = |part: &str| n.name(part, NameStyle::hyphenated(255));
    // (gateway zone, route table, the private subnets it serves)
    let tables: Vec<(Option<usize>, ResourceId, Vec<ResourceId>)> = match mode {
        Nat::PerZone => (0..private.len().min(public.len()))
            .map(|i| {
                (
                    Some(i),
                    ids::private_routes(Some(i)),
                    vec![private[i].clone()],
                )
            })
            .collect(),
        Nat::Single if !public.is_empty() => {
            vec![(Some(0), ids::private_routes(None), private.to_vec())]
        }
        Nat::Single => Vec::new(),
        Nat::None if !private.is_empty() => {
            vec![(None, ids::private_routes(None), private.to_vec())]
        }
        Nat::None => Vec::new(),
    };
    let mut egress = Vec::new();
    for (zone, table, served) in tables {
        let mut rt = Resource::new(kinds::ROUTE_TABLE, table.key(), name(table.key()))
            .depends_on(&ids::vpc())
            .depends_on_all(&served);
        let via = match zone {
            Some(i) => {
                let gateway = nat_gateway(i, public, n, g)?;
                rt = rt.depends_on(&gateway);
                Some(gateway)
            }
            None => None,
        };
        g.add(rt.with_config(&RouteTableConfig {
            destination: via.as_ref().map(|_| "0.0.0.0/0".to_string()),
            subnets: served,
            via,
        })?)?;
        egress.push(table);
    }
    Ok(egress)
}

/// The Elastic IP and NAT gateway of zone `i`, in its public subnet; returns the gateway.
fn nat_gateway(
    i: usize,
    public: &[ResourceId],
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<ResourceId, ExpandError> {
    let name = n.name(&format!("nat-{i}"), NameStyle::hyphenated(255));
    let (eip, gateway) = (ids::elastic_ip(i), ids::nat_gateway(i));
    g.add(
        Resource::new(kinds::ELASTIC_IP, eip.key(), name.clone())
            .with_config(&ElasticIpConfig {})?,
    )?;
    g.add(
        Resource::new(kinds::NAT_GATEWAY, gateway.key(), name)
            .depends_on(&public[i])
            .depends_on(&eip)
            // A public NAT gateway needs the VPC's internet gateway (AWS docs), and goes
            // before it on teardown.
            .depends_on(&ids::igw())
            .with_config(&NatGatewayConfig {
                subnet: public[i].clone(),
                address: eip,
            })?,
    )?;
    Ok(gateway)
}

/// The AWS services behind `endpoint`: (service, gateway endpoint).
fn services(endpoint: ServiceEndpoint) -> &'static [(&'static str, bool)] {
    match endpoint {
        ServiceEndpoint::Registry => &[("ecr.api", false), ("ecr.dkr", false), ("s3", true)],
        ServiceEndpoint::Compute => &[("ec2", false)],
        ServiceEndpoint::Identity => &[("sts", false)],
        ServiceEndpoint::Secrets => &[("secretsmanager", false)],
        ServiceEndpoint::LoadBalancing => &[("elasticloadbalancing", false)],
        ServiceEndpoint::Logs => &[("logs", false)],
    }
}

/// The VPC endpoints of the spec's [`ServiceEndpoint`]s: interface endpoints in the private
/// subnets behind `security_group/endpoints` (443 from the VPC's range), gateway endpoints
/// on the private route tables `tables`. Returns them.
fn endpoints(
    net: &Network,
    private: &[ResourceId],
    tables: &[ResourceId],
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    if net.endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let name = |part: &str| n.name(part, NameStyle::hyphenated(255));
    let sg = ids::sg("endpoints");
    g.add(
        Resource::new(kinds::SECURITY_GROUP, sg.key(), name("endpoints"))
            .depends_on(&ids::vpc())
            .with_config(&SecurityGroupConfig {
                description: "VPC endpoints: HTTPS from the VPC".into(),
                ingress: vec![IngressRule {
                    port: 443,
                    from: ids::vpc(),
                }],
            })?,
    )?;
    let mut made = Vec::new();
    for endpoint in &net.endpoints {
        for (service, gateway) in services(*endpoint) {
            let id = ids::vpc_endpoint(service);
            let r = Resource::new(
                kinds::VPC_ENDPOINT,
                id.key(),
                name(&format!("vpce-{}", service.replace('.', "-"))),
            )
            .depends_on(&ids::vpc());
            let r = if *gateway {
                r.depends_on_all(tables)
            } else {
                r.depends_on_all(private).depends_on(&sg)
            };
            g.add(r.with_config(&VpcEndpointConfig {
                service: service.to_string(),
                gateway: *gateway,
                subnets: if *gateway {
                    Vec::new()
                } else {
                    private.to_vec()
                },
                route_tables: if *gateway {
                    tables.to_vec()
                } else {
                    Vec::new()
                },
                security_group: (!gateway).then(|| sg.clone()),
            })?)?;
            made.push(id);
        }
    }
    Ok(made)
}
