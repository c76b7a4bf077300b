//! List operations of the emulator (what the sweeper reads): resource groups of the
//! subscription (`ResourceGroups_List`) and the resources in a group (`Resources_ListByResourceGroup`).

use serde_json::{Value, json};

use super::Inner;
use super::reply::Reply;

/// `GET /subscriptions/{sub}/resourcegroups`.
pub(crate) fn groups(inner: &Inner, sub: &str) -> Reply {
    let prefix = format!("/subscriptions/{sub}/resourcegroups/").to_ascii_lowercase();
    let Ok(s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let value: Vec<Value> = s
        .resources
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .map(|(_, r)| r.view())
        .collect();
    Reply::json(200, json!({ "value": value }))
}

/// `GET /subscriptions/{sub}/resourceGroups/{rg}/resources`: the top-level resources of the
/// group (id, name, type, location, tags).
pub(crate) fn in_group(inner: &Inner, sub: &str, rg: &str) -> Reply {
    let group = format!("/subscriptions/{sub}/resourcegroups/{rg}").to_ascii_lowercase();
    let prefix = format!("{group}/providers/");
    let Ok(s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    if !s.resources.contains_key(&group) {
        return Reply::error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        );
    }
    let value: Vec<Value> = s
        .resources
        .iter()
        .filter(|(k, r)| {
            r.visible
                && k.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.split('/').count() == 3)
        })
        .map(|(_, r)| {
            let b = &r.body;
            json!({"id": b["id"], "name": b["name"], "type": b["type"],
                   "location": b.get("location"), "tags": b.get("tags")})
        })
        .collect();
    Reply::json(200, json!({ "value": value }))
}
