"""The statuses the hub shows, kept to what the store holds.

A status is written to the store, then shown by the hub. But two changes of one user's
status (from two sessions, or on two nodes) can be stored in one order and answered in
the other, and a login reads the status it shows before its session joins, so a change
made meanwhile would be undone by it. Either way everyone would be shown what the store
no longer holds, until the user's next change. So once a status has changed, the hub
shows what the store holds *then*, read again, and one user's reads here are taken in
turn: the last read shown is the newest.
"""

import asyncio
import logging

from chatroom.server.hub import Hub
from chatroom.server.store import Store

log = logging.getLogger("chatroom.server")


class StatusKeeper:
    __slots__ = ("_background", "_hub", "_store", "_turns", "changes")

    def __init__(self, store: Store, hub: Hub) -> None:
        self._store, self._hub = store, hub
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}
        """A lock for each user whose status is being read, and how many wait on it."""
        self._background: set[asyncio.Task[object]] = set()
        self.changes = 0
        """How many status changes this node has made or heard of. A login reads it before
        it reads the user's status, and reads the status again if it has moved."""

    async def changed(self, username: str, chosen: tuple[str, str]) -> None:
        """`username` changed their status here to `chosen`, and it is stored: show it
        (and tell the other nodes)."""
        self.changes += 1
        self._hub.status_changed(username)
        if not await self._shown(username) and self._hub.sessions_of(username):
            self._hub.set_status(username, *chosen)  # stored: not lost for want of a read

    def heard(self, username: str) -> None:
        """Another node stored a change of `username`'s status: show it if they have
        sessions here."""
        self.changes += 1
        if self._hub.sessions_of(username):
            task = asyncio.create_task(self._shown(username))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _shown(self, username: str) -> bool:
        """`show_stored`; False if the store could not be read (it is said in the log)."""
        try:
            await self.show_stored(username)
        except Exception as exc:  # the database unreachable, say
            log.warning("could not read %s's status again: %s", username, exc)
            return False
        return True

    async def show_stored(self, username: str) -> tuple[str, str]:
        """Read `username`'s status from the store, and show it if they are online here;
        after the reads of it begun before, never at the same time."""
        lock, waiting = self._turns.get(username) or (asyncio.Lock(), 0)
        self._turns[username] = (lock, waiting + 1)
        try:
            async with lock:
                profile = await self._store.profile(username)
                assert profile is not None  # users are never deleted
                if self._hub.sessions_of(username):  # (else nothing to show: see set_status)
                    self._hub.set_status(username, profile.status, profile.status_text)
                return profile.status, profile.status_text
        finally:
            lock, waiting = self._turns.pop(username)
            if waiting > 1:
                self._turns[username] = (lock, waiting - 1)
