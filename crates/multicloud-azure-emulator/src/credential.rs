//! A token credential for tests: hands out `fake:<scope>` tokens without any network call,
//! which the emulator accepts (and checks against the audience it expects).

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::{Duration, OffsetDateTime};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A [`TokenCredential`] that returns `fake:<scope>` tokens valid for an hour and counts the
/// tokens it handed out.
#[derive(Debug, Default)]
pub struct FakeCredential {
    issued: AtomicU64,
}

impl FakeCredential {
    /// A new credential, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// How many tokens were handed out.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TokenCredential for FakeCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new(
            format!("fake:{}", scopes.join(" ")),
            OffsetDateTime::now_utc() + Duration::hours(1),
        ))
    }
}
