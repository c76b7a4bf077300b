//! How a stack's apps run, read from the cluster: what `kubectl get deploy,svc` shows of each
//! app, and where the connection Secrets it reads point ([`apps_status`]). The `multicloud
//! status` command prints it; a caller compares each connection's endpoint with the stack's
//! outputs to see that the app reaches the stack's own database and cache.
//!
//! ```no_run
//! # async fn run(stack: multicloud_core::Stack) -> Result<(), Box<dyn std::error::Error>> {
//! use multicloud_k8s::KubeClientExt;
//!
//! let client = stack.kube_client().await?;
//! for app in multicloud_k8s::status::apps_status(&client, stack.spec()).await? {
//!     println!("{}/{}: {}/{} available", app.namespace, app.name, app.available, app.replicas);
//!     for c in &app.connections {
//!         println!("  {:?} from Secret {} at {}:{}", c.service, c.secret, c.host, c.port);
//!     }
//! }
//! # Ok(()) }
//! ```

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::Client;
use kube::api::Api;
use multicloud_core::ProviderError;
use multicloud_core::spec::{App, Connection, StackSpec};
use serde::Serialize;

use crate::error::{Op, classify};
use crate::kinds::connection::ANNOTATION_CONNECTION_VERSION;

/// One app as the cluster runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AppStatus {
    /// Its namespace.
    pub namespace: String,
    /// Its name (of the Deployment and the Service).
    pub name: String,
    /// Whether its Deployment exists.
    pub deployed: bool,
    /// Replicas wanted.
    pub replicas: i32,
    /// Replicas available (`status.availableReplicas`).
    pub available: i32,
    /// Whether the Deployment's `Available` condition is `True`.
    pub is_available: bool,
    /// The image of its container.
    pub image: Option<String>,
    /// Its Service, if there is one.
    pub service: Option<ServiceStatus>,
    /// The connection Secrets its container reads (`envFrom`), in order.
    pub connections: Vec<ConnectionStatus>,
}

impl AppStatus {
    /// Deployed, every wanted replica available, and the `Available` condition `True`.
    pub fn is_running(&self) -> bool {
        self.deployed && self.is_available && self.available >= self.replicas
    }
}

/// An app's Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// `ClusterIP` or `LoadBalancer`.
    pub type_: String,
    /// The load balancer's address once it has one, else the cluster IP.
    pub address: Option<String>,
    /// Its first port.
    pub port: Option<i32>,
}

/// A connection Secret an app reads, and where its variables point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnectionStatus {
    /// The data service it connects to.
    pub service: Connection,
    /// The Kubernetes Secret's name.
    pub secret: String,
    /// The host its variables name (`PGHOST`, `REDIS_HOST`).
    pub host: String,
    /// The port they name (`PGPORT`, `REDIS_PORT`; 0 if unreadable).
    pub port: u16,
}

/// The status of every app of `spec`, in spec order.
pub async fn apps_status(
    client: &Client,
    spec: &StackSpec,
) -> Result<Vec<AppStatus>, ProviderError> {
    let mut out = Vec::with_capacity(spec.apps.len());
    for app in &spec.apps {
        out.push(app_status(client, &spec.name, app).await?);
    }
    Ok(out)
}

/// The status of `app` of stack `stack`.
async fn app_status(client: &Client, stack: &str, app: &App) -> Result<AppStatus, ProviderError> {
    let namespace = app.namespace_or(stack).to_string();
    let live: Option<Deployment> = read(client, &namespace, &app.name, "deployment").await?;
    let service = service_status(client, &namespace, &app.name).await?;
    let mut status = AppStatus {
        namespace,
        name: app.name.clone(),
        deployed: live.is_some(),
        replicas: i32::try_from(app.replicas).unwrap_or(i32::MAX),
        available: 0,
        is_available: false,
        image: None,
        service,
        connections: Vec::new(),
    };
    if let Some(live) = live {
        read_deployment(&live, &mut status);
        for secret in env_from_secrets(&live) {
            if let Some(c) = connection(client, &status.namespace, &secret).await? {
                status.connections.push(c);
            }
        }
    }
    Ok(status)
}

/// Replicas, availability and image of `live` into `status`.
fn read_deployment(live: &Deployment, status: &mut AppStatus) {
    if let Some(replicas) = live.spec.replicas {
        status.replicas = replicas;
    }
    let s = live.status.clone().unwrap_or_default();
    status.available = s.available_replicas.unwrap_or(0);
    status.is_available =
        s.conditions.iter().flatten().any(|c| {
            c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
        });
    status.image = containers(live).first().and_then(|c| c.image.clone());
}

fn containers(live: &Deployment) -> &[k8s_openapi::api::core::v1::Container] {
    live.spec
        .template
        .spec
        .as_ref()
        .map_or(&[], |p| p.containers.as_slice())
}

/// The Secrets the containers of `live` take whole (`envFrom: secretRef`).
fn env_from_secrets(live: &Deployment) -> Vec<String> {
    containers(live)
        .iter()
        .flat_map(|c| c.env_from.iter().flatten())
        .filter_map(|e| e.secret_ref.as_ref().map(|r| r.name.clone()))
        .collect()
}

/// Object `namespace/name` of type `K` (`what` in errors), if it exists.
async fn read<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    what: &str,
) -> Result<Option<K>, ProviderError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| classify(e, Op::Read, &format!("{what} {namespace}/{name}")))
}

/// Where Secret `name` points, if it is one of our connection Secrets.
async fn connection(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<ConnectionStatus>, ProviderError> {
    let Some(secret) = read::<Secret>(client, namespace, name, "secret").await? else {
        return Ok(None);
    };
    let ours = secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION_CONNECTION_VERSION));
    if !ours {
        return Ok(None);
    }
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    let (service, host, port) = if let Some(host) = value("PGHOST") {
        (Connection::Database, host, value("PGPORT"))
    } else if let Some(host) = value("REDIS_HOST") {
        (Connection::Cache, host, value("REDIS_PORT"))
    } else {
        return Ok(None);
    };
    Ok(Some(ConnectionStatus {
        service,
        secret: name.to_string(),
        host,
        port: port.and_then(|p| p.parse().ok()).unwrap_or(0),
    }))
}

/// The Service `name`'s type, address and port, if it exists.
async fn service_status(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<ServiceStatus>, ProviderError> {
    let Some(svc) = read::<Service>(client, namespace, name, "service").await? else {
        return Ok(None);
    };
    let spec = svc.spec.unwrap_or_default();
    let ingress = svc
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .and_then(|i| i.into_iter().find_map(|i| i.ip.or(i.hostname)));
    Ok(Some(ServiceStatus {
        type_: spec.type_.unwrap_or_else(|| "ClusterIP".into()),
        address: ingress.or(spec.cluster_ip),
        port: spec.ports.iter().flatten().next().map(|p| p.port),
    }))
}
