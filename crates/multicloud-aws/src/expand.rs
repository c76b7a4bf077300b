//! The AWS shape of a stack: [`expand`] turns a [`StackSpec`] into the AWS resources of
//! `STACK-GRAPH.md` with their dependencies, deterministic names and desired configs.
//!
//! Each resource's `config` is the contract between this expansion and the service modules
//! that create it; the fields are listed on each `add_*` function.

use multicloud_core::Error;
use multicloud_core::expand::{WorkloadAnchors, workloads};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{SecretSource, StackSpec};
use multicloud_core::tags::{NameStyle, Naming};
use serde_json::json;

/// AWS managed policies attached to the EKS cluster role.
pub const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
/// AWS managed policies attached to the node role.
pub const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
];

/// Default RDS instance class.
pub const DEFAULT_DB_CLASS: &str = "db.t3.micro";
/// Default ElastiCache node type.
pub const DEFAULT_CACHE_NODE: &str = "cache.t3.micro";

/// Well-known ids of the AWS graph.
pub mod ids {
    use multicloud_core::resource::{ResourceId, ResourceKind};

    /// `vpc/main`.
    pub fn vpc() -> ResourceId {
        ResourceId::single(ResourceKind::Vpc)
    }
    /// `subnet/public-<i>` or `subnet/private-<i>`.
    pub fn subnet(public: bool, i: usize) -> ResourceId {
        ResourceId::new(
            ResourceKind::Subnet,
            format!("{}-{i}", if public { "public" } else { "private" }),
        )
    }
    /// `internet_gateway/main`.
    pub fn igw() -> ResourceId {
        ResourceId::single(ResourceKind::InternetGateway)
    }
    /// `route_table/public`.
    pub fn public_routes() -> ResourceId {
        ResourceId::new(ResourceKind::RouteTable, "public")
    }
    /// `security_group/<role>` with role `cluster`, `database` or `cache`.
    pub fn sg(role: &str) -> ResourceId {
        ResourceId::new(ResourceKind::SecurityGroup, role)
    }
    /// `cluster_role/main`.
    pub fn cluster_role() -> ResourceId {
        ResourceId::single(ResourceKind::ClusterRole)
    }
    /// `node_role/main`.
    pub fn node_role() -> ResourceId {
        ResourceId::single(ResourceKind::NodeRole)
    }
    /// `cluster/main`.
    pub fn cluster() -> ResourceId {
        ResourceId::single(ResourceKind::Cluster)
    }
    /// `oidc_provider/main`.
    pub fn oidc() -> ResourceId {
        ResourceId::single(ResourceKind::OidcProvider)
    }
    /// `db_subnet_group/main`.
    pub fn db_subnet_group() -> ResourceId {
        ResourceId::single(ResourceKind::DbSubnetGroup)
    }
    /// `database/main`.
    pub fn database() -> ResourceId {
        ResourceId::single(ResourceKind::Database)
    }
    /// `cache_subnet_group/main`.
    pub fn cache_subnet_group() -> ResourceId {
        ResourceId::single(ResourceKind::CacheSubnetGroup)
    }
    /// `cache/main`.
    pub fn cache() -> ResourceId {
        ResourceId::single(ResourceKind::Cache)
    }
}

/// The Secrets Manager name of spec secret `name`: `<stack>/<env>/<name>`.
pub fn secret_name(spec: &StackSpec, name: &str) -> String {
    format!("{}/{}/{}", spec.name, spec.environment, name)
}

/// The EKS cluster name: `<stack>-<env>`.
pub fn cluster_name(spec: &StackSpec) -> String {
    cluster_name_of(&spec.name, &spec.environment)
}

/// The EKS cluster name of `stack` in `environment` (what [`cluster_name`] gives its spec):
/// `<stack>-<env>`.
pub fn cluster_name_of(stack: &str, environment: &str) -> String {
    Naming::new(stack, environment).name("", NameStyle::hyphenated(100))
}

/// Expands `spec` into the AWS resource graph (apps included only when `with_workloads`).
pub fn expand(spec: &StackSpec, with_workloads: bool) -> Result<ResourceGraph, Error> {
    let n = Naming::new(&spec.name, &spec.environment);
    let mut g = ResourceGraph::new();
    let ephemeral = spec.ttl.is_some();
    let cluster_name = cluster_name(spec);

    let mut private = Vec::new();
    if let Some(net) = &spec.network {
        // vpc: {cidr}. outputs: id.
        g.add(
            Resource::new(
                ResourceKind::Vpc,
                "main",
                n.name("vpc", NameStyle::hyphenated(255)),
            )
            .config(json!({ "cidr": net.cidr })),
        )?;
        // subnet: {cidr, zone_index, public, cluster_name}. outputs: id, zone.
        let mut public = Vec::new();
        for (public_flag, list) in [(true, &net.public_subnets), (false, &net.private_subnets)] {
            for (i, cidr) in list.iter().enumerate() {
                let id = ids::subnet(public_flag, i);
                let kind = if public_flag { "public" } else { "private" };
                g.add(
                    Resource::new(ResourceKind::Subnet, format!("{kind}-{i}"), n.name(&format!("{kind}-{i}"), NameStyle::hyphenated(255)))
                        .depends_on(&ids::vpc())
                        .config(json!({ "cidr": cidr, "zone_index": i, "public": public_flag, "cluster_name": cluster_name })),
                )?;
                if public_flag {
                    public.push(id)
                } else {
                    private.push(id)
                }
            }
        }
        // internet_gateway: {}. outputs: id.
        g.add(
            Resource::new(
                ResourceKind::InternetGateway,
                "main",
                n.name("igw", NameStyle::hyphenated(255)),
            )
            .depends_on(&ids::vpc())
            .config(json!({})),
        )?;
        // route_table: {destination, subnets: [ids]}. outputs: id.
        g.add(
            Resource::new(
                ResourceKind::RouteTable,
                "public",
                n.name("public", NameStyle::hyphenated(255)),
            )
            .depends_on(&ids::vpc())
            .depends_on(&ids::igw())
            .depends_on_all(&public)
            .config(json!({ "destination": "0.0.0.0/0", "subnets": public })),
        )?;
        // security_group: {description, ingress: [{port, from}]} where `from` is a
        // security-group resource id. outputs: id.
        g.add(
            Resource::new(
                ResourceKind::SecurityGroup,
                "cluster",
                n.name("cluster", NameStyle::hyphenated(255)),
            )
            .depends_on(&ids::vpc())
            .config(json!({ "description": "EKS cluster and nodes", "ingress": [] })),
        )?;
        for (role, port, wanted) in [
            ("database", 5432, spec.database.is_some()),
            ("cache", 6379, spec.cache.is_some()),
        ] {
            if wanted {
                g.add(
                    Resource::new(
                        ResourceKind::SecurityGroup,
                        role,
                        n.name(role, NameStyle::hyphenated(255)),
                    )
                    .depends_on(&ids::vpc())
                    .depends_on(&ids::sg("cluster"))
                    .config(json!({
                        "description": format!("{role}: port {port} from the cluster only"),
                        "ingress": [{ "port": port, "from": ids::sg("cluster") }],
                    })),
                )?;
            }
        }
    }

    let mut cluster_ready = Vec::new();
    if let Some(cluster) = &spec.cluster {
        // cluster_role / node_role: {service, managed_policies}. outputs: name, arn.
        g.add(
            Resource::new(
                ResourceKind::ClusterRole,
                "main",
                n.name("eks-cluster", NameStyle::hyphenated(64)),
            )
            .config(
                json!({ "service": "eks.amazonaws.com", "managed_policies": CLUSTER_POLICIES }),
            ),
        )?;
        g.add(
            Resource::new(
                ResourceKind::NodeRole,
                "main",
                n.name("eks-node", NameStyle::hyphenated(64)),
            )
            .config(json!({ "service": "ec2.amazonaws.com", "managed_policies": NODE_POLICIES })),
        )?;
        // cluster: {version, subnets: [ids], security_group}. outputs: name, arn, endpoint,
        // ca_data, oidc_issuer.
        g.add(Resource::new(ResourceKind::Cluster, "main", &cluster_name)
            .depends_on(&ids::cluster_role())
            .depends_on_all(&private)
            .depends_on(&ids::sg("cluster"))
            .config(json!({ "version": cluster.version, "subnets": private, "security_group": ids::sg("cluster") })))?;
        // oidc_provider: {audience}. outputs: arn, url.
        g.add(
            Resource::new(ResourceKind::OidcProvider, "main", &cluster_name)
                .depends_on(&ids::cluster())
                .config(json!({ "audience": "sts.amazonaws.com" })),
        )?;
        // node_pool: {instance_type, min, max, desired, subnets}. outputs: name, arn.
        for pool in &cluster.node_pools {
            let r = Resource::new(ResourceKind::NodePool, &pool.name, &pool.name)
                .depends_on(&ids::cluster())
                .depends_on(&ids::node_role())
                .depends_on_all(&private)
                .config(json!({
                    "instance_type": pool.instance_type, "min": pool.min, "max": pool.max,
                    "desired": pool.desired_count(), "subnets": private,
                }));
            cluster_ready.push(r.id.clone());
            g.add(r)?;
        }
    }

    if let Some(db) = &spec.database {
        // db_subnet_group: {subnets}. outputs: name.
        g.add(
            Resource::new(
                ResourceKind::DbSubnetGroup,
                "main",
                n.name("db", NameStyle::hyphenated(255)),
            )
            .depends_on_all(&private)
            .config(json!({ "subnets": private })),
        )?;
        // database: {engine_version, storage_gb, instance_class, database_name, username,
        // deletion_protection, password_secret_name, security_group, subnet_group}.
        // outputs: host, port, database, username, password_secret, arn.
        g.add(Resource::new(ResourceKind::Database, "main", n.name("pg", NameStyle::hyphenated(63)))
            .depends_on(&ids::db_subnet_group())
            .depends_on(&ids::sg("database"))
            .config(json!({
                "engine_version": db.version,
                "storage_gb": db.storage_gb,
                "instance_class": db.instance_class.clone().unwrap_or_else(|| DEFAULT_DB_CLASS.into()),
                "database_name": db.database_name,
                "username": db.username,
                "deletion_protection": db.deletion_protection,
                "password_secret_name": secret_name(spec, "database-master-password"),
                "force_delete_secret": ephemeral,
                "security_group": ids::sg("database"),
                "subnet_group": ids::db_subnet_group(),
            })))?;
    }

    if let Some(cache) = &spec.cache {
        // cache_subnet_group: {subnets}. outputs: name.
        g.add(
            Resource::new(
                ResourceKind::CacheSubnetGroup,
                "main",
                n.name("cache", NameStyle::hyphenated(255)),
            )
            .depends_on_all(&private)
            .config(json!({ "subnets": private })),
        )?;
        // cache: {engine_version, node_type, replicas, security_group, subnet_group}.
        // outputs: host, port, arn.
        g.add(
            Resource::new(
                ResourceKind::Cache,
                "main",
                n.name("redis", NameStyle::hyphenated(40)),
            )
            .depends_on(&ids::cache_subnet_group())
            .depends_on(&ids::sg("cache"))
            .config(json!({
                "engine_version": cache.version,
                "node_type": cache.node_type.clone().unwrap_or_else(|| DEFAULT_CACHE_NODE.into()),
                "replicas": cache.replicas,
                "security_group": ids::sg("cache"),
                "subnet_group": ids::cache_subnet_group(),
            })),
        )?;
    }

    // registry: {keep_images, scan_on_push}. name `<stack>-<env>/<name>`. outputs: name, arn, url.
    for reg in &spec.registries {
        g.add(
            Resource::new(
                ResourceKind::Registry,
                &reg.name,
                format!("{}/{}", n.name("", NameStyle::hyphenated(200)), reg.name),
            )
            .config(json!({ "keep_images": reg.keep_images, "scan_on_push": true })),
        )?;
    }

    // secret: {source: {generated: {length}} | {from_env: {var}}, force_delete}.
    // outputs: name, arn, version.
    for s in &spec.secrets {
        let source = match &s.source {
            SecretSource::Generated { length } => json!({ "generated": { "length": length } }),
            SecretSource::FromEnv { var } => json!({ "from_env": { "var": var } }),
        };
        g.add(
            Resource::new(ResourceKind::Secret, &s.name, secret_name(spec, &s.name))
                .config(json!({ "source": source, "force_delete": ephemeral })),
        )?;
    }

    // workload_identity: {namespace, service_account, audience, read_secrets: [secret ids],
    // pull_registries: [registry ids]}. outputs: name, arn, identity, subject.
    for w in &spec.workload_identities {
        let secrets: Vec<ResourceId> = w
            .read_secrets
            .iter()
            .map(|s| ResourceId::new(ResourceKind::Secret, s))
            .collect();
        let registries: Vec<ResourceId> = w
            .pull_registries
            .iter()
            .map(|r| ResourceId::new(ResourceKind::Registry, r))
            .collect();
        g.add(
            Resource::new(
                ResourceKind::WorkloadIdentity,
                w.key(),
                n.name(&w.key(), NameStyle::hyphenated(64)),
            )
            .depends_on(&ids::oidc())
            .depends_on_all(&secrets)
            .depends_on_all(&registries)
            .config(json!({
                "namespace": w.namespace,
                "service_account": w.service_account,
                "audience": "sts.amazonaws.com",
                "read_secrets": secrets,
                "pull_registries": registries,
            })),
        )?;
    }

    if !spec.apps.is_empty() {
        if !with_workloads {
            return Err(Error::Provider(multicloud_core::ProviderError::new(
                multicloud_core::ErrorKind::Unsupported,
                "the spec has apps but no Kubernetes backend is attached to the AWS provider (attach multicloud-k8s with AwsProvider::with_workloads)",
            )));
        }
        if cluster_ready.is_empty() {
            cluster_ready.push(ids::cluster());
        }
        workloads(spec, &mut g, &WorkloadAnchors { cluster_ready })?;
    }

    g.validate()?;
    Ok(g)
}
