"""The cache on a Redis Cluster (ElastiCache in cluster mode): a django-redis client class.

``REDIS_CLUSTER=1`` with ``REDIS_URL`` naming any node (ElastiCache: the configuration
endpoint) makes the default cache a ``redis.cluster.RedisCluster``, which learns the slot
map from that node and sends each command to the node that owns its key's slot, following
MOVED/ASK redirections after a resharding or a failover.

A cluster refuses a multi-key command whose keys lie in different slots (CROSSSLOT). The
keys that travel together share a hash tag (radiant/cache_keys.py): a tenant's rate-limit
script, auth generation and cached responses are all in its slot. What django-redis itself
sends with several keys is split here: ``get_many`` reads slot by slot (redis-py's
``mget_nonatomic``), ``set_many`` and ``delete_many`` go through the cluster's pipeline and
its per-slot DEL. ``clear`` (tests) flushes every primary. The hot path's own round trips
use the cluster pipeline (radiant/redis_wire.py).

Sessions (single keys) and the limiter work unchanged. Celery cannot use a cluster as its
broker: see ``CELERY_BROKER_URL`` in radiant/settings.py.
"""

from __future__ import annotations

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError


class ClusterClient(DefaultClient):
    cluster = True

    def connect(self, index: int = 0) -> RedisCluster:
        options = self._options
        return RedisCluster.from_url(
            self._server[index],
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT"),
            socket_timeout=options.get("SOCKET_TIMEOUT"),
        )

    def get_many(self, keys, version=None, client=None):
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        made = {self.make_key(key, version=version): key for key in keys}
        try:
            values = client.mget_nonatomic(list(made))
        except (RedisError, RedisClusterException, OSError) as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {made[key]: self.decode(value) for key, value in zip(made, values) if value is not None}

    def disconnect(self, index: int = 0, client=None) -> None:
        client = self._clients[index] if client is None else client
        if client is not None:
            client.close()
