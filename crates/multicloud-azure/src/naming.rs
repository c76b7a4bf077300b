//! The naming rules of Azure, checked on top of the cloud-independent rules before any API is
//! called: [`AzureNamingRules`].
//!
//! A rule reports nothing at a path that already has an error (the cloud-independent rules
//! run first), so a bad value gets one message, not two.

use multicloud_core::spec::shape::{
    A_LETTER, A_LOWER, ALNUM, ALNUM_HYPHEN, AN_ALNUM, LOWER_ALNUM, Shape,
};
use multicloud_core::spec::{
    ENVIRONMENT, NamingReport, NamingRules, Rule, STACK_NAME, StackSpec, Tier, ValidationError,
};
use multicloud_core::tags::{NameStyle, Naming};

use crate::expand::resolve;

/// AKS agent pool names (Linux): 1–12 lowercase letters and digits, starting with a letter.
const AKS_AGENT_POOL: Shape = Shape::new(1, 12, LOWER_ALNUM).starts_with(A_LOWER);
/// Azure region names as ARM spells them: lowercase letters and digits (`westeurope`).
const AZURE_REGION: Shape = Shape::new(1, usize::MAX, LOWER_ALNUM).rule(Rule::Format);
/// Key Vault names: 3–24 letters, digits and hyphens, starting with a letter, ending with a
/// letter or digit, no `--`.
const KEY_VAULT: Shape = Shape::new(3, 24, ALNUM_HYPHEN)
    .starts_with(A_LETTER)
    .ends_with(AN_ALNUM)
    .no_double_hyphen();
/// Key Vault secret names: 1–127 letters, digits and hyphens.
const KEY_VAULT_SECRET: Shape = Shape::new(1, 127, ALNUM_HYPHEN);
/// Container registry (ACR) names: 5–50 letters and digits.
const ACR: Shape = Shape::new(5, 50, ALNUM);
/// Characters Azure does not allow in tag names.
const AZURE_TAG_FORBIDDEN: [char; 7] = ['<', '>', '%', '&', '\\', '?', '/'];

/// Whether `value` is an Azure SKU such as `Standard_D4s_v5` or `Standard_B1ms`.
fn azure_sku(value: &str) -> bool {
    value.strip_prefix("Standard_").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Whether `value` is an Azure Managed Redis SKU such as `Balanced_B0` or
/// `MemoryOptimized_M20` (or a legacy Enterprise one, `Enterprise_E10`): a family, `_`, a
/// letter and a size number.
fn azure_redis_sku(value: &str) -> bool {
    const FAMILIES: [&str; 6] = [
        "Balanced",
        "MemoryOptimized",
        "ComputeOptimized",
        "FlashOptimized",
        "Enterprise",
        "EnterpriseFlash",
    ];
    value.split_once('_').is_some_and(|(family, size)| {
        FAMILIES.contains(&family)
            && size.starts_with(|c: char| c.is_ascii_uppercase())
            && size.len() > 1
            && size[1..].chars().all(|c| c.is_ascii_digit())
    })
}

/// The naming rules of Azure. Every value below is the one [`resolve`] picks for Azure (the
/// `azure:` override, else the single-cloud field), checked and reported at the field it
/// came from (`spec.azure.location`, `spec.cluster.node_pools[0].azure.vm_size`); a value
/// Azure lacks (only `aws.region`, a pool with only `aws.instance_type`) is
/// [`Rule::Required`] at the `azure:` field.
///
/// - location: ARM location names, lowercase letters and digits (`westeurope`, `eastus2`);
/// - node pools become AKS agent pools: 1–12 lowercase letters and digits starting with a
///   letter (Linux pools); VM sizes start with `Standard_` (`Standard_D4s_v5`);
/// - the container registry is named [`AzureNamingRules::registry_name`]: ACR names are 5–50
///   alphanumerics (reported at `spec.name`);
/// - the Key Vault is named [`AzureNamingRules::key_vault_name`]: 3–24 letters, digits and
///   hyphens, starting with a letter, ending with a letter or digit, no `--`;
/// - secrets become Key Vault secrets: 1–127 letters, digits and hyphens (no `_`);
/// - registries become ACR repositories: lowercase, the same pattern as ECR;
/// - the PostgreSQL flexible server SKU looks like `Standard_B1ms`; the administrator login
///   must not be `administrator` either (besides the common reserved names);
/// - the Azure Managed Redis SKU looks like `Balanced_B0` or `MemoryOptimized_M20`;
/// - tag names are at most 512 characters without `<`, `>`, `%`, `&`, `\`, `?` or `/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AzureNamingRules;

impl AzureNamingRules {
    /// The container registry's name: `<stack><env>acr` in alphanumerics, at most 50.
    pub fn registry_name(stack: &str, environment: &str) -> String {
        Naming::new(stack, environment).name("acr", NameStyle::alphanumeric(50))
    }

    /// The Key Vault's name: `<stack>-<env>-kv`, fitted to 24 characters.
    pub fn key_vault_name(stack: &str, environment: &str) -> String {
        Naming::new(stack, environment).name("kv", NameStyle::hyphenated(24))
    }
}

/// The names a user may set for one stack instead of the derived ones
/// ([`AzureProviderBuilder`](crate::AzureProviderBuilder)), checked with the same shapes as
/// the derived ones, before any call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameOverrides {
    /// The Key Vault's name (3-24 letters, digits and hyphens).
    pub key_vault: Option<String>,
    /// The container registry's name (5-50 letters and digits).
    pub registry: Option<String>,
}

impl NameOverrides {
    /// Problems of the overridden names, at `azure.key_vault_name` / `azure.registry_name`.
    pub fn check(&self, errors: &mut Vec<ValidationError>) {
        if let Some(kv) = &self.key_vault
            && let Some(e) = KEY_VAULT.check("azure.key_vault_name", "Key Vault name", kv)
        {
            errors.push(e);
        }
        if let Some(acr) = &self.registry
            && let Some(e) = ACR.check("azure.registry_name", "container registry name", acr)
        {
            errors.push(e);
        }
    }
}

/// [`AzureNamingRules`] plus the names a provider was told to use ([`NameOverrides`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackNamingRules {
    /// The overridden names.
    pub overrides: NameOverrides,
}

impl NamingRules for StackNamingRules {
    fn cloud(&self) -> &str {
        "azure"
    }
    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        AzureNamingRules.check(spec, errors);
        self.overrides.check(errors);
    }
}

impl NamingRules for AzureNamingRules {
    fn cloud(&self) -> &str {
        "azure"
    }

    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        let mut r = NamingReport::new(errors);
        check_location(spec, &mut r);
        check_names(spec, &mut r);
        check_node_pools(spec, &mut r);
        check_data_services(spec, &mut r);
        check_tags(spec, &mut r);
        if let Some(id) = spec.existing_cluster.as_ref().and_then(|c| c.cloud_id())
            && !crate::expand::existing::is_aks_id(id)
        {
            r.push(
                "spec.existing_cluster.id".into(),
                Rule::Format,
                format!(
                    "`{id}` is not an AKS cluster's ARM id (`/subscriptions/<id>/resourceGroups/\
                     <group>/providers/Microsoft.ContainerService/managedClusters/<name>`)"
                ),
            );
        }
    }
}

/// The Azure location: resolved, and shaped like `westeurope`.
fn check_location(spec: &StackSpec, r: &mut NamingReport<'_>) {
    match resolve::location(spec) {
        Ok(l) if !AZURE_REGION.problems(&l.value).is_empty() => r.push(
            l.path.clone(),
            Rule::Format,
            format!(
                "`{}` is not an Azure location such as `westeurope`{}",
                l.value,
                l.hint("Azure", "region", "azure.location")
            ),
        ),
        Ok(_) => {}
        // No region at all is the common rules' error.
        Err(e) if !r.has("spec.region") => r.push(e.path, e.rule, e.message),
        Err(_) => {}
    }
}

/// Names: the derived ACR and Key Vault names, registries' repositories, Key Vault secrets.
fn check_names(spec: &StackSpec, r: &mut NamingReport<'_>) {
    // Derived names are only worth checking for a valid stack name and environment.
    if STACK_NAME.problems(&spec.name).is_empty()
        && ENVIRONMENT.problems(&spec.environment).is_empty()
    {
        let acr = AzureNamingRules::registry_name(&spec.name, &spec.environment);
        if let Some(e) = ACR.check("spec.name", "derived container registry name", &acr) {
            r.push(e.path, e.rule, e.message);
        }
        let kv = AzureNamingRules::key_vault_name(&spec.name, &spec.environment);
        if let Some(e) = KEY_VAULT.check("spec.name", "derived Key Vault name", &kv) {
            r.push(e.path, e.rule, e.message);
        }
    }
    for (i, reg) in spec.registries.iter().enumerate() {
        r.repository(format!("spec.registries[{i}].name"), "ACR", &reg.name, 1);
    }
    for (i, secret) in spec.secrets.iter().enumerate() {
        r.shape(
            &KEY_VAULT_SECRET,
            format!("spec.secrets[{i}].name"),
            "Key Vault secret name",
            &secret.name,
        );
    }
}

/// AKS agent pools: valid names and VM sizes.
fn check_node_pools(spec: &StackSpec, r: &mut NamingReport<'_>) {
    if let Some(cluster) = &spec.cluster {
        for (i, pool) in cluster.node_pools.iter().enumerate() {
            let path = format!("spec.cluster.node_pools[{i}]");
            r.shape(
                &AKS_AGENT_POOL,
                format!("{path}.name"),
                "AKS agent pool name",
                &pool.name,
            );
            match resolve::vm_size(pool, i) {
                Ok(size) => r.resolved(
                    "Azure",
                    &size,
                    azure_sku,
                    "an Azure VM size such as `Standard_D4s_v5`",
                    ("instance_type", "azure.vm_size"),
                ),
                // A pool without any size is the common rules' error.
                Err(e) if !r.has(&format!("{path}.size")) => r.push(e.path, e.rule, e.message),
                Err(_) => {}
            }
        }
    }
}

/// PostgreSQL and Managed Redis: SKUs, a user name Azure does not reserve.
fn check_data_services(spec: &StackSpec, r: &mut NamingReport<'_>) {
    if let Some(db) = &spec.database {
        r.resolved(
            "Azure",
            &resolve::postgres_sku(db, resolve::postgres_sku_of(Tier::Dev)),
            azure_sku,
            "a PostgreSQL flexible server SKU such as `Standard_B1ms`",
            ("instance_class", "azure.sku"),
        );
        if db.username.eq_ignore_ascii_case("administrator") {
            r.push(
                "spec.database.username".into(),
                Rule::Name,
                format!(
                    "database user name `{}` is reserved on Azure; pick another, e.g. `app_admin`",
                    db.username
                ),
            );
        }
    }
    if let Some(cache) = &spec.cache {
        r.resolved(
            "Azure",
            &resolve::redis_sku(cache, resolve::redis_sku_of(Tier::Dev)),
            azure_redis_sku,
            "an Azure Managed Redis SKU such as `Balanced_B0`",
            ("node_type", "azure.sku"),
        );
    }
}

/// Tags: names Azure accepts.
fn check_tags(spec: &StackSpec, r: &mut NamingReport<'_>) {
    for key in spec.tags.keys() {
        let len = key.chars().count();
        if len > 512 || key.contains(AZURE_TAG_FORBIDDEN) {
            r.push(
                format!("spec.tags[{key:?}]"),
                Rule::Name,
                format!("Azure tag name `{key}` must be at most 512 characters without `<`, `>`, `%`, `&`, `\\`, `?` or `/`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus() {
        assert!(azure_sku("Standard_D4s_v5") && azure_sku("Standard_B1ms"));
        assert!(!azure_sku("Standard_") && !azure_sku("D4s_v5") && !azure_sku("t3.medium"));
        for ok in ["Balanced_B0", "MemoryOptimized_M20", "Enterprise_E10"] {
            assert!(azure_redis_sku(ok), "{ok}");
        }
        for bad in [
            "cache.t3.micro",
            "Balanced_",
            "Balanced_b0",
            "Basic_C1",
            "Balanced_BX",
        ] {
            assert!(!azure_redis_sku(bad), "{bad}");
        }
    }

    #[test]
    fn derived_azure_names() {
        assert_eq!(
            AzureNamingRules::registry_name("shop", "pr-1234"),
            "shoppr1234acr"
        );
        assert_eq!(
            AzureNamingRules::key_vault_name("shop", "pr-1234"),
            "shop-pr-1234-kv"
        );
        let long = AzureNamingRules::key_vault_name("a-very-long-stack", "a-long-environment");
        assert!(KEY_VAULT.problems(&long).is_empty(), "{long}");
    }
}
