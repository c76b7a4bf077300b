//! `deployment/<app>`: the app's Deployment (image from the stack's registry or outside,
//! env and env-from-secret, the identity's pod labels, rolling update). Ready means the
//! rollout is complete: the controller observed the latest generation and every replica is
//! updated and available. A rollout that cannot finish reports the condition Kubernetes gives.

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::{Client, ResourceExt};
use multicloud_core::expand::DeploymentConfig;
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::{OpContext, Readiness};
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::ImageRef;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::json;

use super::pull_secret::PullSecretOutputs;
use super::service_account::ServiceAccountOutputs;
use super::synced_secret::VALUE_KEY;
use crate::object::ObjectKind;

/// How often a rollout in progress is checked.
const ROLLOUT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The label that selects an app's pods.
pub const APP_LABEL: &str = "app.kubernetes.io/name";
/// Pod template annotation: the versions of the secrets the pods read (`name=version,...`),
/// so a new version rolls the pods, which read env vars only at start.
pub const ANNOTATION_SECRET_VERSIONS: &str = "multicloud.dev/secret-versions";

/// `name=version,...` of the secrets `config` reads, from the secrets' outputs, and of its
/// connections (`<Secret name>=<connection version>`).
fn secret_versions(
    ctx: &OpContext<'_>,
    config: &DeploymentConfig,
) -> Result<String, ProviderError> {
    let mut versions = BTreeMap::new();
    for e in &config.env_from_secrets {
        let id = ResourceId::new(ResourceKind::SECRET, &e.secret);
        let secret: SecretOutputs = ctx.dep(&id)?;
        versions.insert(e.secret.clone(), secret.version.unwrap_or_default());
    }
    for c in &config.connections {
        versions.insert(c.name.clone(), super::connection::version(ctx, c)?);
    }
    Ok(versions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// The Deployment kind.
pub(crate) struct DeploymentKind;

/// The image reference: a registry image resolved through the pull secret's outputs.
fn image(
    ctx: &OpContext<'_>,
    config: &DeploymentConfig,
) -> Result<(String, Option<String>), ProviderError> {
    match &config.image {
        ImageRef::External { image } => Ok((image.clone(), None)),
        ImageRef::Registry { registry, tag } => {
            let id = ResourceId::new(ResourceKind::PULL_SECRET, &config.namespace);
            let pull: PullSecretOutputs = ctx.dep(&id)?;
            let url = pull.registries.get(registry).ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "{}: registry `{registry}` has no URL in {id}",
                        ctx.resource.id
                    ),
                )
            })?;
            Ok((format!("{url}:{tag}"), Some(pull.name)))
        }
    }
}

fn env(config: &DeploymentConfig) -> Vec<serde_json::Value> {
    let plain = config
        .env
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }));
    let secret = config.env_from_secrets.iter().map(|e| {
        json!({ "name": e.var, "valueFrom": { "secretKeyRef": { "name": e.secret, "key": VALUE_KEY } } })
    });
    plain.chain(secret).collect()
}

#[async_trait]
impl ObjectKind for DeploymentKind {
    type K = Deployment;
    const WHAT: &'static str = "deployment";

    fn api(client: Client, namespace: &str) -> Api<Deployment> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<DeploymentConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, meta: ObjectMeta) -> Result<Deployment, ProviderError> {
        let config: DeploymentConfig = ctx.config()?;
        let (image, pull_secret) = image(ctx, &config)?;
        let sa_id = ResourceId::new(
            ResourceKind::SERVICE_ACCOUNT,
            format!("{}.{}", config.namespace, config.service_account),
        );
        let sa: ServiceAccountOutputs = ctx.dep(&sa_id)?;
        let app = ctx.resource.name.as_str();
        let mut pod_labels: BTreeMap<String, String> = meta.labels.clone().unwrap_or_default();
        pod_labels.insert(APP_LABEL.to_string(), app.to_string());
        pod_labels.extend(sa.pod_labels);
        let pull_secrets: Vec<_> = pull_secret.iter().map(|n| json!({ "name": n })).collect();
        let mut pod_annotations = BTreeMap::new();
        if !config.env_from_secrets.is_empty() || !config.connections.is_empty() {
            pod_annotations.insert(
                ANNOTATION_SECRET_VERSIONS.to_string(),
                secret_versions(ctx, &config)?,
            );
        }
        let mut container = json!({
            "name": app,
            "image": image,
            "ports": [{ "name": "http", "containerPort": config.port }],
            "env": env(&config),
        });
        if !config.connections.is_empty() {
            let from: Vec<_> = config
                .connections
                .iter()
                .map(|c| json!({ "secretRef": { "name": c.name } }))
                .collect();
            container["envFrom"] = json!(from);
        }
        if let Some(r) = &config.resources {
            container["resources"] = json!({
                "requests": { "cpu": r.cpu, "memory": r.memory },
                "limits": { "memory": r.memory },
            });
        }
        if let Some(path) = &config.health_path {
            let probe = json!({ "httpGet": { "path": path, "port": config.port } });
            container["readinessProbe"] = probe.clone();
            container["livenessProbe"] = probe;
        }
        let spec = json!({
            "replicas": config.replicas,
            "selector": { "matchLabels": { APP_LABEL: app } },
            "strategy": { "type": "RollingUpdate",
                          "rollingUpdate": { "maxUnavailable": 0, "maxSurge": "25%" } },
            "template": {
                "metadata": { "labels": pod_labels, "annotations": pod_annotations },
                "spec": {
                    "serviceAccountName": config.service_account,
                    "imagePullSecrets": pull_secrets,
                    "containers": [container],
                },
            },
        });
        let spec = serde_json::from_value(spec).map_err(|e| {
            ProviderError::new(ErrorKind::Other, format!("{}: {e}", ctx.resource.id))
        })?;
        Ok(Deployment {
            metadata: meta,
            spec,
            ..Deployment::default()
        })
    }
    fn ready(live: &Deployment) -> Result<Readiness, ProviderError> {
        rollout(live)
    }
}

/// `Type=Status (Reason: message)` of the condition `type_`, if reported.
fn condition(status: &DeploymentStatus, type_: &str) -> Option<String> {
    let c = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_.as_deref() == Some(type_))?;
    Some(format!(
        "{type_}={} ({}: {})",
        c.status.as_deref().unwrap_or("Unknown"),
        c.reason.as_deref().unwrap_or(""),
        c.message.as_deref().unwrap_or("")
    ))
}

/// Whether the rollout of `live` is complete; a failed rollout is an error naming it.
pub(crate) fn rollout(live: &Deployment) -> Result<Readiness, ProviderError> {
    let name = format!(
        "deployment {}/{}",
        live.namespace().unwrap_or_default(),
        live.name_any()
    );
    let want = live.spec.replicas.unwrap_or(1);
    let generation = live.metadata.generation.unwrap_or(0);
    let default = DeploymentStatus::default();
    let status = live.status.as_ref().unwrap_or(&default);
    if status.observed_generation.unwrap_or(0) < generation {
        return Ok(rolling(format!(
            "{name}: waiting for the controller to see generation {generation}"
        )));
    }
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"));
    if let Some(c) = progressing
        && c.status.as_deref() == Some("False")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Err(ProviderError::new(
            ErrorKind::Failed,
            format!(
                "{name}: rollout failed: {}",
                condition(status, "Progressing").unwrap_or_default()
            ),
        )
        .with_code("ProgressDeadlineExceeded"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if updated >= want && available >= want && total == updated {
        return Ok(Readiness::Ready(<DeploymentKind as ObjectKind>::outputs(
            live,
        )?));
    }
    let why = condition(status, "Available")
        .or_else(|| condition(status, "Progressing"))
        .unwrap_or_else(|| "no conditions reported yet".into());
    Ok(rolling(format!(
        "{name}: {available}/{want} available, {updated}/{want} updated; {why}"
    )))
}

/// A rollout in progress. It is often done in a second, and a GET of one Deployment is cheap
/// for the API server: checked twice a second rather than at the poller's cloud pace.
fn rolling(status: String) -> Readiness {
    Readiness::Pending {
        status,
        retry_after: Some(ROLLOUT_POLL),
    }
}
