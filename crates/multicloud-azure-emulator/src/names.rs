//! ARM's name rules for the types the stack creates (an ARM-shaped 400 otherwise).

use crate::reply::Reply;

/// A name check for the types whose rules the spec states (ARM-shaped 400 otherwise).
pub(crate) fn check_name(rtype: &str, name: &str) -> Option<Reply> {
    let n = name.chars().count();
    let alnum = name.chars().all(|c| c.is_ascii_alphanumeric());
    let ok = match rtype.to_ascii_lowercase().as_str() {
        "microsoft.keyvault/vaults" => crate::keyvault::valid_vault_name(name),
        "microsoft.containerregistry/registries" => (5..=50).contains(&n) && alnum,
        "microsoft.containerservice/managedclusters/agentpools" => {
            (1..=12).contains(&n)
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        "microsoft.dbforpostgresql/flexibleservers" => {
            (3..=63).contains(&n)
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-')
        }
        "microsoft.containerservice/managedclusters" | "microsoft.cache/redisenterprise" => {
            (1..=63).contains(&n)
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        }
        _ => (1..=260).contains(&n),
    };
    (!ok).then(|| {
        Reply::bad_request(
            "InvalidResourceName",
            &format!("Resource name {name} is invalid for type {rtype}."),
        )
    })
}
