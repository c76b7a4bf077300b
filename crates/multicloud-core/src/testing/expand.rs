//! The memory cloud's expansion: the AWS-shaped graph of STACK-GRAPH.md with generic names,
//! so engine tests and benches run on a realistic dependency structure.

use std::time::Duration;

use serde_json::json;

use crate::expand::{ServiceAnchor, WorkloadAnchors, workloads};
use crate::kind::{KindDef, NEUTRAL_CLOUD_KINDS, ServiceFamily};
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::spec::{Connection, SecretSource, StackSpec};
use crate::tags::{NameStyle, Naming};

/// The kinds the memory cloud declares itself (the AWS-shaped network and IAM kinds), as a
/// provider crate does: core does not know them.
pub mod kinds {
    use crate::resource::ResourceKind;
    /// A virtual network.
    pub const VPC: ResourceKind = ResourceKind::new("vpc");
    /// A subnet.
    pub const SUBNET: ResourceKind = ResourceKind::new("subnet");
    /// An internet gateway.
    pub const INTERNET_GATEWAY: ResourceKind = ResourceKind::new("internet_gateway");
    /// A route table.
    pub const ROUTE_TABLE: ResourceKind = ResourceKind::new("route_table");
    /// A security group.
    pub const SECURITY_GROUP: ResourceKind = ResourceKind::new("security_group");
    /// The cluster's role.
    pub const CLUSTER_ROLE: ResourceKind = ResourceKind::new("cluster_role");
    /// The nodes' role.
    pub const NODE_ROLE: ResourceKind = ResourceKind::new("node_role");
    /// The cluster's OIDC provider.
    pub const OIDC_PROVIDER: ResourceKind = ResourceKind::new("oidc_provider");
    /// The database's subnet group.
    pub const DB_SUBNET_GROUP: ResourceKind = ResourceKind::new("db_subnet_group");
    /// The cache's subnet group.
    pub const CACHE_SUBNET_GROUP: ResourceKind = ResourceKind::new("cache_subnet_group");
}

/// Every kind of the memory cloud with its family.
pub fn kind_defs() -> Vec<KindDef> {
    use kinds::*;
    let net = |k| KindDef::new(k, ServiceFamily::Network).expected(Duration::from_secs(2));
    let id = |k| KindDef::new(k, ServiceFamily::Identity);
    let mut defs = vec![
        net(VPC),
        net(SUBNET),
        net(INTERNET_GATEWAY),
        net(ROUTE_TABLE),
        net(SECURITY_GROUP),
        id(CLUSTER_ROLE),
        id(NODE_ROLE),
        id(OIDC_PROVIDER),
        KindDef::new(DB_SUBNET_GROUP, ServiceFamily::Database),
        KindDef::new(CACHE_SUBNET_GROUP, ServiceFamily::Cache),
    ];
    defs.extend_from_slice(NEUTRAL_CLOUD_KINDS);
    defs
}

/// The memory cloud's names: `<stack>-<env>-<part>`.
type Name<'a> = &'a dyn Fn(&str) -> String;

type Expanded<T> = Result<T, crate::expand::ExpandError>;

/// Expands `spec` into the memory cloud's resources.
pub fn expand(spec: &StackSpec) -> Expanded<ResourceGraph> {
    let n = Naming::new(&spec.name, &spec.environment);
    let name = |part: &str| n.name(part, NameStyle::hyphenated(63));
    let mut g = ResourceGraph::new();
    let private = network(spec, &name, &mut g)?;
    let mut anchors = cluster(spec, &name, &private, &mut g)?;
    data_services(spec, &name, &private, &mut g)?;
    // The memory database keeps its password in the memory secret store under the name its
    // outputs give (`password_secret`); the memory cache has no key: the neutral anchors,
    // what the memory provider's `data_service` answers (the trait's default).
    anchors.database = ServiceAnchor::neutral(spec, Connection::Database);
    anchors.cache = ServiceAnchor::neutral(spec, Connection::Cache);
    registries_secrets_identities(spec, &name, &mut g)?;
    if !spec.apps.is_empty() {
        if anchors.cluster_ready.is_empty() {
            anchors
                .cluster_ready
                .push(ResourceId::single(ResourceKind::CLUSTER));
        }
        workloads(spec, &mut g, &anchors)?;
    }
    // The engine checks the graph (known dependencies, no cycle) before planning.
    Ok(g)
}

/// VPC, subnets, gateway, public routes and security groups; returns the private subnets.
fn network(spec: &StackSpec, name: Name<'_>, g: &mut ResourceGraph) -> Expanded<Vec<ResourceId>> {
    use kinds::*;
    let vpc = ResourceId::single(VPC);
    let mut private = Vec::new();
    let cluster_sg = ResourceId::new(SECURITY_GROUP, "cluster");
    if let Some(net) = &spec.network {
        g.add(Resource::new(VPC, "main", name("vpc")).with_config(&json!({ "cidr": net.cidr }))?)?;
        let mut public = Vec::new();
        for (kind, list) in [
            ("public", &net.public_subnets),
            ("private", &net.private_subnets),
        ] {
            for (i, cidr) in list.iter().enumerate() {
                let r = Resource::new(SUBNET, format!("{kind}-{i}"), name(&format!("{kind}-{i}")))
                    .depends_on(&vpc)
                    .with_config(&json!({ "cidr": cidr }))?;
                if kind == "public" {
                    public.push(r.id.clone())
                } else {
                    private.push(r.id.clone())
                }
                g.add(r)?;
            }
        }
        let igw = g
            .add(Resource::new(INTERNET_GATEWAY, "main", name("igw")).depends_on(&vpc))?
            .clone();
        g.add(
            Resource::new(ROUTE_TABLE, "public", name("public"))
                .depends_on(&vpc)
                .depends_on(&igw)
                .depends_on_all(&public),
        )?;
        g.add(Resource::new(SECURITY_GROUP, "cluster", name("cluster")).depends_on(&vpc))?;
        for (role, port, wanted) in [
            ("database", 5432, spec.database.is_some()),
            ("cache", 6379, spec.cache.is_some()),
        ] {
            if wanted {
                g.add(
                    Resource::new(SECURITY_GROUP, role, name(role))
                        .depends_on(&vpc)
                        .depends_on(&cluster_sg)
                        .with_config(&json!({ "port": port }))?,
                )?;
            }
        }
    }
    Ok(private)
}

/// Roles, the cluster, its OIDC provider and node pools; returns what the workloads wait for.
fn cluster(
    spec: &StackSpec,
    name: Name<'_>,
    private: &[ResourceId],
    g: &mut ResourceGraph,
) -> Expanded<WorkloadAnchors> {
    use kinds::*;
    let mut anchors = WorkloadAnchors::default();
    let cluster = ResourceId::single(ResourceKind::CLUSTER);
    let cluster_sg = ResourceId::new(SECURITY_GROUP, "cluster");
    if let Some(c) = &spec.cluster {
        let cluster_role = g
            .add(Resource::new(CLUSTER_ROLE, "main", name("eks-cluster")))?
            .clone();
        let node_role = g
            .add(Resource::new(NODE_ROLE, "main", name("eks-node")))?
            .clone();
        g.add(
            Resource::new(ResourceKind::CLUSTER, "main", name(""))
                .depends_on(&cluster_role)
                .depends_on_all(private)
                .depends_on(&cluster_sg)
                .with_config(&json!({ "version": c.version }))?,
        )?;
        g.add(Resource::new(OIDC_PROVIDER, "main", name("oidc")).depends_on(&cluster))?;
        for p in &c.node_pools {
            let r = Resource::new(ResourceKind::NODE_POOL, &p.name, &p.name)
                .depends_on(&cluster)
                .depends_on(&node_role)
                .depends_on_all(private)
                .with_config(&json!({ "instance_type": p.instance_type, "min": p.min, "max": p.max, "desired": p.desired_count() }))?;
            anchors.cluster_ready.push(r.id.clone());
            g.add(r)?;
        }
    }
    Ok(anchors)
}

/// The database and cache with their subnet groups.
fn data_services(
    spec: &StackSpec,
    name: Name<'_>,
    private: &[ResourceId],
    g: &mut ResourceGraph,
) -> Expanded<()> {
    use kinds::*;
    if let Some(db) = &spec.database {
        let group = g
            .add(Resource::new(DB_SUBNET_GROUP, "main", name("db")).depends_on_all(private))?
            .clone();
        g.add(Resource::new(ResourceKind::DATABASE, "main", name("pg"))
            .depends_on(&group)
            .depends_on(&ResourceId::new(SECURITY_GROUP, "database"))
            .with_config(&json!({ "engine_version": db.version, "storage_gb": db.storage_gb, "database_name": db.database_name, "username": db.username }))?)?;
    }
    if let Some(cache) = &spec.cache {
        let group = g
            .add(Resource::new(CACHE_SUBNET_GROUP, "main", name("cache")).depends_on_all(private))?
            .clone();
        g.add(
            Resource::new(ResourceKind::CACHE, "main", name("redis"))
                .depends_on(&group)
                .depends_on(&ResourceId::new(SECURITY_GROUP, "cache"))
                .with_config(
                    &json!({ "engine_version": cache.version, "replicas": cache.replicas }),
                )?,
        )?;
    }
    Ok(())
}

/// Registries, secrets and workload identities.
fn registries_secrets_identities(
    spec: &StackSpec,
    name: Name<'_>,
    g: &mut ResourceGraph,
) -> Expanded<()> {
    let oidc = ResourceId::single(kinds::OIDC_PROVIDER);
    for r in &spec.registries {
        g.add(
            Resource::new(
                ResourceKind::REGISTRY,
                &r.name,
                format!("{}/{}", name(""), r.name),
            )
            .with_config(&json!({ "keep_images": r.keep_images }))?,
        )?;
    }
    for s in &spec.secrets {
        let source = match &s.source {
            SecretSource::Generated { length } => json!({ "generated": { "length": length } }),
            SecretSource::FromEnv { var } => json!({ "from_env": { "var": var } }),
        };
        g.add(
            Resource::new(
                ResourceKind::SECRET,
                &s.name,
                format!("{}/{}/{}", spec.name, spec.environment, s.name),
            )
            .with_config(&json!({ "source": source }))?,
        )?;
    }
    for w in &spec.workload_identities {
        let secrets: Vec<ResourceId> = w
            .read_secrets
            .iter()
            .map(|s| ResourceId::new(ResourceKind::SECRET, s))
            .collect();
        g.add(Resource::new(ResourceKind::WORKLOAD_IDENTITY, w.key(), name(&w.key()))
            .depends_on(&oidc)
            .depends_on_all(&secrets)
            .with_config(&json!({ "namespace": w.namespace, "service_account": w.service_account, "read_secrets": secrets }))?)?;
    }
    Ok(())
}
