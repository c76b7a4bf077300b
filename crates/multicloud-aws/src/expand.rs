//! The AWS shape of a stack: [`expand`] turns a [`StackSpec`] into the AWS resources of
//! `STACK-GRAPH.md` with their dependencies, deterministic names and typed configs
//! ([`crate::model`]). The graph is the one description of what depends on what: the
//! engine's create and teardown orders and the sweeper's deletion order
//! ([`crate::order`]) all come from it.

use multicloud_core::expand::ExpandError;
use multicloud_core::expand::ServiceAnchor;
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{Connection, SecretSource, SpecErrors, StackSpec, ValidationError};
use multicloud_core::tags::{NameStyle, Naming};

use crate::kinds;
use crate::model::{
    CacheConfig, ClusterConfig, DatabaseConfig, NodePoolConfig, OidcConfig, RegistryConfig,
    RoleConfig, SecretConfig, SecretSourceConfig, SubnetGroupConfig, WorkloadIdentityConfig,
};

mod existing;
mod network;
pub mod resolve;

use network::{Subnets, network};

/// AWS managed policies attached to the EKS cluster role.
pub const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
/// AWS managed policies attached to the node role.
pub const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
];

/// Default RDS instance class (the `dev` tier's).
pub const DEFAULT_DB_CLASS: &str = "db.t3.micro";
/// Default ElastiCache node type (the `dev` tier's).
pub const DEFAULT_CACHE_NODE: &str = "cache.t3.micro";

/// Well-known ids of the AWS graph.
pub mod ids {
    use multicloud_core::resource::{ResourceId, ResourceKind};

    use crate::kinds;

    /// `vpc/main`.
    pub fn vpc() -> ResourceId {
        ResourceId::single(kinds::VPC)
    }
    /// `subnet/public-<i>` or `subnet/private-<i>`.
    pub fn subnet(public: bool, i: usize) -> ResourceId {
        ResourceId::new(
            kinds::SUBNET,
            format!("{}-{i}", if public { "public" } else { "private" }),
        )
    }
    /// `internet_gateway/main`.
    pub fn igw() -> ResourceId {
        ResourceId::single(kinds::INTERNET_GATEWAY)
    }
    /// `route_table/public`.
    pub fn public_routes() -> ResourceId {
        ResourceId::new(kinds::ROUTE_TABLE, "public")
    }
    /// `elastic_ip/nat-<i>`: the address of the NAT gateway of zone `i`.
    pub fn elastic_ip(i: usize) -> ResourceId {
        ResourceId::new(kinds::ELASTIC_IP, format!("nat-{i}"))
    }
    /// `nat_gateway/<i>`: the NAT gateway in the public subnet of zone `i`.
    pub fn nat_gateway(i: usize) -> ResourceId {
        ResourceId::new(kinds::NAT_GATEWAY, i.to_string())
    }
    /// `route_table/private-<i>` (one NAT gateway per zone) or `route_table/private` (one
    /// shared gateway: `None`).
    pub fn private_routes(zone: Option<usize>) -> ResourceId {
        match zone {
            Some(i) => ResourceId::new(kinds::ROUTE_TABLE, format!("private-{i}")),
            None => ResourceId::new(kinds::ROUTE_TABLE, "private"),
        }
    }
    /// `vpc_endpoint/<service>`: the VPC endpoint of AWS service `service` (`ecr.api`, `s3`…).
    pub fn vpc_endpoint(service: &str) -> ResourceId {
        ResourceId::new(kinds::VPC_ENDPOINT, service)
    }
    /// `security_group/<role>` with role `cluster`, `database`, `cache` or `endpoints`.
    pub fn sg(role: &str) -> ResourceId {
        ResourceId::new(kinds::SECURITY_GROUP, role)
    }
    /// `cluster_role/main`.
    pub fn cluster_role() -> ResourceId {
        ResourceId::single(kinds::CLUSTER_ROLE)
    }
    /// `node_role/main`.
    pub fn node_role() -> ResourceId {
        ResourceId::single(kinds::NODE_ROLE)
    }
    /// `cluster/main`.
    pub fn cluster() -> ResourceId {
        ResourceId::single(ResourceKind::CLUSTER)
    }
    /// `oidc_provider/main`.
    pub fn oidc() -> ResourceId {
        ResourceId::single(kinds::OIDC_PROVIDER)
    }
    /// `db_subnet_group/main`.
    pub fn db_subnet_group() -> ResourceId {
        ResourceId::single(kinds::DB_SUBNET_GROUP)
    }
    /// `database/main`.
    pub fn database() -> ResourceId {
        ResourceId::single(ResourceKind::DATABASE)
    }
    /// `cache_subnet_group/main`.
    pub fn cache_subnet_group() -> ResourceId {
        ResourceId::single(kinds::CACHE_SUBNET_GROUP)
    }
    /// `cache/main`.
    pub fn cache() -> ResourceId {
        ResourceId::single(ResourceKind::CACHE)
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

/// The resource id of the database's master-password secret (a node of the graph, created
/// before the database and deleted after it).
pub fn db_password_id() -> ResourceId {
    ResourceId::new(ResourceKind::SECRET, DB_PASSWORD_SECRET)
}

/// The spec-independent name of the database master-password secret.
pub const DB_PASSWORD_SECRET: &str = "database-master-password";

/// The resource id of the cache's AUTH-token secret (created before the cache, deleted after
/// it).
pub fn cache_auth_token_id() -> ResourceId {
    ResourceId::new(ResourceKind::SECRET, CACHE_AUTH_TOKEN_SECRET)
}

/// The spec-independent name of the cache AUTH-token secret.
pub const CACHE_AUTH_TOKEN_SECRET: &str = "cache-auth-token";

/// Data service `service` of `spec` as apps (and `Stack::database_url` / `cache_url`) reach
/// it: `database/main` with its master-password secret node ([`db_password_id`]),
/// `cache/main` with its AUTH-token secret node ([`cache_auth_token_id`]); what
/// `AwsProvider`'s `CloudProvider::data_service` answers.
pub fn data_service(spec: &StackSpec, service: Connection) -> Option<ServiceAnchor> {
    let credential = match service {
        Connection::Database => db_password_id(),
        Connection::Cache => cache_auth_token_id(),
    };
    ServiceAnchor::neutral(spec, service).map(|a| a.with_credential(credential))
}

/// Expands `spec` into the AWS resource graph, apps included (the engine refuses a spec
/// with apps when no workload backend is attached to the stack). Sizes are the values
/// [`resolve`] picks for AWS; a node pool without one is a typed [`ExpandError::Spec`].
pub fn expand(spec: &StackSpec) -> Result<ResourceGraph, ExpandError> {
    let n = Naming::new(&spec.name, &spec.environment);
    let mut g = ResourceGraph::new();
    let Subnets { private, egress } = network(spec, &n, &mut g)?;
    let mut cluster_ready = cluster(spec, &n, &private, &egress, &mut g)?;
    cluster_ready.extend(existing::cluster(spec, &mut g)?);
    database(spec, &n, &private, &mut g)?;
    cache(spec, &n, &private, &mut g)?;
    registries_and_secrets(spec, &n, &mut g)?;
    identities(spec, &n, &mut g)?;
    multicloud_core::expand::apps(spec, &mut g, cluster_ready, data_service)?;
    // The engine checks the graph (known dependencies, no cycle) before planning.
    Ok(g)
}

/// A value the spec lacks for AWS, as the typed spec error validation gives.
fn spec_error(error: ValidationError) -> ExpandError {
    ExpandError::Spec(SpecErrors::new(vec![error]))
}

/// Roles, the EKS cluster, its OIDC provider and the node groups; returns the node groups
/// (what the apps wait for).
fn cluster(
    spec: &StackSpec,
    n: &Naming,
    private: &[ResourceId],
    egress: &[ResourceId],
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    let Some(cluster) = &spec.cluster else {
        return Ok(Vec::new());
    };
    let cluster_name = cluster_name(spec);
    let role = |kind, part: &str, service: &str, policies: &[&str]| {
        Resource::new(kind, "main", n.name(part, NameStyle::hyphenated(64))).with_config(
            &RoleConfig {
                service: service.into(),
                managed_policies: policies.iter().map(|p| p.to_string()).collect(),
            },
        )
    };
    g.add(role(
        kinds::CLUSTER_ROLE,
        "eks-cluster",
        "eks.amazonaws.com",
        CLUSTER_POLICIES,
    )?)?;
    g.add(role(
        kinds::NODE_ROLE,
        "eks-node",
        "ec2.amazonaws.com",
        NODE_POLICIES,
    )?)?;
    g.add(
        Resource::new(ResourceKind::CLUSTER, "main", &cluster_name)
            .depends_on(&ids::cluster_role())
            .depends_on_all(private)
            .depends_on(&ids::sg("cluster"))
            .with_config(&ClusterConfig {
                version: cluster.version.clone(),
                subnets: private.to_vec(),
                security_group: ids::sg("cluster"),
            })?,
    )?;
    g.add(
        Resource::new(kinds::OIDC_PROVIDER, "main", &cluster_name)
            .depends_on(&ids::cluster())
            .with_config(&OidcConfig {
                audience: "sts.amazonaws.com".into(),
            })?,
    )?;
    let mut pools = Vec::new();
    for (i, pool) in cluster.node_pools.iter().enumerate() {
        let instance_type = resolve::node_instance_type(pool, i).map_err(spec_error)?;
        let r = Resource::new(ResourceKind::NODE_POOL, &pool.name, &pool.name)
            .depends_on(&ids::cluster())
            .depends_on(&ids::node_role())
            .depends_on_all(private)
            // Nodes pull images and join the cluster through the NAT gateways.
            .depends_on_all(egress)
            .with_config(&NodePoolConfig {
                instance_type: instance_type.value,
                min: pool.min,
                max: pool.max,
                desired: pool.desired_count(),
                subnets: private.to_vec(),
            })?;
        pools.push(r.id.clone());
        g.add(r)?;
    }
    Ok(pools)
}

/// A DB or cache subnet group over the private subnets.
fn subnet_group(
    kind: ResourceKind,
    name: String,
    private: &[ResourceId],
) -> Result<Resource, ExpandError> {
    Ok(Resource::new(kind, "main", name)
        .depends_on_all(private)
        .with_config(&SubnetGroupConfig {
            subnets: private.to_vec(),
        })?)
}

/// The DB subnet group, the master-password secret and the RDS instance.
fn database(
    spec: &StackSpec,
    n: &Naming,
    private: &[ResourceId],
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let Some(db) = &spec.database else {
        return Ok(());
    };
    g.add(subnet_group(
        kinds::DB_SUBNET_GROUP,
        n.name("db", NameStyle::hyphenated(255)),
        private,
    )?)?;
    g.add(
        Resource::new(
            ResourceKind::SECRET,
            DB_PASSWORD_SECRET,
            secret_name(spec, DB_PASSWORD_SECRET),
        )
        .with_config(&SecretConfig {
            // RDS master passwords: 8-41 printable characters.
            source: SecretSourceConfig::Generated { length: 32 },
            force_delete: spec.ttl.is_some(),
        })?,
    )?;
    g.add(
        Resource::new(
            ResourceKind::DATABASE,
            "main",
            n.name("pg", NameStyle::hyphenated(63)),
        )
        .depends_on(&ids::db_subnet_group())
        .depends_on(&ids::sg("database"))
        .depends_on(&db_password_id())
        .with_config(&DatabaseConfig {
            engine_version: db.version.clone(),
            storage_gb: db.storage_gb,
            instance_class: resolve::db_instance_class(db).value,
            database_name: db.database_name.clone(),
            username: db.username.clone(),
            deletion_protection: db.deletion_protection,
            password_secret: db_password_id(),
            security_group: ids::sg("database"),
            subnet_group: ids::db_subnet_group(),
        })?,
    )?;
    Ok(())
}

/// The cache subnet group and the replication group.
fn cache(
    spec: &StackSpec,
    n: &Naming,
    private: &[ResourceId],
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let Some(cache) = &spec.cache else {
        return Ok(());
    };
    g.add(subnet_group(
        kinds::CACHE_SUBNET_GROUP,
        n.name("cache", NameStyle::hyphenated(255)),
        private,
    )?)?;
    g.add(
        Resource::new(
            ResourceKind::SECRET,
            CACHE_AUTH_TOKEN_SECRET,
            secret_name(spec, CACHE_AUTH_TOKEN_SECRET),
        )
        .with_config(&SecretConfig {
            // ElastiCache AUTH tokens: 16-128 printable characters but `@`, `"` and `/`.
            source: SecretSourceConfig::Generated { length: 64 },
            force_delete: spec.ttl.is_some(),
        })?,
    )?;
    g.add(
        Resource::new(
            ResourceKind::CACHE,
            "main",
            n.name("redis", NameStyle::hyphenated(40)),
        )
        .depends_on(&ids::cache_subnet_group())
        .depends_on(&ids::sg("cache"))
        .depends_on(&cache_auth_token_id())
        .with_config(&CacheConfig {
            engine_version: cache.version.clone(),
            node_type: resolve::cache_node_type(cache).value,
            replicas: cache.replicas,
            security_group: ids::sg("cache"),
            subnet_group: ids::cache_subnet_group(),
            auth_token_secret: Some(cache_auth_token_id()),
        })?,
    )?;
    Ok(())
}

/// ECR repositories (`<stack>-<env>/<name>`) and Secrets Manager secrets.
fn registries_and_secrets(
    spec: &StackSpec,
    n: &Naming,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    for reg in &spec.registries {
        g.add(
            Resource::new(
                ResourceKind::REGISTRY,
                &reg.name,
                format!("{}/{}", n.name("", NameStyle::hyphenated(200)), reg.name),
            )
            .with_config(&RegistryConfig {
                keep_images: reg.keep_images,
                scan_on_push: true,
            })?,
        )?;
    }
    for s in &spec.secrets {
        let source = match &s.source {
            SecretSource::Generated { length } => SecretSourceConfig::Generated { length: *length },
            SecretSource::FromEnv { var } => SecretSourceConfig::FromEnv { var: var.clone() },
        };
        g.add(
            Resource::new(ResourceKind::SECRET, &s.name, secret_name(spec, &s.name)).with_config(
                &SecretConfig {
                    source,
                    force_delete: spec.ttl.is_some(),
                },
            )?,
        )?;
    }
    Ok(())
}

/// IRSA roles, one per declared workload identity.
fn identities(spec: &StackSpec, n: &Naming, g: &mut ResourceGraph) -> Result<(), ExpandError> {
    for w in &spec.workload_identities {
        let secrets: Vec<ResourceId> = w
            .read_secrets
            .iter()
            .map(|s| ResourceId::new(ResourceKind::SECRET, s))
            .collect();
        let registries: Vec<ResourceId> = w
            .pull_registries
            .iter()
            .map(|r| ResourceId::new(ResourceKind::REGISTRY, r))
            .collect();
        g.add(
            Resource::new(
                ResourceKind::WORKLOAD_IDENTITY,
                w.key(),
                n.name(&w.key(), NameStyle::hyphenated(64)),
            )
            .depends_on(&ids::oidc())
            .depends_on_all(&secrets)
            .depends_on_all(&registries)
            .with_config(&WorkloadIdentityConfig {
                namespace: w.namespace.clone(),
                service_account: w.service_account.clone(),
                audience: "sts.amazonaws.com".into(),
                read_secrets: secrets,
                pull_registries: registries,
            })?,
        )?;
    }
    Ok(())
}
