"""`ChatClient`: one connection to a chatroom server, as an async Python object.

Each request method sends one frame and waits for the reply with the same `id`; an
`error` reply is raised as `ChatError` carrying its protocol code. Frames the server sends
on its own (pushes) arrive through `next_push()` or `async for push in client`.
"""

import asyncio
import contextlib
import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from chatroom.common.codec import FrameDecoder, encode
from chatroom.common.errors import ChatError
from chatroom.common.limits import PROTOCOL_VERSION
from chatroom.common.messages import (
    ByePush,
    MessagePush,
    Push,
    ReplyType,
    RequestType,
    parse_push,
    request,
)

READ_SIZE = 64 * 1024


class SeenMids:
    """The mids of recent messages, to drop one delivered twice (delivery is at least once).

    Bounded: only the newest `capacity` are remembered. Share one between the clients of
    successive reconnections so a message replayed at re-login is not shown again.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._mids: OrderedDict[int, None] = OrderedDict()

    def add(self, mid: int) -> bool:
        """Remember `mid`; whether it is new."""
        if mid in self._mids:
            return False
        self._mids[mid] = None
        if len(self._mids) > self.capacity:
            self._mids.popitem(last=False)
        return True


class ConnectionClosed(ConnectionError):
    """The connection ended; `reason` is the server's `bye` reason if it gave one."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(f"connection closed ({reason})" if reason else "connection closed")
        self.reason = reason


@dataclass(slots=True, frozen=True)
class LoginReply:
    username: str
    """The name as registered (the server's spelling, whatever case was typed)."""
    online: list[str]
    offline: int
    """How many unacknowledged messages follow as pushes with `offline: true`."""
    skipped: int
    """How many older unacknowledged messages were left out (over the replay limit)."""


@dataclass(slots=True, frozen=True)
class Sent:
    mid: int
    ts: float
    delivered: bool = True
    """For a private message: whether the recipient was online to receive it now."""


class ChatClient:
    """A connection to a chatroom server. Create it with `await ChatClient.connect(...)`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: SeenMids | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pushes: asyncio.Queue[Push | None] = asyncio.Queue()
        self._seen = seen or SeenMids()
        self.closed_reason: str | None = None
        self.closed = asyncio.Event()
        self._reading = asyncio.create_task(self._read_frames())

    @classmethod
    async def connect(
        cls, host: str, port: int, *, timeout: float = 10.0, seen: SeenMids | None = None
    ) -> Self:
        """Open a connection; raises OSError (or TimeoutError) if the server cannot be reached."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, seen)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------

    async def request(self, kind: str, **data: Any) -> dict[str, Any]:
        """Send one request and return the `data` of its `ok` reply (or raise `ChatError`)."""
        if self.closed.is_set():
            raise ConnectionClosed(self.closed_reason)
        request_id = next(self._ids)
        reply = asyncio.get_running_loop().create_future()
        self._pending[request_id] = reply
        try:
            self._writer.write(encode(request(kind, request_id, **data)))
            await self._writer.drain()
            return await reply
        finally:
            self._pending.pop(request_id, None)

    async def hello(self, client: str = "chatroom-client") -> dict[str, Any]:
        """Introduce ourselves; returns the server's reply (version, server, limits)."""
        return await self.request(RequestType.HELLO, version=PROTOCOL_VERSION, client=client)

    async def register(self, username: str, password: str) -> str:
        """Create an account; returns the username as the server stored it."""
        reply = await self.request(RequestType.REGISTER, username=username, password=password)
        return reply["username"]

    async def login(self, username: str, password: str) -> LoginReply:
        reply = await self.request(RequestType.LOGIN, username=username, password=password)
        return LoginReply(
            reply["username"], reply["online"], reply.get("offline", 0), reply.get("skipped", 0)
        )

    async def users(self) -> list[str]:
        """Usernames online now, sorted."""
        return (await self.request(RequestType.USERS))["online"]

    async def broadcast(self, text: str) -> Sent:
        reply = await self.request(RequestType.BROADCAST, text=text)
        return Sent(reply["mid"], reply["ts"])

    async def private(self, to: str, text: str) -> Sent:
        reply = await self.request(RequestType.PRIVATE, to=to, text=text)
        return Sent(reply["mid"], reply["ts"], reply["delivered"])

    async def ack(self, upto: int) -> None:
        """Tell the server every message up to mid `upto` has been shown."""
        await self.request(RequestType.ACK, upto=upto)

    async def ping(self) -> None:
        await self.request(RequestType.PING)

    async def logout(self) -> None:
        """Log out; the server then says `bye` and closes the connection."""
        await self.request(RequestType.LOGOUT)
        await self.wait_closed()

    # -- pushes -----------------------------------------------------------------------

    async def next_push(self) -> Push:
        """The next push; raises `ConnectionClosed` once the connection has ended."""
        push = await self._pushes.get()
        if push is None:
            self._pushes.put_nowait(None)  # leave the end marker for the next caller
            raise ConnectionClosed(self.closed_reason)
        return push

    async def __aiter__(self) -> AsyncIterator[Push]:
        while True:
            try:
                yield await self.next_push()
            except ConnectionClosed:
                return

    # -- the connection ---------------------------------------------------------------

    async def wait_closed(self) -> None:
        await self.closed.wait()

    async def close(self) -> None:
        """Close the connection (without logging out) and wait for the reader to stop."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        await self._reading

    async def _read_frames(self) -> None:
        decoder = FrameDecoder(max_frame=2**32 - 1)  # the server is trusted with frame sizes
        try:
            while chunk := await self._reader.read(READ_SIZE):
                for envelope in decoder.feed(chunk):
                    self._dispatch(envelope)
        except (OSError, ChatError):
            pass
        finally:
            self.closed.set()
            self._writer.close()
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(ConnectionClosed(self.closed_reason))
            self._pushes.put_nowait(None)

    def _dispatch(self, envelope: dict[str, Any]) -> None:
        kind = envelope.get("type")
        if kind in (ReplyType.OK, ReplyType.ERROR):
            data = envelope.get("data") or {}
            if envelope.get("id") is None:  # about the stream itself; the server will close
                self.closed_reason = data.get("code")
            reply = self._pending.get(envelope.get("id"))  # type: ignore[arg-type]
            if reply is None or reply.done():
                return
            if kind == ReplyType.OK:
                reply.set_result(data)
            else:
                extra = {k: v for k, v in data.items() if k not in ("code", "message")}
                reply.set_exception(ChatError(data.get("code"), data.get("message"), **extra))
            return
        push = parse_push(envelope)
        if isinstance(push, ByePush):
            self.closed_reason = push.reason
        if isinstance(push, MessagePush) and not self._seen.add(push.mid):
            return
        if push is not None:
            self._pushes.put_nowait(push)


def backoff(first: float = 1.0, factor: float = 2.0, most: float = 30.0) -> Iterator[float]:
    """Seconds to wait before each reconnection attempt: first, first*factor, ... up to most."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, most)


RETRYABLE = (OSError, TimeoutError)
"""Failures worth another attempt: the server is down or restarting. A `ChatError` (such
as `bad_credentials`) is not: trying again would fail the same way."""


async def sessions(
    host: str,
    port: int,
    login: Callable[[ChatClient], Awaitable[LoginReply]],
    *,
    first: tuple[ChatClient, LoginReply] | None = None,
    delays: Callable[[], Iterator[float]] = backoff,
    on_wait: Callable[[float], None] | None = None,
) -> AsyncIterator[tuple[ChatClient, LoginReply]]:
    """Yield a logged-in client, and a new one each time the previous one's connection ends.

    `login` logs a fresh client in. Between attempts it waits the next of `delays()` (reset
    after every success), telling `on_wait` how long first. `first` is a session to start
    with. Ends only when the caller stops iterating or `login` raises a `ChatError`.
    """
    seen = first[0]._seen if first else SeenMids()
    current = first
    while True:
        if current is not None:
            yield current
            await current[0].close()
        current = None
        for delay in delays():
            if on_wait is not None:
                on_wait(delay)
            await asyncio.sleep(delay)
            try:
                client = await ChatClient.connect(host, port, seen=seen)
            except RETRYABLE:
                continue
            try:
                current = (client, await login(client))
                break
            except RETRYABLE:
                await client.close()
            except ChatError:
                await client.close()
                raise
