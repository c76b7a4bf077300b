//! The lifecycle every Kubernetes kind shares, written once over `ObjectKind` (crate-internal): read and judge
//! ownership by labels, server-side apply (field manager `multicloud`), delete only what
//! carries our labels, and the fingerprint annotation that tells drift without reading secret
//! values.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use multicloud_core::provider::{
    Observation, Observed, OpContext, Outputs, Owner, Readiness, ResourceOps,
};
use multicloud_core::tags::LABEL_EXPIRES_AT;
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::client::ClientCache;
use crate::drift;
use crate::error::{Op, classify};

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "multicloud";
/// Annotation holding a hash of what we last applied (without secret data), to tell drift.
pub const ANNOTATION_FINGERPRINT: &str = "multicloud.dev/fingerprint";

/// A Kubernetes type the crate manages as one resource kind of the stack.
#[async_trait]
pub(crate) trait ObjectKind: Send + Sync {
    /// The Kubernetes type.
    type K: Resource<DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// Its name in messages (`deployment`).
    const WHAT: &'static str;
    /// Whether drift is read from a dry run of our apply (see [`crate::drift`]). `false` for
    /// a type the API server refuses without what [`ObjectKind::fill`] adds (a
    /// `kubernetes.io/dockerconfigjson` Secret needs its `.dockerconfigjson`): its
    /// fingerprint annotation tells, without a request.
    const DRIFT_BY_DRY_RUN: bool = true;

    /// The API for objects of the type in `namespace` (ignored by cluster-scoped types).
    fn api(client: Client, namespace: &str) -> Api<Self::K>;
    /// The object's namespace (empty for cluster-scoped types) from the resource's config.
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError>;
    /// The desired object without secret data and without values that change on every
    /// apply (what the fingerprint covers). `meta` carries name, namespace and labels.
    fn build(ctx: &OpContext<'_>, meta: ObjectMeta) -> Result<Self::K, ProviderError>;
    /// Adds what [`ObjectKind::build`] leaves out (secret data read from the cloud, its
    /// expiry). Called only before an apply.
    async fn fill(ctx: &OpContext<'_>, object: &mut Self::K) -> Result<(), ProviderError> {
        let _ = (ctx, object);
        Ok(())
    }
    /// The outputs of a live object.
    fn outputs(live: &Self::K) -> Result<Outputs, ProviderError> {
        Outputs::of(&ObjectOutputs::of(live))
    }
    /// When what the live object holds expires.
    fn expires_at(live: &Self::K) -> Option<DateTime<Utc>> {
        let _ = live;
        None
    }
    /// Whether the live object is ready (after apply).
    fn ready(live: &Self::K) -> Result<Readiness, ProviderError> {
        Ok(Readiness::Ready(Self::outputs(live)?))
    }
    /// Checks before deleting (the namespace is left in place, an `ErrorKind::LeftBehind`
    /// error, when it holds objects not ours).
    async fn before_delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
        let _ = (ctx, client);
        Ok(())
    }
}

/// What every object reports: its name, namespace and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ObjectOutputs {
    /// Object name.
    pub name: String,
    /// Namespace (absent for cluster-scoped objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ObjectOutputs {
    /// The outputs of `object`.
    pub fn of<K: Resource>(object: &K) -> Self {
        Self {
            name: object.name_any(),
            namespace: object.namespace(),
        }
    }
}

/// `deployment shop/web`.
pub(crate) fn describe<T: ObjectKind>(ctx: &OpContext<'_>) -> String {
    match T::namespace(ctx) {
        Ok(ns) if !ns.is_empty() => format!("{} {ns}/{}", T::WHAT, ctx.resource.name),
        _ => format!("{} {}", T::WHAT, ctx.resource.name),
    }
}

fn api_for<T: ObjectKind>(
    client: &Client,
    ctx: &OpContext<'_>,
) -> Result<Api<T::K>, ProviderError> {
    Ok(T::api(client.clone(), &T::namespace(ctx)?))
}

/// The desired object of `ctx` with labels, annotations and its fingerprint.
pub(crate) fn desired<T: ObjectKind>(ctx: &OpContext<'_>) -> Result<T::K, ProviderError> {
    let namespace = T::namespace(ctx)?;
    let mut labels = ctx.stack.ownership.kubernetes_labels();
    // The expiry moves when a stack is recreated or adopted: it is added after the build, so
    // neither the fingerprint nor a pod template (a rollout) depends on it.
    let expires = labels.remove_entry(LABEL_EXPIRES_AT);
    let meta = ObjectMeta {
        name: Some(ctx.resource.name.clone()),
        namespace: (!namespace.is_empty()).then_some(namespace),
        labels: Some(labels),
        ..ObjectMeta::default()
    };
    let mut object = T::build(ctx, meta)?;
    // The fingerprint covers what we build, not the ownership's timestamps (added after).
    let print = fingerprint(&object)?;
    object.labels_mut().extend(expires);
    let annotations = object.annotations_mut();
    annotations.extend(ctx.stack.ownership.kubernetes_annotations());
    annotations.insert(ANNOTATION_FINGERPRINT.to_string(), print);
    Ok(object)
}

/// Puts the stack's ownership labels and annotations and the fingerprint on `object`, an
/// object built outside an [`ObjectKind`] (the External Secrets companions), the way
/// [`desired`] does: the fingerprint covers the object with its labels but not the expiry.
pub(crate) fn stamp<K: Resource + Serialize>(
    ctx: &OpContext<'_>,
    object: &mut K,
) -> Result<(), ProviderError> {
    let mut labels = ctx.stack.ownership.kubernetes_labels();
    let expires = labels.remove_entry(LABEL_EXPIRES_AT);
    object.labels_mut().extend(labels);
    let print = fingerprint(object)?;
    object.labels_mut().extend(expires);
    let annotations = object.annotations_mut();
    annotations.extend(ctx.stack.ownership.kubernetes_annotations());
    annotations.insert(ANNOTATION_FINGERPRINT.to_string(), print);
    Ok(())
}

/// A short hash of `object` as built (no secret data in it by construction).
pub(crate) fn fingerprint<K: Serialize + ?Sized>(object: &K) -> Result<String, ProviderError> {
    let bytes = serde_json::to_vec(object)
        .map_err(|e| ProviderError::new(ErrorKind::Other, format!("serializing an object: {e}")))?;
    Ok(hex::encode(&Sha256::digest(&bytes)[..12]))
}

/// Who owns a live object: its labels judged against the stack's ownership.
pub(crate) fn owner_of<K: Resource>(ctx: &OpContext<'_>, live: &K) -> Owner {
    let labels: &BTreeMap<String, String> = live.labels();
    ctx.stack
        .ownership
        .judge_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// One read: absent, or present with owner, outputs, expiry and, for an object of ours, its
/// drift in the fields we apply ([`drift::object_drift`]: one dry run of our apply).
pub(crate) async fn observe<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Observation, ProviderError> {
    let Some(live) = get::<T>(ctx, client).await? else {
        return Ok(Observation::Absent);
    };
    let owner = owner_of(ctx, &live);
    let drift = if owner == Owner::Us {
        let want = desired::<T>(ctx)?;
        if T::DRIFT_BY_DRY_RUN {
            let api = api_for::<T>(client, ctx)?;
            drift::of(drift::object_drift(&api, &want, &live, &describe::<T>(ctx)).await?)
        } else {
            drift::of(drift::fingerprint_drift(&want, &live).into_iter().collect())
        }
    } else {
        None
    };
    Ok(Observation::Present(Observed {
        provider_id: None,
        owner,
        outputs: T::outputs(&live)?,
        drift,
        expires_at: T::expires_at(&live),
        unhealthy: None,
    }))
}

/// The live object, if any.
pub(crate) async fn get<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Option<T::K>, ProviderError> {
    api_for::<T>(client, ctx)?
        .get_opt(&ctx.resource.name)
        .await
        .map_err(|e| classify(e, Op::Read, &describe::<T>(ctx)))
}

fn foreign<T: ObjectKind>(ctx: &OpContext<'_>, owner: &Owner) -> ProviderError {
    ProviderError::new(
        ErrorKind::ForeignResource,
        format!(
            "{} exists but is not ours ({owner:?}); it is left alone",
            describe::<T>(ctx)
        ),
    )
}

/// Create or update: refuses an object without our labels, else applies the desired object
/// (server-side, forcing our fields) and returns its outputs.
pub(crate) async fn apply<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Outputs, ProviderError> {
    if let Some(live) = get::<T>(ctx, client).await? {
        let owner = owner_of(ctx, &live);
        if owner != Owner::Us {
            return Err(foreign::<T>(ctx, &owner));
        }
    }
    let mut object = desired::<T>(ctx)?;
    T::fill(ctx, &mut object).await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api_for::<T>(client, ctx)?
        .patch(&ctx.resource.name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| classify(e, Op::Apply, &describe::<T>(ctx)))?;
    T::outputs(&applied)
}

/// Deletes the object if it is ours (precondition on its uid); gone already is fine.
pub(crate) async fn delete<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<(), ProviderError> {
    let Some(live) = get::<T>(ctx, client).await? else {
        return Ok(());
    };
    let owner = owner_of(ctx, &live);
    if owner != Owner::Us {
        return Err(foreign::<T>(ctx, &owner));
    }
    if live.meta().deletion_timestamp.is_some() {
        return Ok(()); // already on its way out
    }
    T::before_delete(ctx, client).await?;
    match api_for::<T>(client, ctx)?
        .delete(&ctx.resource.name, &delete_params(&live))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(classify(e, Op::Delete, &describe::<T>(ctx))),
    }
}

/// A background delete of exactly `live` (its uid as precondition: never a successor of the
/// same name).
pub(crate) fn delete_params<K: Resource>(live: &K) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: live.uid(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    }
}

/// Readiness after apply.
pub(crate) async fn ready<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Readiness, ProviderError> {
    match get::<T>(ctx, client).await? {
        Some(live) => T::ready(&live),
        None => Ok(Readiness::pending(format!(
            "{} not visible yet",
            describe::<T>(ctx)
        ))),
    }
}

/// Deletion check: gone, or what holds it (its finalizers).
pub(crate) async fn gone<T: ObjectKind>(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Readiness, ProviderError> {
    let Some(live) = get::<T>(ctx, client).await? else {
        return Ok(Readiness::ready());
    };
    let finalizers = live.finalizers();
    Ok(Readiness::pending(if finalizers.is_empty() {
        format!("{} is being deleted", describe::<T>(ctx))
    } else {
        format!(
            "{} is held by finalizers {}",
            describe::<T>(ctx),
            finalizers.join(", ")
        )
    }))
}

/// A kind's lifecycle on a cluster client: written once for every [`ObjectKind`] (the
/// functions of this module); the manifest kind, several objects, has its own.
#[async_trait]
pub(crate) trait Lifecycle: Send + Sync + 'static {
    /// One read.
    async fn observe(ctx: &OpContext<'_>, client: &Client) -> Result<Observation, ProviderError>;
    /// Create or update.
    async fn apply(ctx: &OpContext<'_>, client: &Client) -> Result<Outputs, ProviderError>;
    /// Starts the deletion.
    async fn delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError>;
    /// Readiness after apply.
    async fn ready(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError>;
    /// Deletion check.
    async fn gone(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError>;
}

#[async_trait]
impl<T: ObjectKind + 'static> Lifecycle for T {
    async fn observe(ctx: &OpContext<'_>, client: &Client) -> Result<Observation, ProviderError> {
        observe::<T>(ctx, client).await
    }
    async fn apply(ctx: &OpContext<'_>, client: &Client) -> Result<Outputs, ProviderError> {
        apply::<T>(ctx, client).await
    }
    async fn delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
        delete::<T>(ctx, client).await
    }
    async fn ready(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
        ready::<T>(ctx, client).await
    }
    async fn gone(ctx: &OpContext<'_>, client: &Client) -> Result<Readiness, ProviderError> {
        gone::<T>(ctx, client).await
    }
}

/// The ops of one kind `L` (a row of the workloads' kind table): each call gets the run's
/// client from the shared cache and runs the kind's lifecycle.
pub(crate) struct Objects<L> {
    clients: Arc<ClientCache>,
    kind: PhantomData<fn() -> L>,
}

impl<L: Lifecycle> Objects<L> {
    /// The ops of `L` on the clients of `clients`.
    pub(crate) fn new(clients: Arc<ClientCache>) -> Self {
        Self {
            clients,
            kind: PhantomData,
        }
    }

    /// The run's client.
    pub(crate) async fn client(&self, ctx: &OpContext<'_>) -> Result<Client, ProviderError> {
        self.clients.for_run(ctx).await
    }
}

#[async_trait]
impl<L: Lifecycle> ResourceOps for Objects<L> {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        L::observe(ctx, &self.client(ctx).await?).await
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        L::apply(ctx, &self.client(ctx).await?).await
    }
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        L::apply(ctx, &self.client(ctx).await?).await
    }
    fn supports_update(&self) -> bool {
        true
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        L::delete(ctx, &self.client(ctx).await?).await
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        L::ready(ctx, &self.client(ctx).await?).await
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        L::gone(ctx, &self.client(ctx).await?).await
    }
}
