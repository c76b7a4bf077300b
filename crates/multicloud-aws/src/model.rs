//! Typed configs and outputs of the AWS kinds: the contract between the expansion
//! ([`crate::expand`]), which builds the configs, and the service modules, which read them
//! with `ctx.config::<T>()` and return the outputs. Configs reject unknown fields and have no
//! defaults, so a misspelled or missing field is an `InvalidConfig` error, never a silent
//! `false`. Outputs carry the cloud id under `id` (an EC2 id, or an ARN). The cloud-neutral
//! kinds use the output types of `multicloud_core::outputs`.

use multicloud_core::resource::ResourceId;
use serde::{Deserialize, Serialize};

/// `vpc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcConfig {
    /// IPv4 range.
    pub cidr: String,
}

/// `subnet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// IPv4 range.
    pub cidr: String,
    /// Which of the region's zones (sorted by name) it goes in.
    pub zone_index: usize,
    /// Public (load balancers, `kubernetes.io/role/elb`) or private (nodes, databases).
    pub public: bool,
    /// The EKS cluster it is tagged for (`kubernetes.io/cluster/<name>`).
    pub cluster_name: String,
}

/// `internet_gateway`: nothing to configure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetGatewayConfig {}

/// `elastic_ip`: an address in the VPC domain (a NAT gateway's public address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticIpConfig {}

/// `nat_gateway`: a public NAT gateway in a public subnet with an Elastic IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGatewayConfig {
    /// The public subnet it sits in (a subnet resource id).
    pub subnet: ResourceId,
    /// Its address (an `elastic_ip` resource id).
    pub address: ResourceId,
}

/// `route_table`: one default route (or none: an isolated private table), associated with
/// subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTableConfig {
    /// Destination of the route (`0.0.0.0/0`); `None`: no route beyond the VPC's own range
    /// (private subnets without NAT; gateway endpoints add their routes themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Subnets to associate (subnet resource ids).
    pub subnets: Vec<ResourceId>,
    /// Where the route goes: a `nat_gateway` resource id (a private table); `None`, the
    /// internet gateway (the public table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<ResourceId>,
}

/// One ingress rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    /// TCP port.
    pub port: u16,
    /// Who is allowed in: the members of a security group (its resource id), or, given the
    /// resource id of the VPC or of a subnet, any address of its range.
    pub from: ResourceId,
}

/// `security_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupConfig {
    /// Group description.
    pub description: String,
    /// Ingress rules.
    pub ingress: Vec<IngressRule>,
}

/// `vpc_endpoint`: a VPC endpoint for one AWS service, interface (an address in each of
/// `subnets`, private DNS, behind `security_group`) or gateway (routes in `route_tables`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcEndpointConfig {
    /// The service's short name (`ecr.api`, `s3`…): `com.amazonaws.<region>.<service>`.
    pub service: String,
    /// A gateway endpoint (S3) rather than an interface endpoint.
    pub gateway: bool,
    /// The subnets an interface endpoint has an address in (subnet resource ids).
    pub subnets: Vec<ResourceId>,
    /// The route tables a gateway endpoint adds its routes to (route table resource ids).
    pub route_tables: Vec<ResourceId>,
    /// The security group of an interface endpoint (a security group resource id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<ResourceId>,
}

/// Outputs of the EC2 network kinds (VPC, subnet, gateway, route table, security group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOutputs {
    /// EC2 id (`vpc-…`, `subnet-…`, `igw-…`, `rtb-…`, `sg-…`, `eipalloc-…`, `nat-…`,
    /// `vpce-…`).
    pub id: String,
    /// The VPC it is in (all but the VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// IPv4 range (VPC, subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Availability zone (subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Group name (security group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Public IPv4 address (Elastic IP, NAT gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

/// `cluster_role` and `node_role`: a role a service assumes, with managed policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// The service principal trusted (`eks.amazonaws.com`, `ec2.amazonaws.com`).
    pub service: String,
    /// ARNs of the AWS managed policies attached.
    pub managed_policies: Vec<String>,
}

/// Outputs of an IAM role (cluster, node and workload roles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOutputs {
    /// Role ARN.
    pub id: String,
    /// Role name.
    pub name: String,
}

/// `oidc_provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Client id (audience) registered (`sts.amazonaws.com`).
    pub audience: String,
}

/// Outputs of the OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcOutputs {
    /// Provider ARN.
    pub id: String,
    /// Issuer URL without the scheme (`oidc.eks.<region>.amazonaws.com/id/<id>`).
    pub url: String,
}

/// `workload_identity`: an IRSA role for exactly one service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIdentityConfig {
    /// Namespace of the service account.
    pub namespace: String,
    /// The service account.
    pub service_account: String,
    /// Token audience (`sts.amazonaws.com`).
    pub audience: String,
    /// Secrets it may read (secret resource ids).
    pub read_secrets: Vec<ResourceId>,
    /// Registries it may pull from (registry resource ids).
    pub pull_registries: Vec<ResourceId>,
}

/// `cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Kubernetes version (`1.31`).
    pub version: String,
    /// Subnets of the control plane's interfaces (subnet resource ids).
    pub subnets: Vec<ResourceId>,
    /// The cluster security group (resource id).
    pub security_group: ResourceId,
}

/// `node_pool`: an EKS managed node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolConfig {
    /// Instance type (`t3.medium`).
    pub instance_type: String,
    /// Minimum size.
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Desired size.
    pub desired: u32,
    /// Subnets of the nodes (subnet resource ids).
    pub subnets: Vec<ResourceId>,
}

/// `db_subnet_group` and `cache_subnet_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetGroupConfig {
    /// Member subnets (subnet resource ids).
    pub subnets: Vec<ResourceId>,
}

/// Outputs of a DB or cache subnet group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetGroupOutputs {
    /// ARN.
    pub id: String,
    /// Group name.
    pub name: String,
}

impl SubnetGroupOutputs {
    /// The outputs of subnet group `name` with ARN `arn`.
    pub fn of(
        name: &str,
        arn: &str,
    ) -> Result<multicloud_core::provider::Outputs, multicloud_core::ProviderError> {
        multicloud_core::provider::Outputs::of(&Self {
            id: arn.to_string(),
            name: name.to_string(),
        })
    }
}

/// `database`: an RDS PostgreSQL instance whose master password is the `secret` node
/// `password_secret` (generated and stored before the instance is created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL version.
    pub engine_version: String,
    /// Allocated storage in GiB.
    pub storage_gb: u32,
    /// Instance class (`db.t3.micro`).
    pub instance_class: String,
    /// Initial database.
    pub database_name: String,
    /// Master user name.
    pub username: String,
    /// Whether the instance refuses deletion.
    pub deletion_protection: bool,
    /// The secret (resource id) holding the master password.
    pub password_secret: ResourceId,
    /// Its security group (resource id).
    pub security_group: ResourceId,
    /// Its DB subnet group (resource id).
    pub subnet_group: ResourceId,
}

/// `cache`: an ElastiCache Redis replication group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Redis version.
    pub engine_version: String,
    /// Node type (`cache.t3.micro`).
    pub node_type: String,
    /// Read replicas.
    pub replicas: u32,
    /// Its security group (resource id).
    pub security_group: ResourceId,
    /// Its cache subnet group (resource id).
    pub subnet_group: ResourceId,
    /// The `secret` node holding its AUTH token (absent in the configs of older stacks,
    /// whose caches have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_secret: Option<ResourceId>,
}

/// `registry`: an ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Images kept by the lifecycle policy.
    pub keep_images: u32,
    /// Scan images on push.
    pub scan_on_push: bool,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSourceConfig {
    /// Generated: this many random characters.
    Generated {
        /// Length.
        length: u32,
    },
    /// Read from an environment variable of the process running `up`.
    FromEnv {
        /// Variable name.
        var: String,
    },
}

/// `secret`: a Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// Where the value comes from.
    pub source: SecretSourceConfig,
    /// Delete without recovery window (ephemeral stacks).
    pub force_delete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use multicloud_core::ErrorKind;
    use multicloud_core::resource::{Resource, ResourceKind};
    use serde_json::json;

    #[test]
    fn a_misspelled_deletion_protection_is_an_error_not_false() {
        let r = Resource {
            config: json!({
                "engine_version": "16", "storage_gb": 20, "instance_class": "db.t3.micro",
                "database_name": "app", "username": "app_admin", "deletion_protecton": true,
                "password_secret": "secret/database-master-password",
                "security_group": "security_group/database", "subnet_group": "db_subnet_group/main",
            }),
            ..Resource::new(ResourceKind::DATABASE, "main", "pg")
        };
        let err = r
            .config_as::<DatabaseConfig>()
            .expect_err("typo must not read as false");
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.message().contains("deletion_protecton"), "{err}");
    }

    #[test]
    fn a_secret_source_keeps_its_recorded_shape() {
        let c = SecretConfig {
            source: SecretSourceConfig::Generated { length: 32 },
            force_delete: true,
        };
        assert_eq!(
            serde_json::to_value(&c).expect("json"),
            json!({ "source": { "generated": { "length": 32 } }, "force_delete": true })
        );
    }
}
