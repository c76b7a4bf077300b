//! Private access to the cache: with a network, the Azure Managed Redis cluster takes no
//! public traffic, and the graph gains its way in from the virtual network — the
//! `privatelink.redis.azure.net` private DNS zone linked to the network, a private endpoint
//! in the cluster subnet, and the endpoint's DNS zone group (Azure keeps the `A` record), so
//! the cache's host name resolves to its private address for the apps, as PostgreSQL's
//! private access does.

use multicloud_core::expand::ExpandError;
use multicloud_core::resource::{Resource, ResourceGraph};
use multicloud_core::spec::StackSpec;

use super::{Names, ids};
use crate::kinds;
use crate::model::{
    DnsZoneGroupConfig, DnsZoneLinkConfig, PrivateDnsZoneConfig, PrivateEndpointConfig,
};
use crate::resources::endpoint::{REDIS_GROUP_ID, REDIS_PRIVATE_ZONE};

/// The cache's zone, its link, the private endpoint and its zone group, when the stack has
/// both a cache and a network.
pub(super) fn cache(spec: &StackSpec, n: &Names, g: &mut ResourceGraph) -> Result<(), ExpandError> {
    if spec.cache.is_none() || !spec.has_network() {
        return Ok(());
    }
    let rg = || n.group.clone();
    g.add(
        Resource::new(kinds::PRIVATE_DNS_ZONE, "redis", REDIS_PRIVATE_ZONE)
            .depends_on(&ids::group())
            .with_config(&PrivateDnsZoneConfig {
                resource_group: rg(),
            })?,
    )?;
    g.add(
        Resource::new(kinds::DNS_ZONE_LINK, "redis", n.name("redis-link", 80))
            .depends_on(&ids::redis_zone())
            .depends_on(&ids::vnet())
            .with_config(&DnsZoneLinkConfig {
                resource_group: rg(),
                zone: REDIS_PRIVATE_ZONE.into(),
                virtual_network: ids::vnet(),
            })?,
    )?;
    let endpoint = n.name("redis-pe", 80);
    g.add(
        Resource::new(kinds::PRIVATE_ENDPOINT, "cache", &endpoint)
            .depends_on(&ids::cache())
            .depends_on(&ids::vnet())
            .with_config(&PrivateEndpointConfig {
                resource_group: rg(),
                target: ids::cache(),
                group_id: REDIS_GROUP_ID.into(),
                virtual_network: ids::vnet(),
            })?,
    )?;
    g.add(
        Resource::new(kinds::PRIVATE_DNS_ZONE_GROUP, "cache", "default")
            .depends_on(&ids::cache_endpoint())
            .depends_on(&ids::redis_zone())
            .depends_on(&ids::redis_zone_link())
            .with_config(&DnsZoneGroupConfig {
                resource_group: rg(),
                endpoint,
                zone: ids::redis_zone(),
            })?,
    )?;
    Ok(())
}
