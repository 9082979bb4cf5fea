"""What the event loop does for all connections at once, rather than once for each.

Thousands of connections are mostly idle. Each one scheduling its own write callback,
or keeping its own timer (or a task waiting on a read with a timeout), would be
thousands of objects on the event loop; here there is one of each for all of them:

- `WriteScheduler`: once per turn of the loop, write out every session that queued
  frames in that turn (a broadcast to 5,000 users is one callback, not 5,000).
- `Sweeper`: now and then, close every session whose deadline has passed (silent for
  `idle_timeout`, not logged in within `login_timeout`, a frame begun and not finished
  within `frame_timeout`).
"""

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger("chatroom.server")

SWEEPS_PER_TIMEOUT = 10
"""How many times per shortest timeout the sweeper looks (so a deadline is kept to
within a tenth of it)."""
LONGEST_SWEEP = 1.0
"""Seconds between sweeps at most: a timeout fires at most this late."""


class Flushable(Protocol):
    @property
    def peer(self) -> str: ...

    def flush(self) -> None: ...


class Expiring(Protocol):
    expires: float
    """Loop time at which it has waited too long (infinite while a request runs)."""

    def expire(self) -> None: ...


class WriteScheduler:
    """Writes out, once per turn of the event loop, every session that queued frames in it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._due: list[Flushable] = []

    def flush_soon(self, session: Flushable) -> None:
        if not self._due:
            self.loop.call_soon(self._flush_due)
        self._due.append(session)

    def _flush_due(self) -> None:
        due, self._due = self._due, []
        for session in due:
            try:
                session.flush()
            except Exception:  # one broken socket must not hold back the others' frames
                log.exception("writing to %s failed", session.peer)


class Sweeper:
    """Closes, every `interval` seconds, the sessions whose deadline has passed."""

    def __init__(self, sessions: Iterable[Expiring], shortest_timeout: float) -> None:
        self._sessions = sessions
        self.interval = min(shortest_timeout / SWEEPS_PER_TIMEOUT, LONGEST_SWEEP)
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = self._loop.call_later(self.interval, self._sweep)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        now = self._loop.time()
        for session in [s for s in self._sessions if s.expires <= now]:
            try:
                session.expire()
            except Exception:
                log.exception("closing an expired session failed")
        self._timer = self._loop.call_later(self.interval, self._sweep)
