#!/usr/bin/env python3
"""moto's server, with the AWS behaviour multicloud relies on that moto 5.2.5 lacks.

Run with the moto venv's python, with moto_server's own arguments:

    python moto-server.py -H 127.0.0.1 -p PORT

What it adds, each as the AWS API reference describes it:

1. ElastiCache deletions complete. `DeleteReplicationGroup` answers with the group in
   `deleting`, and the group is gone afterwards (moto keeps it in `deleting` forever, so a
   teardown waiting for it never ends). Its tags go with it.
2. `DeleteCacheSubnetGroup` (moto has no such action): deletes the group, refused with
   `CacheSubnetGroupInUse` while a replication group or cache cluster (a deleting one
   included) still uses it, `CacheSubnetGroupNotFoundFault` when there is none.
3. Operations that take minutes on AWS take time here, when `MULTICLOUD_MOTO_PACE_MS` is a
   positive number of milliseconds (one unit): created resources go through their
   transitional status before they are ready, for a few units each, in the proportions of
   AWS: an EKS cluster `CREATING` 4 units, a node group `CREATING` 3, an RDS instance
   `creating` 3, an ElastiCache replication group `creating` 3 (and `deleting` 2), a NAT
   gateway `pending` 1. Unset or 0: ready at once, as moto is.
"""

import os
import threading

from moto.core.responses import EmptyResult
from moto.ec2.models.nat_gateways import NatGatewayBackend
from moto.eks.models import EKSBackend
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.rds.models import RDSBackend
from moto.server import main

PACE_SECONDS = float(os.environ.get("MULTICLOUD_MOTO_PACE_MS") or 0) / 1000.0


def later(units, action):
    """Runs `action` after `units` paces, or at once when unpaced."""
    if PACE_SECONDS <= 0:
        action()
        return
    timer = threading.Timer(units * PACE_SECONDS, action)
    timer.daemon = True
    timer.start()


def transition(resource, attribute, during, ready, units):
    """Sets `attribute` to `during`, and to `ready` after `units` (when paced)."""
    if PACE_SECONDS <= 0:
        return
    setattr(resource, attribute, during)

    def finish():
        if getattr(resource, attribute) == during:
            setattr(resource, attribute, ready)

    later(units, finish)


def paced(cls, method, attribute, during, ready, units):
    """Wraps `cls.method` (which returns the created resource) with a transition."""
    original = getattr(cls, method)

    def create(self, *args, **kwargs):
        resource = original(self, *args, **kwargs)
        transition(resource, attribute, during, ready, units)
        return resource

    setattr(cls, method, create)


paced(EKSBackend, "create_cluster", "status", "CREATING", "ACTIVE", 4)
paced(EKSBackend, "create_nodegroup", "status", "CREATING", "ACTIVE", 3)
paced(RDSBackend, "create_db_instance", "status", "creating", "available", 3)
paced(ElastiCacheBackend, "create_replication_group", "status", "creating", "available", 3)
paced(NatGatewayBackend, "create_nat_gateway", "state", "pending", "available", 1)


# ----- 1. ElastiCache replication groups go away once deleted -----

_delete_replication_group = ElastiCacheBackend.delete_replication_group


def delete_replication_group(self, replication_group_id, retain_primary_cluster):
    group = _delete_replication_group(self, replication_group_id, retain_primary_cluster)

    def gone():
        if self.replication_groups.get(replication_group_id) is group:
            self.replication_groups.pop(replication_group_id, None)
            self.tagging_service.delete_all_tags_for_resource(group.arn)

    later(2, gone)
    return group


ElastiCacheBackend.delete_replication_group = delete_replication_group


# ----- 2. DeleteCacheSubnetGroup -----


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"


def delete_cache_subnet_group(self, cache_subnet_group_name):
    group = self.cache_subnet_groups.get(cache_subnet_group_name)
    if group is None:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    users = list(self.replication_groups.values()) + list(self.cache_clusters.values())
    if any(u.cache_subnet_group_name == cache_subnet_group_name for u in users):
        raise CacheSubnetGroupInUse(
            f"Cache subnet group {cache_subnet_group_name} is currently in use by a cache cluster."
        )
    self.cache_subnet_groups.pop(cache_subnet_group_name, None)
    self.tagging_service.delete_all_tags_for_resource(group.arn)


def respond_delete_cache_subnet_group(self):
    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group
ElastiCacheResponse.delete_cache_subnet_group = respond_delete_cache_subnet_group


if __name__ == "__main__":
    main()
