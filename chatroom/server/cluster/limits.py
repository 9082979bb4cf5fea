"""`RedisLimits`: the limits that count across nodes (see `shared_limits`), in Redis.

Its keys, under the cluster's prefix (`chatroom:CLUSTER:`):
- `conns:NODE`, a hash: address -> that node's connections from it. A new connection is
  counted first, then every node's counts for its address are added up; over the limit
  it is taken back and refused (two nodes at once may both refuse, but never both accept
  past the limit). A node that is gone has its hash deleted with its presence.
- `fail:KEY`: failed logins for a username or an address, forgotten after `forget` quiet
  seconds; `lock:KEY`: there, with its expiry, while KEY is locked out. The lockouts grow
  as on one node (`LoginThrottle.lockout`).
- `reg:ADDRESS`: an address's registration token bucket (`TokenBucket`'s state).

When Redis cannot be reached, each node's own limits stand alone: nobody is refused
because Redis is down.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from chatroom.common.limits import Limits
from chatroom.server.shared_limits import SharedLimits
from chatroom.server.throttle import LoginThrottle, TokenBucket

log = logging.getLogger("chatroom.server")

RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
"""
"""One connection fewer from an address (ARGV[1]) in a node's hash (KEYS[1])."""


class RedisLimits(SharedLimits):
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        node: str,
        others: Callable[[], Iterable[str]],
        limits: Limits,
        throttle: LoginThrottle,
    ) -> None:
        """The limits of node `node` of the cluster whose keys start with `prefix`;
        `others` says which other nodes are up. The lockouts grow as `throttle`'s."""
        self._redis = client
        self._prefix = prefix
        self._node = node
        self._others = others
        self._limits = limits
        self._throttle = throttle
        self._here: Counter[str] = Counter()
        """This node's connections by address: written again after Redis restarts."""
        self._release = client.register_script(RELEASE)
        self._ended: list[str] = []
        """Addresses of connections ended and not yet taken off this node's hash."""
        self._releasing: asyncio.Task[None] | None = None

    def node_keys(self, node: str) -> list[str]:
        """The keys that are `node`'s own, deleted when it is gone."""
        return [f"{self._prefix}conns:{node}"]

    async def connection_opened(self, address: str) -> bool:
        (mine,) = self.node_keys(self._node)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(mine, address, 1)
                for node in self._others():
                    pipe.hget(self.node_keys(node)[0], address)
                counts = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            counts = []
        self._here[address] += 1
        if sum(int(count or 0) for count in counts) > self._limits.max_connections_per_ip:
            self.connection_closed(address)
            return False
        return True

    def connection_closed(self, address: str) -> None:
        self._here[address] -= 1
        if self._here[address] <= 0:
            del self._here[address]
        self._ended.append(address)
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.get_running_loop().create_task(self._release_ended())

    async def _release_ended(self) -> None:
        """Take the ended connections off this node's hash, those that ended together in
        one round trip."""
        (mine,) = self.node_keys(self._node)
        while self._ended:
            ended, self._ended = self._ended, []
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for address in ended:
                        await self._release(keys=[mine], args=[address], client=pipe)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self._unreachable(exc)

    def write_again(self, pipe: "aioredis.client.Pipeline") -> None:
        """Add to `pipe` this node's connection counts, whole (Redis may have restarted)."""
        (mine,) = self.node_keys(self._node)
        pipe.delete(mine)
        if self._here:
            pipe.hset(mine, mapping=dict(self._here))  # type: ignore[arg-type]

    async def check_lockout(self, keys: tuple[str, ...]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.pttl(f"{self._prefix}lock:{key}")
                left = max(await pipe.execute())
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return
        if left > 0:
            raise self._throttle.refusal(left / 1000)

    async def login_failed(self, keys: tuple[str, ...]) -> None:
        forget = int(self._throttle.forget)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(f"{self._prefix}fail:{key}")
                    pipe.expire(f"{self._prefix}fail:{key}", forget)
                counts = (await pipe.execute())[::2]
                for key, failures in zip(keys, counts, strict=True):
                    if (lockout := self._throttle.lockout(failures)) > 0:
                        pipe.set(f"{self._prefix}lock:{key}", failures, px=int(lockout * 1000))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    async def login_succeeded(self, key: str) -> None:
        try:
            await self._redis.delete(f"{self._prefix}fail:{key}", f"{self._prefix}lock:{key}")
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    async def take_registration(self, address: str) -> None:
        key = f"{self._prefix}reg:{address}"
        rate, burst = self._limits.register_rate, self._limits.register_burst
        bucket = TokenBucket(rate, burst, time.time)  # wall time: the nodes share it
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        stored, at = await pipe.hmget(key, ["tokens", "updated"])
                        if stored is not None and at is not None:
                            bucket.restore(float(stored), float(at))
                        bucket.take("registrations from your address")  # may raise
                        tokens, updated = bucket.state()
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.hset(key, mapping={"tokens": tokens, "updated": updated})
                        pipe.expire(key, int(burst / rate) + 1)
                        await pipe.execute()
                        return
                    except WatchError:  # another node took one meanwhile: count again
                        bucket = TokenBucket(rate, burst, time.time)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    def _unreachable(self, exc: BaseException) -> None:
        log.debug("Redis is unreachable (%s): limits count on this node alone", exc)
