//! The parts of a [`StackSpec`](super::StackSpec).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clouds::{
    AwsNodePool, AwsPostgres, AwsRedis, AzureNodePool, AzurePostgres, AzureRedis, NodeSize, Tier,
};
use super::connect::Connection;

/// The Kubernetes cluster and its node pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Kubernetes minor version, `1.31`.
    pub version: String,
    /// Node pools (EKS managed node groups / AKS agent pools).
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
}

impl Cluster {
    /// A cluster of Kubernetes `version` without node pools yet.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            node_pools: Vec::new(),
        }
    }
    /// Adds a node pool.
    #[must_use]
    pub fn node_pool(mut self, pool: NodePool) -> Self {
        self.node_pools.push(pool);
        self
    }
}

/// A group of worker nodes that scales between `min` and `max`. Its machines are a neutral
/// `size`, a single-cloud `instance_type`, or per-cloud overrides (see [`super::clouds`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePool {
    /// Pool name (`general`).
    pub name: String,
    /// Neutral machine size, mapped by each provider to its machine type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<NodeSize>,
    /// Machine type of the one cloud the spec is deployed on (`t3.medium`,
    /// `Standard_D4s_v5`); a spec for both clouds uses `size` or the overrides instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Minimum node count.
    pub min: u32,
    /// Maximum node count.
    pub max: u32,
    /// Desired node count at creation (defaults to `min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<u32>,
    /// AWS-only values (`instance_type`).
    #[serde(default, skip_serializing_if = "AwsNodePool::is_empty")]
    pub aws: AwsNodePool,
    /// Azure-only values (`vm_size`).
    #[serde(default, skip_serializing_if = "AzureNodePool::is_empty")]
    pub azure: AzureNodePool,
}

impl NodePool {
    /// A pool of `instance_type` nodes (single-cloud) scaling from `min` to `max`.
    pub fn new(
        name: impl Into<String>,
        instance_type: impl Into<String>,
        min: u32,
        max: u32,
    ) -> Self {
        Self {
            instance_type: Some(instance_type.into()),
            size: None,
            ..Self::sized(name, NodeSize::Medium, min, max)
        }
    }
    /// The node count to start with.
    pub fn desired_count(&self) -> u32 {
        self.desired.unwrap_or(self.min).max(self.min)
    }
}

/// A managed PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// Major version, `16`.
    pub version: String,
    /// Allocated storage in GiB.
    #[serde(default = "default_storage")]
    pub storage_gb: u32,
    /// Neutral tier, mapped by each provider to an instance class / SKU; the provider's
    /// default (the `dev` tier's value) if neither it nor a class is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Instance class / SKU of the one cloud the spec is deployed on (`db.t3.micro`,
    /// `Standard_B1ms`); a spec for both clouds uses `tier` or the overrides instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    /// Name of the initial database.
    #[serde(default = "default_db_name")]
    pub database_name: String,
    /// Name of the administrator login.
    #[serde(default = "default_db_user")]
    pub username: String,
    /// Refuse deletion at the cloud level (off by default: ephemeral stacks must go away).
    #[serde(default)]
    pub deletion_protection: bool,
    /// AWS-only values (`instance_class`).
    #[serde(default, skip_serializing_if = "AwsPostgres::is_empty")]
    pub aws: AwsPostgres,
    /// Azure-only values (`sku`).
    #[serde(default, skip_serializing_if = "AzurePostgres::is_empty")]
    pub azure: AzurePostgres,
}

fn default_storage() -> u32 {
    20
}
fn default_db_name() -> String {
    "app".into()
}
fn default_db_user() -> String {
    "app_admin".into()
}

impl Postgres {
    /// PostgreSQL `version` with 20 GiB, database `app`, user `app_admin`.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            storage_gb: default_storage(),
            tier: None,
            instance_class: None,
            database_name: default_db_name(),
            username: default_db_user(),
            deletion_protection: false,
            aws: AwsPostgres::default(),
            azure: AzurePostgres::default(),
        }
    }
    /// Sets the allocated storage.
    #[must_use]
    pub fn storage_gb(mut self, gb: u32) -> Self {
        self.storage_gb = gb;
        self
    }
    /// Sets the instance class.
    #[must_use]
    pub fn instance_class(mut self, class: impl Into<String>) -> Self {
        self.instance_class = Some(class.into());
        self
    }
    /// Turns deletion protection on or off.
    #[must_use]
    pub fn deletion_protection(mut self, on: bool) -> Self {
        self.deletion_protection = on;
        self
    }
}

/// A managed Redis cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// Engine version, `7.1`.
    pub version: String,
    /// Neutral tier, mapped by each provider to a node type / SKU; the provider's default
    /// (the `dev` tier's value) if neither it nor a node type is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Node type / SKU of the one cloud the spec is deployed on (`cache.t4g.micro`,
    /// `Balanced_B1`); a spec for both clouds uses `tier` or the overrides instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    /// Read replicas besides the primary.
    #[serde(default)]
    pub replicas: u32,
    /// AWS-only values (`node_type`).
    #[serde(default, skip_serializing_if = "AwsRedis::is_empty")]
    pub aws: AwsRedis,
    /// Azure-only values (`sku`).
    #[serde(default, skip_serializing_if = "AzureRedis::is_empty")]
    pub azure: AzureRedis,
}

impl Redis {
    /// Redis `version`, one node.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            tier: None,
            node_type: None,
            replicas: 0,
            aws: AwsRedis::default(),
            azure: AzureRedis::default(),
        }
    }
    /// Sets the node type.
    #[must_use]
    pub fn node_type(mut self, node_type: impl Into<String>) -> Self {
        self.node_type = Some(node_type.into());
        self
    }
    /// Sets the number of replicas.
    #[must_use]
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }
}

/// A container image repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// Repository name (`shop-api`).
    pub name: String,
    /// Lifecycle: keep the newest N images.
    #[serde(default = "default_keep")]
    pub keep_images: u32,
}

fn default_keep() -> u32 {
    30
}

impl RegistrySpec {
    /// A repository keeping its newest 30 images.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            keep_images: default_keep(),
        }
    }
    /// Sets how many images the lifecycle policy keeps.
    #[must_use]
    pub fn keep_images(mut self, n: u32) -> Self {
        self.keep_images = n;
        self
    }
}

/// A secret kept in the cloud's secret store. In YAML: `name` and `generated: {length: N}`
/// or `from_env: VAR` (or `source: {generated: {length: N}}`; the tagged forms of earlier
/// releases, `source: !generated {length: N}`, still load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// Logical name (`db-password`).
    pub name: String,
    /// Where its value comes from.
    pub source: SecretSource,
}

/// Where a secret's value comes from. The value itself never appears in a spec or state.
/// Written as a one-key map: `{generated: {length: N}}` or `{from_env: VAR}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Generated once at creation, `length` characters.
    Generated {
        /// Number of characters.
        length: u32,
    },
    /// Read from an environment variable of the process running `up`.
    FromEnv {
        /// The variable's name.
        var: String,
    },
}

impl SecretSpec {
    /// A secret generated at creation.
    pub fn generated(name: impl Into<String>, length: u32) -> Self {
        Self {
            name: name.into(),
            source: SecretSource::Generated { length },
        }
    }
    /// A secret whose value is read from environment variable `var` at `up`.
    pub fn from_env(name: impl Into<String>, var: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: SecretSource::FromEnv { var: var.into() },
        }
    }
}

/// An identity for pods running as one Kubernetes service account: an IRSA role on AWS, a
/// user-assigned managed identity with a federated credential on Azure. Its trust names
/// exactly `system:serviceaccount:<namespace>:<service_account>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIdentity {
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes service account.
    pub service_account: String,
    /// Secrets (by logical name) it may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_secrets: Vec<String>,
    /// Registries (by name) it may pull from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_registries: Vec<String>,
}

impl WorkloadIdentity {
    /// The identity of service account `service_account` in `namespace`.
    pub fn new(namespace: impl Into<String>, service_account: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            service_account: service_account.into(),
            read_secrets: Vec::new(),
            pull_registries: Vec::new(),
        }
    }
    /// Grants read access to the secret `name`.
    #[must_use]
    pub fn can_read_secret(mut self, name: impl Into<String>) -> Self {
        self.read_secrets.push(name.into());
        self
    }
    /// Grants pull access to the registry `name`.
    #[must_use]
    pub fn can_pull(mut self, name: impl Into<String>) -> Self {
        self.pull_registries.push(name.into());
        self
    }
    /// `namespace-service_account`, the identity's key in outputs and resource ids.
    pub fn key(&self) -> String {
        format!("{}-{}", self.namespace, self.service_account)
    }
    /// The OIDC subject it trusts: `system:serviceaccount:<namespace>:<service_account>`.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// How an app's Service is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expose {
    /// Inside the cluster only.
    #[default]
    ClusterIp,
    /// Through a cloud load balancer (deleted before the network at teardown).
    LoadBalancer,
}

/// The image an app runs. (In a spec's YAML, an app's `image` is a plain string or
/// `{registry, tag}`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageRef {
    /// An image in one of the stack's registries.
    Registry {
        /// The registry's name in the spec.
        registry: String,
        /// Image tag.
        tag: String,
    },
    /// Any other image reference (`nginx:1.27`).
    External {
        /// Full image reference.
        image: String,
    },
}

/// An environment variable whose value comes from a declared secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFromSecret {
    /// Variable name.
    pub var: String,
    /// Secret name in the spec.
    pub secret: String,
}

/// An app deployed on the cluster: Deployment + Service, with its secrets synced in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// App name (Deployment and Service name).
    pub name: String,
    /// Namespace (defaults to the stack name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Service account (defaults to the app name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The image: `nginx:1.27`, or `{registry: shop-api, tag: v1}` in YAML.
    #[serde(with = "super::plain::image")]
    pub image: ImageRef,
    /// Container port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Replica count.
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// Plain environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Environment variables taken from secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from_secrets: Vec<EnvFromSecret>,
    /// How the Service is exposed.
    #[serde(default)]
    pub expose: Expose,
    /// CPU and memory of its container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<AppResources>,
    /// HTTP path of its readiness and liveness probes, on the container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_path: Option<String>,
    /// The stack's data services it connects to (`connect: [database, cache]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect: Vec<Connection>,
}

/// CPU and memory of an app's container, as Kubernetes quantities: requested, and memory
/// also the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppResources {
    /// CPU request (`250m`, `1`).
    pub cpu: String,
    /// Memory request and limit (`256Mi`, `1Gi`).
    pub memory: String,
}

fn default_port() -> u16 {
    8080
}
fn default_replicas() -> u32 {
    1
}

impl App {
    /// An app called `name` running `nginx:stable` on port 8080 until told otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            service_account: None,
            image: ImageRef::External {
                image: "nginx:stable".into(),
            },
            port: default_port(),
            replicas: default_replicas(),
            env: BTreeMap::new(),
            env_from_secrets: Vec::new(),
            expose: Expose::ClusterIp,
            resources: None,
            health_path: None,
            connect: Vec::new(),
        }
    }
    /// Runs `tag` of the stack's registry `registry`.
    #[must_use]
    pub fn image_from_registry(
        mut self,
        registry: impl Into<String>,
        tag: impl Into<String>,
    ) -> Self {
        self.image = ImageRef::Registry {
            registry: registry.into(),
            tag: tag.into(),
        };
        self
    }
    /// Runs an image from outside the stack.
    #[must_use]
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = ImageRef::External {
            image: image.into(),
        };
        self
    }
    /// Sets the container port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Sets the replica count.
    #[must_use]
    pub fn replicas(mut self, n: u32) -> Self {
        self.replicas = n;
        self
    }
    /// Sets the namespace.
    #[must_use]
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }
    /// Sets the service account.
    #[must_use]
    pub fn service_account(mut self, sa: impl Into<String>) -> Self {
        self.service_account = Some(sa.into());
        self
    }
    /// Adds a plain environment variable.
    #[must_use]
    pub fn env(mut self, var: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(var.into(), value.into());
        self
    }
    /// Adds an environment variable taken from the declared secret `secret`.
    #[must_use]
    pub fn env_from_secret(mut self, var: impl Into<String>, secret: impl Into<String>) -> Self {
        self.env_from_secrets.push(EnvFromSecret {
            var: var.into(),
            secret: secret.into(),
        });
        self
    }
    /// Sets how the Service is exposed.
    #[must_use]
    pub fn expose(mut self, expose: Expose) -> Self {
        self.expose = expose;
        self
    }
    /// Sets the container's CPU request and memory request and limit (`"250m"`, `"256Mi"`).
    #[must_use]
    pub fn resources(mut self, cpu: impl Into<String>, memory: impl Into<String>) -> Self {
        self.resources = Some(AppResources {
            cpu: cpu.into(),
            memory: memory.into(),
        });
        self
    }
    /// Probes readiness and liveness with HTTP GET `path` on the container port.
    #[must_use]
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }
    /// The namespace, defaulting to `stack`.
    pub fn namespace_or<'a>(&'a self, stack: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(stack)
    }
    /// The service account, defaulting to the app name.
    pub fn service_account_name(&self) -> &str {
        self.service_account.as_deref().unwrap_or(&self.name)
    }
}
