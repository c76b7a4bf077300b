//! Starting the plane: binaries, flags (measured in `../shared/K8S-CONTROL-PLANE.md`), the
//! kwok node, and the waits that prove each part works.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Client;
use kube::api::{Api, PostParams};
use multicloud_testing::{K8S_INSTALL, LocalProcess, WaitFor, free_port};
use serde_json::json;
use tokio::time::Instant;

use super::certs::Pki;
use super::load_balancer::LoadBalancerController;
use super::{BIN_ENV, ControlPlane, ControlPlaneError, PlaneOptions};
use crate::client::client_for;
use multicloud_core::secret::SecretString;

/// How long each part may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
/// The annotation kwok manages nodes by.
const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Where the binaries are: `$MULTICLOUD_K8S_BIN`, else what `install-k8s.sh` prints (it
/// builds them on first use).
async fn binaries() -> Result<PathBuf, ControlPlaneError> {
    if let Ok(dir) = std::env::var(BIN_ENV) {
        return Ok(PathBuf::from(dir));
    }
    K8S_INSTALL
        .run_once(&[])
        .await
        .map_err(|e| ControlPlaneError::Binaries(e.to_string()))
}

struct Ports {
    etcd: u16,
    etcd_peer: u16,
    apiserver: u16,
    controller_manager: u16,
    scheduler: u16,
}

fn s(v: impl std::fmt::Display) -> String {
    v.to_string()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Starts everything; see [`ControlPlane::start`].
pub(super) async fn start(
    keep: bool,
    options: PlaneOptions,
) -> Result<ControlPlane, ControlPlaneError> {
    let bin = binaries().await?;
    let dir = LocalProcess::fresh_dir("k8s")?;
    let io = |what: String| move |source| ControlPlaneError::Io { what, source };
    let pki = Pki::generate(&dir)?;
    let ports = Ports {
        etcd: free_port()?,
        etcd_peer: free_port()?,
        apiserver: free_port()?,
        controller_manager: free_port()?,
        scheduler: free_port()?,
    };
    let endpoint = format!("https://127.0.0.1:{}", ports.apiserver);
    let kubeconfig_path = dir.join("admin.kubeconfig");
    let token = SecretString::generate(40);
    let tokens = dir.join("tokens.csv");
    let line = format!(
        "{},multicloud-admin,multicloud-admin,\"system:masters\"\n",
        token.expose()
    );
    std::fs::write(&tokens, line).map_err(io(format!("writing {}", tokens.display())))?;
    let mut plane = ControlPlane {
        endpoint,
        pki,
        token,
        dir,
        processes: Vec::new(),
        keep,
        kubeconfig_path,
        load_balancers: None,
    };
    std::fs::write(&plane.kubeconfig_path, plane.kubeconfig().expose())
        .map_err(io(format!("writing {}", plane.kubeconfig_path.display())))?;
    let started = Instant::now();
    plane.start_etcd(&bin, &ports).await?;
    let client = plane.start_apiserver(&bin, &ports).await?;
    plane.start_controllers(&bin, &ports)?;
    create_kwok_node(&client).await?;
    plane.wait_until_usable(&client).await?;
    if options.load_balancers {
        plane.load_balancers = Some(LoadBalancerController::start(plane.credentials())?);
    }
    tracing::info!(
        endpoint = %plane.endpoint,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "local control plane ready"
    );
    Ok(plane)
}

impl ControlPlane {
    /// Describes the plane's process `name` (`bin/name args`) in the plane's directory;
    /// etcd, the first, removes the directory when it stops.
    fn process(&self, name: &str, bin: &Path, args: Vec<String>) -> multicloud_testing::Builder {
        LocalProcess::builder(name, bin.join(name))
            .args(args)
            .dir(&self.dir, name == "etcd")
            .keep(self.keep)
            .ready_timeout(READY_TIMEOUT)
    }

    fn spawn(
        &mut self,
        name: &str,
        bin: &Path,
        args: Vec<String>,
    ) -> Result<(), ControlPlaneError> {
        let process = self.process(name, bin, args).spawn()?;
        self.processes.push(process);
        Ok(())
    }

    async fn start_etcd(&mut self, bin: &Path, p: &Ports) -> Result<(), ControlPlaneError> {
        let client_url = format!("http://127.0.0.1:{}", p.etcd);
        let peer_url = format!("http://127.0.0.1:{}", p.etcd_peer);
        let args = vec![
            s("--data-dir"),
            path(&self.dir.join("etcd")),
            s("--listen-client-urls"),
            client_url.clone(),
            s("--advertise-client-urls"),
            client_url,
            s("--listen-peer-urls"),
            peer_url.clone(),
            s("--initial-advertise-peer-urls"),
            peer_url.clone(),
            s("--initial-cluster"),
            format!("default={peer_url}"),
            s("--unsafe-no-fsync=true"),
        ];
        let etcd = self
            .process("etcd", bin, args)
            .wait_for(WaitFor::http_status(p.etcd, "/health", 200))
            .start()
            .await?;
        self.processes.push(etcd);
        Ok(())
    }

    async fn start_apiserver(
        &mut self,
        bin: &Path,
        p: &Ports,
    ) -> Result<Client, ControlPlaneError> {
        let (sa_key, sa_pub) = (path(&self.pki.sa_key), path(&self.pki.sa_pub));
        let args = vec![
            format!("--etcd-servers=http://127.0.0.1:{}", p.etcd),
            s("--bind-address=127.0.0.1"),
            format!("--secure-port={}", p.apiserver),
            format!("--tls-cert-file={}", path(&self.pki.serving_cert)),
            format!("--tls-private-key-file={}", path(&self.pki.serving_key)),
            format!("--client-ca-file={}", path(&self.pki.ca_cert)),
            format!(
                "--service-account-issuer=https://127.0.0.1:{}/",
                p.apiserver
            ),
            format!("--service-account-key-file={sa_pub}"),
            format!("--service-account-signing-key-file={sa_key}"),
            s("--service-cluster-ip-range=10.0.0.0/24"),
            s("--allow-privileged=true"),
            s("--authorization-mode=RBAC"),
            s("--disable-admission-plugins=ServiceAccount"),
            s("--endpoint-reconciler-type=none"),
            format!("--token-auth-file={}", path(&self.dir.join("tokens.csv"))),
        ];
        let client = client_for(&self.credentials())
            .await
            .map_err(|e| ControlPlaneError::Setup(e.to_string()))?;
        let probe = client.clone();
        let ready = WaitFor::custom("/readyz answering ok", move || {
            let client = probe.clone();
            async move { apiserver_ready(&client).await }
        });
        let apiserver = self
            .process("kube-apiserver", bin, args)
            .wait_for(ready)
            .start()
            .await?;
        self.processes.push(apiserver);
        Ok(client)
    }

    fn start_controllers(&mut self, bin: &Path, p: &Ports) -> Result<(), ControlPlaneError> {
        let kc = path(&self.kubeconfig_path);
        let common = |port: u16| {
            vec![
                format!("--kubeconfig={kc}"),
                format!("--authentication-kubeconfig={kc}"),
                format!("--authorization-kubeconfig={kc}"),
                s("--bind-address=127.0.0.1"),
                format!("--secure-port={port}"),
                s("--leader-elect=false"),
            ]
        };
        let mut cm = common(p.controller_manager);
        cm.extend([
            format!(
                "--service-account-private-key-file={}",
                path(&self.pki.sa_key)
            ),
            format!("--root-ca-file={}", path(&self.pki.ca_cert)),
            s("--service-cluster-ip-range=10.0.0.0/24"),
            s("--controllers=*"),
        ]);
        self.spawn("kube-controller-manager", bin, cm)?;
        self.spawn("kube-scheduler", bin, common(p.scheduler))?;
        let kwok = vec![
            format!("--kubeconfig={kc}"),
            s("-c"),
            path(&bin.join("kwok-stages.yaml")),
            s("--manage-all-nodes=false"),
            format!("--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake"),
            s("--node-ip=10.244.0.1"),
            s("--cidr=10.244.0.0/24"),
        ];
        self.spawn("kwok", bin, kwok)
    }

    /// Waits for the node to be Ready (kwok works) and for the `default` service account of
    /// the `default` namespace (the controller-manager works).
    async fn wait_until_usable(&mut self, client: &Client) -> Result<(), ControlPlaneError> {
        let nodes: Api<Node> = Api::all(client.clone());
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let node_ready = nodes
                .get_opt(NODE_NAME)
                .await
                .ok()
                .flatten()
                .is_some_and(|n| node_is_ready(&n));
            let sa = accounts.get_opt("default").await.ok().flatten().is_some();
            if node_ready && sa {
                return Ok(());
            }
            for p in &mut self.processes {
                p.check_running()?;
            }
            if Instant::now() > deadline {
                let who = if node_ready {
                    "kube-controller-manager"
                } else {
                    "kwok"
                };
                let message = format!("node ready: {node_ready}, default service account: {sa}");
                let p = self.processes.iter().position(|p| p.name() == who);
                return Err(match p.and_then(|i| self.processes.get_mut(i)) {
                    Some(p) => p.failure(message).into(),
                    None => ControlPlaneError::Setup(message),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The simulated node's name.
pub(crate) const NODE_NAME: &str = "kwok-node-0";

fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn create_kwok_node(client: &Client) -> Result<(), ControlPlaneError> {
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "annotations": { KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0" },
            "labels": { "type": "kwok", "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux" },
        },
        "status": {
            "capacity": { "cpu": "32", "memory": "256Gi", "pods": "110" },
            "allocatable": { "cpu": "32", "memory": "256Gi", "pods": "110" },
        },
    }))
    .map_err(|e| ControlPlaneError::Setup(format!("the kwok node: {e}")))?;
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .map_err(|e| ControlPlaneError::Setup(format!("creating the kwok node: {e}")))?;
    Ok(())
}

async fn apiserver_ready(client: &Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    matches!(client.request_text(request).await, Ok(body) if body.trim() == "ok")
}
