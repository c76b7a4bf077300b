//! [`BlobStateStore`]: stack state in an Azure Blob Storage container, for teams:
//! multicloud-core's [`ObjectStateStore`] protocol (layout, lock, leases, ETag-conditioned
//! saves; see [`multicloud_core::state::object`]) on [`BlobObjects`].
//!
//! # The lock: a lock blob with a lease in it, held under a blob lease
//!
//! Every store keeps the same lock contract (`multicloud_core::testing::lock_contract`):
//! a lease of any length (60 s by default, a second or less in tests) that the holder
//! renews, a lock whose lease ran out taken over by the next run, and the old holder told
//! [`StateError::LockLost`]. Azure's blob leases cannot carry that alone: they last 15 to
//! 60 s or forever, run on the server's clock, and a 60 s blob lease would outlive the
//! lock's own lease, or end before a holder with a longer lease renews it. So the lease
//! that decides is the one in the [`LockInfo`] (as in the local and S3 stores), and the
//! blob lease (the protocol's lease hook) makes the lock blob the holder's alone while it
//! holds it:
//!
//! * **acquire**: write the [`LockInfo`] with `If-None-Match: *` (the others get
//!   `409 BlobAlreadyExists`), then take an infinite blob lease with an id of our own,
//!   `If-Match` the version just written;
//! * **take over**, once the [`LockInfo`] lease ran out: break the old holder's blob lease
//!   `If-Match: <etag read>` (break period 0), overwrite the lock `If-Match` the same
//!   version, and lease it;
//! * **renew**: renew the blob lease, then rewrite the [`LockInfo`] under the lease
//!   (`x-ms-lease-id`) and `If-Match`; a holder whose lease was broken learns it here and
//!   can write nothing any more;
//! * **release**: delete the lock blob under the blob lease (which ends it);
//! * **force unlock**: break the blob lease and delete the lock blob, both `If-Match` the
//!   version read.
//!
//! A run killed while holding the lock leaves the blob leased forever; the next run breaks
//! that lease once the [`LockInfo`] lease ran out, as above.
//!
//! # Authentication
//!
//! By Entra token ([`BlobStateStoreBuilder::token_credential`], the production path; the
//! SDK then insists on https) or by account key ([`BlobStateStoreBuilder::shared_key`], for
//! Azurite and accounts that allow key access), signed by [`shared_key::SharedKeyPolicy`].
//!
//! # Retries
//!
//! The SDK's retries are off: each request that fails with a retryable error (`429`,
//! `503 ServerBusy`, `500 InternalError`, timeouts and broken connections, as
//! [`mod@classify`] judges them) is retried by multicloud-core's [`RetryPolicy`], by default
//! the engine's (see [`BlobStateStoreBuilder::retry`]).
//!
//! [`ObjectStateStore`]: multicloud_core::state::object::ObjectStateStore
//! [`LockInfo`]: multicloud_core::state::LockInfo
//! [`StateError::LockLost`]: multicloud_core::state::StateError::LockLost
//! [`RetryPolicy`]: multicloud_core::retry::RetryPolicy

mod builder;
pub mod classify;
mod objects;
pub mod shared_key;

pub use self::builder::{BlobStateStoreBuilder, BuildError, DEFAULT_SERVICE_VERSION};
pub use self::objects::BlobObjects;

multicloud_core::object_state_store! {
    /// State in an Azure Blob container: `<prefix>/<stack>/<env>/<scope>/state.json`, locked by
    /// `<prefix>/<stack>/<env>/<scope>/lock.json` (see the [module docs](self) for the protocol).
    ///
    /// Made by [`BlobStateStore::builder`]. The container must exist. Saves of one key
    /// through one store instance should follow a load (or an earlier save) of that key by
    /// the same instance, as [`multicloud_core::Stack`] does: a save of a key the instance
    /// never loaded is a first write (`If-None-Match: *`) and fails if a state exists.
    ///
    /// Neither the stack nor the environment may be empty or contain `/` or control
    /// characters.
    pub struct BlobStateStore(BlobObjects);
    /// The blob name of the state of `key`: `<prefix>/<stack>/<env>/<scope>/state.json`.
    state_name: state_blob;
    /// The blob name of the lock of `key`: `<prefix>/<stack>/<env>/<scope>/lock.json`.
    lock_name: lock_blob;
}

impl BlobStateStore {
    /// A builder for a store in `container` of the account at `account_url`
    /// (`https://<account>.blob.core.windows.net`, or
    /// `http://127.0.0.1:<port>/devstoreaccount1` for Azurite). Choose the authentication
    /// with [`token_credential`](BlobStateStoreBuilder::token_credential) or
    /// [`shared_key`](BlobStateStoreBuilder::shared_key).
    pub fn builder(
        account_url: impl Into<String>,
        container: impl Into<String>,
    ) -> BlobStateStoreBuilder {
        BlobStateStoreBuilder::new(account_url.into(), container.into())
    }

    /// The container's name.
    pub fn container(&self) -> &str {
        &self.store.objects().container_name
    }
}
