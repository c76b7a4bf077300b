//! The memory cloud's expansion: the AWS-shaped graph of STACK-GRAPH.md with generic names,
//! so engine tests and benches run on a realistic dependency structure.

use serde_json::json;

use crate::expand::{WorkloadAnchors, workloads};
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind as K};
use crate::spec::{SecretSource, StackSpec};
use crate::tags::{NameStyle, Naming};

/// Expands `spec` into the memory cloud's resources.
pub fn expand(spec: &StackSpec) -> Result<ResourceGraph, crate::Error> {
    let n = Naming::new(&spec.name, &spec.environment);
    let name = |part: &str| n.name(part, NameStyle::hyphenated(63));
    let mut g = ResourceGraph::new();
    let vpc = ResourceId::single(K::Vpc);
    let mut private = Vec::new();
    let cluster_sg = ResourceId::new(K::SecurityGroup, "cluster");
    if let Some(net) = &spec.network {
        g.add(Resource::new(K::Vpc, "main", name("vpc")).config(json!({ "cidr": net.cidr })))?;
        let mut public = Vec::new();
        for (kind, list) in [
            ("public", &net.public_subnets),
            ("private", &net.private_subnets),
        ] {
            for (i, cidr) in list.iter().enumerate() {
                let r = Resource::new(
                    K::Subnet,
                    format!("{kind}-{i}"),
                    name(&format!("{kind}-{i}")),
                )
                .depends_on(&vpc)
                .config(json!({ "cidr": cidr }));
                if kind == "public" {
                    public.push(r.id.clone())
                } else {
                    private.push(r.id.clone())
                }
                g.add(r)?;
            }
        }
        let igw = g
            .add(Resource::new(K::InternetGateway, "main", name("igw")).depends_on(&vpc))?
            .clone();
        g.add(
            Resource::new(K::RouteTable, "public", name("public"))
                .depends_on(&vpc)
                .depends_on(&igw)
                .depends_on_all(&public),
        )?;
        g.add(Resource::new(K::SecurityGroup, "cluster", name("cluster")).depends_on(&vpc))?;
        for (role, port, wanted) in [
            ("database", 5432, spec.database.is_some()),
            ("cache", 6379, spec.cache.is_some()),
        ] {
            if wanted {
                g.add(
                    Resource::new(K::SecurityGroup, role, name(role))
                        .depends_on(&vpc)
                        .depends_on(&cluster_sg)
                        .config(json!({ "port": port })),
                )?;
            }
        }
    }
    let mut anchors = WorkloadAnchors::default();
    let cluster = ResourceId::single(K::Cluster);
    let oidc = ResourceId::single(K::OidcProvider);
    if let Some(c) = &spec.cluster {
        let cluster_role = g
            .add(Resource::new(K::ClusterRole, "main", name("eks-cluster")))?
            .clone();
        let node_role = g
            .add(Resource::new(K::NodeRole, "main", name("eks-node")))?
            .clone();
        g.add(
            Resource::new(K::Cluster, "main", name(""))
                .depends_on(&cluster_role)
                .depends_on_all(&private)
                .depends_on(&cluster_sg)
                .config(json!({ "version": c.version })),
        )?;
        g.add(Resource::new(K::OidcProvider, "main", name("oidc")).depends_on(&cluster))?;
        for p in &c.node_pools {
            let r = Resource::new(K::NodePool, &p.name, &p.name)
                .depends_on(&cluster)
                .depends_on(&node_role)
                .depends_on_all(&private)
                .config(json!({ "instance_type": p.instance_type, "min": p.min, "max": p.max, "desired": p.desired_count() }));
            anchors.cluster_ready.push(r.id.clone());
            g.add(r)?;
        }
    }
    if let Some(db) = &spec.database {
        let group = g
            .add(Resource::new(K::DbSubnetGroup, "main", name("db")).depends_on_all(&private))?
            .clone();
        g.add(Resource::new(K::Database, "main", name("pg"))
            .depends_on(&group)
            .depends_on(&ResourceId::new(K::SecurityGroup, "database"))
            .config(json!({ "engine_version": db.version, "storage_gb": db.storage_gb, "database_name": db.database_name, "username": db.username })))?;
    }
    if let Some(cache) = &spec.cache {
        let group = g
            .add(
                Resource::new(K::CacheSubnetGroup, "main", name("cache")).depends_on_all(&private),
            )?
            .clone();
        g.add(
            Resource::new(K::Cache, "main", name("redis"))
                .depends_on(&group)
                .depends_on(&ResourceId::new(K::SecurityGroup, "cache"))
                .config(json!({ "engine_version": cache.version, "replicas": cache.replicas })),
        )?;
    }
    for r in &spec.registries {
        g.add(
            Resource::new(K::Registry, &r.name, format!("{}/{}", name(""), r.name))
                .config(json!({ "keep_images": r.keep_images })),
        )?;
    }
    for s in &spec.secrets {
        let source = match &s.source {
            SecretSource::Generated { length } => json!({ "generated": { "length": length } }),
            SecretSource::FromEnv { var } => json!({ "from_env": { "var": var } }),
        };
        g.add(
            Resource::new(
                K::Secret,
                &s.name,
                format!("{}/{}/{}", spec.name, spec.environment, s.name),
            )
            .config(json!({ "source": source })),
        )?;
    }
    for w in &spec.workload_identities {
        let secrets: Vec<ResourceId> = w
            .read_secrets
            .iter()
            .map(|s| ResourceId::new(K::Secret, s))
            .collect();
        g.add(Resource::new(K::WorkloadIdentity, w.key(), name(&w.key()))
            .depends_on(&oidc)
            .depends_on_all(&secrets)
            .config(json!({ "namespace": w.namespace, "service_account": w.service_account, "read_secrets": secrets })))?;
    }
    if !spec.apps.is_empty() {
        if anchors.cluster_ready.is_empty() {
            anchors.cluster_ready.push(cluster);
        }
        workloads(spec, &mut g, &anchors)?;
    }
    g.validate()?;
    Ok(g)
}
