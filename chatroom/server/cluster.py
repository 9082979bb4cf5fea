"""Routing among several server nodes over Redis: `RedisHub` (`--hub redis://HOST:PORT`).

Each node keeps the in-process `Hub` for its own connections and tells the other nodes,
through one Redis pub/sub channel, what it sent: "this push to these users", "to this
room", "to everyone". Every node delivers to its own connections, encoding each push
once. A message is stored (in the shared PostgreSQL) before it is sent, so what travels
through Redis is only ever a copy of what the store has.

Presence is global. Each node keeps, in a Redis hash of its own, what others see of its
users, announces every change on the channel, and renews a key that expires NODE_TTL
seconds after its last heartbeat. A node whose key has expired is gone: every other
node forgets its users (and announces them offline) within NODE_TTL + HEARTBEAT seconds.

Events are gathered and published together, one Redis message per loop turn. When Redis
is unreachable, events are dropped (they are copies: the store has every message, and a
client gets what it missed when it next logs in or resumes); once it is back, each node
writes its presence again and reads everyone else's.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chatroom.common.messages import ByeReason, Push
from chatroom.server.hub import CARBONS, OFFLINE, ROOMS, Hub, Recipient, Shown

log = logging.getLogger("chatroom.server")

CHANNEL = "chatroom:events"
NODES = "chatroom:nodes"
"""The set of the nodes that have said they are up."""
HEARTBEAT = 1.0
"""Seconds between a node's heartbeats (and its look for nodes gone)."""
NODE_TTL = 3.0
"""Seconds after its last heartbeat that a node counts as gone."""
RETRY = 0.5
"""Seconds between attempts to reach Redis again."""


def _alive_key(node: str) -> str:
    return f"chatroom:node:{node}"


def _presence_key(node: str) -> str:
    return f"chatroom:presence:{node}"


def _text(value: bytes | str) -> str:
    """A name as Redis gives it back (bytes: the client does not decode)."""
    return value.decode() if isinstance(value, bytes) else value


class Relayed(Push):
    """A push as another node sent it: its envelope, ready to encode again here."""

    __slots__ = ("_envelope",)

    def __init__(self, envelope: dict[str, Any]) -> None:
        self._envelope = envelope

    def envelope(self) -> dict[str, Any]:
        return self._envelope


class RedisHub(Hub):
    """The hub of one node among several: local delivery as `Hub`, and the same sent to
    the other nodes through Redis."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.node = uuid.uuid4().hex[:12]
        self._redis = aioredis.Redis.from_url(url)
        self._outbox: list[list[Any]] = []
        self._wake = asyncio.Event()
        self._remote: dict[str, dict[str, Shown]] = {}
        """What others see of each user with a session on another node, by node."""
        self._synced = False
        """Whether this node's presence in Redis is whole (false after an outage)."""
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Join the other nodes; raises RedisError (OSError) if Redis cannot be reached."""
        await self._redis.ping()
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
                pipe.delete(_presence_key(self.node), _alive_key(self.node))
                pipe.srem(NODES, self.node)
                pipe.publish(CHANNEL, msgpack.packb([self.node, [["gone"]]]))
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
        self._relay("room", conv, push.envelope(), exclude)

    def to_users(
        self,
        usernames: list[str],
        push: Push,
        skip: Recipient | None = None,
        feature: str | None = None,
    ) -> bool:
        online = super().to_users(usernames, push, skip, feature)
        self._relay("users", usernames, push.envelope(), feature)
        return online

    def carbons(self, sender: str, push: Push, origin: Recipient, in_room: bool) -> None:
        super().carbons(sender, push, origin, in_room)
        self._relay("carbons", sender, push.envelope(), in_room)

    def broadcast(
        self, push: Push, exclude: str | None = None, skip: Recipient | None = None
    ) -> None:
        super().broadcast(push, exclude, skip)
        self._relay("all", push.envelope(), exclude)

    def send_away(self, username: str, reason: ByeReason) -> int:
        here = super().send_away(username, reason)
        self._relay("away", username, reason.value)
        return here + len(self._remote.get(username, {}))  # sessions here, nodes elsewhere

    def add_member(self, conv: int, username: str) -> None:
        super().add_member(conv, username)
        self._relay("member", conv, username, True)

    def remove_member(self, conv: int, username: str) -> None:
        super().remove_member(conv, username)
        self._relay("member", conv, username, False)

    # -- presence, over every node --------------------------------------------------------

    def shown(self, username: str) -> Shown:
        here = super().shown(username)
        if here != OFFLINE:
            return here
        return next(iter(self._remote.get(username, {}).values()), OFFLINE)

    def _present(self) -> Iterable[str]:
        return self._sessions.keys() | self._remote.keys()

    def _announce(self, username: str) -> None:
        """A change here: tell this node's sessions (after PRESENCE_DELAY) and the others."""
        super()._announce(username)
        if self.announce_presence:
            self._relay("presence", username, list(Hub.shown(self, username)))

    def _heard(self, node: str, username: str, shown: Shown) -> None:
        """Another node says what others see of `username` there now."""
        there = self._remote.setdefault(username, {})
        if shown == OFFLINE:
            there.pop(node, None)
            if not there:
                del self._remote[username]
        else:
            there[node] = shown
        Hub._announce(self, username)

    def _forget(self, node: str) -> None:
        """`node` is gone: its users are, unless they have a session elsewhere."""
        for username in [u for u, there in self._remote.items() if node in there]:
            self._heard(node, username, OFFLINE)

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
                    pipe.publish(CHANNEL, msgpack.packb([self.node, events]))
                    for username, shown in presence:
                        if tuple(shown) == OFFLINE:
                            pipe.hdel(_presence_key(self.node), username)
                        else:
                            pipe.hset(_presence_key(self.node), username, msgpack.packb(shown))
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self._lost(exc, f"{len(events)} events not sent to the other nodes")

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    if not self._synced:
                        await self._sync()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._receive(message["data"])
            except (RedisError, OSError) as exc:
                self._lost(exc, "not hearing the other nodes")
                await asyncio.sleep(RETRY)

    def _receive(self, data: bytes) -> None:
        node, events = msgpack.unpackb(data)
        if node == self.node:
            return
        for event in events:
            try:
                self._apply(node, event)
            except Exception:
                log.exception("an event from node %s could not be applied: %r", node, event)

    def _apply(self, node: str, event: list[Any]) -> None:
        """Do here what `node` did there (its own sessions have had it)."""
        match event:
            case ["room", conv, envelope, exclude]:
                Hub.to_room(self, conv, Relayed(envelope), exclude)
            case ["users", usernames, envelope, feature]:
                Hub.to_users(self, usernames, Relayed(envelope), None, feature)
            case ["carbons", sender, envelope, in_room]:
                sessions = self._sessions.get(sender, set())
                wanted = {s for s in sessions if CARBONS in s.features}
                self._send([wanted], Relayed(envelope), None, ROOMS if in_room else None)
            case ["all", envelope, exclude]:
                self._broadcast_here(Relayed(envelope), exclude)
            case ["away", username, reason]:
                Hub.send_away(self, username, ByeReason(reason))
            case ["member", conv, username, joined]:
                (Hub.add_member if joined else Hub.remove_member)(self, conv, username)
            case ["presence", username, shown]:
                self._heard(node, username, (shown[0], shown[1]))
            case ["gone"]:
                self._forget(node)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                if not self._synced:
                    await self._sync()
                await self._beat()
            except (RedisError, OSError) as exc:
                self._lost(exc, "no heartbeat")

    async def _beat(self) -> None:
        """Say this node is up, and forget the nodes that have not said so in time
        (whether this node or another saw first that they were gone)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            others = await self._say_alive(pipe)
        alive = set()
        for node in others:
            if await self._redis.exists(_alive_key(node)):
                alive.add(node)
            else:
                log.info("node %s is gone: its users are offline", node)
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.srem(NODES, node)
                    pipe.delete(_presence_key(node))
                    await pipe.execute()
        heard_of = {node for there in self._remote.values() for node in there}
        for node in heard_of - alive:
            self._forget(node)

    async def _sync(self) -> None:
        """Write this node's presence whole, and read every other node's (at start, and
        after Redis was lost: it may have restarted empty)."""
        mine = {}
        for username in self._sessions:
            shown = Hub.shown(self, username)
            if shown != OFFLINE:
                mine[username] = msgpack.packb(list(shown))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(_presence_key(self.node))
            if mine:
                pipe.hset(_presence_key(self.node), mapping=mine)  # type: ignore[arg-type]
            others = await self._say_alive(pipe)
        seen: dict[str, dict[str, Shown]] = {}
        for node in others:
            for name, packed in (await self._redis.hgetall(_presence_key(node))).items():
                status, text = msgpack.unpackb(packed)
                seen.setdefault(_text(name), {})[node] = (status, text)
        changed = set(seen) | set(self._remote)
        self._remote = seen
        for username in changed:
            Hub._announce(self, username)
        self._synced = True

    async def _say_alive(self, pipe: "aioredis.client.Pipeline") -> list[str]:
        """Run `pipe` with this node's heartbeat last; the other nodes said to be up."""
        pipe.set(_alive_key(self.node), 1, px=int(NODE_TTL * 1000))
        pipe.sadd(NODES, self.node)
        pipe.smembers(NODES)
        *_, members = await pipe.execute()
        return [node for node in map(_text, members) if node != self.node]

    def _lost(self, exc: BaseException, what: str) -> None:
        if self._synced:
            log.warning("Redis is unreachable (%s): %s", exc, what)
        self._synced = False
