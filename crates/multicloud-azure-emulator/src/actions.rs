//! What ARM fills in on the resources the stack creates (ids, FQDNs, principal ids, the OIDC
//! issuer…), the POST actions the provider calls (`listClusterUserCredential`,
//! `listCredentials`, `listKeys`), and ACR's token exchange on `<registry>.azurecr.io`.

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Inner;
use crate::reply::Reply;

/// What `listClusterUserCredential` puts in the kubeconfig: a test can point it at a real
/// local API server ([`Emulator::set_cluster_access`](crate::Emulator::set_cluster_access)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAccess {
    /// The API server URL.
    pub server: String,
    /// The CA bundle, base64 PEM.
    pub ca_data: String,
    /// The bearer token of the user.
    pub token: String,
}

/// A GUID-shaped id derived from `seed`.
pub(crate) fn guid(seed: &str) -> String {
    let h = hex::encode(Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Fills in the read-only properties ARM adds to a created resource of type `rtype`, and
/// drops what ARM never returns (secrets in the request).
pub(crate) fn enrich(inner: &Inner, rtype: &str, id: &str, req: &mut Map<String, Value>) {
    let name = id.rsplit('/').next().unwrap_or_default().to_string();
    let location = req
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("global")
        .to_string();
    let tenant = inner.config().tenant;
    let props = req.entry("properties").or_insert(json!({}));
    let Some(p) = props.as_object_mut() else {
        return;
    };
    match rtype.to_ascii_lowercase().as_str() {
        "microsoft.containerservice/managedclusters" => {
            let prefix = p
                .get("dnsPrefix")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_string();
            let hash = &guid(id)[..8];
            p.insert(
                "fqdn".into(),
                json!(format!("{prefix}-{hash}.hcp.{location}.azmk8s.io")),
            );
            let oidc_on = p
                .get("oidcIssuerProfile")
                .and_then(|o| o.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if oidc_on {
                p.insert(
                    "oidcIssuerProfile".into(),
                    json!({"enabled": true, "issuerURL": format!("https://{location}.oic.prod-aks.azure.com/{tenant}/{}/", guid(&format!("oidc{id}")))}),
                );
            }
            p.insert(
                "identityProfile".into(),
                json!({"kubeletidentity": {
                    "objectId": guid(&format!("kubelet-object{id}")),
                    "clientId": guid(&format!("kubelet-client{id}")),
                    "resourceId": format!("{id}-agentpool"),
                }}),
            );
        }
        "microsoft.managedidentity/userassignedidentities" => {
            p.insert("tenantId".into(), json!(tenant));
            p.insert("principalId".into(), json!(guid(&format!("principal{id}"))));
            p.insert("clientId".into(), json!(guid(&format!("client{id}"))));
        }
        "microsoft.containerregistry/registries" => {
            p.insert(
                "loginServer".into(),
                json!(format!("{}.azurecr.io", name.to_ascii_lowercase())),
            );
        }
        "microsoft.dbforpostgresql/flexibleservers" => {
            p.remove("administratorLoginPassword");
            p.insert(
                "fullyQualifiedDomainName".into(),
                json!(format!("{name}.postgres.database.azure.com")),
            );
            p.insert("state".into(), json!("Ready"));
        }
        "microsoft.cache/redisenterprise" => {
            p.insert(
                "hostName".into(),
                json!(format!("{name}.{location}.redis.azure.net")),
            );
        }
        "microsoft.network/privateendpoints" => private_endpoint(id, &name, p),
        "microsoft.authorization/roleassignments" => {
            let scope = id
                .rsplit_once("/providers/Microsoft.Authorization/")
                .map(|(s, _)| s)
                .unwrap_or_default();
            p.insert("scope".into(), json!(scope));
        }
        _ => {}
    }
}

/// What ARM adds to a private endpoint (after `PrivateEndpointCreate.json`): its network
/// interface, and its connections auto-approved (the target is in the same subscription).
fn private_endpoint(id: &str, name: &str, p: &mut Map<String, Value>) {
    let group = id.split("/providers/").next().unwrap_or_default();
    p.insert(
        "networkInterfaces".into(),
        json!([{"id": format!("{group}/providers/Microsoft.Network/networkInterfaces/{name}.nic.{}", guid(id))}]),
    );
    if let Some(Value::Array(connections)) = p.get_mut("privateLinkServiceConnections") {
        for c in connections.iter_mut() {
            if let Some(props) = c.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert(
                    "privateLinkServiceConnectionState".into(),
                    json!({"status": "Approved", "description": "Auto-Approved", "actionsRequired": "None"}),
                );
            }
        }
    }
}

/// The parent that must exist before `id` is created: the scope of an extension resource
/// (`<scope>/providers/Microsoft.Authorization/roleAssignments/<name>`), the parent of a
/// child resource, or none for a top-level resource.
pub(crate) fn parent_of(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    let n = parts.len();
    if n > 9 && parts[n - 4].eq_ignore_ascii_case("providers") {
        return Some(parts[..n - 4].join("/").to_ascii_lowercase());
    }
    (n > 9).then(|| parts[..n - 2].join("/").to_ascii_lowercase())
}

/// `POST <resource>/<action>` on the live resource `body`.
pub(crate) fn action(inner: &Inner, rtype: &str, action: &str, body: &Value) -> Reply {
    match (
        rtype.to_ascii_lowercase().as_str(),
        action.to_ascii_lowercase().as_str(),
    ) {
        ("microsoft.containerservice/managedclusters", "listclusterusercredential") => Reply::json(
            200,
            json!({"kubeconfigs": [{"name": "clusterUser", "value": kubeconfig(inner, body)}]}),
        ),
        ("microsoft.containerregistry/registries", "listcredentials") => {
            let admin = body
                .pointer("/properties/adminUserEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !admin {
                return Reply::bad_request(
                    "AdminUserDisabled",
                    "Cannot perform operation since admin user is disabled.",
                );
            }
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
            Reply::json(
                200,
                json!({"username": name, "passwords": [
                    {"name": "password", "value": guid(&format!("pw1{name}"))},
                    {"name": "password2", "value": guid(&format!("pw2{name}"))},
                ]}),
            )
        }
        ("microsoft.cache/redisenterprise/databases", "listkeys") => {
            let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
            Reply::json(
                200,
                json!({
                    "primaryKey": guid(&format!("primary{id}")),
                    "secondaryKey": guid(&format!("secondary{id}")),
                }),
            )
        }
        _ => Reply::bad_request(
            "UnsupportedAction",
            &format!("the emulator does not serve the action `{action}` on {rtype}"),
        ),
    }
}

/// The base64 kubeconfig of cluster `body`: its FQDN, a fake CA and token, or what the test
/// set with [`Emulator::set_cluster_access`](crate::Emulator::set_cluster_access).
fn kubeconfig(inner: &Inner, body: &Value) -> String {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("cluster");
    let fqdn = body
        .pointer("/properties/fqdn")
        .and_then(Value::as_str)
        .unwrap_or("localhost");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let access = inner.cluster_access().unwrap_or_else(|| ClusterAccess {
        server: format!("https://{fqdn}:443"),
        ca_data: b64("-----BEGIN CERTIFICATE-----\nZW11bGF0b3I=\n-----END CERTIFICATE-----\n"),
        token: format!("emulator-token-{}", &guid(name)[..8]),
    });
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: clusterUser_{name}\ncurrent-context: {name}\nusers:\n- name: clusterUser_{name}\n  user:\n    token: {}\n",
        access.server, access.ca_data, access.token
    );
    b64(&yaml)
}

/// ACR's `POST /oauth2/exchange` on `<registry>.azurecr.io`: an Entra token for ARM in,
/// a refresh token out.
pub(crate) fn acr_exchange(inner: &Inner, registry: &str, path: &str, body: &[u8]) -> Reply {
    if path != "/oauth2/exchange" {
        return Reply::error(
            404,
            "NotFound",
            "the emulator serves only /oauth2/exchange on ACR",
        );
    }
    let form = String::from_utf8_lossy(body);
    let field = |k: &str| {
        form.split('&').find_map(|kv| {
            kv.split_once('=')
                .filter(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let audience = format!("fake:{}", crate::ARM_SCOPE);
    let token_ok = field("access_token").is_some_and(|t| t == audience || !t.starts_with("fake:"));
    if field("grant_type").as_deref() != Some("access_token") || !token_ok {
        return Reply::error(401, "UNAUTHORIZED", "invalid access token for the exchange");
    }
    let exists = inner.store.lock().is_ok_and(|s| {
        s.resources.values().any(|r| {
            r.body
                .pointer("/properties/loginServer")
                .and_then(Value::as_str)
                == Some(registry)
        })
    });
    if !exists {
        return Reply::error(
            404,
            "NAME_UNKNOWN",
            &format!("registry {registry} not found"),
        );
    }
    Reply::json(
        200,
        json!({"refresh_token": format!("acr-refresh-{}", guid(&form)) }),
    )
}
