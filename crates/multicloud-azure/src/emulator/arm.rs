//! The ARM side of the emulator: resource groups, the generic resource store with the three
//! LRO patterns, and the operation status / result URLs.

use axum::http::{Method, Uri};
use serde_json::{Value, json};

use super::reply::Reply;
use super::store::{LroPattern, OpAction, Operation, Outcome, Resource, Store};
use super::{Inner, keyvault};

const ARM: &str = "https://management.azure.com";
/// The api-version of resource-group delete polling URLs (as in
/// `ForceDeleteVMsInResourceGroup.json`).
const GROUP_POLL_VERSION: &str = "2018-08-01";

/// The query parameter `name` of `uri`.
pub(crate) fn query(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Routes one ARM request.
pub(crate) fn handle(inner: &Inner, method: &Method, uri: &Uri, body: &[u8]) -> Reply {
    let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    if lower.len() < 2 || lower[0] != "subscriptions" {
        return Reply::error(
            404,
            "InvalidRequestUri",
            &format!("No route for {}", uri.path()),
        );
    }
    if query(uri, "api-version").is_none() {
        return Reply::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    match l[2..] {
        ["operationresults", _] => poll(inner, uri, segs[3], false, GROUP_POLL_VERSION),
        ["providers", _, "locations", _, "operationstatuses", _] => poll(
            inner,
            uri,
            segs[7],
            true,
            &inner.config().polling_api_version,
        ),
        ["providers", _, "locations", _, "operationresults", _] => poll(
            inner,
            uri,
            segs[7],
            false,
            &inner.config().polling_api_version,
        ),
        ["providers", "microsoft.keyvault", ..] => keyvault::deleted_vaults(inner, method, &segs),
        ["resourcegroups"] if method == Method::GET => super::list::groups(inner, segs[1]),
        ["resourcegroups", _, "resources"] if method == Method::GET => {
            super::list::in_group(inner, segs[1], segs[3])
        }
        ["resourcegroups", _] => group(inner, method, segs[1], segs[3], body),
        ["resourcegroups", _, "providers", _, _, _, ..] => {
            let rest = &segs[6..];
            let (path, action) = if rest.len() % 2 == 1 {
                (&rest[..rest.len() - 1], rest.last().copied())
            } else {
                (rest, None)
            };
            let rtype = resource_type(segs[5], path);
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
                segs[1],
                segs[3],
                segs[5],
                path.join("/")
            );
            match action {
                Some(a) if method == Method::POST => post_action(inner, &id, &rtype, a),
                Some(a) => Reply::bad_request(
                    "UnsupportedAction",
                    &format!("the emulator does not serve the action `{a}`"),
                ),
                None => resource(inner, method, &id, &rtype, body),
            }
        }
        _ => Reply::error(
            404,
            "InvalidRequestUri",
            &format!("No route for {}", uri.path()),
        ),
    }
}

/// `Microsoft.X/type[/child…]` of `path` under namespace `ns`; an extension resource
/// (`…/providers/Microsoft.Authorization/roleAssignments/<name>`) has its own namespace.
fn resource_type(ns: &str, path: &[&str]) -> String {
    match path
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
    {
        Some(i) if i + 2 < path.len() => {
            let types: Vec<&str> = path[i + 2..].iter().step_by(2).copied().collect();
            format!("{}/{}", path[i + 1], types.join("/"))
        }
        _ => {
            let types: Vec<&str> = path.iter().step_by(2).copied().collect();
            format!("{ns}/{}", types.join("/"))
        }
    }
}

/// `POST <id>/<action>` on a live resource.
fn post_action(inner: &Inner, id: &str, rtype: &str, action: &str) -> Reply {
    let body = {
        let Ok(s) = inner.store.lock() else {
            return Reply::error(500, "InternalServerError", "store poisoned");
        };
        s.resources
            .get(&id.to_ascii_lowercase())
            .filter(|r| r.visible)
            .map(Resource::view)
    };
    match body {
        Some(b) => super::actions::action(inner, rtype, action, &b),
        None => Reply::error(
            404,
            "ResourceNotFound",
            &format!("The Resource '{rtype}' '{id}' was not found."),
        ),
    }
}

fn group_key(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}").to_ascii_lowercase()
}

fn valid_group_name(name: &str) -> bool {
    (1..=90).contains(&name.chars().count())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
}

fn group(inner: &Inner, method: &Method, sub: &str, rg: &str, body: &[u8]) -> Reply {
    let key = group_key(sub, rg);
    let unix = inner.unix();
    let Ok(mut s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let not_found = || {
        Reply::error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        )
    };
    let existing = s.resources.get(&key).cloned();
    match method.as_str() {
        "GET" => existing.map_or_else(not_found, |r| Reply::json(200, r.view())),
        "PUT" => {
            if !valid_group_name(rg) {
                return Reply::bad_request(
                    "InvalidResourceGroupName",
                    &format!(
                        "Resource group name '{rg}' is invalid. It must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')' and not end with '.'."
                    ),
                );
            }
            if existing.as_ref().is_some_and(|r| r.busy.is_some()) {
                return Reply::error(
                    409,
                    "ResourceGroupBeingDeleted",
                    &format!(
                        "The resource group '{rg}' is in deprovisioning state and cannot perform this operation."
                    ),
                );
            }
            let Some(req) = json_object(body) else {
                return Reply::bad_request(
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                );
            };
            let Some(location) = req.get("location").and_then(Value::as_str) else {
                return Reply::bad_request(
                    "LocationRequired",
                    "The location property is required for this definition.",
                );
            };
            let body = json!({
                "id": format!("/subscriptions/{sub}/resourceGroups/{rg}"),
                "name": rg,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location,
                "tags": req.get("tags").cloned().unwrap_or(json!({})),
                "properties": {"provisioningState": "Succeeded"},
            });
            let status = if existing.is_some() { 200 } else { 201 };
            s.resources.insert(
                key,
                Resource {
                    body,
                    state: "Succeeded".into(),
                    visible: true,
                    busy: None,
                },
            );
            Reply::json(
                status,
                s.resources
                    .get(&group_key(sub, rg))
                    .map(Resource::view)
                    .unwrap_or_default(),
            )
        }
        "DELETE" => {
            let Some(r) = existing else {
                return not_found();
            };
            if r.busy.is_some() {
                return Reply::error(
                    409,
                    "ResourceGroupBeingDeleted",
                    &format!(
                        "The resource group '{rg}' is in deprovisioning state and cannot perform this operation."
                    ),
                );
            }
            let config = inner.config();
            let d = duration_of(&config, "microsoft.resources/resourcegroups");
            if d.is_zero() {
                s.remove_tree(&key, unix);
                return Reply::empty(200);
            }
            let id = start_op(
                &mut s,
                inner,
                &key,
                OpAction::DeleteGroup,
                d,
                Outcome::Succeed,
            );
            if let Some(r) = s.resources.get_mut(&key) {
                r.state = "Deleting".into();
                r.busy = Some(id.clone());
            }
            let url = format!(
                "{ARM}/subscriptions/{sub}/operationresults/{id}?api-version={GROUP_POLL_VERSION}"
            );
            Reply::empty(202)
                .header("location", &url)
                .header("retry-after", &config.retry_after.to_string())
        }
        _ => Reply::error(405, "MethodNotAllowed", "The method is not allowed."),
    }
}

fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .as_object()
        .cloned()
}

fn duration_of(config: &super::EmulatorConfig, rtype: &str) -> std::time::Duration {
    config
        .durations
        .get(&rtype.to_ascii_lowercase())
        .copied()
        .unwrap_or(config.default_duration)
}

/// Starts an operation on `key` and returns its id.
fn start_op(
    s: &mut Store,
    inner: &Inner,
    key: &str,
    action: OpAction,
    duration: std::time::Duration,
    outcome: Outcome,
) -> String {
    let id = s.new_id();
    s.operations.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            resource: key.to_string(),
            action,
            started: inner.now(),
            duration,
            outcome,
            status: None,
        },
    );
    id
}

/// The polling URLs of operation `id` on a resource of namespace `ns` in `location`.
fn op_urls(inner: &Inner, sub: &str, ns: &str, location: &str, id: &str) -> (String, String) {
    let v = inner.config().polling_api_version;
    let base = format!("{ARM}/subscriptions/{sub}/providers/{ns}/locations/{location}");
    (
        format!("{base}/operationStatuses/{id}?api-version={v}"),
        format!("{base}/operationResults/{id}?api-version={v}"),
    )
}

fn resource(inner: &Inner, method: &Method, id: &str, rtype: &str, body: &[u8]) -> Reply {
    let key = id.to_ascii_lowercase();
    let parts: Vec<&str> = id.split('/').collect();
    let (sub, rg) = (parts[2], parts[4]);
    let unix = inner.unix();
    let Ok(mut s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    if !s.resources.contains_key(&group_key(sub, rg)) {
        return Reply::error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        );
    }
    let existing = s.resources.get(&key).filter(|r| r.visible).cloned();
    match method.as_str() {
        "GET" => match existing {
            Some(r) => Reply::json(200, r.view()),
            None => Reply::error(
                404,
                "ResourceNotFound",
                &format!(
                    "The Resource '{rtype}/{}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                    parts[parts.len() - 1]
                ),
            ),
        },
        "PUT" => put(inner, &mut s, id, rtype, existing, body),
        "DELETE" => {
            let Some(r) = existing else {
                return Reply::empty(204);
            };
            if let Some(op) = &r.busy {
                return Reply::error(
                    409,
                    "AnotherOperationInProgress",
                    &format!("Operation '{op}' is in progress on resource '{id}'; retry later."),
                );
            }
            if super::store::is_vault(&r.body) {
                s.remove_tree(&key, unix);
                return Reply::empty(200);
            }
            let config = inner.config();
            let d = duration_of(&config, rtype);
            let outcome = s
                .fail_next
                .remove(&rtype.to_ascii_lowercase())
                .unwrap_or(Outcome::Succeed);
            if d.is_zero() && outcome == Outcome::Succeed {
                s.remove_tree(&key, unix);
                return Reply::empty(200);
            }
            let op = start_op(&mut s, inner, &key, OpAction::Delete, d, outcome);
            if let Some(r) = s.resources.get_mut(&key) {
                r.state = "Deleting".into();
                r.busy = Some(op.clone());
            }
            let pattern = config
                .delete_patterns
                .get(&rtype.to_ascii_lowercase())
                .copied()
                .unwrap_or(LroPattern::Location);
            let location = r
                .body
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or("global");
            let (status_url, result_url) = op_urls(inner, sub, parts[6], location, &op);
            lro_headers(
                Reply::empty(202),
                pattern,
                &status_url,
                &result_url,
                config.retry_after,
            )
        }
        _ => Reply::error(405, "MethodNotAllowed", "The method is not allowed."),
    }
}

fn lro_headers(
    reply: Reply,
    pattern: LroPattern,
    status_url: &str,
    result_url: &str,
    retry_after: u64,
) -> Reply {
    let reply = match pattern {
        LroPattern::AsyncOperation => reply.header("azure-asyncoperation", status_url),
        LroPattern::Location => reply.header("location", result_url),
        LroPattern::Both => reply
            .header("azure-asyncoperation", status_url)
            .header("location", result_url),
    };
    reply.header("retry-after", &retry_after.to_string())
}

fn put(
    inner: &Inner,
    s: &mut Store,
    id: &str,
    rtype: &str,
    existing: Option<Resource>,
    body: &[u8],
) -> Reply {
    let key = id.to_ascii_lowercase();
    let parts: Vec<&str> = id.split('/').collect();
    let name = parts[parts.len() - 1];
    if let Some(parent) = super::actions::parent_of(id)
        && !s.resources.get(&parent).is_some_and(|p| p.visible)
    {
        return Reply::error(
            404,
            "ParentResourceNotFound",
            &format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parts[parts.len() - 3]
            ),
        );
    }
    if let Some(reply) = super::names::check_name(rtype, name) {
        return reply;
    }
    if let Some(r) = s.resources.get(&key).filter(|r| r.busy.is_some()) {
        let op = r.busy.clone().unwrap_or_default();
        return Reply::error(
            409,
            "AnotherOperationInProgress",
            &format!("Operation '{op}' is in progress on resource '{id}'; retry later."),
        );
    }
    let Some(mut req) = json_object(body) else {
        return Reply::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    if super::store::is_vault(&json!({"type": rtype}))
        && let Some(reply) = keyvault::before_put(inner, s, id, name, &mut req)
    {
        return reply;
    }
    req.insert("id".into(), json!(id));
    req.insert("name".into(), json!(name));
    req.insert("type".into(), json!(rtype));
    req.entry("properties").or_insert(json!({}));
    super::actions::enrich(inner, rtype, id, &mut req);
    if rtype.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments")
        && let Some(scope) = super::actions::parent_of(id)
    {
        s.rbac_changed.insert(scope, inner.now());
    }
    let config = inner.config();
    let d = duration_of(&config, rtype);
    let outcome = s
        .fail_next
        .remove(&rtype.to_ascii_lowercase())
        .unwrap_or(Outcome::Succeed);
    let created = existing.is_none();
    let pattern = config
        .put_patterns
        .get(&rtype.to_ascii_lowercase())
        .copied()
        .unwrap_or(LroPattern::AsyncOperation);
    let sync = d.is_zero() && outcome == Outcome::Succeed;
    let state = match (sync, created) {
        (true, _) => "Succeeded",
        (false, true) => "Creating",
        (false, false) => "Updating",
    };
    let visible = sync || !created || pattern == LroPattern::AsyncOperation;
    let mut resource = Resource {
        body: Value::Object(req),
        state: state.into(),
        visible,
        busy: None,
    };
    let status = if created { 201 } else { 200 };
    if sync {
        let view = resource.view();
        s.resources.insert(key, resource);
        return Reply::json(status, view);
    }
    let op = start_op(s, inner, &key, OpAction::Put { created }, d, outcome);
    resource.busy = Some(op.clone());
    let view = resource.view();
    let location = view
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("global")
        .to_string();
    s.resources.insert(key, resource);
    let (status_url, result_url) = op_urls(inner, parts[2], parts[6], &location, &op);
    let reply = match pattern {
        LroPattern::AsyncOperation => Reply::json(status, view),
        _ => Reply::empty(202),
    };
    lro_headers(reply, pattern, &status_url, &result_url, config.retry_after)
}

/// `GET` of an operation's status (`Azure-AsyncOperation`) or result (`Location`) URL.
fn poll(inner: &Inner, uri: &Uri, id: &str, status_url: bool, expected: &str) -> Reply {
    let api = query(uri, "api-version").unwrap_or_default();
    let self_url = &format!("{ARM}{uri}");
    if api != expected {
        return Reply::bad_request(
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{api}' is invalid for this polling URL; use the URL as returned (api-version '{expected}')."
            ),
        );
    }
    let retry = inner.config().retry_after.to_string();
    let Ok(s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let Some(op) = s.operations.get(id) else {
        return Reply::error(
            404,
            "OperationNotFound",
            &format!("The operation '{id}' was not found."),
        );
    };
    if status_url {
        let mut body = json!({"id": id, "name": id, "status": op.status()});
        match &op.outcome {
            Outcome::Fail { code, message } if op.status.is_some() => {
                body["error"] = json!({"code": code, "message": message});
            }
            Outcome::Cancel if op.status.is_some() => {
                body["error"] =
                    json!({"code": "OperationCanceled", "message": "The operation was canceled."});
            }
            _ => {}
        }
        let reply = Reply::json(200, body);
        return if op.status.is_none() {
            reply.header("retry-after", &retry)
        } else {
            reply
        };
    }
    match (op.status, &op.outcome, &op.action) {
        (None, ..) => Reply::empty(202)
            .header("location", self_url)
            .header("retry-after", &retry),
        (Some("Succeeded"), _, OpAction::Put { .. }) => match s.resources.get(&op.resource) {
            Some(r) => Reply::json(200, r.view()),
            None => Reply::empty(204),
        },
        (Some("Succeeded"), _, OpAction::DeleteGroup | OpAction::Purge { .. }) => Reply::empty(200),
        (Some("Succeeded"), ..) => Reply::empty(204),
        (_, Outcome::Fail { code, message }, _) => Reply::error(400, code, message),
        _ => Reply::error(409, "OperationCanceled", "The operation was canceled."),
    }
}
