//! The stack's state key and its recorded state: the key names the provider's scope
//! (resolved once), a state recorded by another provider is refused, and a state written
//! before keys named their cloud moves to the scoped key the first time it is read or
//! locked.

use super::Stack;
use crate::engine::Error;
use crate::state::{StackState, StateError, StateKey, migrate_unscoped};

impl Stack {
    /// The state key of this stack: its name and environment on the provider's
    /// [`scope`](crate::provider::CloudProvider::scope) (asked once, then kept), so the
    /// same spec on another cloud, account or AWS region keeps a state of its own. The
    /// spec is validated first: an invalid one is [`Error::Spec`] before any request.
    pub async fn key(&self) -> Result<StateKey, Error> {
        self.key
            .get_or_try_init(|| async {
                self.check_spec()?;
                let scope = self.provider.scope(&self.spec).await?;
                Ok::<_, Error>(self.unscoped_key().on(scope))
            })
            .await
            .cloned()
    }

    /// Every problem of the spec at once: the cloud-neutral rules, the provider's naming
    /// rules and a missing attachment of an attached cluster, as one [`Error::Spec`].
    fn check_spec(&self) -> Result<(), Error> {
        let mut errors = match self.check_attached() {
            Err(Error::Spec(e)) => e.errors().to_vec(),
            other => {
                other?;
                Vec::new()
            }
        };
        if let Err(e) = self.spec.validate_for(self.provider.naming_rules()) {
            errors.extend(e.errors().iter().cloned());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Spec(crate::spec::SpecErrors::new(errors)))
        }
    }

    /// The key as far as known without asking the provider: the scoped key once
    /// [`Stack::key`] resolved it (for error messages after a read).
    pub(super) fn known_key(&self) -> StateKey {
        self.key
            .get()
            .cloned()
            .unwrap_or_else(|| self.unscoped_key())
    }

    fn unscoped_key(&self) -> StateKey {
        StateKey::new(&self.spec.name, &self.spec.environment)
    }

    /// The state of `key`, refused ([`Error::ProviderMismatch`]) unless this provider
    /// recorded it. When `key` has none, a state this provider recorded under the key
    /// without a scope (before keys named their cloud) moves to `key` first
    /// ([`migrate_unscoped`]; the lock of `key` is taken for it unless the run `holds` it).
    /// A read without the lock that finds the locks taken reads that state where it is.
    pub(super) async fn load_state(
        &self,
        key: &StateKey,
        holds: bool,
    ) -> Result<Option<StackState>, Error> {
        if let Some(state) = self.store.load(key).await? {
            self.check_recorder(key, &state)?;
            return Ok(Some(state));
        }
        let old = key.unscoped();
        if &old == key {
            return Ok(None);
        }
        let old_state = match self.store.load(&old).await? {
            Some(state) if self.recorded_here(key, &state) => state,
            _ => return Ok(None),
        };
        let ours = |state: &StackState| self.recorded_here(key, state);
        match migrate_unscoped(self.store.as_ref(), key, &ours, holds).await {
            Ok(_) => {}
            Err(StateError::Locked { .. }) if !holds => {
                let key = key.clone();
                return Ok(Some(StackState { key, ..old_state }));
            }
            Err(e) => return Err(e.into()),
        }
        let state = self.store.load(key).await?;
        if let Some(state) = &state {
            self.check_recorder(key, state)?;
        }
        Ok(state)
    }

    /// Whether this provider recorded `state`: the same provider name and, when `key`'s
    /// scope names a region, the same region.
    fn recorded_here(&self, key: &StateKey, state: &StackState) -> bool {
        let regional = key.scope.as_ref().is_some_and(|s| s.region.is_some());
        state.provider == self.provider.name()
            && (!regional || state.region == self.provider.region(&self.spec))
    }

    /// [`Error::ProviderMismatch`] unless this provider recorded `state`.
    fn check_recorder(&self, key: &StateKey, state: &StackState) -> Result<(), Error> {
        if self.recorded_here(key, state) {
            return Ok(());
        }
        Err(Error::ProviderMismatch {
            key: key.clone(),
            recorded: format!("{} ({})", state.provider, state.region),
            current: format!(
                "{} ({})",
                self.provider.name(),
                self.provider.region(&self.spec)
            ),
        })
    }
}
