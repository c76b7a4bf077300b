//! # multicloud-k8s
//!
//! The Kubernetes side of a stack (namespace, pull secret, service account, synced secrets,
//! Deployment and Service of each app). The implementation lands with its own issue; this
//! page describes the seams of `multicloud-core` it plugs into, so the shape is fixed now.
//!
//! - It is a [`WorkloadOps`](multicloud_core::provider::WorkloadOps) attached to the stack
//!   with [`Stack::workloads`](multicloud_core::Stack::workloads): the provider never holds
//!   it.
//! - Each app kind's config is a typed value from
//!   [`multicloud_core::expand`] ([`DeploymentConfig`](multicloud_core::expand::DeploymentConfig)…),
//!   read with `ctx.config::<T>()`.
//! - The cluster is reached with `ctx.cluster_credentials()`: endpoint, CA, and a bearer
//!   token (an EKS token, renewed before its ~14 minutes run out) or a client certificate,
//!   from the provider's `ClusterOps::credentials` for the stack's cluster, or from
//!   [`Stack::cluster_access`](multicloud_core::Stack::cluster_access) (a local control
//!   plane in tests).
//! - Pull credentials and secret values come from the provider through `ctx.run()?.cloud`
//!   (`registry().pull_credentials(..)`, `secrets().get_secret(..)`).
//! - Objects are labelled with
//!   [`Ownership::kubernetes_labels`](multicloud_core::tags::Ownership::kubernetes_labels)
//!   (valid label keys and values) and judged with `judge_labels`.
//! - A pull secret whose registry token is about to expire reports `expires_at` in its
//!   observation, so `up` renews it.
//!
//! ```no_run
//! use multicloud_core::ProviderError;
//! use multicloud_core::expand::DeploymentConfig;
//! use multicloud_core::provider::OpContext;
//!
//! async fn apply_deployment(ctx: &OpContext<'_>) -> Result<(), ProviderError> {
//!     let config: DeploymentConfig = ctx.config()?;
//!     let creds = ctx.cluster_credentials().await?;
//!     let labels = ctx.stack.ownership.kubernetes_labels();
//!     println!(
//!         "apply {} in {} on {} with {} labels",
//!         ctx.resource.name,
//!         config.namespace,
//!         creds.endpoint,
//!         labels.len()
//!     );
//!     Ok(())
//! }
//! ```
