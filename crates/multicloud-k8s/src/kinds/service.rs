//! `service/<app>`: the app's Service, ClusterIP or LoadBalancer. A LoadBalancer Service is
//! ready once the cloud gave it an address; at teardown it goes first (its cloud load
//! balancer keeps the network alive otherwise) and the engine waits until its finalizers
//! (`service.kubernetes.io/load-balancer-cleanup`) have cleared.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::{Client, ResourceExt};
use multicloud_core::expand::ServiceConfig;
use multicloud_core::outputs::ServiceOutputs;
use multicloud_core::provider::{OpContext, Outputs, Readiness};
use multicloud_core::spec::Expose;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::json;

use super::deployment::APP_LABEL;
use crate::object::ObjectKind;

/// The Service kind.
pub(crate) struct ServiceKind;

fn is_load_balancer(live: &Service) -> bool {
    live.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The load balancer's host name or IP, once the cloud assigned one.
fn load_balancer_host(live: &Service) -> Option<String> {
    let ingress = live
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?;
    ingress
        .iter()
        .find_map(|i| i.hostname.clone().or_else(|| i.ip.clone()))
}

#[async_trait]
impl ObjectKind for ServiceKind {
    type K = Service;
    const WHAT: &'static str = "service";

    fn api(client: Client, namespace: &str) -> Api<Service> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<ServiceConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, meta: ObjectMeta) -> Result<Service, ProviderError> {
        let config: ServiceConfig = ctx.config()?;
        let type_ = match config.expose {
            Expose::ClusterIp => "ClusterIP",
            Expose::LoadBalancer => "LoadBalancer",
        };
        let spec = json!({
            "type": type_,
            "selector": { APP_LABEL: ctx.resource.name },
            "ports": [{ "name": "http", "port": config.port, "targetPort": config.port,
                        "protocol": "TCP" }],
        });
        let spec = serde_json::from_value(spec).map_err(|e| {
            ProviderError::new(ErrorKind::Other, format!("{}: {e}", ctx.resource.id))
        })?;
        Ok(Service {
            metadata: meta,
            spec: Some(spec),
            ..Service::default()
        })
    }
    fn outputs(live: &Service) -> Result<Outputs, ProviderError> {
        let spec = live.spec.as_ref();
        let host = if is_load_balancer(live) {
            load_balancer_host(live)
        } else {
            spec.and_then(|s| s.cluster_ip.clone())
        };
        let port = spec
            .and_then(|s| s.ports.as_ref())
            .and_then(|p| p.first())
            .and_then(|p| u16::try_from(p.port).ok());
        Outputs::of(&ServiceOutputs { host, port })
    }
    fn ready(live: &Service) -> Result<Readiness, ProviderError> {
        if is_load_balancer(live) && load_balancer_host(live).is_none() {
            return Ok(Readiness::pending(format!(
                "service {}/{}: waiting for the load balancer's address",
                live.namespace().unwrap_or_default(),
                live.name_any()
            )));
        }
        Ok(Readiness::Ready(Self::outputs(live)?))
    }
}
