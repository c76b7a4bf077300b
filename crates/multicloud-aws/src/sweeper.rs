//! [`Sweeper`]: finds and deletes what stacks left behind, by their ownership tags.
//!
//! Every resource multicloud creates carries `multicloud:stack` and `multicloud:env` (and,
//! with a TTL, `multicloud:expires-at`). The sweeper lists, service by service, every
//! resource carrying them — EC2 network resources, EKS clusters and node groups, RDS
//! instances and DB subnet groups, ElastiCache replication groups and cache subnet groups,
//! ECR repositories, Secrets Manager secrets, IAM roles and OIDC providers — plus the load
//! balancers Kubernetes left in those VPCs (by their cluster tags; listed as
//! [`kinds::LOAD_BALANCER`], selected with their VPC), and deletes those matching a
//! [`SweepFilter`] in dependency order.
//!
//! That order is not written here: it is [`teardown_order`](crate::order::teardown_order), the reverse of the
//! expansion's dependency order, so the sweeper and the engine's teardown come from the
//! same graph (node groups before clusters, databases and caches before their subnet
//! groups, roles after what uses them, Kubernetes' load balancers before the network…).
//! Clusters, node groups, databases and caches are awaited until gone; before the first
//! network deletion, the load balancers, target groups, security groups and interfaces
//! Kubernetes left in the swept VPCs are removed and ingress rules revoked.
//!
//! It runs outside the engine, but retries and waits with the engine's own types (the SDK
//! clients never retry, see [`AwsClients`]): every listing and deletion that
//! fails with a retryable error (`DependencyViolation`, throttling…) is retried by a
//! [`RetryPolicy`], and the slow deletions are awaited by a [`Poller`]. The deletions go
//! through the same per-kind types as the engine's (their `SweepOps`, from the one kind table of
//! [`kinds`]).

mod list;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use multicloud_core::provider::Readiness;
use multicloud_core::resource::ResourceKind;
use multicloud_core::retry::{Poller, RetryPolicy};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;
use crate::kinds::{self, AwsKinds};
use crate::order::rank;

pub use multicloud_core::sweep::{SweepFailure, SweepFilter, SweepReport, Sweeper, SweptResource};

/// The kind of a resource the AWS sweeper found (its [`SweptResource::kind`] is always one
/// of [`kinds`]' names).
pub(crate) fn kind_of(r: &SweptResource) -> ResourceKind {
    ResourceKind::from_name(&r.kind)
}

/// How the sweeper deletes a resource of one kind that it found by its tags (it has no plan,
/// config or recorded outputs: only what the listing found). Implemented by the same
/// per-kind types that implement `ResourceOps`, and looked up in the same table
/// ([`AwsKinds`]).
#[async_trait]
pub(crate) trait SweepOps: Send + Sync {
    /// Starts deleting `found`. Succeeds if it is already gone.
    async fn delete_found(&self, found: &SweptResource) -> Result<(), ProviderError>;

    /// Whether the sweeper waits until the deletion is done (clusters, node groups,
    /// databases, caches), polling [`SweepOps::exists`].
    fn awaited(&self) -> bool {
        false
    }

    /// Whether `found` still exists.
    async fn exists(&self, found: &SweptResource) -> Result<bool, ProviderError> {
        let _ = found;
        Ok(false)
    }
}

/// The AWS [`Sweeper`]: finds and deletes tagged resources across every service of a stack
/// (see the [module](self)). Made by [`AwsProvider::sweeper`](crate::AwsProvider::sweeper)
/// or [`AwsSweeper::new`].
#[derive(Debug, Clone)]
pub struct AwsSweeper {
    clients: Arc<AwsClients>,
    kinds: AwsKinds,
    retry: RetryPolicy,
    poller: Poller,
    wait_timeout: Duration,
}

impl AwsSweeper {
    /// A sweeper on `clients` (the provider's, [`AwsProvider::clients`]): 8 attempts per
    /// listing and deletion with backoff from 2 s to 30 s; waits up to 30 min for clusters,
    /// databases and caches to be gone, polling every 15 s.
    ///
    /// [`AwsProvider::clients`]: crate::AwsProvider::clients
    pub fn new(clients: &Arc<AwsClients>) -> Self {
        Self {
            clients: clients.clone(),
            kinds: AwsKinds::new(clients),
            retry: RetryPolicy {
                max_attempts: 8,
                base: Duration::from_secs(2),
                cap: Duration::from_secs(30),
            },
            poller: Poller {
                interval: Duration::from_secs(15),
                max_interval: Duration::from_secs(15),
            },
            wait_timeout: Duration::from_secs(30 * 60),
        }
    }

    /// Retries a listing or deletion that fails with a retryable error with `retry` (the
    /// engine's policy type: `max_attempts` in all, full-jitter backoff, at least the
    /// server's delay); it also bounds the retryable errors in a row while waiting.
    #[must_use]
    pub fn with_retries(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    /// Waits up to `timeout` for clusters, node groups, databases and caches to be gone,
    /// checking as `poller` says (the engine's poller type; `interval` = `max_interval` for a
    /// fixed interval).
    #[must_use]
    pub fn with_wait(mut self, timeout: Duration, poller: Poller) -> Self {
        self.wait_timeout = timeout;
        self.poller = poller;
        self
    }
}

#[async_trait]
impl Sweeper for AwsSweeper {
    /// Every resource carrying our ownership tags that matches `filter`, in deletion order.
    async fn find(&self, filter: &SweepFilter) -> Result<Vec<SweptResource>, ProviderError> {
        let c = &self.clients;
        let mut all = Vec::new();
        for listing in list::Listing::ALL {
            let listed = self.retry(|| listing.run(c, &all)).await?;
            all.extend(listed);
        }
        let mut found: Vec<SweptResource> = all
            .into_iter()
            .filter(|r| filter.matches(&r.tags))
            .collect();
        found.sort_by_cached_key(|r| (rank(kind_of(r)), r.name.clone(), r.id.clone()));
        Ok(found)
    }

    /// Deletes `r` (the default [`Sweeper::sweep`] deletes what it found in dependency
    /// order): first, before the first network resource of `found`, what Kubernetes left in
    /// the network (load balancers, target groups, security groups and interfaces).
    async fn delete_swept(
        &self,
        r: &SweptResource,
        found: &[SweptResource],
    ) -> Result<bool, ProviderError> {
        let first_network = found
            .iter()
            .find(|f| rank(kind_of(f)) >= rank(kinds::LOAD_BALANCER));
        if first_network.is_some_and(|f| f.kind == r.kind && f.id == r.id) {
            self.prepare_network(found).await;
        }
        self.delete(r).await.map(|()| true)
    }
}

impl AwsSweeper {
    /// Before the first network deletion (clusters, node groups and databases are gone by
    /// then): deletes the load balancers, target groups and security groups Kubernetes left in
    /// the swept VPCs (for any cluster) and the interfaces left there, and revokes the ingress rules of
    /// every swept security group (groups referencing each other could not be deleted
    /// otherwise). Failures are logged; the deletions that follow report them.
    async fn prepare_network(&self, found: &[SweptResource]) {
        let c = &self.clients;
        for vpc in found.iter().filter(|r| kind_of(r) == kinds::VPC) {
            if let Err(error) = self
                .retry(|| async {
                    crate::network::delete_cluster_load_balancers(c, &vpc.id, None)
                        .await
                        .map(|_| ())
                })
                .await
            {
                tracing::warn!(vpc = %vpc.id, %error, "sweep: could not delete the load balancers Kubernetes left");
            }
            if let Err(error) = self
                .retry(|| async {
                    crate::network::delete_kubernetes_security_groups(c, &vpc.id, None)
                        .await
                        .map(|_| ())
                })
                .await
            {
                tracing::warn!(vpc = %vpc.id, %error, "sweep: could not delete the security groups Kubernetes left");
            }
            if let Err(error) = self
                .retry(|| crate::network::delete_leftover_enis(c, "vpc-id", &vpc.id))
                .await
            {
                tracing::warn!(vpc = %vpc.id, %error, "sweep: could not delete leftover network interfaces");
            }
        }
        for sg in found.iter().filter(|r| kind_of(r) == kinds::SECURITY_GROUP) {
            if let Err(error) = self
                .retry(|| crate::network::revoke_security_group_ingress(c, &sg.id))
                .await
            {
                tracing::warn!(group = %sg.id, %error, "sweep: could not revoke ingress rules");
            }
        }
    }

    /// Deletes one resource (with retries) through its kind's [`SweepOps`] and, for the slow
    /// kinds, waits until it is gone.
    async fn delete(&self, r: &SweptResource) -> Result<(), ProviderError> {
        let Some(ops) = self.kinds.sweep_ops(kind_of(r)) else {
            return Err(ProviderError::new(
                ErrorKind::Unsupported,
                format!("the sweeper does not delete {} resources", r.kind),
            ));
        };
        self.retry(|| ops.delete_found(r)).await?;
        if ops.awaited() {
            self.wait_gone(r, || ops.exists(r)).await
        } else {
            Ok(())
        }
    }

    /// Runs `op` with the sweeper's [`RetryPolicy`].
    async fn retry<T, F, Fut>(&self, op: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.retry
            .run(op, |attempt, wait, error| {
                tracing::debug!(attempt, %error, ?wait, "sweep: retrying");
            })
            .await
    }

    /// Polls `check` (does it still exist?) with the sweeper's [`Poller`] until it says no;
    /// fails after the wait timeout, or on an error that is not retryable or retryable errors
    /// `max_attempts` times in a row.
    async fn wait_gone<F, Fut>(&self, r: &SweptResource, mut check: F) -> Result<(), ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool, ProviderError>>,
    {
        let waited = self
            .poller
            .await_condition(
                self.wait_timeout,
                &self.retry,
                || {
                    let exists = check();
                    async move {
                        Ok(if exists.await? {
                            Readiness::pending("still exists")
                        } else {
                            Readiness::ready()
                        })
                    }
                },
                |status| tracing::debug!(kind = %r.kind, name = %r.name, status, "sweep: waiting"),
            )
            .await;
        match waited {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Timeout => Err(ProviderError::new(
                ErrorKind::Failed,
                format!(
                    "{} {} still exists {:?} after its deletion started",
                    r.kind, r.name, self.wait_timeout
                ),
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is selected is the core's [`SweepFilter`] (tested there); the order is this
    /// crate's, from the expansion's graph.
    #[test]
    fn deletion_order_puts_users_before_what_they_use() {
        assert!(rank(ResourceKind::NODE_POOL) < rank(ResourceKind::CLUSTER));
        assert!(rank(kinds::SECURITY_GROUP) < rank(kinds::VPC));
        assert!(rank(ResourceKind::CLUSTER) < rank(kinds::LOAD_BALANCER));
        assert!(rank(kinds::LOAD_BALANCER) < rank(kinds::SUBNET));
        let found = SweptResource {
            kind: kinds::VPC.as_str().to_string(),
            ..SweptResource::default()
        };
        assert_eq!(kind_of(&found), kinds::VPC);
    }
}
