//! Sets of objects of any type (users' manifests, ESO companions), handled through
//! `DynamicObject`: read, apply all (refusing any that is not ours) and delete ours, in the
//! same way as the typed kinds of [`crate::object`].

use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use multicloud_core::provider::{OpContext, Owner};
use multicloud_core::{ErrorKind, ProviderError};

use crate::error::{Op, classify};
use crate::object::{FIELD_MANAGER, delete_params, owner_of};

/// One object of a set with the API that serves it.
pub(crate) struct Target {
    /// The API of its type (and namespace).
    pub(crate) api: Api<DynamicObject>,
    /// The desired object.
    pub(crate) object: DynamicObject,
    /// `Kind namespace/name`, for messages.
    pub(crate) what: String,
}

impl Target {
    /// The live object; absent on any 404 (also a type the cluster does not serve).
    pub(crate) async fn live(&self) -> Result<Option<DynamicObject>, ProviderError> {
        match self.api.get(&self.object.name_any()).await {
            Ok(o) => Ok(Some(o)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(classify(e, Op::Read, &self.what)),
        }
    }
}

/// Applies every object in order (server-side, forcing our fields), after checking that none
/// exists without our labels.
pub(crate) async fn apply_all(
    ctx: &OpContext<'_>,
    targets: &[Target],
) -> Result<(), ProviderError> {
    for t in targets {
        if let Some(live) = t.live().await? {
            let owner = owner_of(ctx, &live);
            if owner != Owner::Us {
                return Err(ProviderError::new(
                    ErrorKind::ForeignResource,
                    format!(
                        "{} exists but is not ours ({owner:?}); it is left alone",
                        t.what
                    ),
                ));
            }
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for t in targets {
        t.api
            .patch(&t.object.name_any(), &params, &Patch::Apply(&t.object))
            .await
            .map_err(|e| classify(e, Op::Apply, &t.what))?;
    }
    Ok(())
}

/// Deletes, in reverse order, the objects that carry our labels (uid precondition); others
/// are left alone, absent ones are fine.
pub(crate) async fn delete_ours(
    ctx: &OpContext<'_>,
    targets: &[Target],
) -> Result<(), ProviderError> {
    for t in targets.iter().rev() {
        let Some(live) = t.live().await? else {
            continue;
        };
        if owner_of(ctx, &live) != Owner::Us || live.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match t.api.delete(&live.name_any(), &delete_params(&live)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(classify(e, Op::Delete, &t.what)),
        }
    }
    Ok(())
}

/// `Some("<what> is being deleted")` while an object of ours is still there.
pub(crate) async fn still_ours(
    ctx: &OpContext<'_>,
    targets: &[Target],
) -> Result<Option<String>, ProviderError> {
    for t in targets {
        if let Some(live) = t.live().await?
            && owner_of(ctx, &live) == Owner::Us
        {
            return Ok(Some(format!("{} is being deleted", t.what)));
        }
    }
    Ok(None)
}
