//! Key Vault in the emulator: vault names (global, reserved while soft-deleted), the
//! `deletedVaults` resources and purge, and the secrets data plane
//! (`https://<vault>.vault.azure.net/secrets/...`).

use axum::http::{Method, Uri};
use serde_json::{Map, Value, json};

use std::collections::BTreeMap;

use crate::Inner;
use crate::reply::Reply;
use crate::store::{OpAction, Operation, Outcome, Resource, Secret, SecretVersion, Store};

/// Key Vault names: 3-24 letters, digits and hyphens, starting with a letter, ending with a
/// letter or digit, no `--`.
pub(crate) fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.contains("--")
}

/// Checks a vault PUT against the global names (live and soft-deleted) and fills the
/// properties ARM adds (`vaultUri`, soft delete on).
pub(crate) fn before_put(
    inner: &Inner,
    s: &mut Store,
    id: &str,
    name: &str,
    req: &mut Map<String, Value>,
) -> Option<Reply> {
    if s.deleted_vaults.contains_key(&name.to_ascii_lowercase()) {
        return Some(Reply::error(
            409,
            "ConflictError",
            &format!(
                "A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault '{name}'. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete."
            ),
        ));
    }
    if s.vault_named(name).is_some_and(|v| {
        v.body
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|other| !other.eq_ignore_ascii_case(id))
    }) {
        return Some(Reply::error(
            409,
            "VaultAlreadyExists",
            &format!(
                "The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken."
            ),
        ));
    }
    let props = req.entry("properties").or_insert(json!({}));
    if let Some(p) = props.as_object_mut() {
        p.insert(
            "vaultUri".into(),
            json!(format!("https://{name}.{}", crate::KEY_VAULT_SUFFIX)),
        );
        p.entry("tenantId").or_insert(json!(inner.config().tenant));
        p.entry("enableSoftDelete").or_insert(json!(true));
        p.entry("softDeleteRetentionInDays").or_insert(json!(90));
    }
    s.secrets.entry(name.to_ascii_lowercase()).or_default();
    None
}

/// `/subscriptions/{sub}/providers/Microsoft.KeyVault/...`: list, get and purge deleted
/// vaults.
pub(crate) fn deleted_vaults(inner: &Inner, method: &Method, segs: &[&str]) -> Reply {
    let lower: Vec<String> = segs[4..].iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let Ok(mut s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    match (method.as_str(), l.as_slice()) {
        ("GET", ["deletedvaults"]) => Reply::json(
            200,
            json!({"value": s.deleted_vaults.values().collect::<Vec<_>>()}),
        ),
        ("GET", ["locations", _, "deletedvaults", name]) => match s.deleted_vaults.get(*name) {
            Some(v) => Reply::json(200, v.clone()),
            None => not_deleted(name),
        },
        ("POST", ["locations", loc, "deletedvaults", name, "purge"]) => {
            if !s.deleted_vaults.contains_key(*name) {
                return not_deleted(name);
            }
            let config = inner.config();
            let d = config
                .durations
                .get("microsoft.keyvault/deletedvaults")
                .copied()
                .unwrap_or_default();
            if d.is_zero() {
                s.deleted_vaults.remove(*name);
                s.secrets.remove(*name);
                return Reply::empty(200);
            }
            let id = s.new_id();
            s.operations.insert(
                id.clone(),
                Operation {
                    id: id.clone(),
                    resource: format!("deletedvaults/{name}"),
                    action: OpAction::Purge {
                        name: name.to_string(),
                    },
                    started: inner.now(),
                    duration: d,
                    outcome: Outcome::Succeed,
                    status: None,
                },
            );
            let url = format!(
                "https://management.azure.com/subscriptions/{}/providers/Microsoft.KeyVault/locations/{loc}/operationResults/{id}?api-version={}",
                segs[1], config.polling_api_version
            );
            Reply::empty(202)
                .header("location", &url)
                .header("retry-after", &config.retry_after.to_string())
        }
        _ => Reply::error(
            404,
            "InvalidRequestUri",
            "No such Microsoft.KeyVault route in the emulator.",
        ),
    }
}

fn not_deleted(name: &str) -> Reply {
    Reply::error(
        404,
        "DeletedVaultNotFound",
        &format!("The specified deleted vault '{name}' does not exist."),
    )
}

fn attributes(created: i64, updated: i64) -> Value {
    json!({
        "enabled": true,
        "created": created,
        "updated": updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    })
}

/// A SecretBundle (`SetSecret-example.json`); without the value for list items.
fn bundle(base: &str, name: &str, v: &SecretVersion, with_value: bool, versioned: bool) -> Value {
    let id = if versioned {
        format!("{base}/secrets/{name}/{}", v.version)
    } else {
        format!("{base}/secrets/{name}")
    };
    let mut b = json!({"id": id, "attributes": attributes(v.created, v.created)});
    if with_value {
        b["value"] = json!(v.value);
    }
    if let Some(ct) = &v.content_type {
        b["contentType"] = json!(ct);
    }
    if let Some(tags) = &v.tags {
        b["tags"] = tags.clone();
    }
    b
}

/// A DeletedSecretBundle (`DeleteSecret-example.json`).
fn deleted_bundle(base: &str, name: &str, secret: &Secret, with_value: bool) -> Option<Value> {
    let latest = secret.versions.last()?;
    let deleted = secret.deleted.unwrap_or_default();
    let mut b = bundle(base, name, latest, with_value, true);
    b["recoveryId"] = json!(format!("{base}/deletedsecrets/{name}"));
    b["deletedDate"] = json!(deleted);
    b["scheduledPurgeDate"] = json!(deleted + 90 * 86_400);
    Some(b)
}

fn secret_not_found(name: &str, vault: &str) -> Reply {
    Reply::error(
        404,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182 ({vault})"
        ),
    )
}

fn valid_secret_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Key Vault's refusal while a role assignment on `vault` created less than
/// [`rbac_propagation`](crate::EmulatorConfig::rbac_propagation) ago propagates: the real
/// service's `403` body, with the precise code under `innererror`.
fn rbac_propagating(inner: &Inner, s: &Store, vault: &Resource) -> Option<Reply> {
    let id = vault
        .body
        .get("id")
        .and_then(Value::as_str)?
        .to_ascii_lowercase();
    let changed = *s.rbac_changed.get(&id)?;
    if inner.now() >= changed + inner.config().rbac_propagation {
        return None;
    }
    if let Ok(mut n) = inner.rbac_refusals.lock() {
        *n += 1;
    }
    Some(Reply::json(
        403,
        json!({ "error": {
            "code": "Forbidden",
            "message": "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
            "innererror": { "code": "ForbiddenByRbac" }
        } }),
    ))
}

/// The secrets data plane of vault `vault`.
pub(crate) fn data_plane(
    inner: &Inner,
    vault: &str,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Reply {
    let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let base = format!("https://{vault}.{}", crate::KEY_VAULT_SUFFIX);
    let unix = inner.unix();
    let Ok(mut s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let Some(found) = s.vault_named(vault) else {
        return Reply::error(
            404,
            "VaultNotFound",
            &format!("The vault '{vault}' does not exist (or is soft-deleted)."),
        );
    };
    if let Some(reply) = rbac_propagating(inner, &s, found) {
        return reply;
    }
    let secrets = s.secrets.entry(vault.to_ascii_lowercase()).or_default();
    let at = Vault {
        base: &base,
        name: vault,
    };
    let reply = match segs.split_first() {
        Some((&"secrets", rest)) => live(secrets, at, method, rest, body, unix),
        Some((&"deletedsecrets", rest)) => deleted(secrets, at, method, rest),
        _ => None,
    };
    reply.unwrap_or_else(|| {
        Reply::error(
            400,
            "BadParameter",
            &format!("The emulator does not serve {method} {}.", uri.path()),
        )
    })
}

/// The vault a data-plane request is for.
#[derive(Debug, Clone, Copy)]
struct Vault<'a> {
    /// Its URL (`https://<vault>.vault.azure.net`).
    base: &'a str,
    /// Its name as the request gave it.
    name: &'a str,
}

/// `/secrets/...`: set, get (latest or a version), list, list versions, delete.
fn live(
    secrets: &mut BTreeMap<String, Secret>,
    at: Vault<'_>,
    method: &Method,
    segs: &[&str],
    body: &[u8],
    unix: i64,
) -> Option<Reply> {
    let base = at.base;
    let not_found = |name: &str| secret_not_found(name, at.name);
    Some(match (method.as_str(), segs) {
        ("PUT", [name]) => set_secret(secrets, base, name, body, unix, at.name),
        ("GET", []) => {
            let value: Vec<Value> = secrets
                .iter()
                .filter(|(_, sec)| sec.deleted.is_none())
                .filter_map(|(n, sec)| {
                    sec.versions
                        .last()
                        .map(|v| bundle(base, n, v, false, false))
                })
                .collect();
            Reply::json(200, json!({"value": value, "nextLink": null}))
        }
        ("GET", [name, "versions"]) => match secrets.get(*name).filter(|x| x.deleted.is_none()) {
            Some(sec) => {
                let value: Vec<Value> = sec
                    .versions
                    .iter()
                    .map(|v| bundle(base, name, v, false, true))
                    .collect();
                Reply::json(200, json!({"value": value, "nextLink": null}))
            }
            None => not_found(name),
        },
        ("GET", [name, rest @ ..]) if rest.len() <= 1 => secrets
            .get(*name)
            .filter(|x| x.deleted.is_none())
            .and_then(|sec| match rest.first() {
                Some(version) => sec.versions.iter().find(|v| v.version == *version),
                None => sec.versions.last(),
            })
            .map_or_else(
                || not_found(name),
                |v| Reply::json(200, bundle(base, name, v, true, true)),
            ),
        ("DELETE", [name]) => match secrets.get_mut(*name).filter(|x| x.deleted.is_none()) {
            Some(sec) => {
                sec.deleted = Some(unix);
                deleted_bundle(base, name, sec, false)
                    .map_or_else(|| not_found(name), |b| Reply::json(200, b))
            }
            None => not_found(name),
        },
        _ => return None,
    })
}

/// `/deletedsecrets/...`: list, get, purge, recover.
fn deleted(
    secrets: &mut BTreeMap<String, Secret>,
    at: Vault<'_>,
    method: &Method,
    segs: &[&str],
) -> Option<Reply> {
    let base = at.base;
    Some(match (method.as_str(), segs) {
        ("GET", []) => {
            let value: Vec<Value> = secrets
                .iter()
                .filter(|(_, sec)| sec.deleted.is_some())
                .filter_map(|(n, sec)| deleted_bundle(base, n, sec, false))
                .collect();
            Reply::json(200, json!({"value": value, "nextLink": null}))
        }
        ("GET", [name]) => secrets
            .get(*name)
            .filter(|x| x.deleted.is_some())
            .and_then(|sec| deleted_bundle(base, name, sec, false))
            .map_or_else(|| deleted_secret_not_found(name), |b| Reply::json(200, b)),
        ("DELETE", [name]) => {
            if secrets.get(*name).is_some_and(|x| x.deleted.is_some()) {
                secrets.remove(*name);
                Reply::empty(204)
            } else {
                deleted_secret_not_found(name)
            }
        }
        ("POST", [name, "recover"]) => match secrets.get_mut(*name).filter(|x| x.deleted.is_some())
        {
            Some(sec) => {
                sec.deleted = None;
                sec.versions.last().map_or_else(
                    || deleted_secret_not_found(name),
                    |v| Reply::json(200, bundle(base, name, v, false, true)),
                )
            }
            None => deleted_secret_not_found(name),
        },
        _ => return None,
    })
}

fn deleted_secret_not_found(name: &str) -> Reply {
    Reply::error(
        404,
        "SecretNotFound",
        &format!("Deleted Secret not found: {name}"),
    )
}

fn set_secret(
    secrets: &mut BTreeMap<String, Secret>,
    base: &str,
    name: &str,
    body: &[u8],
    unix: i64,
    vault: &str,
) -> Reply {
    if !valid_secret_name(name) {
        return Reply::bad_request(
            "BadParameter",
            &format!("The secret name '{name}' is invalid: use 1-127 letters, digits and dashes."),
        );
    }
    let Some(req) = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
    else {
        return Reply::bad_request(
            "BadParameter",
            "The request body is not a valid SecretSetParameters object.",
        );
    };
    let Some(value) = req.get("value").and_then(Value::as_str) else {
        return Reply::bad_request("BadParameter", "Property 'value' is required.");
    };
    let secret = secrets.entry(name.to_string()).or_default();
    if secret.deleted.is_some() {
        return Reply::error(
            409,
            "Conflict",
            &format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged. ({vault})"
            ),
        );
    }
    let n = secret.versions.len() as u64 + 1;
    let version = format!(
        "{:016x}{:016x}",
        unix as u64,
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    let v = SecretVersion {
        version,
        value: value.to_string(),
        content_type: req
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_string),
        tags: req.get("tags").cloned(),
        created: unix,
    };
    let reply = Reply::json(200, bundle(base, name, &v, true, true));
    secret.versions.push(v);
    reply
}
