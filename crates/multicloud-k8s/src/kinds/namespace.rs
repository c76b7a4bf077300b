//! `namespace/<ns>`: the app's namespace, labelled with the stack's ownership. Deleting it
//! deletes everything inside, so it is deleted only when nothing in it lacks our labels;
//! otherwise its delete leaves it in place ([`ErrorKind::LeftBehind`]) and `down` reports it
//! as left behind while the rest of the teardown goes on.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use multicloud_core::expand::NamespaceConfig;
use multicloud_core::provider::{OpContext, Owner, Readiness};
use multicloud_core::{ErrorKind, ProviderError};
use serde::de::DeserializeOwned;

use crate::error::{Op, classify};
use crate::object::{ObjectKind, owner_of};

/// Objects Kubernetes itself puts in every namespace; never counted as foreign.
const BUILT_IN: &[(&str, &str)] = &[
    ("serviceaccount", "default"),
    ("configmap", "kube-root-ca.crt"),
];

/// The namespace kind.
pub(crate) struct NamespaceKind;

#[async_trait]
impl ObjectKind for NamespaceKind {
    type K = Namespace;
    const WHAT: &'static str = "namespace";

    fn api(client: Client, _namespace: &str) -> Api<Namespace> {
        Api::all(client)
    }
    fn namespace(_ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(String::new())
    }
    fn build(ctx: &OpContext<'_>, mut meta: ObjectMeta) -> Result<Namespace, ProviderError> {
        let config: NamespaceConfig = ctx.config()?;
        meta.name = Some(config.namespace);
        Ok(Namespace {
            metadata: meta,
            ..Namespace::default()
        })
    }
    fn ready(live: &Namespace) -> Result<Readiness, ProviderError> {
        let phase = live.status.as_ref().and_then(|s| s.phase.as_deref());
        Ok(match phase {
            Some("Terminating") => Readiness::pending("namespace is still terminating"),
            _ => Readiness::Ready(Self::outputs(live)?),
        })
    }
    async fn before_delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
        let config: NamespaceConfig = ctx.config()?;
        let ns = config.namespace.as_str();
        let mut foreign = Vec::new();
        foreign.extend(not_ours::<Deployment>(ctx, client, ns, "deployment").await?);
        foreign.extend(not_ours::<StatefulSet>(ctx, client, ns, "statefulset").await?);
        foreign.extend(not_ours::<Service>(ctx, client, ns, "service").await?);
        foreign.extend(not_ours::<Secret>(ctx, client, ns, "secret").await?);
        foreign.extend(not_ours::<ConfigMap>(ctx, client, ns, "configmap").await?);
        foreign.extend(not_ours::<ServiceAccount>(ctx, client, ns, "serviceaccount").await?);
        foreign.extend(not_ours::<Pod>(ctx, client, ns, "pod").await?);
        if foreign.is_empty() {
            return Ok(());
        }
        // Left behind, not a failure: the engine forgets it and the teardown goes on (a
        // cluster the same `down` deletes takes it and their objects with it).
        Err(ProviderError::new(
            ErrorKind::LeftBehind,
            format!(
                "namespace {ns} is not deleted: it holds objects multicloud does not own ({}); \
                 they and the namespace are left alone",
                foreign.join(", ")
            ),
        ))
    }
}

/// `kind/name` of the objects of type `K` in `ns` that lack our labels (controller-owned
/// objects are judged through their owner and skipped).
async fn not_ours<K>(
    ctx: &OpContext<'_>,
    client: &Client,
    ns: &str,
    kind: &str,
) -> Result<Vec<String>, ProviderError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let list = Api::<K>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default())
        .await
        .map_err(|e| classify(e, Op::Read, &format!("{kind}s in namespace {ns}")))?;
    Ok(list
        .items
        .iter()
        .filter(|o| {
            o.metadata
                .owner_references
                .as_ref()
                .is_none_or(Vec::is_empty)
        })
        .filter(|o| owner_of(ctx, *o) != Owner::Us)
        .filter_map(|o| o.metadata.name.as_deref())
        .filter(|name| !BUILT_IN.contains(&(kind, name)))
        .map(|name| format!("{kind}/{name}"))
        .collect())
}
