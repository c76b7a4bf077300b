//! [`S3StateStore`]: stack state in an S3 bucket, for teams: multicloud-core's
//! [`ObjectStateStore`] protocol (layout, lock, leases, conditional saves; see
//! [`multicloud_core::state::object`]) on [`S3Objects`].
//!
//! It relies on S3 conditional writes (generally available on S3 since August 2024 for
//! `If-None-Match`, November 2024 for `If-Match`): a write refused with
//! `412 PreconditionFailed`, or `409 ConditionalRequestConflict` while a concurrent
//! conditional write is in flight, or a `404` for an object that vanished, is the object
//! having changed meanwhile. S3 has no leases of its own: the lease in the lock's
//! [`LockInfo`] alone decides. On S3-compatible stores without conditional deletes
//! (`501 NotImplemented`), deletes fall back to plain ones.
//!
//! Like every client of this crate, the store's S3 client never retries by itself (it is
//! rebuilt with SDK retries disabled): each request that fails with a retryable error
//! (throttling `SlowDown`, 5xx faults, timeouts, as [`classify`](crate::error::classify)
//! judges them for the engine) is retried by multicloud-core's [`RetryPolicy`] — by default
//! the engine's, set another with [`S3StateStore::with_retry`].
//!
//! [`LockInfo`]: multicloud_core::state::LockInfo

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::object::ObjectStateStore;

pub use self::objects::S3Objects;

mod objects;

multicloud_core::object_state_store! {
    /// State in an S3 bucket: `<prefix>/<stack>/<env>/<scope>/state.json`, locked by
    /// `<prefix>/<stack>/<env>/<scope>/lock.json` (see the [module docs](self) for the protocol).
    ///
    /// The bucket must exist. Saves of one key through one store instance should follow a
    /// load (or an earlier save) of that key by the same instance, as
    /// [`multicloud_core::Stack`] does: a save of a key the instance never loaded is a first
    /// write (`If-None-Match: *`) and fails if a state exists.
    ///
    /// Neither the stack nor the environment may be empty or contain `/` or control
    /// characters.
    pub struct S3StateStore(S3Objects);
    /// The object key of the state of `key`: `<prefix>/<stack>/<env>/<scope>/state.json`.
    state_name: state_key;
    /// The object key of the lock of `key`: `<prefix>/<stack>/<env>/<scope>/lock.json`.
    lock_name: lock_key;
}

impl S3StateStore {
    /// A store in `bucket` under `prefix` (leading and trailing `/` are ignored; empty puts
    /// the stacks at the top of the bucket). `client` is used with its configuration, but
    /// with SDK retries disabled: the store retries with a [`RetryPolicy`] (the engine's
    /// default; see [`with_retry`](Self::with_retry)).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let objects = S3Objects {
            client: Client::from_conf(config),
            retry: RetryPolicy::default(),
            bucket: bucket.into(),
        };
        Self {
            store: ObjectStateStore::new(objects, prefix),
        }
    }

    /// Retries the requests that fail with a retryable error with `retry` instead of the
    /// engine's default policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.store.objects_mut().retry = retry;
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.store.objects().bucket
    }
}
