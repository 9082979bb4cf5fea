"""Lean clients for the load generator: as little CPU per frame as possible.

Each connection is an asyncio `Protocol`: bytes are split into frames (chatroom) or lines
(IRC) by hand, deliveries are counted by a prefix check without decoding, and a body is
decoded only where a timestamp must be read (latency). Both protocols offer the same
small interface, `Link`, so every scenario runs unchanged against either server.
"""

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any

import msgpack

from chatroom.common.codec import encode
from chatroom.common.envelope import error, ok
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import MessagePush

HEADER = struct.Struct(">I")


def body_start(envelope: dict[str, Any]) -> bytes:
    """How the body of a frame like `envelope` begins: its map header and its `type`, as
    the codec writes them (the server puts `type` first in every envelope)."""
    body = encode(envelope)[HEADER.size :]
    # The same map without `type`, framed: a length header, a one-byte map header (a
    # small map), then exactly the entries that follow `type` in `body`. Cut those off.
    rest = encode({key: value for key, value in envelope.items() if key != "type"})
    after_type = len(rest) - HEADER.size - 1
    return body[: len(body) - after_type]


MESSAGE_PUSH = body_start(MessagePush(0, "", None, "", 0.0).envelope())
OK_REPLY = body_start(ok(0))
ERROR_REPLY = body_start(error(0, ChatError(ErrorCode.SERVER_ERROR, "")))


class Link(asyncio.Protocol):
    """One benchmark connection. `deliveries` counts messages received; `on_text`, if
    set, is called with the text of each (which costs a decode)."""

    SENDERS_JOIN = True
    """Whether a fan-out's senders are in the group too (IRC: a channel takes messages
    from its members only)."""

    def __init__(self) -> None:
        self.name = ""
        """The user this connection is logged in as."""
        self.deliveries = 0
        self.on_text: Callable[[bytes], None] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.last_words = b""
        """The last bytes received: why the server hung up, if it said."""
        self._tail = b""
        self._replies: list[asyncio.Future[Any]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        for reply in self._replies:
            if not reply.done():
                reply.set_exception(
                    ConnectionError(f"connection lost ({exc or repr(self.last_words)})")
                )
                reply.exception()  # whoever awaits it raises; nobody else needs telling

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    DELIVERY = b""
    """Bytes every delivery holds and nothing else received does (while only counting)."""

    def count_only(self) -> None:
        """From now on only count deliveries, by their bytes, in C (`bytes.count`), as a
        receiver of a fan-out needs nothing more: the load generator then costs the same
        per delivery whichever server it measures."""
        self._tail = b""
        self.data_received = self._count  # type: ignore[method-assign]

    def _count(self, data: bytes) -> None:
        seen = self._tail + data
        self.deliveries += seen.count(self.DELIVERY)
        self._tail = seen[-(len(self.DELIVERY) - 1) :]
        self.last_words = data[-200:]

    # What every protocol implements:
    async def log_in(
        self,
        name: str,
        password: str,
        *,
        join: bool = True,
        features: tuple[str, ...] = (),
        registered: bool = False,
    ) -> None:
        """Log in as `name` (creating the account first, unless `registered`); with
        `join`, also enter the group (IRC: the channel)."""
        raise NotImplementedError

    def group(self, text: str) -> None:
        raise NotImplementedError

    def private(self, to: str, text: str) -> None:
        raise NotImplementedError


class ChatroomLink(Link):
    """The chatroom protocol. Requests are pipelined; `sent_ok` counts `ok` replies."""

    DELIVERY = MESSAGE_PUSH

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""
        self._id = 0
        self.sent_ok = 0
        self.sent_errors = 0
        self._waiting: dict[int | None, asyncio.Future[dict[str, Any]]] = {}
        """Replies awaited, by request id (an `error` whose id is nil matches none)."""
        self._unread: set[int] = set()
        """Requests whose `ok` is awaited but whose data is not read (a login's: the
        list of everyone online, which the generator would spend more time decoding
        than the server does encoding)."""

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        position, end = 0, len(buffer)
        while end - position >= 4:
            (length,) = HEADER.unpack_from(buffer, position)
            stop = position + 4 + length
            if stop > end:
                break
            body = position + 4
            if buffer.startswith(MESSAGE_PUSH, body):
                self.deliveries += 1
                if self.on_text is not None:
                    self.on_text(msgpack.unpackb(buffer[body:stop])["data"]["text"])
            elif self._waiting:  # someone awaits a reply: decode to match its id
                self._reply(self._envelope(buffer[body:stop]))
            elif buffer.startswith(OK_REPLY, body):
                self.sent_ok += 1  # the reply to a fire-and-forget request
            elif buffer.startswith(ERROR_REPLY, body):
                self.sent_errors += 1
            position = stop
        self._buffer = buffer[position:]

    def _envelope(self, body: bytes) -> dict[str, Any]:
        """The envelope in `body`; an `ok` to a request in `_unread` without its data
        (stepped over, not decoded: the server puts `type` and `id` first)."""
        if not self._unread:
            return msgpack.unpackb(body)  # type: ignore[no-any-return]
        unpacker = msgpack.Unpacker()
        unpacker.feed(body)
        envelope: dict[str, Any] = {}
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            unread = envelope.get("type") == "ok" and envelope.get("id") in self._unread
            if key == "data" and unread:
                unpacker.skip()
                envelope[key] = {}
            else:
                envelope[key] = unpacker.unpack()
        return envelope

    def _reply(self, envelope: dict[str, Any]) -> None:
        waiting = self._waiting.pop(envelope.get("id"), None)
        if waiting is None:
            if envelope.get("type") == "ok":
                self.sent_ok += 1
            elif envelope.get("type") == "error":
                self.sent_errors += 1
        elif envelope["type"] == "ok":
            waiting.set_result(envelope["data"])
        else:
            waiting.set_exception(RuntimeError(str(envelope["data"])))

    def send(self, kind: str, **data: Any) -> int:
        self._id += 1
        body = msgpack.packb({"type": kind, "id": self._id, "data": data})
        assert self.transport is not None
        self.transport.write(HEADER.pack(len(body)) + body)
        return self._id

    async def call(self, kind: str, **data: Any) -> dict[str, Any]:
        return await self._await_reply(self.send(kind, **data))

    async def call_unread(self, kind: str, **data: Any) -> None:
        """`call`, for a request whose `ok` is awaited but whose data is not read."""
        number = self.send(kind, **data)
        self._unread.add(number)  # before its reply can arrive: that needs an await
        try:
            await self._await_reply(number)
        finally:
            self._unread.discard(number)

    async def _await_reply(self, number: int) -> dict[str, Any]:
        """The data of the `ok` to request `number` (its `error` is raised)."""
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = reply
        self._replies.append(reply)
        try:
            return await reply
        finally:
            self._replies.remove(reply)

    async def log_in(
        self,
        name: str,
        password: str,
        *,
        join: bool = True,
        features: tuple[str, ...] = (),
        registered: bool = False,
    ) -> None:
        self.name = name  # a chatroom user is always in the group
        if features:  # e.g. "rooms", to be sent the messages of rooms other than the lobby
            await self.call("hello", version=1, features=list(features))
        if not registered:
            try:
                await self.call("register", username=name, password=password)
            except RuntimeError as error:
                if "username_taken" not in str(error):
                    raise
        await self.call_unread("login", username=name, password=password)

    def group(self, text: str) -> None:
        self.send("broadcast", text=text)

    def private(self, to: str, text: str, cid: str | None = None) -> None:
        if cid is None:
            self.send("private", to=to, text=text)
        else:
            self.send("private", to=to, text=text, cid=cid)


class IrcLink(Link):
    """IRC (RFC 2812): NICK/USER to register, JOIN #bench, PRIVMSG to talk."""

    CHANNEL = "#bench"
    DELIVERY = b" PRIVMSG "

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""
        self._welcome: asyncio.Future[None] | None = None
        self._joined: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.last_words = data[-200:]
        buffer = self._buffer + data if self._buffer else data
        lines = buffer.split(b"\r\n")
        self._buffer = lines.pop()
        for line in lines:
            if b" PRIVMSG " in line:
                self.deliveries += 1
                if self.on_text is not None:
                    self.on_text(line.split(b" :", 1)[1])
            elif line.startswith(b"PING"):
                self._write(b"PONG" + line[4:])
            elif b" 001 " in line and self._welcome and not self._welcome.done():
                self._welcome.set_result(None)
            elif b" JOIN " in line and self._joined and not self._joined.done():
                self._joined.set_result(None)
            elif b" 433 " in line and self._welcome and not self._welcome.done():
                self._welcome.set_exception(RuntimeError("nickname in use"))

    def _write(self, line: bytes) -> None:
        assert self.transport is not None
        self.transport.write(line + b"\r\n")

    async def log_in(
        self,
        name: str,
        password: str,
        *,
        join: bool = True,
        features: tuple[str, ...] = (),
        registered: bool = False,
    ) -> None:
        self.name = name
        loop = asyncio.get_running_loop()
        self._welcome, self._joined = loop.create_future(), loop.create_future()
        self._replies += [self._welcome, self._joined]
        self._write(f"NICK {name}".encode())
        self._write(f"USER {name} 0 * :{name}".encode())
        await self._welcome
        if join:
            self._write(f"JOIN {self.CHANNEL}".encode())
            await self._joined

    def group(self, text: str) -> None:
        self._write(f"PRIVMSG {self.CHANNEL} :{text}".encode())

    def private(self, to: str, text: str) -> None:
        self._write(f"PRIVMSG {to} :{text}".encode())


class RedisLink(Link):
    """Redis pub/sub (RESP2), the floor for fan-out: a C server that does nothing else.
    Joining the group is SUBSCRIBE to a channel; saying something is PUBLISH to it. A
    subscribed connection cannot publish, so senders stay out of the group."""

    CHANNEL = b"bench"
    SENDERS_JOIN = False
    DELIVERY = b"$7\r\nmessage\r\n"

    def __init__(self) -> None:
        super().__init__()
        self._subscribed: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self._count(data)
        if self._subscribed and not self._subscribed.done() and b"subscribe" in data:
            self._subscribed.set_result(None)

    async def log_in(
        self,
        name: str,
        password: str,
        *,
        join: bool = True,
        features: tuple[str, ...] = (),
        registered: bool = False,
    ) -> None:
        self.name = name
        if join:
            self._subscribed = asyncio.get_running_loop().create_future()
            self._replies.append(self._subscribed)
            self._command(b"SUBSCRIBE", self.CHANNEL)
            await self._subscribed

    def group(self, text: str) -> None:
        self._command(b"PUBLISH", self.CHANNEL, text.encode())

    def private(self, to: str, text: str) -> None:
        raise NotImplementedError("Redis pub/sub has no private messages")

    def _command(self, *words: bytes) -> None:
        assert self.transport is not None
        parts = [b"*%d\r\n" % len(words)]
        parts += [b"$%d\r\n%s\r\n" % (len(word), word) for word in words]
        self.transport.write(b"".join(parts))


PROTOCOLS: dict[str, type[Link]] = {"chatroom": ChatroomLink, "irc": IrcLink, "redis": RedisLink}


async def open_link(protocol: str, host: str, port: int) -> Link:
    _, link = await asyncio.get_running_loop().create_connection(PROTOCOLS[protocol], host, port)
    return link


def stamp() -> str:
    """A message text that carries its send time (this process's clock)."""
    return repr(time.perf_counter())
