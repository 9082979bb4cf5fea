"""One client connection: its read loop, its writes, and the state of its session.

The read loop is the only place that turns a `ChatError` into an `error` frame, and
anything unexpected into `server_error` with one logged traceback.

Nothing here buffers without bound. Replies and pushes wait in the socket's write buffer;
once it is half full (of `max_write_buffer`) the session stops reading that client's
requests until the client has read its replies, and a login's backlog is sent a page at
a time as the client reads it. A client that stops reading altogether is dropped as a
slow consumer when the buffer is full.
"""

import asyncio
import contextlib
import logging
from typing import Any

from chatroom.common.codec import FrameDecoder, compress, encode
from chatroom.common.envelope import Request, error, ok, reply_id
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import COMPRESS_MIN
from chatroom.common.messages import ByePush, ByeReason
from chatroom.common.trace import FrameTrace
from chatroom.server.fields import Fields
from chatroom.server.handlers import HANDLERS
from chatroom.server.hub import ROOMS
from chatroom.server.rules import Deadlines, Outbox
from chatroom.server.services import Services
from chatroom.server.store import FileRecord
from chatroom.server.store.base import Backlog
from chatroom.server.throttle import TokenBucket

READ_SIZE = 256 * 1024
REPLAY_PAGE = 50
"""Backlog messages read from the store at a time during a login's replay."""
PIPELINE_MAX = 256
"""Requests of one connection running at once; the next waits for those to be answered."""
SLOW_CONSUMER_GRACE = 5.0
"""Seconds a dropped slow consumer gets to read its `bye` before the socket is cut."""

log = logging.getLogger("chatroom.server")


class WriteScheduler:
    """Writes out, once per turn of the event loop, every session that queued frames in it.

    One callback for all of them, rather than one per session: a broadcast to 5,000 users
    would otherwise schedule 5,000 callbacks, each a new object on the event loop.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._due: list[Session] = []

    def flush_soon(self, session: "Session") -> None:
        if not self._due:
            self._loop.call_soon(self._flush_due)
        self._due.append(session)

    def _flush_due(self) -> None:
        due, self._due = self._due, []
        for session in due:
            try:
                session.flush()
            except Exception:  # one broken socket must not hold back the others' frames
                log.exception("writing to %s failed", session.peer)


class Session:
    """The server's side of one socket: who is logged in on it, and how to reach them."""

    log = log

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        services: Services,
        writes: WriteScheduler,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.services = services
        self.store = services.store
        self.hub = services.hub
        self.limits = limits = services.limits
        self.writes = writes
        self.messages = TokenBucket(limits.message_rate, limits.message_burst, services.clock)
        self.readable_files: dict[int, FileRecord] = {}
        """Files this session may download, remembered to spare a lookup per chunk."""
        host, port, *_ = writer.get_extra_info("peername") or ("?", 0)
        self.address = host
        self.address_key = f"ip:{host}"
        """The key of this client's address in the login throttle."""
        self.peer = f"{host}:{port}"
        self._trace = FrameTrace(services.trace, self.peer) if services.trace else None
        self._chaos = services.chaos.for_connection() if services.chaos else None
        self.resume_token_hash: str | None = None
        """The resume token this session was given or used; logout revokes it."""
        self.features: frozenset[str] = frozenset()
        """What the client asked for in `hello`: `pull` (no login replay), `compress`,
        `rooms` (pushes of rooms other than the lobby), `carbons`, `read`."""
        self._user: str | None = None
        self._decoder = FrameDecoder(limits.max_frame)
        self._outbox = Outbox(most_held=limits.max_write_buffer)
        self._replay: Backlog | None = None
        """The backlog to send after the login reply, page by page."""
        self._high_water = limits.max_write_buffer // 2
        writer.transport.set_write_buffer_limits(self._high_water, self._high_water // 4)
        self._closing: ByeReason | None = None
        self._loop = asyncio.get_running_loop()
        """Kept: asking asyncio for the running loop costs a getpid() system call."""

    # -- what handlers use ------------------------------------------------------------

    @property
    def user(self) -> str | None:
        """The logged-in username, or None before login."""
        return self._user

    @property
    def username(self) -> str:
        """The logged-in username, for requests that are allowed only after login."""
        if self._user is None:  # the dispatch refuses them before login: a bug if here
            raise ChatError(ErrorCode.NOT_LOGGED_IN, "log in first")
        return self._user

    def require_logged_out(self) -> None:
        if self._user is not None:
            raise ChatError(ErrorCode.ALREADY_LOGGED_IN, f"already logged in as {self._user}")

    async def log_in(self, username: str, how: str = "login") -> Backlog:
        """Make this session `username`'s and find their unacknowledged mail.

        Live pushes are held until the login reply and then the backlog (in mid order,
        a page at a time as the client reads) are written, so the client always sees
        the reply first, then its backlog, then live traffic. The session joins the hub
        before the backlog is looked up, so no message can fall between the two (one
        might arrive both ways; clients drop a mid they have seen).
        """
        self._outbox.hold()
        self._user = username
        self.hub.join(self)
        if "pull" in self.features:
            backlog = Backlog(0, 0, 0, 0)
        else:
            all_rooms = ROOMS in self.features
            backlog = await self.store.backlog(username, self.limits.replay_limit, all_rooms)
        self._replay = backlog if backlog.count else None
        log.info(
            "%s %s from %s (%d offline, %d left out)",
            how,
            username,
            self.peer,
            backlog.count,
            backlog.skipped,
        )
        return backlog

    def close_after_reply(self, reason: ByeReason) -> None:
        self._closing = reason

    # -- writing ----------------------------------------------------------------------

    def send_frame(self, frame: bytes) -> None:
        """Queue one encoded frame for this socket (held back while a login is replying)."""
        # The hot path of every fan-out (this is _write, inlined): one attribute, one call.
        outbox = self._outbox
        if not outbox.holding:
            if outbox.reply(frame):
                self.writes.flush_soon(self)
        elif not self.writer.is_closing() and not self._outbox.push(frame):
            self._drop_slow_consumer()  # live traffic piles up behind a backlog not read

    def _write(self, frame: bytes) -> None:
        """Queue a frame; everything queued in one turn of the event loop goes out in one
        write (one system call), however many pushes and replies it holds."""
        if self._outbox.reply(frame):
            self.writes.flush_soon(self)

    def flush(self) -> None:
        """Write out what is queued, in one system call."""
        data = self._outbox.take()
        if not data or self.writer.is_closing():
            return
        self._write_now(data)
        if self.writer.transport.get_write_buffer_size() > self.limits.max_write_buffer:
            self._drop_slow_consumer()

    def _drop_slow_consumer(self) -> None:
        """The client is not reading: stop queueing for it (what it misses stays in its
        mailbox until it acks), say why, and cut the socket if even that is not read."""
        log.warning(
            "slow consumer %s (%s): over %d bytes unread",
            self.peer,
            self._user,
            self.limits.max_write_buffer,
        )
        self._write_now(encode(ByePush(ByeReason.SLOW_CONSUMER).envelope()))
        self._close()
        if self._user is not None:
            # Route nothing more to it, now; but not while the hub may be mid fan-out.
            self._loop.call_soon(self.hub.leave, self)
        self._loop.call_later(SLOW_CONSUMER_GRACE, self.writer.transport.abort)

    def _write_now(self, data: bytes) -> None:
        if self._trace is not None:
            self._trace.sent(data)
        if self._chaos is not None:
            self._chaos.write(self.writer.transport, data)
        else:
            self.writer.write(data)

    def _close(self) -> None:
        if self._chaos is not None:
            self._chaos.close(self.writer)  # once what it delays is written
        else:
            self.writer.close()

    def _unsent(self) -> int:
        """Bytes written for this client that it has not read yet."""
        return self.writer.transport.get_write_buffer_size() + self._outbox.queued_bytes

    async def _drain(self) -> None:
        """Write out what is queued and wait until the client has read most of it."""
        self.flush()
        if self.writer.is_closing():
            raise ConnectionResetError("the connection is closing")
        try:
            async with asyncio.timeout(self.limits.idle_timeout):
                await self.writer.drain()
        except TimeoutError:
            self._drop_slow_consumer()
            raise ConnectionResetError("the client stopped reading") from None

    async def _send_backlog(self, backlog: Backlog) -> None:
        """Send the backlog a page at a time, never much more than the client has read."""
        assert self._user is not None
        after = backlog.after
        while after < backlog.upto:
            page = await self.store.backlog_page(
                self._user, after, backlog.upto, REPLAY_PAGE, backlog.all_rooms
            )
            if not page:
                break
            for message in page:
                self._write(encode(message.as_push(offline=True).envelope()))
                if self._unsent() > self._high_water:
                    await self._drain()
            after = page[-1].mid

    def send(self, envelope: dict[str, Any]) -> None:
        self.send_frame(encode(envelope))

    def say_bye(self, reason: ByeReason) -> None:
        """Send `bye` and close the socket once what is queued has been written."""
        self._release_held()
        self.send(ByePush(reason).envelope())
        self.flush()
        self._close()

    def _release_held(self) -> None:
        if self._outbox.holding:
            self.writes.flush_soon(self)  # at most one extra, empty flush: harmless
            self._outbox.release()

    # -- the read loop ----------------------------------------------------------------

    async def run(self) -> None:
        """Read and answer requests until the client leaves or is sent away."""
        log.info("connect %s", self.peer)
        try:
            await self._read_loop()
        except ChatError as err:  # the decoder's: the stream can no longer be trusted
            self.send(error(None, err))
        except ConnectionError:
            pass
        finally:
            await self._finish()

    async def _read_loop(self) -> None:
        deadlines = Deadlines.starting(self.limits, self._loop.time())
        while self._closing is None:
            now = self._loop.time()
            wait, reason = deadlines.next_wait(now, logged_in=self._user is not None)
            try:
                async with asyncio.timeout(wait):
                    chunk = await self.reader.read(READ_SIZE)
            except TimeoutError:
                self._closing = reason
                break
            if not chunk:
                return
            if self._trace is not None:
                self._trace.received(chunk)
            buffered = self._decoder.buffered + len(chunk)
            await self._answer_all(chunk)
            deadlines.read(now, buffered, self._decoder.buffered)
        self.say_bye(self._closing)

    async def _answer_all(self, chunk: bytes) -> None:
        """Answer every request `chunk` completes, replies in order of arrival.

        A run of requests that may overlap (messages, acks, pings from a logged-in
        session) is started at once, so a client that pipelines 100 broadcasts gets them
        stored in one group commit; any other request waits for those before it, and
        those after it wait for it.
        """
        running: list[asyncio.Task[dict[str, Any]]] = []
        try:
            for envelope in self._decoder.feed(chunk):
                if self._unsent() > self._high_water or len(running) >= PIPELINE_MAX:
                    # The client is not reading its replies as fast as it sends requests:
                    # stop taking requests until it has (it fills its own socket instead).
                    await self._send_replies(running)
                    running = []
                    await self._drain()
                kind = envelope.get("type")
                handler = HANDLERS.get(kind) if isinstance(kind, str) else None
                if handler is not None and handler.pipelined and self._user is not None:
                    running.append(self._loop.create_task(self._reply_to(envelope)))
                    continue
                await self._send_replies(running)
                running = []
                await self._send_reply(await self._reply_to(envelope))
                if self._closing is not None:
                    break
        finally:
            await self._send_replies(running)

    async def _send_replies(self, running: list[asyncio.Task[dict[str, Any]]]) -> None:
        for reply in running:
            await self._send_reply(await reply)

    async def _send_reply(self, reply: dict[str, Any]) -> None:
        self._write(encode(reply))  # ahead of any pushes held back during the request
        if self._replay is not None:
            backlog, self._replay = self._replay, None
            await self._send_backlog(backlog)
        self._release_held()

    async def _reply_to(self, envelope: dict[Any, Any]) -> dict[str, Any]:
        """The reply to one request: `ok` with the handler's data, or `error`."""
        request_id = reply_id(envelope)
        try:
            request = Request.from_envelope(envelope)
            handler = HANDLERS.get(request.type)
            if handler is None:
                raise ChatError(ErrorCode.UNKNOWN_TYPE, f"unknown request type {request.type!r}")
            if self._user is None and not handler.before_login:
                raise ChatError(ErrorCode.NOT_LOGGED_IN, f"log in before {request.type!r}")
            if handler.rate_limited:
                self.messages.take()
            fields = Fields(request.data, self.limits.max_text)
            reply = ok(request_id, await handler.function(self.services, self, fields))
            if handler.compressible and "compress" in self.features:
                return compress(reply, least=COMPRESS_MIN)
            return reply
        except ChatError as err:
            return error(request_id, err)
        except Exception:
            log.exception("request %r from %s failed", envelope.get("type"), self.peer)
            return error(request_id, ChatError(ErrorCode.SERVER_ERROR, "internal server error"))

    async def _finish(self) -> None:
        self.services.vault.release_all(owner=self)
        if self._user is not None:
            self.hub.leave(self)
            if self._closing == ByeReason.LOGOUT:
                log.info("logout %s from %s", self._user, self.peer)
        self.flush()
        self._close()
        with contextlib.suppress(OSError):  # the peer may have vanished: nothing to flush
            await self.writer.wait_closed()
        log.info("disconnect %s", self.peer)
