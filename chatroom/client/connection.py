"""`ChatClient`: one connection to a chatroom server, as an async Python object.

Each request method sends one frame and waits for the reply with the same `id`; an
`error` reply is raised as `ChatError` carrying its protocol code. Frames the server sends
on its own (pushes) arrive through `next_push()` or `async for push in client`. File
transfers are in `transfers`, reconnection in `reconnect`.
"""

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Self

from chatroom.client.conversations import ConversationRequests
from chatroom.client.replies import (
    LoginReply,
    Sent,
    ServerLimits,
    beyond_first_version,
    offered_features,
)
from chatroom.client.seen import SeenMids
from chatroom.client.transfers import FileRequests
from chatroom.common.codec import FrameDecoder, encode, expand
from chatroom.common.envelope import new_cid, request
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import HEADER_SIZE, MAX_CHUNK, PROTOCOL_VERSION
from chatroom.common.messages import (
    ByePush,
    FilePush,
    MessagePush,
    Push,
    ReplyType,
    RequestType,
)
from chatroom.common.readable import Unreadable, parse_push, read, reading, shown
from chatroom.common.trace import TO_SERVER, FrameTrace

READ_SIZE = 256 * 1024
HELLO_WAIT = 10.0
"""Seconds `hello` waits for its answer: a student's server may ignore a request it does
not know, and a program would wait for ever (the error `no_answer`: the client's)."""
EXPAND_FACTOR = 4
"""A compressed reply may inflate to EXPAND_FACTOR times the server's `max_frame`. The
server cuts its pages to half a frame, so what it compresses would have fitted in one;
lists it does not cut (`users`, `rooms`) get room to spare. The bound is there so that a
small frame cannot inflate into gigabytes, not to police an honest server."""
FRAME_MOST = 64 * 1024 * 1024
"""The largest frame taken from a server, or EXPAND_FACTOR times the `max_frame` that
its `hello` gives, if that is more. A length prefix written the wrong way round (little
endian) claims hundreds of megabytes or more, which the client would otherwise wait for."""
FEATURES = ("rooms", "carbons", "read", "compress")
"""What this library asks for in `hello` (docs/protocol.md, section 4 `hello`): it takes
every room's pushes, its user's messages from their other sessions, read markers moved
elsewhere, and compressed replies, which it expands as they arrive."""


class ConnectionClosed(ConnectionError):
    """The connection ended; `reason` is the server's `bye` reason if it gave one."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(f"connection closed ({reason})" if reason else "connection closed")
        self.reason = reason


class ChatClient(ConversationRequests, FileRequests):
    """A connection to a chatroom server. Create it with `await ChatClient.connect(...)`.

    The constructor only takes the streams and does no I/O; `start()` begins reading
    replies and pushes (`connect` does both). With `pull`, `hello` asks the server not to
    replay the mailbox at login: the application reads `history` instead. Rooms and
    conversations (`rooms`, `history`, `search`, `read`, ...) come from
    `ConversationRequests`, files (`send_file`, `file_info`, `download`) from `FileRequests`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: SeenMids | None = None,
        *,
        pull: bool = False,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pushes: asyncio.Queue[Push | None] = asyncio.Queue()
        self.seen = seen or SeenMids()
        """Mids already delivered: pass it to the next connection's client so a message
        replayed there is dropped."""
        self.closed_reason: str | None = None
        self.closed = asyncio.Event()
        self.limits = ServerLimits()
        """The server's limits, once `hello` has told them (the defaults until then)."""
        self.chunk_size = MAX_CHUNK
        """Bytes of file data per request: the server's `max_chunk` once `hello` told it."""
        self._reading: asyncio.Task[None] | None = None
        self._frames = FrameDecoder(max_frame=FRAME_MOST)
        self._stray: object = None
        """The id of the last reply that answered no request waiting, if any."""
        self.pull = pull
        """Whether `hello` asks the server to skip the login's mailbox replay."""
        self.enabled: frozenset[str] = frozenset()
        """The features the server turned on for this connection (see `hello`)."""
        self.offered: frozenset[str] = frozenset()
        """What the server can do beyond the protocol's first version, as `hello` heard."""
        self.first_version = False
        """Whether `hello` found a server of the first version (it offers nothing): what
        it does not know is then refused here, not sent (`beyond_first_version`)."""
        self.trace: FrameTrace | None = None
        """What follows this connection's frames, a line each (`--trace`), if anything."""

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        seen: SeenMids | None = None,
        pull: bool = False,
        trace: Callable[[str], None] | None = None,
    ) -> Self:
        """Open a connection (TLS if `tls` is given); raises OSError (ssl.SSLError for a
        certificate that does not verify) or TimeoutError if it cannot be made. `trace`
        is given a line for every frame sent and received (`chatroom.common.trace`)."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        client = cls(reader, writer, seen, pull=pull)
        if trace is not None:
            client.trace = FrameTrace(trace, f"{host}:{port}", mine=TO_SERVER)
        return client.start()

    def start(self) -> Self:
        """Begin reading the server's frames in a task of the running loop; returns self."""
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_frames())
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------

    async def request(self, kind: str, **data: Any) -> dict[str, Any]:
        """Send one request and return the `data` of its `ok` reply (or raise `ChatError`)."""
        reply = self.submit(kind, **data)
        await self._writer.drain()
        return await reply

    def submit(self, kind: str, **data: Any) -> "asyncio.Future[dict[str, Any]]":
        """Write one request now and return the future of its reply, without waiting.

        Several submitted requests are in flight at once (a window); their replies come
        in order. Call `await drain()` now and then so the write buffer stays small.
        A request over the server's `max_frame` (as `hello` told it) is not sent: it
        raises `ChatError` `frame_too_large`, where the server would have hung up.
        """
        if self.closed.is_set():
            raise ConnectionClosed(self.closed_reason)
        if self.first_version and (why := beyond_first_version(kind, data)):
            raise ChatError("not_offered", why)
        request_id = next(self._ids)
        try:  # before its reply is awaited: what cannot be sent is not waited for
            frame = encode(request(kind, request_id, **data))
        except (TypeError, ValueError, OverflowError) as exc:  # 2**64, an object, ...
            raise ValueError(f"{kind} cannot be sent: {exc} (msgpack has no such value)") from exc
        if (size := len(frame) - HEADER_SIZE) > (most := self.limits.max_frame):
            why = f"{kind} is {size:,} bytes; the server takes at most {most:,}"
            raise ChatError(ErrorCode.FRAME_TOO_LARGE, why)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = reply
        reply.add_done_callback(lambda _: self._pending.pop(request_id, None))
        if self.trace is not None:
            self.trace.sent(frame)
        self._writer.write(frame)
        return reply

    async def drain(self) -> None:
        """Wait until the connection's write buffer is below its high-water mark."""
        await self._writer.drain()

    async def hello(
        self,
        client: str = "chatroom-client",
        features: Sequence[str] = FEATURES,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Introduce ourselves; returns the server's reply (version, server, limits).

        Asks for compressed large replies (expanded as they arrive, so callers never see
        the difference) and, if this client was made with `pull`, for no login replay.
        A server without `hello` (it is optional) answers `unknown_type`: then the reply
        is empty, the limits are the defaults and no feature is on. One that does not
        answer within `wait` seconds (`HELLO_WAIT`) gets the error `no_answer`. A server
        that offers no `features` speaks the protocol's first version: from then on, a
        request it does not know, or one naming a `room`, raises `not_offered` unsent.
        """
        asked = [*features, "pull"] if self.pull else list(features)
        wait = wait or HELLO_WAIT
        hello = self.submit(
            RequestType.HELLO, version=PROTOCOL_VERSION, client=client, features=asked
        )
        try:
            reply = await asyncio.wait_for(hello, wait)
        except TimeoutError:
            why = f"no answer to hello in {wait:g} s"
            if self._stray is not None:  # a server that does not send back each `id`
                why += f"; a reply came with id {shown(self._stray)}, which no request had"
            raise ChatError("no_answer", why) from None
        except ChatError as refused:
            if refused.code != ErrorCode.UNKNOWN_TYPE:
                raise
            self.first_version = True
            return {}
        self.limits = read(ServerLimits, reply.get("limits", {}), "the hello reply's limits")
        # Never more than this client's own limit, and at least one byte so uploads advance.
        self.chunk_size = max(1, min(MAX_CHUNK, self.limits.max_chunk))
        self._frames.max_frame = max(FRAME_MOST, EXPAND_FACTOR * self.limits.max_frame)
        with reading("the hello reply"):
            self.enabled = frozenset(reply.get("enabled", ()))
        self.offered = offered_features(reply)
        self.first_version = not self.offered
        return reply

    async def register(self, username: str, password: str) -> str:
        """Create an account; returns the username as the server stored it."""
        reply = await self.request(RequestType.REGISTER, username=username, password=password)
        return str(reply["username"])

    async def login(self, username: str, password: str) -> LoginReply:
        reply = await self.request(RequestType.LOGIN, username=username, password=password)
        return read(LoginReply, reply, "the login reply")

    async def resume(self, token: str) -> LoginReply:
        """Log in with the `resume_token` of an earlier login (raises `invalid_token`)."""
        return read(
            LoginReply, await self.request(RequestType.RESUME, token=token), "the resume reply"
        )

    async def users(self) -> list[str]:
        """Usernames online now, sorted."""
        return [str(name) for name in (await self.request(RequestType.USERS))["online"]]

    async def broadcast(
        self, text: str, cid: str | None = None, *, room: str | None = None
    ) -> Sent:
        """Send `text` to `room` (one you are in), or to the lobby without one. Pass the
        same `cid` to every retry of one message."""
        where = {} if room is None else {"room": room}
        reply = await self.request(RequestType.BROADCAST, text=text, cid=cid or new_cid(), **where)
        return read(Sent, reply, "the broadcast reply")

    async def private(self, to: str, text: str, cid: str | None = None) -> Sent:
        """Send `text` to `to` alone. Pass the same `cid` to every retry of one message."""
        reply = await self.request(RequestType.PRIVATE, to=to, text=text, cid=cid or new_cid())
        return read(Sent, reply, "the private reply")

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

    def abandon(self, reason: str) -> None:
        """Cut the connection now, for `reason` (a server that no longer answers): what
        waits fails with `ConnectionClosed`, and the pushes end."""
        self.closed_reason = reason
        self._writer.transport.abort()

    async def close(self) -> None:
        """Close the connection (without logging out) and wait for the reader to stop."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        if self._reading is not None:
            await self._reading

    async def _read_frames(self) -> None:
        try:
            while chunk := await self._reader.read(READ_SIZE):
                if self.trace is not None:
                    self.trace.received(chunk)
                for envelope in self._frames.feed(chunk):
                    self._dispatch(envelope)
        except OSError:
            pass
        except ChatError as broken:  # the framing: nothing after it can be read
            self.closed_reason = f"{broken.code}: {broken.message}"
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
            self._reply(kind, envelope)
            return
        push = parse_push(envelope)
        if isinstance(push, ByePush):
            self.closed_reason = push.reason
        mid = push.mid if isinstance(push, MessagePush | FilePush) else None
        if mid is not None and not self.seen.add(mid):
            return
        if push is not None:
            self._pushes.put_nowait(push)

    def _reply(self, kind: str, envelope: dict[str, Any]) -> None:
        """Settle the future of the request this `ok` or `error` answers."""
        key = envelope.get("id")
        reply = self._pending.get(key) if isinstance(key, int) else None
        if reply is None and (key is not None or kind == ReplyType.OK):
            self._stray = "nil" if key is None else key
        try:
            data = expand(envelope, EXPAND_FACTOR * self.limits.max_frame).get("data") or {}
            if not isinstance(data, dict):
                raise Unreadable(f"a reply's data is {shown(data)}, not a map")
        except ChatError as error:  # the frame was whole: only this reply is lost
            if reply is not None and not reply.done():
                reply.set_exception(error)
            return
        code, message = data.get("code"), str(data.get("message", ""))
        if key is None and isinstance(code, str):  # about the stream: the server will close
            self.closed_reason = code
        if reply is None or reply.done():
            return
        if kind == ReplyType.OK:
            reply.set_result(data)
        else:
            extra = {str(k): v for k, v in data.items() if k not in ("code", "message")}
            reply.set_exception(ChatError(str(code), message, **extra))
