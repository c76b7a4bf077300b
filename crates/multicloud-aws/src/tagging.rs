//! Tag conversions shared by the AWS service modules: the desired tags of a resource (its
//! `Name` plus the spec and ownership tags) in the shapes of the EC2 and IAM SDKs, and the
//! tags the services return as a plain map to judge ownership from.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, TagSpecification};
use multicloud_core::ProviderError;
use multicloud_core::provider::Owner;
use multicloud_core::tags::{Ownership, TAG_STACK};

/// The `Name` tag EC2 consoles display.
pub const TAG_NAME: &str = "Name";

/// The tags to put on a resource: `Name` = `name`, then `tags` (which carry the
/// `multicloud:*` ownership tags), then `extra` (service-specific tags).
pub fn desired_tags(
    name: &str,
    tags: &BTreeMap<String, String>,
    extra: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut all = tags.clone();
    all.insert(TAG_NAME.to_string(), name.to_string());
    for (k, v) in extra {
        all.insert(k.clone(), v.clone());
    }
    all
}

/// `tags` as EC2 tags.
pub fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

/// A `TagSpecification` putting `tags` on a new EC2 resource of type `resource_type`, so the
/// resource never exists untagged.
pub fn ec2_tag_spec(
    resource_type: ResourceType,
    tags: &BTreeMap<String, String>,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// EC2 tags as a map.
pub fn ec2_tag_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    crate::support::tag_map(tags)
}

/// An EC2 filter `name` = `value`.
pub fn ec2_filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The EC2 filter selecting every resource carrying a `multicloud:stack` tag.
pub fn ec2_owned_filter() -> Filter {
    ec2_filter("tag-key", TAG_STACK)
}

/// `tags` as IAM tags.
pub fn iam_tags(
    tags: &BTreeMap<String, String>,
) -> Result<Vec<aws_sdk_iam::types::Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ProviderError::invalid(format!("IAM tag `{k}`: {e}")))
        })
        .collect()
}

/// IAM tags as a map.
pub fn iam_tag_map(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    crate::support::tag_map(tags)
}

/// Who owns a resource carrying `tags`, from the point of view of `ownership`.
pub fn judge(ownership: &Ownership, tags: &BTreeMap<String, String>) -> Owner {
    ownership.judge(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_tags_put_name_and_extra_over_the_resource_tags() {
        let mut tags = BTreeMap::new();
        tags.insert(TAG_STACK.to_string(), "shop".to_string());
        tags.insert(TAG_NAME.to_string(), "ignored".to_string());
        let all = desired_tags("shop-dev-vpc", &tags, &[("k".into(), "v".into())]);
        assert_eq!(all.get(TAG_NAME).map(String::as_str), Some("shop-dev-vpc"));
        assert_eq!(all.get(TAG_STACK).map(String::as_str), Some("shop"));
        assert_eq!(all.get("k").map(String::as_str), Some("v"));
        assert_eq!(ec2_tag_map(&ec2_tags(&all)), all);
    }
}
