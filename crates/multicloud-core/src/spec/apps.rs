//! Rules for the Kubernetes side of a spec: workload identities and apps.

use std::collections::HashSet;

use super::StackSpec;
use super::connect::Connection;
use super::shape::{DNS_1035_LABEL, DNS_1123_LABEL, ENV_VAR};
use super::types::{App, ImageRef};
use super::validate::{Rule, ValidationError, duplicates, push};

fn unknown_secret(spec: &StackSpec, path: String, name: &str) -> Option<ValidationError> {
    spec.secret(name).is_none().then(|| {
        ValidationError::new(
            path,
            Rule::UnknownReference,
            format!("secret `{name}` is not declared in spec.secrets"),
        )
    })
}

fn unknown_registry(spec: &StackSpec, path: String, name: &str) -> Option<ValidationError> {
    spec.registry(name).is_none().then(|| {
        ValidationError::new(
            path,
            Rule::UnknownReference,
            format!("registry `{name}` is not declared in spec.registries"),
        )
    })
}

/// Workload identities: DNS-1123 namespace and service account, one identity per service
/// account (and per identity key), references to declared secrets and registries only.
pub(super) fn check_workload_identities(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    let identities = &spec.workload_identities;
    for (i, w) in identities.iter().enumerate() {
        let path = format!("spec.workload_identities[{i}]");
        push(
            errors,
            DNS_1123_LABEL.check(&format!("{path}.namespace"), "namespace", &w.namespace),
        );
        push(
            errors,
            DNS_1123_LABEL.check(
                &format!("{path}.service_account"),
                "service account",
                &w.service_account,
            ),
        );
        for (j, name) in w.read_secrets.iter().enumerate() {
            push(
                errors,
                unknown_secret(spec, format!("{path}.read_secrets[{j}]"), name),
            );
        }
        for (j, name) in w.pull_registries.iter().enumerate() {
            push(
                errors,
                unknown_registry(spec, format!("{path}.pull_registries[{j}]"), name),
            );
        }
    }
    // The key `<namespace>-<service_account>` names the identity's resources, so two
    // identities must differ in it, not only in the pair (`a-b`/`c` and `a`/`b-c` collide).
    let keys: Vec<String> = identities.iter().map(|w| w.key()).collect();
    for (i, first) in duplicates(keys.iter().map(String::as_str)) {
        let (w, f) = (&identities[i], &identities[first]);
        let message = if (w.namespace.as_str(), w.service_account.as_str())
            == (f.namespace.as_str(), f.service_account.as_str())
        {
            format!(
                "service account `{}` in namespace `{}` already has an identity at spec.workload_identities[{first}]",
                w.service_account, w.namespace
            )
        } else {
            format!(
                "identity key `{}` is also the key of spec.workload_identities[{first}]; rename a namespace or service account",
                keys[i]
            )
        };
        errors.push(ValidationError::new(
            format!("spec.workload_identities[{i}]"),
            Rule::Duplicate,
            message,
        ));
    }
}

/// Whether `tag` is a valid image tag: up to 128 letters, digits, `_`, `.` and `-`, not
/// starting with `.` or `-`.
fn valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-'])
}

/// App `i`: a unique DNS-1035 name (it names a Deployment and a Service), DNS-1123 namespace
/// and service account, an image from a declared registry with a valid tag (or a non-empty
/// external reference), port ≥ 1, at most 100 replicas, valid and unique variable names, and
/// secrets that are declared.
pub(super) fn check_app(spec: &StackSpec, i: usize, app: &App, errors: &mut Vec<ValidationError>) {
    let path = format!("spec.apps[{i}]");
    push(
        errors,
        DNS_1035_LABEL.check(&format!("{path}.name"), "app name", &app.name),
    );
    if let Some(first) = spec.apps[..i]
        .iter()
        .position(|a| a.name == app.name && !app.name.is_empty())
    {
        errors.push(ValidationError::new(
            format!("{path}.name"),
            Rule::Duplicate,
            format!(
                "app name `{}` is already used by spec.apps[{first}]",
                app.name
            ),
        ));
    }
    if let Some(ns) = &app.namespace {
        push(
            errors,
            DNS_1123_LABEL.check(&format!("{path}.namespace"), "namespace", ns),
        );
    }
    if let Some(sa) = &app.service_account {
        push(
            errors,
            DNS_1123_LABEL.check(&format!("{path}.service_account"), "service account", sa),
        );
    }
    check_image(spec, app, &path, errors);
    if app.port == 0 {
        errors.push(ValidationError::new(
            format!("{path}.port"),
            Rule::Range,
            format!("app `{}` has port 0; use 1 to 65535", app.name),
        ));
    }
    if app.replicas > 100 {
        errors.push(ValidationError::new(
            format!("{path}.replicas"),
            Rule::Range,
            format!(
                "app `{}` asks for {} replicas; at most 100 are allowed",
                app.name, app.replicas
            ),
        ));
    }
    check_resources_and_probe(app, &path, errors);
    check_env(spec, app, &path, errors);
    check_connections(spec, app, &path, errors);
}

/// App `app`'s connections: each to a data service the spec declares, once, setting no
/// variable the app already sets.
fn check_connections(spec: &StackSpec, app: &App, path: &str, errors: &mut Vec<ValidationError>) {
    for (j, service) in app.connect.iter().enumerate() {
        let at = format!("{path}.connect[{j}]");
        let declared = match service {
            Connection::Database => spec.database.is_some(),
            Connection::Cache => spec.cache.is_some(),
        };
        if !declared {
            errors.push(ValidationError::new(
                at.clone(),
                Rule::UnknownReference,
                format!(
                    "app `{}` connects to the {service}, but the spec declares no `{service}`",
                    app.name
                ),
            ));
        }
        if app.connect[..j].contains(service) {
            errors.push(ValidationError::new(
                at.clone(),
                Rule::Duplicate,
                format!("app `{}` connects to the {service} twice", app.name),
            ));
            continue;
        }
        let set_too: Vec<&str> = service
            .vars()
            .iter()
            .copied()
            .filter(|v| {
                app.env.contains_key(*v) || app.env_from_secrets.iter().any(|e| e.var == *v)
            })
            .collect();
        if !set_too.is_empty() {
            errors.push(ValidationError::new(
                at,
                Rule::Duplicate,
                format!(
                    "app `{}` sets {} itself, which its {service} connection sets",
                    app.name,
                    set_too.join(", ")
                ),
            ));
        }
    }
}

/// App `app`'s image: from a declared registry with a valid tag, or a non-empty external
/// reference without whitespace.
fn check_image(spec: &StackSpec, app: &App, path: &str, errors: &mut Vec<ValidationError>) {
    match &app.image {
        ImageRef::Registry { registry, tag } => {
            push(
                errors,
                unknown_registry(spec, format!("{path}.image.registry"), registry),
            );
            if tag.is_empty() {
                errors.push(ValidationError::new(
                    format!("{path}.image.tag"),
                    Rule::Required,
                    format!("app `{}` needs an image tag", app.name),
                ));
            } else if !valid_tag(tag) {
                errors.push(ValidationError::new(
                    format!("{path}.image.tag"),
                    Rule::Format,
                    format!(
                        "image tag `{tag}` may only hold up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
                    ),
                ));
            }
        }
        ImageRef::External { image } => {
            if image.trim().is_empty() {
                errors.push(ValidationError::new(
                    format!("{path}.image.image"),
                    Rule::Required,
                    format!("app `{}` needs an image reference", app.name),
                ));
            } else if image.chars().any(char::is_whitespace) {
                errors.push(ValidationError::new(
                    format!("{path}.image.image"),
                    Rule::Format,
                    format!("image reference `{image}` must not contain whitespace"),
                ));
            }
        }
    }
}

/// App `app`'s variables: valid names, each set once, secrets that are declared.
fn check_env(spec: &StackSpec, app: &App, path: &str, errors: &mut Vec<ValidationError>) {
    let mut vars: HashSet<&str> = HashSet::new();
    for key in app.env.keys() {
        push(
            errors,
            ENV_VAR.check(
                &format!("{path}.env[{key:?}]"),
                "environment variable name",
                key,
            ),
        );
        vars.insert(key);
    }
    for (j, env) in app.env_from_secrets.iter().enumerate() {
        let var_path = format!("{path}.env_from_secrets[{j}].var");
        match ENV_VAR.check(&var_path, "environment variable name", &env.var) {
            Some(error) => errors.push(error),
            None => {
                if !vars.insert(&env.var) {
                    errors.push(ValidationError::new(
                        var_path,
                        Rule::Duplicate,
                        format!(
                            "variable `{}` is set more than once in app `{}`",
                            env.var, app.name
                        ),
                    ));
                }
            }
        }
        push(
            errors,
            unknown_secret(
                spec,
                format!("{path}.env_from_secrets[{j}].secret"),
                &env.secret,
            ),
        );
    }
}

/// Whether `q` is a Kubernetes quantity as users write them: a positive decimal number with an
/// optional suffix (`m`, `k`, `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`).
fn valid_quantity(q: &str) -> bool {
    const SUFFIXES: &[&str] = &["Ki", "Mi", "Gi", "Ti", "m", "k", "M", "G", "T", ""];
    SUFFIXES.iter().any(|s| {
        q.strip_suffix(s).is_some_and(|n| {
            let mut parts = n.splitn(2, '.');
            let int = parts.next().unwrap_or("");
            let frac = parts.next();
            !int.is_empty()
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()))
                && n.chars().any(|c| c != '0' && c != '.')
        })
    })
}

/// Resources are Kubernetes quantities; the health path is an absolute HTTP path.
fn check_resources_and_probe(app: &App, path: &str, errors: &mut Vec<ValidationError>) {
    if let Some(r) = &app.resources {
        for (field, value) in [("cpu", &r.cpu), ("memory", &r.memory)] {
            if !valid_quantity(value) {
                errors.push(ValidationError::new(
                    format!("{path}.resources.{field}"),
                    Rule::Format,
                    format!("`{value}` is not a Kubernetes quantity (e.g. `250m`, `1`, `256Mi`)"),
                ));
            }
        }
    }
    if let Some(p) = &app.health_path
        && (!p.starts_with('/') || p.chars().any(char::is_whitespace))
    {
        errors.push(ValidationError::new(
            format!("{path}.health_path"),
            Rule::Format,
            format!("health path `{p}` must start with `/` and hold no whitespace"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::valid_quantity;

    #[test]
    fn quantities_as_kubernetes_writes_them() {
        for q in ["250m", "1", "0.5", "256Mi", "1Gi", "2G", "100k"] {
            assert!(valid_quantity(q), "{q}");
        }
        for q in ["", "m", "0", "-1", "1.5.2", "abc", "1 Gi", "1Gb", ".5"] {
            assert!(!valid_quantity(q), "{q}");
        }
    }
}
