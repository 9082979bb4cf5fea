"""Reconnection: a fresh logged-in `ChatClient` each time the last one's connection ends,
on the next server that answers (of one or several: `ServerList`), with a backoff between
rounds and one rule for which failures are worth retrying (`RETRYABLE`)."""

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from chatroom.client.connection import ChatClient
from chatroom.client.replies import LoginReply
from chatroom.client.seen import SeenMids
from chatroom.client.servers import RETRYABLE, ServerList
from chatroom.common.errors import ChatError


def backoff(first: float = 1.0, factor: float = 2.0, most: float = 30.0) -> Iterator[float]:
    """Seconds to wait before each reconnection attempt: first, first*factor, ... up to most."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, most)


async def sessions(
    servers: ServerList,
    login: Callable[[ChatClient], Awaitable[LoginReply]],
    *,
    first: tuple[ChatClient, LoginReply] | None = None,
    tls: ssl.SSLContext | None = None,
    delays: Callable[[], Iterator[float]] = backoff,
    on_wait: Callable[[float], None] | None = None,
) -> AsyncIterator[tuple[ChatClient, LoginReply]]:
    """Yield a logged-in client, and a new one each time the previous one's connection ends.

    `login` logs a fresh client in (a `resume`, say). Each attempt tries every server in
    turn, starting with the one after the server lost. Between attempts it waits the
    next of `delays()` (reset after every success), telling `on_wait` how long first.
    `first` is a session to start with. Ends only when the caller stops iterating or
    `login` raises a `ChatError`.
    """
    # Every client shares the first one's memory of mids, so a message replayed at
    # re-login is not shown twice. (A program that must finish handling each message,
    # which a lost connection may cut short, wants it again: docs/library.md's bot.)
    seen = first[0].seen if first else SeenMids()
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
                client = await servers.connect(tls=tls, seen=seen)
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
