//! Counts API calls per `<resource type>.<METHOD>`, one per request sent (a per-try
//! pipeline policy placed after the bearer policy, so Key Vault's challenge round trip counts
//! as the two requests it is), so the demo and benches can print how many calls an `up` or a
//! no-op `plan` makes. The same counter is installed on the ARM pipeline and on every Key
//! Vault client built from an [`ArmClient`](super::ArmClient).

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Method, Request, Url};
pub use multicloud_core::calls::ApiCalls;

/// The pipeline policy that counts one call per request sent in an [`ApiCalls`], under
/// [`operation_key`] (`Microsoft.KeyVault/vaults.PUT`, `KeyVault/secrets.GET`).
#[derive(Debug, Clone)]
pub struct CallCounter(pub ApiCalls);

#[async_trait]
impl Policy for CallCounter {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        self.0.count(operation_key(request.method(), request.url()));
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// The counter's key of a request: the resource type from the URL path and the method.
///
/// `/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv` ->
/// `Microsoft.KeyVault/vaults.PUT`; `/subscriptions/s/resourcegroups/rg` ->
/// `Microsoft.Resources/resourceGroups.GET`; a Key Vault data-plane
/// `/secrets/name/version` -> `KeyVault/secrets.GET`.
pub fn operation_key(method: Method, url: &Url) -> String {
    let segs: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let kind = match segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    {
        Some(i) if i + 1 < segs.len() => {
            let mut kind = segs[i + 1].to_string();
            for t in segs[i + 2..].iter().step_by(2) {
                kind.push('/');
                kind.push_str(t);
            }
            kind
        }
        _ if segs
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("subscriptions")) =>
        {
            match segs.get(2) {
                Some(s) if s.eq_ignore_ascii_case("resourcegroups") => {
                    "Microsoft.Resources/resourceGroups".to_string()
                }
                Some(s) => format!("Microsoft.Resources/{s}"),
                None => "Microsoft.Resources/subscriptions".to_string(),
            }
        }
        _ => format!("KeyVault/{}", segs.first().copied().unwrap_or("")),
    };
    format!("{kind}.{}", method_name(method))
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Head => "HEAD",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: Method, url: &str) -> String {
        operation_key(
            method,
            &Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}")),
        )
    }

    #[test]
    fn keys_name_the_resource_type() {
        let m = "https://management.azure.com/subscriptions/s";
        assert_eq!(
            key(
                Method::Put,
                &format!(
                    "{m}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv?api-version=1"
                )
            ),
            "Microsoft.KeyVault/vaults.PUT"
        );
        assert_eq!(
            key(
                Method::Get,
                &format!(
                    "{m}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/agentPools/p"
                )
            ),
            "Microsoft.ContainerService/managedClusters/agentPools.GET"
        );
        assert_eq!(
            key(Method::Delete, &format!("{m}/resourcegroups/rg")),
            "Microsoft.Resources/resourceGroups.DELETE"
        );
        assert_eq!(
            key(Method::Get, &format!("{m}/operationresults/x")),
            "Microsoft.Resources/operationresults.GET"
        );
        assert_eq!(
            key(Method::Get, "https://kv.vault.azure.net/secrets/a/"),
            "KeyVault/secrets.GET"
        );
        let calls = ApiCalls::default();
        calls.count("A.GET");
        calls.count("A.PUT");
        calls.count("A.PUT");
        assert_eq!((calls.total(), calls.mutating()), (3, 2));
        calls.reset();
        assert_eq!(calls.total(), 0);
    }
}
