"""Writing to one client: in the order it must read, once per turn, never without bound.

`Channel` is the writing half of a connection (`Session`, in connection.py, is the rest).
Frames are queued in an `Outbox` (rules.py) and written by the server's `WriteScheduler`
once per turn of the event loop, in one system call. While the socket's buffer is over
its high-water mark the transport says so (`pause_writing`), and `_drain` waits for the
client to read; a client that does not read within `idle_timeout`, or lets more than
`max_write_buffer` pile up, is told `bye {reason: slow_consumer}` and cut off.
"""

import asyncio
import functools
import logging
import sys
from typing import Any, cast

from chatroom.common.codec import encode
from chatroom.common.limits import Limits
from chatroom.common.messages import ByePush, ByeReason
from chatroom.common.trace import FrameTrace
from chatroom.server.chaos import Mischief
from chatroom.server.rules import Outbox
from chatroom.server.scheduling import WriteScheduler

SLOW_CONSUMER_GRACE = 5.0
"""Seconds a dropped slow consumer gets to read its `bye` before the socket is cut."""

log = logging.getLogger("chatroom.server")


@functools.cache
def water_marks(max_write_buffer: int) -> tuple[int, int]:
    """The socket's high-water mark, past which no more is written until the client has
    read down to the low one. One pair of ints for every socket: the transport keeps
    them, and two ints of their own would be 56 bytes a connection."""
    high = max_write_buffer // 2
    return high, high // 4


class Channel(asyncio.Protocol):
    """The server's writing end of one socket."""

    __slots__ = (
        "_chaos", "_drain_waiter", "_outbox", "_trace", "_writing_paused",
        "address", "limits", "transport", "writes",
    )  # fmt: skip

    def __init__(self, limits: Limits, writes: WriteScheduler, chaos: Mischief | None) -> None:
        self.limits = limits
        self.writes = writes
        self.transport: asyncio.Transport | None = None
        self.address = "?"
        self._outbox = Outbox()
        self._trace: FrameTrace | None = None
        self._chaos = chaos
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport: asyncio's own, or uvloop's (chatroom[fast]), which has the
        # same methods without being a subclass of asyncio.Transport.
        self.transport = stream = cast(asyncio.Transport, transport)
        address, *_ = stream.get_extra_info("peername") or ("?",)
        # One string for every connection from the same address (a classroom behind one
        # router, a load test): 58 bytes a connection otherwise. Interned strings go
        # when the last connection from their address does.
        self.address = sys.intern(address)
        stream.set_write_buffer_limits(*water_marks(self.limits.max_write_buffer))

    @property
    def _high_water(self) -> int:
        """Bytes unread by the client past which no more is written until it reads."""
        return water_marks(self.limits.max_write_buffer)[0]

    @property
    def peer(self) -> str:
        """Its address and port, for the log."""
        peername = self.transport.get_extra_info("peername") if self.transport else None
        return f"{self.address}:{peername[1] if peername else 0}"

    @property
    def _most_held(self) -> int:
        """Bytes of pushes that may wait behind a login's reply and backlog."""
        return self.limits.max_write_buffer

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self.writes.loop  # asking asyncio for the running loop costs a getpid()

    @property
    def user(self) -> str | None:
        """Who is logged in on it, if anyone (for the log)."""
        return None

    def _closed_by_server(self) -> None:
        """Called once the socket is closing because the client did not read."""

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    @property
    def _transport(self) -> asyncio.Transport:
        assert self.transport is not None  # from connection_made on
        return self.transport

    def send_frame(self, frame: bytes) -> None:
        """Queue one encoded frame for this socket (held back while a login is replying)."""
        # The hot path of every fan-out (this is _write, inlined): one attribute, one call.
        outbox = self._outbox
        if not outbox.holding:
            if outbox.reply(frame):
                self.writes.flush_soon(self)
        elif not self._transport.is_closing() and not outbox.push(frame, self._most_held):
            self._drop_slow_consumer()  # live traffic piles up behind a backlog not read

    def _write(self, frame: bytes) -> None:
        """Queue a frame; everything queued in one turn of the event loop goes out in one
        write (one system call), however many pushes and replies it holds."""
        if self._outbox.reply(frame):
            self.writes.flush_soon(self)

    def flush(self) -> None:
        """Write out what is queued, in one system call."""
        data = self._outbox.take()
        transport = self._transport
        if not data or transport.is_closing():
            return
        self._write_now(data)
        if transport.get_write_buffer_size() > self.limits.max_write_buffer:
            self._drop_slow_consumer()

    def _drop_slow_consumer(self) -> None:
        """The client is not reading: stop queueing for it (what it misses stays in its
        mailbox until it acks), say why, and cut the socket if even that is not read."""
        log.warning(
            "slow consumer %s (%s): over %d bytes unread",
            self.peer,
            self.user,
            self.limits.max_write_buffer,
        )
        self._write_now(ByePush(ByeReason.SLOW_CONSUMER).frame())
        self._close()
        self._closed_by_server()

    def _write_now(self, data: bytes) -> None:
        if self._trace is not None:
            self._trace.sent(data)
        if self._chaos is not None:
            self._chaos.write(self._transport, data)
        else:
            self._transport.write(data)

    def _close(self) -> None:
        """Close once what is queued is written; cut the socket if the client does not
        read it within `SLOW_CONSUMER_GRACE` seconds."""
        transport = self._transport
        if self._chaos is not None:
            self._chaos.close(transport)  # once what it delays is written
        elif not transport.is_closing():
            transport.close()
            if transport.get_write_buffer_size():
                self._loop.call_later(SLOW_CONSUMER_GRACE, transport.abort)

    def _unsent(self) -> int:
        """Bytes written for this client that it has not read yet."""
        return self._transport.get_write_buffer_size() + self._outbox.queued_bytes

    async def _drain(self) -> None:
        """Write out what is queued and wait until the client has read most of it."""
        self.flush()
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closing")
        if not self._writing_paused:
            return
        self._drain_waiter = waiter = self._loop.create_future()
        try:
            async with asyncio.timeout(self.limits.idle_timeout):
                await waiter
        except TimeoutError:
            self._drop_slow_consumer()
            raise ConnectionResetError("the client stopped reading") from None
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closing")

    def _wake_writer(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send(self, envelope: dict[str, Any]) -> None:
        self.send_frame(encode(envelope))

    def _release_held(self) -> None:
        if self._outbox.holding:
            self.writes.flush_soon(self)  # at most one extra, empty flush: harmless
            self._outbox.release()
