//! The ARM side of the emulator: resource groups, the generic resource store with the three
//! LRO patterns, and the operation status / result URLs.

use axum::http::{Method, Uri};
use serde_json::{Value, json};

use crate::lro::{duration_of, lro_headers, op_urls, poll, start_op};
use crate::paging::{Listing, param};
use crate::reply::Reply;
use crate::store::{LroPattern, OpAction, Outcome, Resource, Store};
use crate::{ARM_ENDPOINT as ARM, Inner, keyvault, list};
/// The api-version of resource-group delete polling URLs (as in
/// `ForceDeleteVMsInResourceGroup.json`).
const GROUP_POLL_VERSION: &str = "2018-08-01";

/// Routes one ARM request; `base` is the endpoint the client called (for `nextLink`s).
pub(crate) fn handle(inner: &Inner, method: &Method, uri: &Uri, body: &[u8], base: &str) -> Reply {
    let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    if lower.len() < 2 || lower[0] != "subscriptions" {
        return no_route(uri);
    }
    if param(uri, "api-version").is_none() {
        return Reply::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let get = method == Method::GET;
    let listing = Listing {
        base,
        uri,
        page_size: inner.config().page_size,
    };
    let (sub, polling) = (segs[1], inner.config().polling_api_version);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    match l[2..] {
        ["operationresults", _] => poll(inner, uri, segs[3], false, GROUP_POLL_VERSION),
        ["providers", _, "locations", _, "operationstatuses", _] => {
            poll(inner, uri, segs[7], true, &polling)
        }
        ["providers", _, "locations", _, "operationresults", _] => {
            poll(inner, uri, segs[7], false, &polling)
        }
        [
            "providers",
            "microsoft.keyvault",
            "deletedvaults" | "locations",
            ..,
        ] => keyvault::deleted_vaults(inner, method, &segs),
        ["providers", _, _] if get => {
            let rtype = format!("{}/{}", segs[3], segs[4]);
            list::of_type(inner, listing, sub, None, &rtype)
        }
        ["resources"] if get => list::resources(inner, listing, sub, None),
        ["resourcegroups"] if get => list::groups(inner, listing, sub),
        ["resourcegroups", _, "resources"] if get => {
            list::resources(inner, listing, sub, Some(segs[3]))
        }
        ["resourcegroups", _] => group(inner, method, sub, segs[3], body),
        ["resourcegroups", _, "providers", _, _] if get => {
            let rtype = format!("{}/{}", segs[5], segs[6]);
            list::of_type(inner, listing, sub, Some(segs[3]), &rtype)
        }
        ["resourcegroups", _, "providers", _, _, _, ..] => {
            in_provider(inner, method, &segs, body, listing)
        }
        _ => no_route(uri),
    }
}

/// ARM's 404 for a path it has no route for.
fn no_route(uri: &Uri) -> Reply {
    Reply::error(
        404,
        "InvalidRequestUri",
        &format!("No route for {}", uri.path()),
    )
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/...]`: a
/// resource, a POST action on it, or (GET) the list of a child collection.
fn in_provider(
    inner: &Inner,
    method: &Method,
    segs: &[&str],
    body: &[u8],
    listing: Listing<'_>,
) -> Reply {
    let rest = &segs[6..];
    let (path, last) = if rest.len() % 2 == 1 {
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
    match last {
        Some(child) if method == Method::GET => {
            // `<parent>/providers/<ns>/<type>` lists extension resources of the parent.
            let extension =
                path.len() >= 2 && path[path.len() - 2].eq_ignore_ascii_case("providers");
            let parent = match id.rsplitn(3, '/').nth(2) {
                Some(p) if extension => p.to_string(),
                _ => id.clone(),
            };
            list::children(inner, listing, &parent, &format!("{id}/{child}"))
        }
        Some(a) if method == Method::POST => post_action(inner, &id, &rtype, a),
        Some(a) => Reply::bad_request(
            "UnsupportedAction",
            &format!("the emulator does not serve the action `{a}`"),
        ),
        None => resource(inner, method, &id, &rtype, body),
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
        Some(b) => crate::actions::action(inner, rtype, action, &b),
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

/// `GET`, `PUT` or `DELETE` of resource group `rg`.
fn group(inner: &Inner, method: &Method, sub: &str, rg: &str, body: &[u8]) -> Reply {
    let key = group_key(sub, rg);
    let Ok(mut s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let existing = s.resources.get(&key).cloned();
    match (method.as_str(), existing) {
        ("GET", Some(r)) => Reply::json(200, r.view()),
        ("PUT", existing) => put_group(&mut s, sub, rg, existing, body),
        ("DELETE", Some(r)) => delete_group(inner, &mut s, sub, rg, &r),
        ("GET" | "DELETE", None) => Reply::error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        ),
        _ => Reply::error(405, "MethodNotAllowed", "The method is not allowed."),
    }
}

/// ARM's 409 while group `rg` is being deleted.
fn group_being_deleted(rg: &str) -> Reply {
    Reply::error(
        409,
        "ResourceGroupBeingDeleted",
        &format!(
            "The resource group '{rg}' is in deprovisioning state and cannot perform this operation."
        ),
    )
}

/// `PUT` of resource group `rg` (synchronous: 201 created, 200 updated).
fn put_group(s: &mut Store, sub: &str, rg: &str, existing: Option<Resource>, body: &[u8]) -> Reply {
    if !valid_group_name(rg) {
        return Reply::bad_request(
            "InvalidResourceGroupName",
            &format!(
                "Resource group name '{rg}' is invalid. It must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')' and not end with '.'."
            ),
        );
    }
    if existing.as_ref().is_some_and(|r| r.busy.is_some()) {
        return group_being_deleted(rg);
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
    let resource = Resource {
        body: json!({
            "id": format!("/subscriptions/{sub}/resourceGroups/{rg}"),
            "name": rg,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "tags": req.get("tags").cloned().unwrap_or(json!({})),
            "properties": {"provisioningState": "Succeeded"},
        }),
        state: "Succeeded".into(),
        visible: true,
        busy: None,
    };
    let view = resource.view();
    s.resources.insert(group_key(sub, rg), resource);
    Reply::json(if existing.is_some() { 200 } else { 201 }, view)
}

/// `DELETE` of resource group `rg` (`r`): at once, or `202` + `Location` when deleting
/// groups takes time.
fn delete_group(inner: &Inner, s: &mut Store, sub: &str, rg: &str, r: &Resource) -> Reply {
    if r.busy.is_some() {
        return group_being_deleted(rg);
    }
    let key = group_key(sub, rg);
    let config = inner.config();
    let d = duration_of(&config, "microsoft.resources/resourcegroups");
    if d.is_zero() {
        s.remove_tree(&key, inner.unix());
        return Reply::empty(200);
    }
    let id = start_op(s, inner, &key, OpAction::DeleteGroup, d, Outcome::Succeed);
    if let Some(r) = s.resources.get_mut(&key) {
        r.state = "Deleting".into();
        r.busy = Some(id.clone());
    }
    let url =
        format!("{ARM}/subscriptions/{sub}/operationresults/{id}?api-version={GROUP_POLL_VERSION}");
    Reply::empty(202)
        .header("location", &url)
        .header("retry-after", &config.retry_after.to_string())
}

fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .as_object()
        .cloned()
}

fn resource(inner: &Inner, method: &Method, id: &str, rtype: &str, body: &[u8]) -> Reply {
    let key = id.to_ascii_lowercase();
    let parts: Vec<&str> = id.split('/').collect();
    let (sub, rg) = (parts[2], parts[4]);
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
        "DELETE" => match existing {
            Some(r) => delete_resource(inner, &mut s, id, rtype, &r),
            None => Reply::empty(204),
        },
        _ => Reply::error(405, "MethodNotAllowed", "The method is not allowed."),
    }
}

/// How the next operation on `rtype` goes: its duration and outcome (an injected failure
/// is used up).
fn next_op(
    s: &mut Store,
    config: &crate::EmulatorConfig,
    rtype: &str,
) -> (std::time::Duration, Outcome) {
    let outcome = s
        .fail_next
        .remove(&rtype.to_ascii_lowercase())
        .unwrap_or(Outcome::Succeed);
    (duration_of(config, rtype), outcome)
}

/// ARM's 409 while operation `op` runs on resource `id`.
fn in_progress(op: &str, id: &str) -> Reply {
    Reply::error(
        409,
        "AnotherOperationInProgress",
        &format!("Operation '{op}' is in progress on resource '{id}'; retry later."),
    )
}

/// `DELETE` of the live resource `r` (`id`): at once (vaults are soft-deleted), or an
/// operation answered with the type's delete pattern.
fn delete_resource(inner: &Inner, s: &mut Store, id: &str, rtype: &str, r: &Resource) -> Reply {
    let key = id.to_ascii_lowercase();
    if let Some(op) = &r.busy {
        return in_progress(op, id);
    }
    if crate::store::is_vault(&r.body) {
        s.remove_tree(&key, inner.unix());
        return Reply::empty(200);
    }
    let config = inner.config();
    let (d, outcome) = next_op(s, &config, rtype);
    if d.is_zero() && outcome == Outcome::Succeed {
        s.remove_tree(&key, inner.unix());
        return Reply::empty(200);
    }
    let op = start_op(s, inner, &key, OpAction::Delete, d, outcome);
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
    let parts: Vec<&str> = id.split('/').collect();
    let (status_url, result_url) = op_urls(inner, parts[2], parts[6], location, &op);
    lro_headers(
        Reply::empty(202),
        pattern,
        &status_url,
        &result_url,
        config.retry_after,
    )
}

/// The body a `PUT` of `id` stores, once ARM's checks pass (parent, name, no operation
/// running, a JSON object, Key Vault's global names): the request with id, name, type and
/// what ARM fills in.
fn put_body(
    inner: &Inner,
    s: &mut Store,
    id: &str,
    rtype: &str,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, Reply> {
    let parts: Vec<&str> = id.split('/').collect();
    let name = parts[parts.len() - 1];
    if let Some(parent) = crate::actions::parent_of(id)
        && !s.resources.get(&parent).is_some_and(|p| p.visible)
    {
        return Err(Reply::error(
            404,
            "ParentResourceNotFound",
            &format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parts[parts.len() - 3]
            ),
        ));
    }
    if let Some(reply) = crate::names::check_name(rtype, name) {
        return Err(reply);
    }
    if let Some(op) = s
        .resources
        .get(&id.to_ascii_lowercase())
        .and_then(|r| r.busy.clone())
    {
        return Err(in_progress(&op, id));
    }
    let mut req = json_object(body).ok_or_else(|| {
        Reply::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    })?;
    if crate::store::is_vault(&json!({"type": rtype}))
        && let Some(reply) = keyvault::before_put(inner, s, id, name, &mut req)
    {
        return Err(reply);
    }
    req.insert("id".into(), json!(id));
    req.insert("name".into(), json!(name));
    req.insert("type".into(), json!(rtype));
    req.entry("properties").or_insert(json!({}));
    if let Some(password) = req
        .get("properties")
        .and_then(|p| p.get("administratorLoginPassword"))
        .and_then(Value::as_str)
    {
        s.admin_passwords
            .insert(id.to_ascii_lowercase(), password.to_string());
    }
    crate::actions::enrich(inner, rtype, id, &mut req);
    if rtype.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments")
        && let Some(scope) = crate::actions::parent_of(id)
    {
        s.rbac_changed.insert(scope, inner.now());
    }
    Ok(req)
}

/// `PUT` of `id`: stored at once, or an operation answered with the type's PUT pattern.
fn put(
    inner: &Inner,
    s: &mut Store,
    id: &str,
    rtype: &str,
    existing: Option<Resource>,
    body: &[u8],
) -> Reply {
    let req = match put_body(inner, s, id, rtype, body) {
        Ok(req) => req,
        Err(reply) => return reply,
    };
    let key = id.to_ascii_lowercase();
    let parts: Vec<&str> = id.split('/').collect();
    let config = inner.config();
    let (d, outcome) = next_op(s, &config, rtype);
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
