//! The AKS managed cluster (`Microsoft.ContainerService/managedClusters`, api-version
//! [`CONTAINER_SERVICE`](crate::arm::api_versions::CONTAINER_SERVICE), after
//! `ManagedClustersCreate_Update.json`, `ManagedClustersGet.json`, `ManagedClustersDelete.json`
//! and `ManagedClustersListClusterUserCredentials.json`) with its system pool, the OIDC
//! issuer and workload identity on; user agent pools (after `AgentPoolsCreate_Update.json`,
//! `AgentPoolsDelete.json`); and the cluster's credentials from
//! `listClusterUserCredential`.

use async_trait::async_trait;
use base64::Engine;
use multicloud_core::outputs::{ClusterOutputs, NodePoolOutputs};
use multicloud_core::provider::{ClusterCredentials, ClusterOps, OpContext, Outputs};
use multicloud_core::secret::SecretString;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{Arm, arm_kind, field, tags};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::expand::existing::resource_group_of;
use crate::model::{AksOutputs, ClusterConfig, NetworkOutputs, NodePoolConfig, PoolConfig};
use multicloud_core::expand::ExistingConfig;

/// The scope of Entra tokens for AKS API servers (the AKS server application).
pub const AKS_SERVER_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

const CLUSTERS: &str = "Microsoft.ContainerService/managedClusters";

/// An `agentPoolProfiles` entry / agent pool `properties`.
/// The nodes' way out: the cluster's load balancer (AKS's default), or the NAT gateway of
/// the cluster subnet.
fn outbound_type(c: &ClusterConfig) -> &'static str {
    if c.nat_gateway {
        "userAssignedNATGateway"
    } else {
        "loadBalancer"
    }
}

fn pool(p: &PoolConfig, mode: &str, version: Option<&str>, subnet: &str) -> Value {
    let mut v = json!({
        "count": p.count,
        "vmSize": p.vm_size,
        "mode": mode,
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": true,
        "minCount": p.min,
        "maxCount": p.max,
        "vnetSubnetID": subnet,
    });
    if let Some(version) = version {
        v["orchestratorVersion"] = json!(version);
    }
    v
}

arm_kind! {
    /// [`ResourceKind::CLUSTER`](multicloud_core::resource::ResourceKind::CLUSTER).
    ManagedCluster: CLUSTERS, api_versions::CONTAINER_SERVICE;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        // An existing cluster (read-only) is where its ARM id says.
        if let Ok(e) = ctx.config::<ExistingConfig>() {
            return Ok(e.existing);
        }
        let c: ClusterConfig = ctx.config()?;
        Ok(az.resource_path(&c.resource_group, CLUSTERS, &ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: ClusterConfig = ctx.config()?;
        let net: NetworkOutputs = ctx.dep(&c.network)?;
        let mut system = pool(&c.system_pool, "System", None, &net.cluster_subnet_id);
        system["name"] = json!("system");
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "kubernetesVersion": c.version,
                "dnsPrefix": c.dns_prefix,
                "agentPoolProfiles": [system],
                "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay",
                                   "outboundType": outbound_type(&c)},
                "oidcIssuerProfile": {"enabled": true},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
                "disableLocalAccounts": c.disable_local_accounts,
                "aadProfile": {"managed": true, "enableAzureRBAC": c.disable_local_accounts},
            }
        }))
    }
    /// The Kubernetes version and the nodes' way out.
    fn drift_checked(&self) -> &'static [&'static str] {
        &[
            "/properties/kubernetesVersion",
            "/properties/networkProfile/outboundType",
        ]
    }
    fn outputs(&self, ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let resource_group = match ctx.config::<ExistingConfig>() {
            Ok(e) => resource_group_of(&e.existing)
                .map(str::to_string)
                .ok_or_else(|| ProviderError::invalid(format!("`{}` is no ARM id", e.existing)))?,
            Err(_) => ctx.config::<ClusterConfig>()?.resource_group,
        };
        let f = |p: &str| field(body, p, "managed cluster").map(str::to_string);
        let mut outputs = Outputs::of(&AksOutputs {
            cluster: ClusterOutputs {
                id: f("/id")?,
                name: f("/name")?,
                endpoint: format!("https://{}", f("/properties/fqdn")?),
                ca_data: String::new(),
                oidc_issuer: Some(f("/properties/oidcIssuerProfile/issuerURL")?),
            },
            kubelet_object_id: f("/properties/identityProfile/kubeletidentity/objectId")?,
            resource_group,
        })?;
        // The CA comes only with the kubeconfig (see `finish`).
        outputs.as_map_mut().remove("ca_data");
        Ok(outputs)
    }
    async fn finish(
        &self,
        az: &AzureContext,
        _ctx: &OpContext<'_>,
        outputs: &Outputs,
    ) -> Result<Outputs, ProviderError> {
        let id = outputs
            .cloud_id()
            .ok_or_else(|| ProviderError::invalid("cluster outputs have no `id`"))?;
        let kube = user_kubeconfig(az, id).await?;
        let mut more = Outputs::new();
        more.as_map_mut()
            .insert("ca_data".into(), json!(kube.ca_data));
        Ok(more)
    }
}

arm_kind! {
    /// [`ResourceKind::NODE_POOL`](multicloud_core::resource::ResourceKind::NODE_POOL): a user
    /// agent pool. Agent pools take no tags of their own; they live in our cluster.
    AgentPool: "Microsoft.ContainerService/managedClusters/agentPools", api_versions::CONTAINER_SERVICE;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: NodePoolConfig = ctx.config()?;
        let cluster = az.resource_path(&c.resource_group, CLUSTERS, &c.cluster);
        Ok(format!("{cluster}/agentPools/{}", ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: NodePoolConfig = ctx.config()?;
        let net: NetworkOutputs = ctx.dep(&c.network)?;
        let mut props = pool(&c.pool, "User", None, &net.cluster_subnet_id);
        props["tags"] = tags(ctx);
        Ok(json!({ "properties": props }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&NodePoolOutputs {
            id: field(body, "/id", "agent pool")?.to_string(),
            name: field(body, "/name", "agent pool")?.to_string(),
        })
    }
    fn owner(&self, ctx: &OpContext<'_>, body: &Value) -> multicloud_core::provider::Owner {
        let tags = body
            .pointer("/properties/tags")
            .cloned()
            .unwrap_or(Value::Null);
        crate::arm_ops::owner_by_tags(ctx, &json!({ "tags": tags }))
    }
}

/// What a kubeconfig of `listClusterUserCredential` says.
#[derive(Debug, Clone)]
pub struct Kubeconfig {
    /// The API server URL.
    pub server: String,
    /// The CA bundle (base64 PEM).
    pub ca_data: String,
    /// The user's bearer token, if the kubeconfig has one (local accounts, or a test's).
    pub token: Option<SecretString>,
}

/// Reads the first cluster and user of a kubeconfig.
pub fn parse_kubeconfig(text: &str) -> Result<Kubeconfig, ProviderError> {
    let v: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| ProviderError::new(ErrorKind::Other, format!("kubeconfig: {e}")))?;
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    Ok(Kubeconfig {
        server: s("/clusters/0/cluster/server")
            .ok_or_else(|| ProviderError::new(ErrorKind::Other, "kubeconfig has no server"))?,
        ca_data: s("/clusters/0/cluster/certificate-authority-data").unwrap_or_default(),
        token: s("/users/0/user/token").map(SecretString::new),
    })
}

/// `POST <cluster>/listClusterUserCredential`, its first kubeconfig parsed.
pub async fn user_kubeconfig(
    az: &AzureContext,
    cluster_id: &str,
) -> Result<Kubeconfig, ProviderError> {
    let what = "listClusterUserCredential";
    let body = az
        .arm
        .post_action(cluster_id, what, api_versions::CONTAINER_SERVICE)
        .await
        .map_err(|e| classify(e, Op::Read, what))?;
    let encoded = field(&body, "/kubeconfigs/0/value", what)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| ProviderError::new(ErrorKind::Other, format!("{what}: {e}")))?;
    parse_kubeconfig(&String::from_utf8_lossy(&bytes))
}

/// Endpoint, CA and token of the cluster whose outputs are `cluster`, from its user
/// kubeconfig. A kubeconfig without a token (Entra sign-in through `kubelogin`) gets an
/// Entra token for the AKS server application instead.
pub async fn credentials(
    az: &AzureContext,
    cluster: &Outputs,
) -> Result<ClusterCredentials, ProviderError> {
    let id = cluster
        .cloud_id()
        .ok_or_else(|| ProviderError::invalid("cluster outputs have no `id`"))?;
    let kube = user_kubeconfig(az, id).await?;
    let token = match kube.token {
        Some(t) => t,
        None => az
            .arm
            .token_for(AKS_SERVER_SCOPE)
            .await
            .map_err(|e| classify(e, Op::Read, "Entra token for AKS"))?,
    };
    Ok(ClusterCredentials::bearer(
        kube.server,
        kube.ca_data,
        token,
        None,
    ))
}

/// The cluster's ops are what mints its credentials.
#[async_trait]
impl ClusterOps for Arm<ManagedCluster> {
    /// Endpoint, CA and token from the cluster's `listClusterUserCredential` kubeconfig.
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError> {
        credentials(self.context(), cluster).await
    }
}
