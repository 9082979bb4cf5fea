"""Who is online, on which connections, and fan-out of pushes to them.

Every push goes through the hub, so routing can move elsewhere (a Redis-backed hub for
several server nodes, say) without the handlers changing. The hub encodes a push once,
and only if someone is online to receive it, and writes the same bytes to every
recipient's connection.

Presence changes are gathered for PRESENCE_DELAY seconds and sent together: one change
as a `presence` push, several as one `presence_batch`. When thousands of users log in at
once (after a restart), that is one frame per user per window instead of one per user per
login, which would grow with the square of the number of users.
"""

import asyncio
from typing import Protocol

from chatroom.common.codec import encode
from chatroom.common.messages import PresenceBatchPush, PresencePush, Push

PRESENCE_DELAY = 0.05


class Recipient(Protocol):
    """What the hub needs of a connection: whose it is, and a way to send it a frame."""

    @property
    def user(self) -> str | None: ...

    def send_frame(self, frame: bytes) -> None: ...


class Hub:
    """In-process routing: a map from username to that user's logged-in connections."""

    def __init__(self) -> None:
        self._sessions: dict[str, set[Recipient]] = {}
        self.announce_presence = True
        self._announced: set[str] = set()
        """Who the others were last told is online."""
        self._changes: dict[str, bool] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._snapshot_in_window = False
        """Whether someone was given the online list while changes were being gathered."""

    def join(self, session: Recipient) -> None:
        """Route the user's pushes to `session` too; announce them if it is their first."""
        assert session.user is not None
        sessions = self._sessions.setdefault(session.user, set())
        sessions.add(session)
        if len(sessions) == 1:
            self._announce(session.user, online=True)

    def leave(self, session: Recipient) -> None:
        """Stop routing to `session`; announce the user gone if it was their last."""
        assert session.user is not None
        sessions = self._sessions.get(session.user)
        if sessions is None or session not in sessions:
            return
        sessions.discard(session)
        if not sessions:
            del self._sessions[session.user]
            self._announce(session.user, online=False)

    def online(self) -> list[str]:
        """Usernames with at least one session, sorted."""
        if self._flush is not None:
            self._snapshot_in_window = True
        return sorted(self._sessions)

    def route(self, push: Push, to: str | None, sender: str) -> bool:
        """Send what `sender` sent to `to` (None: the group, everyone but the sender);
        whether anyone was online to receive it (always True for the group)."""
        if to is None:
            self.broadcast(push, exclude=sender)
            return True
        return self.deliver(to, push)

    def deliver(self, username: str, push: Push) -> bool:
        """Send `push` to every session of `username`; whether they had any."""
        sessions = self._sessions.get(username)
        if not sessions:
            return False  # stored for them; nothing to encode
        frame = encode(push.envelope())
        for session in sessions:
            session.send_frame(frame)
        return True

    def broadcast(self, push: Push, exclude: str | None = None) -> None:
        """Send `push` to every session of every online user but `exclude`."""
        excluded_online = 1 if exclude in self._sessions else 0
        if len(self._sessions) == excluded_online:
            return  # nobody else is online: stored for them; nothing to encode
        frame = encode(push.envelope())
        for username, sessions in self._sessions.items():
            if username != exclude:
                for session in sessions:
                    session.send_frame(frame)

    def _announce(self, username: str, online: bool) -> None:
        if not self.announce_presence:
            return
        self._changes[username] = online
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(PRESENCE_DELAY, self._send_presence)

    def _send_presence(self) -> None:
        self._flush = None
        # Only what differs from what was last said: in and out again within the window
        # is no news. Unless someone was given the list of this very moment during the
        # window: that list may hold what changed back since, so say everything.
        changes, self._changes = self._changes, {}
        if self._snapshot_in_window:
            news = changes
        else:
            news = {u: on for u, on in changes.items() if (u in self._announced) != on}
        self._snapshot_in_window = False
        self._announced |= {u for u, on in news.items() if on}
        self._announced -= {u for u, on in news.items() if not on}
        if len(news) == 1:
            ((username, online),) = news.items()
            self.broadcast(PresencePush(username, online), exclude=username)
        elif news:
            came = sorted(u for u, on in news.items() if on)
            went = sorted(u for u, on in news.items() if not on)
            self.broadcast(PresenceBatchPush(came, went))

    def close(self) -> None:
        """Stop announcing presence (the server is shutting down)."""
        self.announce_presence = False
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
