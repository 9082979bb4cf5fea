"""Where a node starts catching up after losing touch with the others: `Marks`.

Messages are stored before they are sent, so what a node missed while Redis was away is
in the store: every message after some mid. The node's *mark* is the newest mid it had
sent or heard of one heartbeat before the trouble (a message published just before it
may still have been on its way); from there it sends its users again what was stored,
and asks the other nodes to do the same for theirs (what it published meanwhile was
lost). Sending too much is harmless (clients drop a mid they have seen); too little
would lose a message, so the mark only ever moves back while the trouble lasts.
"""

import logging
from typing import Protocol

from chatroom.common.messages import Framed
from chatroom.server.hub import LOBBY_CONV, Hub
from chatroom.server.store import StoredMessage

log = logging.getLogger("chatroom.server")

CATCH_UP_MOST = 10_000
"""Messages a node sends again after losing touch; older ones wait for the next login."""


class MessageLog(Protocol):
    """What catching up reads of the store."""

    async def newest_mid(self) -> int: ...

    async def since(self, after: int, limit: int) -> list[StoredMessage]: ...


class Marks:
    def __init__(self, newest: int = 0) -> None:
        self._newest = newest
        """The newest mid this node has sent or heard of."""
        self._marks = (newest, newest)
        """What `_newest` was at the last two heartbeats."""
        self._missed_after: int | None = None
        """Set while messages after this mid may not have reached or left this node."""

    def seen(self, mid: int | None) -> int | None:
        """`mid` (of a message sent or heard of; None: not a message), noted."""
        if mid is not None and mid > self._newest:
            self._newest = mid
        return mid

    def beat(self) -> None:
        self._marks = (self._marks[1], self._newest)

    def lost(self, *missed_after: int) -> None:
        """Touch was lost: what came after a heartbeat ago (or after `missed_after`, the
        marks of catch-ups that could not be asked for) may be missing."""
        marks = [self._marks[0], *missed_after]
        if self._missed_after is not None:
            marks.append(self._missed_after)
        self._missed_after = min(marks)

    def take(self) -> int | None:
        """Touch is back: the mid to catch up after, if anything may be missing."""
        after, self._missed_after = self._missed_after, None
        return after


async def send_again(messages: MessageLog, after: int, hub: Hub) -> None:
    """Deliver to `hub`'s own sessions, as live pushes, the messages stored after mid
    `after` (with the in-process hub's methods: to this node's connections only)."""
    try:
        stored = await messages.since(after, CATCH_UP_MOST)
    except Exception as exc:  # the store is down too: the next login catches up
        log.warning("could not catch up after mid %d: %s", after, exc)
        return
    for message in stored:  # as `route_once` sends them, carbons included
        push = Framed(message.as_push())
        if message.recipient is None:
            Hub.to_room(hub, message.conv, push, exclude=message.sender)
            Hub.carbons(hub, message.sender, push, None, in_room=message.conv != LOBBY_CONV)
        elif message.recipient != message.sender:
            Hub.to_users(hub, [message.recipient], push)
            Hub.carbons(hub, message.sender, push, None, in_room=False)
    log.info("caught up %d messages after mid %d", len(stored), after)
    if len(stored) == CATCH_UP_MOST:
        log.warning("more than %d messages to catch up: the rest at next login", CATCH_UP_MOST)
