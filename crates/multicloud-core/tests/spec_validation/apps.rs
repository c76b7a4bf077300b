//! Workload identities and apps.

use multicloud_core::spec::{App, Rule, StackSpec, WorkloadIdentity};

use super::{bad, good};

fn app(spec: &mut StackSpec) -> &mut App {
    &mut spec.apps[0]
}

fn identity(spec: &mut StackSpec) -> &mut WorkloadIdentity {
    &mut spec.workload_identities[0]
}

// ---- workload identities ----

#[test]
fn identity_namespace_is_a_dns_label() {
    good(|s| identity(s).namespace = "shop-2".into());
    let path = "spec.workload_identities[0].namespace";
    bad(|s| identity(s).namespace.clear(), path, Rule::Required);
    bad(|s| identity(s).namespace = "Shop".into(), path, Rule::Name);
    bad(|s| identity(s).namespace = "shop-".into(), path, Rule::Name);
    bad(|s| identity(s).namespace = "n".repeat(64), path, Rule::Name);
}

#[test]
fn identity_service_account_is_a_dns_label() {
    good(|s| identity(s).service_account = "1-api".into());
    let path = "spec.workload_identities[0].service_account";
    bad(
        |s| identity(s).service_account.clear(),
        path,
        Rule::Required,
    );
    bad(
        |s| identity(s).service_account = "api_sa".into(),
        path,
        Rule::Name,
    );
}

#[test]
fn identities_are_unique_per_service_account() {
    good(|s| {
        s.workload_identities
            .push(WorkloadIdentity::new("shop", "worker"))
    });
    bad(
        |s| {
            s.workload_identities
                .push(WorkloadIdentity::new("shop", "api"))
        },
        "spec.workload_identities[1]",
        Rule::Duplicate,
    );
    // `shop-a` / `pi` and `shop` / `a-pi` share the key `shop-a-pi` that names their resources.
    bad(
        |s| {
            s.workload_identities
                .push(WorkloadIdentity::new("shop-a", "pi"));
            s.workload_identities
                .push(WorkloadIdentity::new("shop", "a-pi"));
        },
        "spec.workload_identities[2]",
        Rule::Duplicate,
    );
}

#[test]
fn identity_reads_declared_secrets_only() {
    let message = bad(
        |s| identity(s).read_secrets.push("api-key".into()),
        "spec.workload_identities[0].read_secrets[1]",
        Rule::UnknownReference,
    );
    assert!(message.contains("`api-key`"), "{message}");
}

#[test]
fn identity_pulls_declared_registries_only() {
    good(|s| identity(s).pull_registries.push("shop-api".into()));
    bad(
        |s| identity(s).pull_registries.push("shop-web".into()),
        "spec.workload_identities[0].pull_registries[0]",
        Rule::UnknownReference,
    );
}

// ---- apps ----

#[test]
fn app_names_are_unique() {
    good(|s| s.apps.push(App::new("web")));
    bad(
        |s| s.apps.push(App::new("api")),
        "spec.apps[1].name",
        Rule::Duplicate,
    );
}

#[test]
fn app_name_is_a_dns_label() {
    good(|s| app(s).name = "api-v2".into());
    bad(|s| app(s).name.clear(), "spec.apps[0].name", Rule::Required);
    bad(
        |s| app(s).name = "Api".into(),
        "spec.apps[0].name",
        Rule::Name,
    );
    bad(
        |s| app(s).name = "api.v2".into(),
        "spec.apps[0].name",
        Rule::Name,
    );
    // It also names a Service, which must start with a letter (DNS-1035).
    bad(
        |s| app(s).name = "2api".into(),
        "spec.apps[0].name",
        Rule::Name,
    );
}

#[test]
fn app_namespace_is_a_dns_label() {
    good(|s| app(s).namespace = Some("storefront".into()));
    bad(
        |s| app(s).namespace = Some("Store".into()),
        "spec.apps[0].namespace",
        Rule::Name,
    );
}

#[test]
fn app_service_account_is_a_dns_label() {
    good(|s| app(s).service_account = Some("api-sa".into()));
    bad(
        |s| app(s).service_account = Some("api_sa".into()),
        "spec.apps[0].service_account",
        Rule::Name,
    );
}

#[test]
fn app_image_comes_from_a_declared_registry() {
    let message = bad(
        |s| *app(s) = app(s).clone().image_from_registry("shop-web", "v1"),
        "spec.apps[0].image.registry",
        Rule::UnknownReference,
    );
    assert!(message.contains("`shop-web`"), "{message}");
}

#[test]
fn app_image_tag_is_valid() {
    good(|s| {
        *app(s) = app(s)
            .clone()
            .image_from_registry("shop-api", "2024.06.01_build-7")
    });
    let path = "spec.apps[0].image.tag";
    bad(
        |s| *app(s) = app(s).clone().image_from_registry("shop-api", ""),
        path,
        Rule::Required,
    );
    bad(
        |s| *app(s) = app(s).clone().image_from_registry("shop-api", "-v1"),
        path,
        Rule::Format,
    );
    bad(
        |s| *app(s) = app(s).clone().image_from_registry("shop-api", "v 1"),
        path,
        Rule::Format,
    );
}

#[test]
fn app_external_image_is_not_empty() {
    good(|s| *app(s) = app(s).clone().image("nginx:1.27"));
    bad(
        |s| *app(s) = app(s).clone().image(""),
        "spec.apps[0].image.image",
        Rule::Required,
    );
    bad(
        |s| *app(s) = app(s).clone().image("nginx :1"),
        "spec.apps[0].image.image",
        Rule::Format,
    );
}

#[test]
fn app_port_is_at_least_1() {
    good(|s| app(s).port = 1);
    bad(|s| app(s).port = 0, "spec.apps[0].port", Rule::Range);
}

#[test]
fn app_has_at_most_100_replicas() {
    good(|s| app(s).replicas = 100);
    bad(
        |s| app(s).replicas = 101,
        "spec.apps[0].replicas",
        Rule::Range,
    );
}

#[test]
fn app_env_from_secret_names_a_declared_secret() {
    let message = bad(
        |s| *app(s) = app(s).clone().env_from_secret("API_KEY", "api-key"),
        "spec.apps[0].env_from_secrets[1].secret",
        Rule::UnknownReference,
    );
    assert!(message.contains("`api-key`"), "{message}");
}

#[test]
fn app_env_from_secret_var_is_a_valid_name() {
    good(|s| *app(s) = app(s).clone().env_from_secret("API_TOKEN_2", "api-token"));
    let path = "spec.apps[0].env_from_secrets[1].var";
    bad(
        |s| *app(s) = app(s).clone().env_from_secret("API-TOKEN", "api-token"),
        path,
        Rule::Name,
    );
    bad(
        |s| *app(s) = app(s).clone().env_from_secret("", "api-token"),
        path,
        Rule::Required,
    );
}

#[test]
fn app_env_keys_are_valid_names() {
    good(|s| *app(s) = app(s).clone().env("LOG_LEVEL", "debug"));
    bad(
        |s| *app(s) = app(s).clone().env("log-level", "debug"),
        r#"spec.apps[0].env["log-level"]"#,
        Rule::Name,
    );
}

#[test]
fn app_variables_are_set_once() {
    let message = bad(
        |s| *app(s) = app(s).clone().env("API_TOKEN", "plain"),
        "spec.apps[0].env_from_secrets[0].var",
        Rule::Duplicate,
    );
    assert!(message.contains("`API_TOKEN`"), "{message}");
    bad(
        |s| *app(s) = app(s).clone().env_from_secret("API_TOKEN", "api-token"),
        "spec.apps[0].env_from_secrets[1].var",
        Rule::Duplicate,
    );
}
