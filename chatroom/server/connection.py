"""One client connection: the protocol object the event loop feeds, and its session.

A connection has no task of its own while it is idle. The event loop hands its bytes to
`data_received`, which starts a task to answer the requests they complete; the task ends
once they are answered (bytes that arrive meanwhile wait for it). So ten thousand idle
connections hold ten thousand sessions, not ten thousand coroutines waiting on reads.
Their timeouts are kept by one `Sweeper` for all (scheduling.py), their writes made by one
`WriteScheduler` callback per turn of the loop.

Each request's reply is made by `handlers.reply_to`: `ok`, or an `error` frame, whatever
the handler raised.

Nothing here buffers without bound. Replies and pushes wait in the socket's write buffer;
once it is half full (of `max_write_buffer`) the session stops answering that client's
requests until the client has read its replies (and stops reading them once 64 KiB
wait), and a login's backlog is sent a page at a time as the client reads it. A client
that stops reading altogether is dropped as a slow consumer when the buffer is full.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from chatroom.common.codec import FrameDecoder, encode
from chatroom.common.envelope import error
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import ByePush, ByeReason
from chatroom.common.trace import FrameTrace
from chatroom.server.channel import Channel
from chatroom.server.handlers import HANDLERS, reply_to
from chatroom.server.hub import ROOMS
from chatroom.server.rules import frame_deadline, next_wait
from chatroom.server.scheduling import WriteScheduler
from chatroom.server.services import Services
from chatroom.server.started import Started
from chatroom.server.store import FileRecord
from chatroom.server.store.base import Backlog
from chatroom.server.throttle import TokenBucket

UNREAD_MAX = 64 * 1024
"""Bytes that may arrive while requests are being answered before the socket stops being
read until they are (asyncio's StreamReader stops at about as much). More, and a flood
of pipelined requests is decoded in bigger bites: more in flight, more memory."""
REPLAY_PAGE = 50
"""Backlog messages read from the store at a time during a login's replay."""
PIPELINE_MAX = 256
"""Requests of one connection running at once; the next waits for those to be answered."""

log = logging.getLogger("chatroom.server")


INFINITY = float("inf")
NO_FEATURES: frozenset[str] = frozenset()
"""What a session has before `hello` (one for all: a frozenset is 216 bytes)."""


class Gate(Protocol):
    """Who lets connections in and counts them (the server)."""

    async def admit(self, session: "Session") -> ChatError | None:
        """Why the connection is refused, or None once it is counted in."""

    def closed(self, session: "Session") -> None:
        """An admitted connection has ended."""


class Session(Channel):
    """The server's side of one socket: who is logged in on it, and how to reach them."""

    # Ten thousand at once: no per-instance dict (this is most of an idle connection).
    __slots__ = (
        "_closing", "_decoder", "_eof", "_expiry", "_finished", "_frame_by", "_login_by",
        "_replay", "_resume_digest", "_task", "_unread", "_unread_bytes",
        "_user", "expires", "features", "gate", "messages", "readable_files", "services",
    )  # fmt: skip
    log = log

    def __init__(self, services: Services, writes: WriteScheduler, gate: Gate) -> None:
        chaos = services.chaos.for_connection() if services.chaos else None
        super().__init__(services.limits, writes, chaos)
        self.services = services
        limits = services.limits
        self.gate = gate
        self.messages: TokenBucket | None = None
        """Its message rate: a full bucket until its first rate-limited request, made then."""
        self.readable_files: dict[int, FileRecord] | None = None
        """Files this session may download, remembered to spare a lookup per chunk
        (None until it downloads one)."""
        self._resume_digest: bytes | None = None
        self.features = NO_FEATURES
        """What the client asked for in `hello`: `pull` (no login replay), `compress`,
        `rooms` (pushes of rooms other than the lobby), `carbons`, `read`."""
        self._user: str | None = None
        self._decoder = FrameDecoder(limits.max_frame)
        self._replay: Backlog | None = None
        """The backlog to send after the login reply, page by page."""
        self._closing: ByeReason | None = None
        self._login_by = self._loop.time() + limits.login_timeout
        """When it is closed if it has not logged in (infinite once it has)."""
        self._frame_by: float | None = None
        """When the frame that has begun to arrive must be complete."""
        self.expires = INFINITY
        """Loop time at which the sweeper closes it (infinite while a request runs)."""
        self._expiry = ByeReason.LOGIN_TIMEOUT
        """What the `bye` says then."""
        self._task: asyncio.Task[None] | None = None
        """The task answering requests, while there are any."""
        self._unread: list[bytes] | None = None
        """Bytes that arrived while the task was answering earlier ones."""
        self._unread_bytes = 0
        self._eof = self._finished = False

    @property
    def address_key(self) -> str:
        """The key of this client's address in the login throttle."""
        return f"ip:{self.address}"

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

    @property
    def resume_token_hash(self) -> str | None:
        """The resume token this session was given or used; logout revokes it."""
        digest = self._resume_digest
        return None if digest is None else digest.hex()

    @resume_token_hash.setter
    def resume_token_hash(self, token_hash: str | None) -> None:
        # Kept as its 32 bytes, not as 64 hex digits: 48 bytes less a connection.
        self._resume_digest = None if token_hash is None else bytes.fromhex(token_hash)

    def require_logged_out(self) -> None:
        if self._user is not None:
            raise ChatError(ErrorCode.ALREADY_LOGGED_IN, f"already logged in as {self._user}")

    def spend_message(self) -> None:
        if self.messages is None:
            limits = self.limits
            self.messages = TokenBucket(
                limits.message_rate, limits.message_burst, self.services.clock
            )
        self.messages.take()

    async def log_in(self, username: str, acked_upto: int, how: str = "login") -> Backlog:
        """Make this session `username`'s and find their mail after mid `acked_upto`.

        Live pushes are held until the login reply and then the backlog (in mid order,
        a page at a time as the client reads) are written, so the client always sees
        the reply first, then its backlog, then live traffic. The session joins the hub
        before the backlog's end (the newest mid) is looked up, so no message can fall
        between the two (one might arrive both ways; clients drop a mid they have seen).
        """
        self._outbox.hold()
        self._user = username
        self._login_by = INFINITY
        self.services.hub.join(self)
        if "pull" in self.features:
            backlog = Backlog(0, 0, 0, 0)
        else:
            store, all_rooms = self.services.store, ROOMS in self.features
            limit = self.limits.replay_limit
            backlog = await store.backlog(username, acked_upto, limit, all_rooms)
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

    # -- the protocol: what the event loop calls ------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.services.trace:
            self._trace = FrameTrace(self.services.trace, self.peer)
        self._start(self._open())

    def data_received(self, data: bytes) -> None:
        if self._task is None:
            self._start(self._answer(data))
            return
        if self._unread is None:
            self._unread = []
        self._unread.append(data)
        self._unread_bytes += len(data)
        if self._unread_bytes > UNREAD_MAX and self._transport.is_reading():
            self._transport.pause_reading()  # until the task has caught up

    def eof_received(self) -> bool:
        self._eof = True
        if self._task is None:
            self._finish()
        # Half closed: its replies still go out. (Over TLS the transport closes anyway,
        # and warns if told otherwise.)
        return self._transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._wake_writer()
        if self._task is None:
            self._finish()

    def _closed_by_server(self) -> None:
        self._wake_writer()  # a reply waiting for the client to read gives up
        self._loop.call_soon(self._route_nothing_more)  # not while the hub may be mid fan-out

    def _route_nothing_more(self) -> None:
        if self._task is None:
            self._finish()
        elif self._user is not None:
            self.services.hub.leave(self)  # now; the rest once its request is answered

    def say_bye(self, reason: ByeReason) -> None:
        """Send `bye` and close the socket once what is queued has been written."""
        self.expires = INFINITY  # said once
        self._release_held()
        self.send(ByePush(reason).envelope())
        self.flush()
        self._close()
        self._closed_by_server()

    # -- answering requests -----------------------------------------------------------

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self.expires = INFINITY  # no timeout while a request is being answered
        self._task = self._loop.create_task(work)

    async def _open(self) -> None:
        """Let the connection in (or refuse it, with an `error`), then answer what came."""
        refusal = await self.gate.admit(self)
        if refusal is not None:
            log.info("refused %s: %s", self.address, refusal.message)
            self._finished = True  # never counted in: nothing to undo
            self._transport.write(encode(error(None, refusal)))
            self._transport.close()
            self._task = None
            return
        log.info("connect %s", self.peer)
        await self._answer(self._next_unread())

    async def _answer(self, chunk: bytes | None) -> None:
        """Answer the requests `chunk` completes and those in what arrives meanwhile;
        then end, and leave the connection to wait for bytes (and the sweeper)."""
        try:
            while chunk is not None and self._closing is None:
                if self._trace is not None:
                    self._trace.received(chunk)
                arrived = self._loop.time()
                buffered = self._decoder.buffered + len(chunk)
                await self._answer_all(chunk)
                self._frame_by = frame_deadline(
                    self.limits, arrived, self._frame_by, buffered, self._decoder.buffered
                )
                chunk = self._next_unread()
        except ChatError as err:  # the decoder's: the stream can no longer be trusted
            self.send(error(None, err))
            self._eof = True
        except ConnectionError:
            self._eof = True
        finally:
            self._task = None
        if self._closing is not None:
            self.say_bye(self._closing)
        elif self._eof or self._transport.is_closing():
            self._finish()
        else:
            now = self._loop.time()
            wait, self._expiry = next_wait(self.limits, now, self._login_by, self._frame_by)
            self.expires = now + wait

    def _next_unread(self) -> bytes | None:
        """What arrived while requests were being answered, as one chunk (None if nothing)."""
        unread, self._unread, self._unread_bytes = self._unread, None, 0
        if not self._transport.is_reading():
            self._transport.resume_reading()  # (nothing, if it is closing)
        if not unread:
            return None
        return unread[0] if len(unread) == 1 else b"".join(unread)

    def expire(self) -> None:
        """Its deadline has passed with no request (the sweeper calls this)."""
        self._closing = self._expiry
        self.say_bye(self._expiry)

    async def _answer_all(self, chunk: bytes) -> None:
        """Answer every request `chunk` completes, replies in order of arrival.

        A run of requests that may overlap (messages, acks, pings from a logged-in
        session) is started at once, each up to where it waits for its commit (without a
        task each: started.py), so a client that pipelines 100 broadcasts gets them
        stored in one group commit; any other request waits for those before it, and
        those after it wait for it.
        """
        running: list[Started[dict[str, Any]]] = []
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
                    running.append(Started(reply_to(self.services, self, envelope)))
                    continue
                await self._send_replies(running)
                running = []
                await self._send_reply(await reply_to(self.services, self, envelope))
                if self._closing is not None:
                    break
        finally:
            await self._send_replies(running)

    async def _send_replies(self, running: list[Started[dict[str, Any]]]) -> None:
        """Each reply once its request is done. The requests after it whose commit is
        done too carry on first, so their pushes go out with this one's, gathered."""
        carried = 0
        for number, started in enumerate(running):
            reply = await started.result()
            carried = max(carried, number + 1)
            while carried < len(running) and running[carried].carry_on():
                carried += 1
            await self._send_reply(reply)

    async def _send_reply(self, reply: dict[str, Any]) -> None:
        self.services.hub.write_gathered()  # after the pushes that came before it
        self._write(encode(reply))  # ahead of any pushes held back during the request
        if self._replay is not None:
            backlog, self._replay = self._replay, None
            await self._send_backlog(backlog)
        self._release_held()

    async def _send_backlog(self, backlog: Backlog) -> None:
        """Send the backlog a page at a time, never much more than the client has read."""
        assert self._user is not None
        after = backlog.after
        while after < backlog.upto:
            page = await self.services.store.backlog_page(
                self._user, after, backlog.upto, REPLAY_PAGE, backlog.all_rooms
            )
            if not page:
                break
            for message in page:
                self._write(message.as_push(offline=True).frame())
                if self._unsent() > self._high_water:
                    await self._drain()
            after = page[-1].mid

    def _finish(self) -> None:
        """The connection is over (the client finished, broke the protocol or vanished, or
        was sent away) and no request is running: leave the hub, let go of uploads, write
        what is queued and close, and stop counting the connection. Once."""
        if self._finished:
            return
        self._finished = True
        self.expires = INFINITY
        self.services.vault.release_all(owner=self)
        if self._user is not None:
            self.services.hub.leave(self)
            if self._closing == ByeReason.LOGOUT:
                log.info("logout %s from %s", self._user, self.peer)
        self.flush()
        self._close()
        self.gate.closed(self)
        log.info("disconnect %s", self.peer)

    def abort(self) -> None:
        """Stop whatever it is doing and cut the socket (shutdown, after its grace)."""
        if self._task is not None:
            self._task.cancel()
        self._transport.abort()
        self._finish()
