//! [`ApiCalls`]: the one API-call counter of every provider, so the demo, the benches and the
//! tests can say how many calls an `up` or a no-op `plan` makes, and how many of them write.
//!
//! A provider installs it where its requests leave (an SDK interceptor on AWS, a pipeline
//! policy on Azure) and counts one call per request sent under a key
//! `<service or resource type>.<operation>`: `EC2.DescribeVpcs`,
//! `Microsoft.KeyVault/vaults.PUT`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts of API calls by operation key; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls(Arc<Mutex<BTreeMap<String, u64>>>);

impl ApiCalls {
    /// A counter with no calls.
    pub fn new() -> Self {
        Self::default()
    }
    /// Counts one call of `key`.
    pub fn count(&self, key: impl Into<String>) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key.into()).or_default() += 1;
        }
    }
    /// Calls so far, by operation key.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// Total calls so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
    /// Calls that may change something: every call but reads (see [`is_read`]).
    pub fn mutating(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(k, _)| !is_read(k))
            .map(|(_, v)| v)
            .sum()
    }
    /// Forgets the counts.
    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

/// Whether the call of `key` only reads: its operation (after the last `.`) is an HTTP `GET`
/// or `HEAD` (Azure's keys), or an AWS action `Describe*`, `Get*` or `List*`.
pub fn is_read(key: &str) -> bool {
    let op = key.rsplit('.').next().unwrap_or("");
    matches!(op, "GET" | "HEAD")
        || op.starts_with("Describe")
        || op.starts_with("Get")
        || op.starts_with("List")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reads_and_writes_of_both_clouds_keys() {
        let calls = ApiCalls::new();
        for key in [
            "EC2.DescribeVpcs",
            "EC2.CreateVpc",
            "IAM.GetRole",
            "ECR.ListImages",
            "Microsoft.KeyVault/vaults.PUT",
            "Microsoft.KeyVault/vaults.GET",
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential.POST",
            "KeyVault/secrets.HEAD",
        ] {
            calls.count(key);
        }
        calls.clone().count("EC2.CreateVpc");
        assert_eq!(calls.total(), 9);
        assert_eq!(calls.snapshot()["EC2.CreateVpc"], 2);
        assert_eq!(calls.mutating(), 4, "{:?}", calls.snapshot());
        calls.reset();
        assert_eq!(calls.total(), 0);
    }
}
