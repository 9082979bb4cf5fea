"""Routing among several server nodes over Redis: `RedisHub` (`--hub redis://HOST:PORT`).

Each node keeps the in-process `Hub` for its own connections and tells the other nodes,
through one Redis pub/sub channel, what it sent: "this push to these users", "to this
room", "to everyone". A push is encoded once, by the node that sends it: what travels is
its frame, which every node writes to its own connections as it is. A message is stored
(in the shared PostgreSQL) before it is sent, so what travels through Redis is only ever
a copy of what the store has.

Presence is global. Each node keeps, in a Redis hash of its own, what others see of its
users, announces every change on the channel, and renews a key that expires NODE_TTL
seconds after its last heartbeat. A node whose key has expired is gone: every other
node forgets its users (and announces them offline) within NODE_TTL + HEARTBEAT seconds.

Events are gathered and published together, one Redis message per loop turn. When Redis
is unreachable, events are dropped: they are copies, and the store has every message.
Once Redis is back, each node writes its presence again and reads everyone else's, and
catches up from the store (`catch_up`). The limits that count across nodes are kept in
Redis too (`limits`).
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason, Push, Relayed
from chatroom.server.cluster.catch_up import Marks, MessageLog, send_again
from chatroom.server.cluster.limits import RedisLimits
from chatroom.server.cluster.presence import RemotePresence
from chatroom.server.hub import OFFLINE, Hub, Recipient, Shown
from chatroom.server.throttle import LoginThrottle

log = logging.getLogger("chatroom.server")

HEARTBEAT = 1.0
"""Seconds between a node's heartbeats (and its look for nodes gone)."""
NODE_TTL = 3.0
"""Seconds after its last heartbeat that a node counts as gone."""
RETRY = 0.5
"""Seconds between attempts to reach Redis again."""
EVENTS = "events:2"
"""The channel's name, with the version of the events on it: nodes that would misread
each other's events (since version 2 a push travels as its frame, not its envelope) do
not hear each other at all. Every node of a cluster runs the same version."""
REDIS_CONNECTIONS = 32
"""Connections to Redis a node uses at most (one of them listening)."""
REDIS_WAIT = 5.0
"""Seconds a Redis command waits for one of them to be free before it fails."""


def _text(value: bytes | str) -> str:
    """A name as Redis gives it back (bytes: the client does not decode)."""
    return value.decode() if isinstance(value, bytes) else value


def connect_redis(url: str) -> aioredis.Redis:
    """A client of the Redis at `url` whose commands wait for one of its few connections
    to be free: redis-py's default pool refuses past 100, which a burst of connections
    (each counted in Redis) would reach."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT
    )
    return aioredis.Redis(connection_pool=pool)


class RedisHub(Hub):
    """The hub of one node among several: local delivery as `Hub`, and the same sent to
    the other nodes through Redis."""

    def __init__(self, url: str, cluster: str, messages: MessageLog) -> None:
        """Join the nodes of `cluster` (the name their shared store gives them) through
        the Redis at `url`: its keys and channel start with `chatroom:CLUSTER:`.
        `messages` are read again after losing touch."""
        super().__init__()
        self._messages = messages
        self._marks = Marks()
        self._subscribed = False
        self.node = uuid.uuid4().hex[:12]
        self._own = msgpack.packb([self.node, []])[:-1]
        """How this node's own events begin on the channel, where it hears them too: the
        array's header and the node's name (then the events: `[]` is one byte)."""
        self._prefix = f"chatroom:{cluster}:"
        self._channel = self._prefix + EVENTS
        self._nodes = self._prefix + "nodes"
        """The set of the nodes that have said they are up."""
        self._redis = connect_redis(url)
        self._outbox: list[list[Any]] = []
        self._wake = asyncio.Event()
        self._remote = RemotePresence()
        self._synced = False
        """Whether this node's presence in Redis is whole (false after an outage)."""
        self._patient_until = 0.0
        """Until when (loop time) a node missing from Redis is not taken for gone: after
        an outage, while the others write their presence again."""
        self._tasks: list[asyncio.Task[None]] = []
        self._others: list[str] = []
        """The other nodes up, as of the last heartbeat."""
        self._limits: RedisLimits | None = None
        self.status_heard: Callable[[str], None] = lambda username: None
        """Called with a user whose status another node changed (the server's StatusKeeper)."""

    def shared_limits(self, limits: Limits, throttle: LoginThrottle) -> RedisLimits:
        self._limits = RedisLimits(
            self._redis, self._prefix, self.node, lambda: self._others, limits, throttle
        )
        return self._limits

    def _node_keys(self, node: str) -> list[str]:
        """The keys of `node`'s own: deleted when it leaves or is gone."""
        limits = self._limits.node_keys(node) if self._limits is not None else []
        return [self._presence_key(node), self._alive_key(node), *limits]

    def _alive_key(self, node: str) -> str:
        return f"{self._prefix}node:{node}"

    def _presence_key(self, node: str) -> str:
        return f"{self._prefix}presence:{node}"

    async def start(self) -> None:
        """Join the other nodes; raises RedisError (OSError) if Redis cannot be reached."""
        await self._redis.ping()
        self._marks = Marks(await self._messages.newest_mid())
        await self._sync()
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._publish()),
            asyncio.create_task(self._keep_alive()),
        ]

    async def stop(self) -> None:
        """Leave: the others forget this node's users at once (not after NODE_TTL)."""
        self.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(RedisError, OSError):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(*self._node_keys(self.node))
                pipe.srem(self._nodes, self.node)
                pipe.publish(self._channel, msgpack.packb([self.node, [["gone"]]]))
                await pipe.execute()
        await self._redis.aclose()

    # -- what this node sends: here, and to the others ---------------------------------

    def _relay(self, *event: Any) -> None:
        self._outbox.append(list(event))
        self._wake.set()

    def to_room(
        self, conv: int, push: Push, exclude: str | None = None, skip: Recipient | None = None
    ) -> None:
        super().to_room(conv, push, exclude, skip)
        self._relay("room", conv, push.frame(), self._marks.seen(push.message_mid()), exclude)

    def to_users(
        self,
        usernames: list[str],
        push: Push,
        skip: Recipient | None = None,
        feature: str | None = None,
    ) -> bool:
        online = super().to_users(usernames, push, skip, feature)
        mid = self._marks.seen(push.message_mid())
        self._relay("users", usernames, push.frame(), mid, feature)
        return online

    def carbons(self, sender: str, push: Push, origin: Recipient | None, in_room: bool) -> None:
        super().carbons(sender, push, origin, in_room)
        self._relay("carbons", sender, push.frame(), in_room)

    def broadcast(
        self, push: Push, exclude: str | None = None, skip: Recipient | None = None
    ) -> None:
        super().broadcast(push, exclude, skip)
        self._relay("all", push.frame(), exclude)

    def send_away(self, username: str, reason: ByeReason, keep: Recipient | None = None) -> int:
        here = super().send_away(username, reason, keep)  # `keep` is a session here
        self._relay("away", username, reason.value)
        return here + self._remote.nodes_of(username)  # sessions here, nodes elsewhere

    def add_member(self, conv: int, username: str) -> None:
        super().add_member(conv, username)
        self._relay("member", conv, username, True)

    def remove_member(self, conv: int, username: str) -> None:
        super().remove_member(conv, username)
        self._relay("member", conv, username, False)

    def status_changed(self, username: str) -> None:
        self._relay("status", username)  # for their sessions on other nodes

    # -- presence, over every node --------------------------------------------------------

    def shown(self, username: str) -> Shown:
        here = super().shown(username)
        if here != OFFLINE:
            return here
        return self._remote.shown(username)

    def _announce(self, username: str) -> None:
        """A change here: tell this node's sessions (after PRESENCE_DELAY) and the others."""
        super()._announce(username)
        if self.announce_presence:
            self._relay("presence", username, list(Hub.shown(self, username)))

    def _heard(self, node: str, users: dict[str, Shown]) -> None:
        """`node` says these are all its users now (none: it is gone)."""
        for username in self._remote.replace(node, users):
            Hub._announce(self, username)

    # -- the three loops ----------------------------------------------------------------

    async def _publish(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            events, self._outbox = self._outbox, []
            if not events:
                continue
            presence = [(e[1], e[2]) for e in events if e[0] == "presence"]
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.publish(self._channel, msgpack.packb([self.node, events]))
                    for username, shown in presence:
                        if tuple(shown) == OFFLINE:
                            pipe.hdel(self._presence_key(self.node), username)
                        else:
                            pipe.hset(self._presence_key(self.node), username, msgpack.packb(shown))
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                unsent = [e[1] for e in events if e[0] == "missed"]
                self._lost(exc, f"{len(events)} events not sent to the other nodes", *unsent)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed = True
                    if not self._synced:
                        await self._sync()
                    self._catch_up()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._receive(message["data"])
            except (RedisError, OSError) as exc:
                self._subscribed = False
                self._lost(exc, "not hearing the other nodes")
                await asyncio.sleep(RETRY)

    def _receive(self, data: bytes) -> None:
        if data.startswith(self._own):
            return  # sent by this node (not unpacked: half of all it hears, if two)
        node, events = msgpack.unpackb(data)
        for event in events:
            try:
                self._apply(node, event)
            except Exception:
                log.exception("an event from node %s could not be applied: %r", node, event)

    def _apply(self, node: str, event: list[Any]) -> None:
        """Do here what `node` did there (its own sessions have had it)."""
        match event:
            case ["room", conv, frame, mid, exclude]:
                Hub.to_room(self, conv, Relayed(frame, self._marks.seen(mid)), exclude)
            case ["users", usernames, frame, mid, feature]:
                Hub.to_users(self, usernames, Relayed(frame, self._marks.seen(mid)), None, feature)
            case ["carbons", sender, frame, in_room]:
                Hub.carbons(self, sender, Relayed(frame), None, in_room)
            case ["all", frame, exclude]:
                self._broadcast_here(Relayed(frame), exclude)
            case ["away", username, reason]:
                Hub.send_away(self, username, ByeReason(reason))
            case ["member", conv, username, joined]:
                (Hub.add_member if joined else Hub.remove_member)(self, conv, username)
            case ["status", username]:
                self.status_heard(username)
            case ["presence", username, shown]:
                self._remote.put(node, username, (shown[0], shown[1]))
                Hub._announce(self, username)
            case ["here", users]:
                self._heard(node, {name: (s[0], s[1]) for name, s in users.items()})
            case ["gone"]:
                self._heard(node, {})
            case ["missed", after]:
                self._start_catch_up(after)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            self._marks.beat()
            try:
                if not self._synced:
                    await self._sync()
                await self._beat()
            except (RedisError, OSError) as exc:
                self._lost(exc, "no heartbeat")
            else:
                if self._subscribed:
                    self._catch_up()

    async def _beat(self) -> None:
        """Say this node is up, and forget the nodes that have not said so in time
        (whether this node or another saw first that they were gone)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            others = await self._say_alive(pipe)
        alive = set()
        for node in others:
            if await self._redis.exists(self._alive_key(node)):
                alive.add(node)
            else:
                log.info("node %s is gone: its users are offline", node)
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.srem(self._nodes, node)
                    pipe.delete(*self._node_keys(node))
                    await pipe.execute()
        if asyncio.get_running_loop().time() < self._patient_until:
            return
        for node in self._remote.nodes() - alive:
            self._heard(node, {})

    async def _sync(self) -> None:
        """Write this node's presence whole and tell the others, and read every other
        node's (at start, and after Redis was lost: it may have restarted empty; a node
        not there yet keeps what it last said until it says more or is gone)."""
        mine = {u: list(shown) for u in self._sessions if (shown := Hub.shown(self, u)) != OFFLINE}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self._presence_key(self.node))
            if mine:
                packed = {u: msgpack.packb(shown) for u, shown in mine.items()}
                pipe.hset(self._presence_key(self.node), mapping=packed)  # type: ignore[arg-type]
            if self._limits is not None:
                self._limits.write_again(pipe)
            others = await self._say_alive(pipe)
        for node in others:
            users = await self._redis.hgetall(self._presence_key(node))
            if users:
                self._heard(node, {_text(u): tuple(msgpack.unpackb(s)) for u, s in users.items()})
        self._relay("here", mine)
        self._patient_until = asyncio.get_running_loop().time() + NODE_TTL
        self._synced = True

    async def _say_alive(self, pipe: "aioredis.client.Pipeline") -> list[str]:
        """Run `pipe` with this node's heartbeat last; the other nodes said to be up."""
        pipe.set(self._alive_key(self.node), 1, px=int(NODE_TTL * 1000))
        pipe.sadd(self._nodes, self.node)
        pipe.smembers(self._nodes)
        *_, members = await pipe.execute()
        self._others = [node for node in map(_text, members) if node != self.node]
        return self._others

    def _lost(self, exc: BaseException, what: str, *missed_after: int) -> None:
        """Redis failed: what this node sent or was sent from about one heartbeat ago
        (or after the marks of catch-ups that could not be asked for) may be lost."""
        if self._synced:
            log.warning("Redis is unreachable (%s): %s", exc, what)
        self._synced = False
        self._marks.lost(*missed_after)

    # -- catching up after losing touch -----------------------------------------------

    def _catch_up(self) -> None:
        """Touch is back (heard and heard by the others): if anything may have been lost,
        send this node's users again what was stored since the mark, and ask the others
        to do the same for theirs."""
        after = self._marks.take()
        if after is None:
            return
        log.info("in touch again: sending again what was stored after mid %d", after)
        self._relay("missed", after)
        self._start_catch_up(after)

    def _start_catch_up(self, after: int) -> None:
        task = asyncio.create_task(send_again(self._messages, after, self))
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)
