//! The specs the CLI scenarios run, a seeded delay source, and the checks every scenario
//! makes through the command line: a no-op plan and what the sweeper finds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{Error, Mc};

/// The small stack: network + registry + secret + database, on both clouds.
pub fn small_spec(dir: &Path, environment: &str) -> Result<PathBuf, Error> {
    let yaml = format!(
        "name: resil\nenvironment: {environment}\naws:\n  region: us-east-1\nazure:\n  location: westeurope\n\
         network:\n  cidr: 10.0.0.0/16\n  zones: 2\n  public_subnets: [10.0.0.0/24, 10.0.1.0/24]\n  \
         private_subnets: [10.0.16.0/20, 10.0.32.0/20]\n\
         database:\n  version: \"16\"\n  storage_gb: 20\n  tier: dev\n\
         registries:\n  - name: api\n\
         secrets:\n  - name: token\n    generated: {{length: 32}}\n"
    );
    let path = dir.join(format!("small-{environment}.yaml"));
    std::fs::write(&path, yaml)?;
    Ok(path)
}

/// The example spec with its app (examples/stacks/shop-multicloud.yaml of the checkout
/// this binary was built from, or of the working directory).
pub fn app_spec() -> Result<PathBuf, Error> {
    let relative = Path::new("examples/stacks/shop-multicloud.yaml");
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    [built, relative.to_path_buf()]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| format!("{} not found", relative.display()).into())
}

/// A seeded source of numbers (splitmix64): the same seed, the same kill points.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// The source of `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A delay between 5 % and 95 % of `span`.
    pub fn delay_within(&mut self, span: Duration) -> Duration {
        span.mul_f64(0.05 + 0.9 * self.next_unit())
    }
}

/// moto's ECR answers every authorization token with this expiry (in the past), so the
/// registry pull secret of a stack with apps is always due for renewal there: a stand-in
/// artefact, not a change, left out of [`plan_changes`].
const MOTO_TOKEN_EXPIRY: &str = "expires at 2015-01-01T00:00:00";

/// The changes a `plan --json` shows (`id action (reason)` each; none: a no-op), or why it
/// could not be read.
pub async fn plan_changes(mc: &Mc, spec: &Path) -> Result<Vec<String>, String> {
    let out = mc.run(spec, &["plan"]).await.map_err(|e| e.to_string())?;
    if !out.ok() {
        return Err(format!(
            "plan exited {:?}: {}",
            out.code,
            crate::report::tail(&out.stderr, 300)
        ));
    }
    let lines = out.json_lines();
    let actions = lines
        .iter()
        .find_map(|l| l.get("actions").and_then(|a| a.as_array()))
        .ok_or_else(|| format!("no plan in: {}", crate::report::tail(&out.stdout, 300)))?;
    let s = |a: &serde_json::Value, k: &str| {
        a.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(actions
        .iter()
        .filter(|a| s(a, "action") != "no_op")
        .filter(|a| {
            !(s(a, "kind") == "pull_secret" && s(a, "reason").starts_with(MOTO_TOKEN_EXPIRY))
        })
        .map(|a| format!("{} {} ({})", s(a, "id"), s(a, "action"), s(a, "reason")))
        .collect())
}

/// What `sweep --dry-run --json` finds of the spec's stack (`kind name` each).
pub async fn swept(mc: &Mc, spec: &Path) -> Result<Vec<String>, String> {
    let out = mc
        .run(spec, &["sweep", "--dry-run"])
        .await
        .map_err(|e| e.to_string())?;
    if !out.ok() {
        return Err(format!(
            "sweep exited {:?}: {}",
            out.code,
            crate::report::tail(&out.stderr, 300)
        ));
    }
    Ok(out
        .json_lines()
        .iter()
        .filter(|l| l.get("event").and_then(|e| e.as_str()) == Some("swept"))
        .map(|l| {
            let s = |k: &str| l.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
            format!("{} {}", s("kind"), s("name"))
        })
        .collect())
}

/// The Kubernetes objects of a stack's apps on a control plane: what `kubectl` lists with
/// the stack's labels.
#[derive(Debug, Clone)]
pub struct ApiServer {
    /// The control plane's kubeconfig.
    pub kubeconfig: PathBuf,
    /// `multicloud.dev/stack=NAME,multicloud.dev/env=ENV`.
    pub selector: String,
}

impl ApiServer {
    /// The objects carrying the stack's labels (`kind/name` each).
    pub async fn objects(&self) -> Result<Vec<String>, String> {
        let out = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args([
                "get",
                "namespaces,deployments,services,secrets,serviceaccounts,configmaps",
                "--all-namespaces",
                "-l",
                &self.selector,
                "-o",
                "name",
            ])
            .output()
            .await
            .map_err(|e| format!("kubectl: {e}"))?;
        if !out.status.success() {
            return Err(format!("kubectl: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

/// Seconds with one decimal.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_delays_within_the_span() {
        let span = Duration::from_secs(10);
        let a: Vec<_> = (0..20)
            .map({
                let mut s = Seeded::new(18);
                move |_| s.delay_within(span)
            })
            .collect();
        let mut s = Seeded::new(18);
        for d in &a {
            assert_eq!(*d, s.delay_within(span));
            assert!(*d >= span.mul_f64(0.05) && *d <= span.mul_f64(0.95));
        }
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
