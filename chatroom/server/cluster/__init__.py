"""Several server nodes as one chatroom, over Redis (`--hub redis://...`) and a shared
PostgreSQL store: `RedisHub` routes among the nodes and keeps presence global (`hub`),
catches up from the store after losing touch (`catch_up`), keeps what the other nodes
say of their users (`presence`) and the limits that count across nodes (`limits`)."""

from chatroom.server.cluster.hub import HEARTBEAT, NODE_TTL, RETRY, RedisHub

__all__ = ["HEARTBEAT", "NODE_TTL", "RETRY", "RedisHub"]
