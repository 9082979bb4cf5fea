"""A TCP relay for tests, between clients and the server: it keeps every request it passes
on, and can lose the reply to one request and cut that connection, as a network failing
at the worst moment would (the server did the work; the client never heard). It can also
rewrite what the server sends, as a server with mistakes in it would have sent it.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Self

from chatroom.common.codec import FrameDecoder, encode
from chatroom.common.messages import ReplyType


class Relay:
    """`async with Relay(server.port) as relay:`, then connect clients to `relay.port`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[dict[str, Any]] = []
        """Every request envelope passed on to the server, oldest first."""
        self.lose_reply_to: str | None = None
        """A request type: the reply to the next such request is dropped and its connection
        cut on both sides. Reset once used."""
        self.refusing = False
        """While set, a new connection is closed at once, as if the network were down."""
        self.mangle: Callable[[dict[str, Any]], list[Any]] = lambda envelope: [envelope]
        """The frames sent to the client in place of each one the server sends: a careless
        server's, rewritten from a good one (bytes are sent as they are)."""
        self._listener: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._stalled: set[asyncio.Task[None] | None] = set()

    async def __aenter__(self) -> Self:
        self._listener = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._listener is not None
        self._listener.close()
        for link in self._links:
            link.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        await self._listener.wait_closed()

    @property
    def port(self) -> int:
        assert self._listener is not None
        return self._listener.sockets[0].getsockname()[1]

    def sent(self, kind: str) -> list[dict[str, Any]]:
        """The `data` of every request of type `kind` passed on so far."""
        return [r.get("data") or {} for r in self.requests if r.get("type") == kind]

    def cut(self) -> None:
        """Cut every connection, and refuse new ones until `refusing` is cleared."""
        self.refusing = True
        for link in self._links:
            link.cancel()

    def stall(self) -> None:
        """Stop passing anything on, either way, on every connection open now, and close
        none: a server whose machine has left the network, without a word."""
        self._stalled = set(self._links)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        link = asyncio.create_task(self._link(reader, writer))
        self._links.add(link)
        link.add_done_callback(self._links.discard)

    async def _link(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        """Relay one connection until either side ends it or a reply is lost."""
        try:
            server_reader, server_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
        except OSError:  # the server is down: so is the connection, as the client sees it
            client_writer.close()
            return
        lost: set[int] = set()  # ids of requests whose reply never reaches the client
        this = asyncio.current_task()

        async def requests() -> None:
            decoder = FrameDecoder(max_frame=2**32 - 1)
            while chunk := await client_reader.read(65536):
                if this in self._stalled:
                    continue
                for envelope in decoder.feed(chunk):
                    self.requests.append(envelope)
                    if envelope.get("type") == self.lose_reply_to:
                        self.lose_reply_to = None
                        lost.add(envelope["id"])
                    server_writer.write(encode(envelope))

        async def replies() -> None:
            decoder = FrameDecoder(max_frame=2**32 - 1)
            while chunk := await server_reader.read(65536):
                if this in self._stalled:
                    continue
                for envelope in decoder.feed(chunk):
                    is_reply = envelope.get("type") in (ReplyType.OK, ReplyType.ERROR)
                    if is_reply and envelope.get("id") in lost:
                        return
                    for frame in self.mangle(envelope):
                        client_writer.write(frame if isinstance(frame, bytes) else encode(frame))

        directions = [asyncio.create_task(requests()), asyncio.create_task(replies())]
        try:
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for direction in directions:
                direction.cancel()
            await asyncio.gather(*directions, return_exceptions=True)
            for writer in (client_writer, server_writer):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
