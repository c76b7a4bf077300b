//! # multicloud-k8s
//!
//! The app on the stack's cluster, as part of the same plan as the infrastructure: each app
//! of the spec becomes a namespace, an image pull secret, a service account (annotated for the
//! cloud's workload identity), Kubernetes Secrets synced from the cloud's secret store, a
//! Deployment and a Service (`multicloud_core::expand::workloads`). [`KubernetesWorkloads`]
//! applies them with kube-rs server-side apply (field manager `multicloud`) and the stack's
//! ownership labels, waits for them like any cloud resource (a Deployment is ready when its
//! rollout is complete), and takes them off first at `down` (LoadBalancer Services are
//! awaited until their finalizers clear). Objects without our labels are never touched.
//!
//! - It is a [`WorkloadOps`](multicloud_core::provider::WorkloadOps) attached with
//!   [`Stack::workloads`](multicloud_core::Stack::workloads): one line more than an
//!   infrastructure-only stack.
//! - The cluster is reached with the run's credentials: endpoint and CA from the cluster's
//!   outputs and a token from the provider's `ClusterOps::credentials` (an in-process EKS
//!   token), or [`Stack::cluster_access`](multicloud_core::Stack::cluster_access) with any
//!   [`ClusterCredentials`](multicloud_core::provider::ClusterCredentials) (a local control
//!   plane in tests; a kubeconfig's, read with [`credentials_from_kubeconfig`]).
//! - [`KubernetesWorkloads::with_external_secrets`] also emits External Secrets Operator
//!   `SecretStore` and `ExternalSecret` objects next to each synced secret, for clusters that
//!   run ESO ([`kinds::external_secrets`]); the direct sync stays on the critical path.
//! - Pull credentials and secret values come from the provider (`Registry::pull_credentials`,
//!   `SecretBackend::get_secret`) and never reach state.
//!
//! ```no_run
//! # async fn demo(spec: multicloud_core::spec::StackSpec,
//! #               provider: impl multicloud_core::provider::CloudProvider + 'static)
//! #               -> Result<(), multicloud_core::Error> {
//! use multicloud_core::Stack;
//! use multicloud_k8s::KubernetesWorkloads;
//!
//! let stack = Stack::new(spec, provider).workloads(KubernetesWorkloads::new());
//! let outputs = stack.up().await?; // infrastructure, then the app, in one plan
//! println!("{:?}", outputs.services);
//! stack.down().await?; // the app first, then the infrastructure
//! # Ok(()) }
//! ```
//!
//! In a test, [`KubeClientExt::kube_client`] gives a client of the stack's cluster (of a
//! `Stack` or of a `multicloud_core::EphemeralEnv`, the stack a test brings up and always
//! tears down):
//!
//! ```no_run
//! # async fn test(spec: multicloud_core::spec::StackSpec,
//! #               provider: std::sync::Arc<dyn multicloud_core::provider::CloudProvider>)
//! #               -> Result<(), multicloud_core::Error> {
//! use multicloud_core::EphemeralEnv;
//! use multicloud_k8s::{KubeClientExt, KubernetesWorkloads};
//!
//! let env = EphemeralEnv::builder(spec, provider)
//!     .workloads(KubernetesWorkloads::new())
//!     .up()
//!     .await?;
//! let kube: kube::Client = env.kube_client().await?; // the stack's cluster, app deployed
//! // ... the test ...
//! env.down().await?; // or drop it: the teardown still runs
//! # Ok(()) }
//! ```
//!
//! [`status::apps_status`] reads how the apps run (replicas available, Service address) and
//! where the connection Secrets they read point, to compare with the stack's outputs.
//!
//! Feature `testing` adds [`testing::ControlPlane`], a real local control plane (etcd,
//! kube-apiserver, controller-manager, scheduler and kwok) for tests.

pub mod client;
mod drift;
mod dynamic;
pub mod error;
pub mod kinds;
pub mod object;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod workloads;

pub use client::{KubeClientExt, client_for, credentials_from_kubeconfig, kubeconfig_yaml};
pub use workloads::KubernetesWorkloads;
