//! ARM's list operations, paged ([`Listing::page`]): resource groups of the subscription
//! (`ResourceGroups_List`), the generic resource lists of a group or subscription
//! (`Resources_ListByResourceGroup`, `Resources_List`) with their `$filter`, the resources
//! of one type in a group or subscription (`ManagedClusters_ListByResourceGroup`,
//! `ManagedClusters_List`...), and the children of a resource (`AgentPools_List`...).

use serde_json::{Value, json};

use crate::Inner;
use crate::paging::{Listing, param};
use crate::reply::Reply;
use crate::store::{Resource, Store};

/// What a `$filter` keeps.
#[derive(Debug, PartialEq, Eq)]
enum Filter {
    /// Everything.
    All,
    /// Resources with tag `name` (case-insensitive), with `value` if given.
    Tag { name: String, value: Option<String> },
    /// Resources of this type (case-insensitive).
    Type(String),
}

impl Filter {
    /// `tagName eq 'x'`, `tagName eq 'x' and tagValue eq 'y'` or `resourceType eq 'ns/type'`
    /// (the forms the emulator serves); ARM's 400 otherwise.
    fn parse(filter: Option<&str>) -> Result<Self, Reply> {
        let Some(text) = filter else {
            return Ok(Self::All);
        };
        let clauses: Vec<Option<(String, String)>> =
            split_and(text).into_iter().map(clause).collect();
        let parsed = match clauses.as_slice() {
            [Some((k, v))] if k == "tagname" => Some(Self::Tag {
                name: v.clone(),
                value: None,
            }),
            [Some((k, v)), Some((k2, v2))] if k == "tagname" && k2 == "tagvalue" => {
                Some(Self::Tag {
                    name: v.clone(),
                    value: Some(v2.clone()),
                })
            }
            [Some((k, v))] if k == "resourcetype" => Some(Self::Type(v.clone())),
            _ => None,
        };
        parsed.ok_or_else(|| invalid_filter(text))
    }

    fn keeps(&self, body: &Value) -> bool {
        match self {
            Self::All => true,
            Self::Type(t) => body
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|bt| bt.eq_ignore_ascii_case(t)),
            Self::Tag { name, value } => body
                .get("tags")
                .and_then(Value::as_object)
                .and_then(|tags| tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .is_some_and(|(_, v)| value.as_ref().is_none_or(|want| v == want)),
        }
    }
}

/// ARM's 400 for a `$filter` it does not understand.
fn invalid_filter(text: &str) -> Reply {
    Reply::bad_request(
        "InvalidFilterInQueryString",
        &format!("Invalid $filter '{text}' specified in the query string."),
    )
}

/// The clauses of `text` joined by ` and ` (any case).
fn split_and(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = lower[start..].find(" and ") {
        out.push(text[start..start + i].trim());
        start += i + 5;
    }
    out.push(text[start..].trim());
    out
}

/// `<field> eq '<value>'`: the lower-cased field and the value (`''` is a quote).
fn clause(text: &str) -> Option<(String, String)> {
    let (field, rest) = text.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace)?;
    let value = value.trim();
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    (op.eq_ignore_ascii_case("eq") && !inner.replace("''", "").contains('\''))
        .then(|| (field.to_ascii_lowercase(), inner.replace("''", "'")))
}

fn poisoned() -> Reply {
    Reply::error(500, "InternalServerError", "store poisoned")
}

fn group_not_found(rg: &str) -> Reply {
    Reply::error(
        404,
        "ResourceGroupNotFound",
        &format!("Resource group '{rg}' could not be found."),
    )
}

/// The visible resources whose key `keep` accepts, with their key, as `show` shows them.
fn select(
    s: &Store,
    keep: impl Fn(&str, &Resource) -> bool,
    show: impl Fn(&Resource) -> Value,
) -> Vec<(String, Value)> {
    s.resources
        .iter()
        .filter(|(k, r)| r.visible && keep(k, r))
        .map(|(k, r)| (k.clone(), show(r)))
        .collect()
}

/// Whether `key` is a top-level resource (`.../providers/<ns>/<type>/<name>`) directly
/// under `scope` (a group key, or a subscription key for any group).
fn top_level_under(key: &str, scope: &str) -> bool {
    let Some(rest) = key.strip_prefix(scope).filter(|r| r.starts_with('/')) else {
        return false;
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    matches!(
        segs.as_slice(),
        ["providers", _, _, _] | ["resourcegroups", _, "providers", _, _, _]
    )
}

/// `GET /subscriptions/{sub}/resourcegroups` (`$filter` by tag, paged).
pub(crate) fn groups(inner: &Inner, listing: Listing<'_>, sub: &str) -> Reply {
    let text = param(listing.uri, "$filter");
    let filter = match Filter::parse(text.as_deref()) {
        Ok(Filter::Type(_)) => return invalid_filter(text.as_deref().unwrap_or_default()),
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let prefix = format!("/subscriptions/{sub}/resourcegroups/").to_ascii_lowercase();
    let Ok(s) = inner.store.lock() else {
        return poisoned();
    };
    let items = select(
        &s,
        |k, r| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/'))
                && filter.keeps(&r.body)
        },
        Resource::view,
    );
    listing.page(items)
}

/// `GET {scope}/resources`: the top-level resources of a group (`rg`) or of the
/// subscription, as ARM's GenericResource (id, name, type, location, tags); `$filter` by
/// tag or type. Filtered by tag name and value, the tags are left out, as ARM does.
pub(crate) fn resources(inner: &Inner, listing: Listing<'_>, sub: &str, rg: Option<&str>) -> Reply {
    let filter = match Filter::parse(param(listing.uri, "$filter").as_deref()) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let scope = scope_key(sub, rg);
    let Ok(s) = inner.store.lock() else {
        return poisoned();
    };
    if let Some(rg) = rg.filter(|_| !s.resources.contains_key(&scope)) {
        return group_not_found(rg);
    }
    let without_tags = matches!(filter, Filter::Tag { value: Some(_), .. });
    let items = select(
        &s,
        |k, r| top_level_under(k, &scope) && filter.keeps(&r.body),
        |r| {
            let b = &r.body;
            let mut item = json!({"id": b["id"], "name": b["name"], "type": b["type"],
                                  "location": b.get("location")});
            if !without_tags {
                item["tags"] = b.get("tags").cloned().unwrap_or(json!({}));
            }
            item
        },
    );
    listing.page(items)
}

/// `GET {scope}/providers/{ns}/{type}`: the resources of `rtype` in group `rg` or in the
/// whole subscription, as GET shows them.
pub(crate) fn of_type(
    inner: &Inner,
    listing: Listing<'_>,
    sub: &str,
    rg: Option<&str>,
    rtype: &str,
) -> Reply {
    let scope = scope_key(sub, rg);
    let Ok(s) = inner.store.lock() else {
        return poisoned();
    };
    if let Some(rg) = rg.filter(|_| !s.resources.contains_key(&scope)) {
        return group_not_found(rg);
    }
    let want = Filter::Type(rtype.to_string());
    let items = select(
        &s,
        |k, r| top_level_under(k, &scope) && want.keeps(&r.body),
        Resource::view,
    );
    listing.page(items)
}

/// `GET {parent}/{childType}` (or `{parent}/providers/{ns}/{type}` for extension
/// resources): the resources directly in the collection, as GET shows them; ARM's 404
/// when the parent does not exist.
pub(crate) fn children(
    inner: &Inner,
    listing: Listing<'_>,
    parent: &str,
    collection: &str,
) -> Reply {
    let prefix = format!("{}/", collection.to_ascii_lowercase());
    let Ok(s) = inner.store.lock() else {
        return poisoned();
    };
    let parts: Vec<&str> = parent.split('/').collect();
    let group = parts.get(4).copied().unwrap_or_default();
    if !s.resources.contains_key(&scope_key(
        parts.get(2).copied().unwrap_or_default(),
        Some(group),
    )) {
        return group_not_found(group);
    }
    if !s
        .resources
        .get(&parent.to_ascii_lowercase())
        .is_some_and(|r| r.visible)
    {
        let name = parent.rsplit('/').next().unwrap_or_default();
        return Reply::error(
            404,
            "ParentResourceNotFound",
            &format!(
                "Can not perform requested operation on nested resource. Parent resource '{name}' not found."
            ),
        );
    }
    let items = select(
        &s,
        |k, _| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        },
        Resource::view,
    );
    listing.page(items)
}

/// The lower-cased key of group `rg`, or of the subscription.
fn scope_key(sub: &str, rg: Option<&str>) -> String {
    match rg {
        Some(rg) => format!("/subscriptions/{sub}/resourcegroups/{rg}"),
        None => format!("/subscriptions/{sub}"),
    }
    .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::Filter;
    use serde_json::json;

    #[test]
    fn filters_parse_as_arm_documents_them_and_refuse_the_rest() {
        let tag = Filter::parse(Some("tagName eq 'env' and tagValue eq 'it''s'"));
        assert_eq!(
            tag.ok(),
            Some(Filter::Tag {
                name: "env".into(),
                value: Some("it's".into())
            })
        );
        let name_only = Filter::parse(Some("TAGNAME EQ 'env'")).ok();
        assert!(
            name_only
                .as_ref()
                .is_some_and(|f| f.keeps(&json!({"tags": {"Env": "x"}})))
        );
        assert!(name_only.is_some_and(|f| !f.keeps(&json!({"tags": {}}))));
        for bad in [
            "name eq 'x'",
            "tagName ne 'x'",
            "tagName eq x",
            "",
            "tagValue eq 'y'",
        ] {
            assert!(Filter::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
