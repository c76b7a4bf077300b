//! The plane's own load-balancer controller, as cloud-provider-kind is for kind: it plays the
//! cloud for Services of type LoadBalancer, so an app exposed that way comes up on the local
//! plane exactly as written.
//!
//! For each LoadBalancer Service that is not being deleted it adds the cloud's cleanup
//! finalizer ([`LOAD_BALANCER_FINALIZER`]) and sets `status.loadBalancer.ingress[0].ip` to a
//! loopback address (`127.0.0.2` upwards, distinct per Service and stable while it lives).
//! When the Service is being deleted, or is no longer of type LoadBalancer, it clears the
//! address and removes the finalizer. It runs on a thread of its own with its own runtime (a
//! plane outlives the test runtime that started it when it is shared) and stops when the plane
//! is dropped; its watch restarts by itself after errors, failed changes are retried.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use multicloud_core::provider::ClusterCredentials;
use serde_json::json;
use tokio::sync::oneshot;

use super::ControlPlaneError;
use crate::client::client_for;

/// The finalizer a cloud's service controller puts on a LoadBalancer Service until it has
/// removed the load balancer.
pub const LOAD_BALANCER_FINALIZER: &str = "service.kubernetes.io/load-balancer-cleanup";

/// How long to wait before retrying a failed change or a failed start.
const RETRY: Duration = Duration::from_secs(1);

/// The running controller; stops (and joins its thread) when dropped.
pub(crate) struct LoadBalancerController {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoadBalancerController {
    /// Starts the controller for the plane reached with `credentials`.
    pub(crate) fn start(credentials: ClusterCredentials) -> Result<Self, ControlPlaneError> {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("k8s-load-balancers".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "load-balancer controller: no runtime");
                        return;
                    }
                };
                rt.block_on(async move {
                    tokio::select! {
                        _ = stopped => {}
                        () = run(credentials) => {}
                    }
                });
                rt.shutdown_timeout(RETRY);
            })
            .map_err(|source| ControlPlaneError::Io {
                what: "starting the load-balancer controller's thread".into(),
                source,
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for LoadBalancerController {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Addresses handed out, by Service uid.
type Addresses = Arc<Mutex<BTreeMap<String, Ipv4Addr>>>;

/// What every reconcile sees.
struct Ctx {
    client: Client,
    /// The controller's view of every Service (to free addresses of Services gone unseen).
    store: Store<Service>,
    addresses: Addresses,
}

/// Runs the controller until the runtime ends, starting it again if it ever stops.
async fn run(credentials: ClusterCredentials) {
    let addresses = Addresses::default();
    loop {
        match client_for(&credentials).await {
            Ok(client) => {
                let controller = Controller::new(
                    Api::<Service>::all(client.clone()),
                    watcher::Config::default(),
                );
                let ctx = Arc::new(Ctx {
                    client,
                    store: controller.store(),
                    addresses: addresses.clone(),
                });
                controller
                    .run(reconcile, error_policy, ctx)
                    .for_each(|result| async move {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "load-balancer controller");
                        }
                    })
                    .await;
            }
            Err(e) => tracing::warn!(error = %e, "load-balancer controller: no client"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn error_policy(service: Arc<Service>, error: &kube::Error, _: Arc<Ctx>) -> Action {
    tracing::debug!(
        service = %service.name_any(),
        error = %error,
        "load-balancer controller: retrying"
    );
    Action::requeue(RETRY)
}

fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The ingress IPs a Service's status carries (what the controller assigned).
pub fn ingress_ips(service: &Service) -> Vec<String> {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ingress| ingress.iter().filter_map(|i| i.ip.clone()).collect())
        .unwrap_or_default()
}

/// Brings one Service to what the cloud would make of it.
async fn reconcile(service: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(namespace) = service.namespace() else {
        return Ok(Action::await_change());
    };
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = service.name_any();
    let ours = service
        .finalizers()
        .iter()
        .any(|f| f == LOAD_BALANCER_FINALIZER);
    let wanted = is_load_balancer(&service) && service.metadata.deletion_timestamp.is_none();
    if !wanted {
        if let Some(uid) = service.uid() {
            release(&ctx.addresses, &uid);
        }
        if ours {
            let mut current = (*service).clone();
            if !ingress_ips(&current).is_empty() {
                let clear = json!({ "status": { "loadBalancer": { "ingress": null } } });
                current = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&clear))
                    .await?;
            }
            set_finalizers(&api, &current, false).await?;
        }
        return Ok(Action::await_change());
    }
    if !ours {
        set_finalizers(&api, &service, true).await?;
    }
    let Some(ip) = address_for(&ctx, &service) else {
        tracing::warn!(service = %name, "load-balancer controller: no loopback address left");
        return Ok(Action::requeue(RETRY * 10));
    };
    if ingress_ips(&service) != [ip.to_string()] {
        let status =
            json!({ "status": { "loadBalancer": { "ingress": [{ "ip": ip.to_string() }] } } });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        tracing::debug!(service = %format!("{namespace}/{name}"), %ip, "load balancer ready");
    }
    Ok(Action::await_change())
}

/// Adds or removes our finalizer, only on the version read (a conflict is retried).
async fn set_finalizers(
    api: &Api<Service>,
    service: &Service,
    add: bool,
) -> Result<(), kube::Error> {
    let mut finalizers: Vec<String> = service
        .finalizers()
        .iter()
        .filter(|f| *f != LOAD_BALANCER_FINALIZER)
        .cloned()
        .collect();
    if add {
        finalizers.push(LOAD_BALANCER_FINALIZER.to_string());
    }
    let patch = json!({ "metadata": {
        "resourceVersion": service.resource_version(),
        "finalizers": finalizers,
    } });
    api.patch(
        &service.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

fn release(addresses: &Addresses, uid: &str) {
    if let Ok(mut addresses) = addresses.lock() {
        addresses.remove(uid);
    }
}

/// The Service's address: the one it has, else the lowest free one (`127.0.0.2` upwards,
/// skipping `.0` and `.255`). `None` when every loopback address is taken.
fn address_for(ctx: &Ctx, service: &Service) -> Option<Ipv4Addr> {
    let uid = service.uid()?;
    let mut addresses = ctx.addresses.lock().ok()?;
    if let Some(ip) = addresses.get(&uid) {
        return Some(*ip);
    }
    // Forget Services that went away without us seeing them go.
    let live: Vec<String> = ctx.store.state().iter().filter_map(|s| s.uid()).collect();
    if !live.is_empty() {
        addresses.retain(|uid, _| live.contains(uid));
    }
    let taken: Vec<Ipv4Addr> = addresses.values().copied().collect();
    // After a restart, keep the address it already carries.
    let current = ingress_ips(service)
        .iter()
        .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
        .find(|ip| ip.is_loopback() && !taken.contains(ip));
    let ip = current.or_else(|| {
        (2u32..0x00ff_ffff)
            .map(|n| Ipv4Addr::from(0x7f00_0000 | n))
            .find(|ip| !matches!(ip.octets()[3], 0 | 255) && !taken.contains(ip))
    })?;
    addresses.insert(uid, ip);
    Some(ip)
}
