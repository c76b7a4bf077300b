//! `manifest/<name>`: a set of the user's own objects (multi-document YAML, e.g. the output of
//! `helm template`), applied in order with the same server-side apply, ownership labels and
//! fingerprint as the app, Deployments among them awaited until rolled out, and deleted in
//! reverse order. The API of each object comes from discovery (its group, version and kind),
//! so any type the cluster serves works, custom resources included.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope, pinned_kind};
use kube::{Client, ResourceExt};
use multicloud_core::expand::ManifestConfig;
use multicloud_core::provider::{Observation, Observed, OpContext, Outputs, Owner, Readiness};
use multicloud_core::{ErrorKind, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::deployment::rollout;
use crate::drift;
use crate::dynamic::{Target, apply_all, delete_ours, still_ours};
use crate::error::{Op, classify};
use crate::object::{ANNOTATION_FINGERPRINT, Lifecycle, fingerprint, owner_of};

/// What a manifest set reports: its objects as `kind namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutputs {
    /// The objects, in apply order.
    pub objects: Vec<String>,
}

fn invalid(ctx: &OpContext<'_>, message: String) -> ProviderError {
    ProviderError::new(
        ErrorKind::InvalidConfig,
        format!("{}: {message}", ctx.resource.id),
    )
}

fn gvk_of(value: &Value) -> Option<GroupVersionKind> {
    let api_version = value.get("apiVersion")?.as_str()?;
    let kind = value.get("kind")?.as_str()?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    Some(GroupVersionKind::gvk(group, version, kind))
}

/// The objects of the set, labelled and fingerprinted, each with its API.
async fn targets(ctx: &OpContext<'_>, client: &Client) -> Result<Vec<Target>, ProviderError> {
    let config: ManifestConfig = ctx.config()?;
    let print = fingerprint(&config.objects)?;
    let mut out = Vec::with_capacity(config.objects.len());
    for value in &config.objects {
        let gvk = gvk_of(value)
            .ok_or_else(|| invalid(ctx, "an object without apiVersion/kind".into()))?;
        let (resource, caps): (ApiResource, _) = pinned_kind(client, &gvk)
            .await
            .map_err(|e| classify(e, Op::Read, &format!("the API of {}", gvk.kind)))?;
        let mut object: DynamicObject = serde_json::from_value(value.clone()).map_err(|e| {
            invalid(
                ctx,
                format!("a {} that is not a Kubernetes object: {e}", gvk.kind),
            )
        })?;
        let api = if caps.scope == Scope::Namespaced {
            let ns = object
                .namespace()
                .unwrap_or_else(|| config.namespace.clone());
            object.metadata.namespace = Some(ns.clone());
            Api::namespaced_with(client.clone(), &ns, &resource)
        } else {
            object.metadata.namespace = None;
            Api::all_with(client.clone(), &resource)
        };
        object
            .labels_mut()
            .extend(ctx.stack.ownership.kubernetes_labels());
        let annotations = object.annotations_mut();
        annotations.extend(ctx.stack.ownership.kubernetes_annotations());
        annotations.insert(ANNOTATION_FINGERPRINT.to_string(), print.clone());
        let what = match object.namespace() {
            Some(ns) => format!("{} {ns}/{}", gvk.kind, object.name_any()),
            None => format!("{} {}", gvk.kind, object.name_any()),
        };
        out.push(Target { api, object, what });
    }
    Ok(out)
}

fn outputs(targets: &[Target]) -> Result<Outputs, ProviderError> {
    Outputs::of(&ManifestOutputs {
        objects: targets.iter().map(|t| t.what.clone()).collect(),
    })
}

/// Present when every object is; owned by us only when every object carries our labels;
/// drifted in the fields we apply to any of them (each field named with its object).
async fn observe(ctx: &OpContext<'_>, client: &Client) -> Result<Observation, ProviderError> {
    let targets = targets(ctx, client).await?;
    let mut owner = Owner::Us;
    let mut fields = Vec::new();
    for t in &targets {
        let Some(live) = t.live().await? else {
            return Ok(Observation::Absent);
        };
        let o = owner_of(ctx, &live);
        if o != Owner::Us {
            owner = o;
            continue;
        }
        let found = drift::object_drift(&t.api, &t.object, &live, &t.what).await?;
        fields.extend(drift::prefixed(&t.what, found));
    }
    let drift = (owner == Owner::Us).then(|| drift::of(fields)).flatten();
    Ok(Observation::Present(Observed {
        drift,
        owner,
        ..Observed::ours(outputs(&targets)?)
    }))
}

/// Applies every object in order (refusing any that exists without our labels).
async fn apply(ctx: &OpContext<'_>, client: &Client) -> Result<Outputs, ProviderError> {
    let targets = targets(ctx, client).await?;
    apply_all(ctx, &targets).await?;
    outputs(&targets)
}

/// Ready when every object exists and every Deployment among them has rolled out.
async fn ready(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
    let targets = targets(ctx, client).await?;
    for t in &targets {
        let Some(live) = t.live().await? else {
            return Ok(Readiness::pending(format!("{} not visible yet", t.what)));
        };
        if live
            .types
            .as_ref()
            .is_some_and(|ty| ty.kind == "Deployment" && ty.api_version == "apps/v1")
        {
            let deployment: Deployment = serde_json::to_value(&live)
                .and_then(serde_json::from_value)
                .map_err(|e| invalid(ctx, format!("{}: {e}", t.what)))?;
            if let Readiness::Pending {
                status,
                retry_after,
            } = rollout(&deployment)?
            {
                return Ok(Readiness::Pending {
                    status,
                    retry_after,
                });
            }
        }
    }
    Ok(Readiness::Ready(outputs(&targets)?))
}

/// Deletes the objects that are ours, in reverse order.
async fn delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
    delete_ours(ctx, &targets(ctx, client).await?).await
}

/// Gone when none of our objects is left.
async fn gone(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
    Ok(match still_ours(ctx, &targets(ctx, client).await?).await? {
        Some(status) => Readiness::pending(status),
        None => Readiness::ready(),
    })
}

/// The manifest kind: its lifecycle is the functions above.
pub(crate) struct ManifestKind;

#[async_trait]
impl Lifecycle for ManifestKind {
    async fn observe(ctx: &OpContext<'_>, client: &Client) -> Result<Observation, ProviderError> {
        observe(ctx, client).await
    }
    async fn apply(ctx: &OpContext<'_>, client: &Client) -> Result<Outputs, ProviderError> {
        apply(ctx, client).await
    }
    async fn delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
        delete(ctx, client).await
    }
    async fn ready(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
        ready(ctx, client).await
    }
    async fn gone(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
        gone(ctx, client).await
    }
}
