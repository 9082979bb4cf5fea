"""Who is online, on which connections, and fan-out of pushes to them.

Every push goes through the hub, so routing can move elsewhere (`cluster.RedisHub`, for
several server nodes) without the handlers changing.

The hub encodes a push once, and only if someone is online to receive it, and writes the
same bytes to every recipient's connection. Pushes to a room (the lobby is everyone) are
gathered for the rest of the turn of the event loop and written together, one
`send_frame` per session for all of them (a group commit of 500 messages is then 1 call
per session, not 500); anything sent to anyone else, to another room, or a reply, first
writes out what is gathered, so that no session is sent anything ahead of a push that
came before it.

The hub also knows who is in each room (the lobby holds everyone), to send a room's
messages to its members only. A message goes to every session of its recipients and to
the sender's other sessions too (carbons), but never back to the session it came from.

Presence changes are gathered for a window and sent together: one change as a
`presence` push, several as one `presence_batch`. The window is PRESENCE_DELAY, longer
with more sessions to write to (`presence_window`), so that a login storm costs about
the same number of writes a second however many are online. What others see of a user is their
status (`online`, `away`, `busy`, with a text) while they have a session, and `offline`
when they have none or are `invisible`: an invisible user is sent everything, but is
listed and announced as offline. When thousands of users log in at
once (after a restart), that is one frame per user per window instead of one per user per
login, which would grow with the square of the number of users.
"""

import asyncio
import itertools
from collections.abc import Collection, Iterable, Iterator
from typing import Any, Protocol

from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason, PresenceBatchPush, PresencePush, Push, Status
from chatroom.server.online import OnlineList, status_entries
from chatroom.server.shared_limits import SharedLimits
from chatroom.server.throttle import LoginThrottle

PRESENCE_DELAY = 0.05
"""Seconds presence changes are gathered before they are told, with few online."""
PRESENCE_SESSIONS_PER_SECOND = 5_000
"""With more sessions than this many times PRESENCE_DELAY, the window grows with them: a
presence frame costs the server a send system call (about 14 µs of CPU here) and each
client a read, so at most this many a second (7 % of a core) however many are told."""
PRESENCE_LONGEST = 2.0


def presence_window(sessions: int) -> float:
    """How long to gather presence changes when `sessions` will be told of them: 50 ms,
    or 1 ms per 5 sessions (so at most 5,000 presence frames a second), up to 2 s."""
    return min(PRESENCE_LONGEST, max(PRESENCE_DELAY, sessions / PRESENCE_SESSIONS_PER_SECOND))


LOBBY_CONV = 1
ROOMS = "rooms"
"""The feature a session asks for to be sent rooms other than the lobby, and their news."""
CARBONS = "carbons"
"""The feature a session asks for to be sent what its user sends from other sessions."""

Shown = tuple[str, str]
"""What others see of a user: their status and its text."""
OFFLINE: Shown = (Status.OFFLINE, "")
ONLINE: Shown = (Status.ONLINE, "")


class Recipient(Protocol):
    """What the hub needs of a connection: whose it is, and a way to send it a frame."""

    @property
    def user(self) -> str | None: ...

    @property
    def features(self) -> frozenset[str]:
        """What the client asked for in `hello` (see docs/protocol.md: `features`)."""

    def send_frame(self, frame: bytes) -> None: ...

    def say_bye(self, reason: ByeReason) -> None:
        """Say `bye` with `reason` and close the connection."""


class Hub:
    """In-process routing: a map from username to that user's logged-in connections."""

    def __init__(self) -> None:
        self._sessions: dict[str, Recipient] = {}
        """Each online user's first session: most have only the one, and a tuple of one
        would be 48 bytes more for each."""
        self._more: dict[str, tuple[Recipient, ...]] = {}
        """The other sessions of those who have several."""
        self.announce_presence = True
        self._statuses: dict[str, Shown] = {}
        """The status each user with a session chose (`invisible` among them)."""
        self._announced: dict[str, Shown] = {}
        """What the others were last told of each user they were told is online."""
        self._changes: set[str] = set()
        self._visible = OnlineList()
        """Who others see online, and how: kept as it changes, not made for each login."""
        self._flush: asyncio.TimerHandle | None = None
        self._snapshot_in_window = False
        """Whether someone was given the online list while changes were being gathered."""
        self._rooms: dict[int, set[str]] = {}
        """The members of each room but the lobby, by conversation number."""
        self._rooms_of: dict[str, set[int]] = {}
        """The rooms (but the lobby) of each user: the same, the other way round."""
        self._gathered: list[tuple[bytes, str | None, Recipient | None]] = []
        """Pushes to one room not written yet (each with the user and session it skips)."""
        self._gathered_conv = LOBBY_CONV
        """Their room (a push to another writes them out first)."""
        self._listening: dict[int, set[Recipient]] = {}
        """The sessions online in each room but the lobby that asked for rooms: what a
        room's message is written to, kept as they come and go, so that a fan-out is
        one loop over them as the lobby's is."""

    def join(self, session: Recipient) -> None:
        """Route the user's pushes to `session` too; announce them if it is their first."""
        assert session.user is not None
        self.write_gathered()  # a session is sent what comes after it joins, not before
        username = session.user
        if ROOMS in session.features:
            for conv in self._rooms_of.get(username, ()):
                self._listening.setdefault(conv, set()).add(session)
        if username in self._sessions:
            self._more[username] = (*self._more.get(username, ()), session)
        else:
            self._sessions[username] = session
            self._announce(username)

    def leave(self, session: Recipient) -> None:
        """Stop routing to `session`; announce the user gone if it was their last."""
        assert session.user is not None
        username = session.user
        sessions = self.sessions_of(username)
        if session not in sessions:
            return
        self.write_gathered()  # and everything said while it was there
        for conv in self._rooms_of.get(username, ()):
            self._listening.get(conv, set()).discard(session)
        rest = [s for s in sessions if s is not session]
        if not rest:
            del self._sessions[username]
            self._statuses.pop(username, None)
            self._announce(username)
            return
        self._sessions[username] = rest[0]
        if len(rest) > 1:
            self._more[username] = tuple(rest[1:])
        else:
            self._more.pop(username, None)

    def sessions_of(self, username: str | None) -> tuple[Recipient, ...]:
        """The sessions of `username` (none if they are offline)."""
        if username is None or (first := self._sessions.get(username)) is None:
            return ()
        more = self._more.get(username)
        return (first, *more) if more else (first,)

    def _everyone(self) -> Iterator[tuple[str, Recipient]]:
        """Every session, with its user."""
        others = ((u, s) for u, more in self._more.items() for s in more)
        return itertools.chain(self._sessions.items(), others)

    def online(self) -> list[str]:
        """Usernames that others see online (a session, and not invisible), sorted."""
        return list(self._listed().names)

    def online_now(self) -> dict[str, Any]:
        """The `online` (packed: far cheaper with thousands online) and `statuses` fields
        of a login or `users` reply."""
        return self._listed().reply()

    def _listed(self) -> OnlineList:
        """Who others see online, given to someone now."""
        if self._flush is not None:
            self._snapshot_in_window = True
        return self._visible

    def is_online(self, username: str) -> bool:
        """Whether others see `username` online."""
        return self.shown(username) != OFFLINE

    def shown(self, username: str) -> Shown:
        """What others see of `username`: their status and its text, or `offline`."""
        if username not in self._sessions:
            return OFFLINE
        status = self._statuses.get(username, ONLINE)
        return OFFLINE if status[0] == Status.INVISIBLE else status

    def status_changed(self, username: str) -> None:
        """`username`'s new status is stored (statuses.py shows it here): tell other nodes."""

    def set_status(self, username: str, status: str, text: str = "") -> None:
        """`username`'s status here (before their first session joins, or while on)."""
        before = self.shown(username)
        if (status, text) == ONLINE:  # what everyone has unless they chose otherwise
            self._statuses.pop(username, None)
        else:
            self._statuses[username] = (status, text)
        if username in self._sessions and self.shown(username) != before:
            self._announce(username)

    # -- rooms ------------------------------------------------------------------------

    def set_rooms(self, members: dict[int, set[str]]) -> None:
        """Who is in each room but the lobby (as the store says when the server starts)."""
        for conv, usernames in members.items():
            for username in usernames:
                self.add_member(conv, username)

    def is_member(self, conv: int, username: str) -> bool:
        return conv == LOBBY_CONV or username in self._rooms.get(conv, ())

    def add_member(self, conv: int, username: str) -> None:
        if conv == LOBBY_CONV:
            return
        self.write_gathered()  # sent what is said after they join
        self._rooms.setdefault(conv, set()).add(username)
        self._rooms_of.setdefault(username, set()).add(conv)
        listening = self._listening.setdefault(conv, set())
        listening.update(s for s in self.sessions_of(username) if ROOMS in s.features)

    def remove_member(self, conv: int, username: str) -> None:
        self.write_gathered()
        self._rooms.get(conv, set()).discard(username)
        self._rooms_of.get(username, set()).discard(conv)
        self._listening.get(conv, set()).difference_update(self.sessions_of(username))

    def member_count(self, conv: int) -> int:
        """How many members a room other than the lobby has."""
        return len(self._rooms.get(conv, ()))

    # -- sending ----------------------------------------------------------------------

    def to_room(
        self,
        conv: int,
        push: Push,
        exclude: str | None = None,
        skip: Recipient | None = None,
    ) -> None:
        """Send `push` to every session of every member of the room but `exclude`'s and
        `skip`. Rooms other than the lobby reach only sessions that know of rooms."""
        if conv == LOBBY_CONV:
            self._broadcast_here(push, exclude, skip)
        elif self._listening.get(conv):
            self._gather(conv, push, exclude, skip)

    def to_users(
        self,
        usernames: list[str],
        push: Push,
        skip: Recipient | None = None,
        feature: str | None = None,
    ) -> bool:
        """Send `push` to every session of these users but `skip` (only to those that
        asked for `feature`, if given); whether the first of them had any session."""
        online = [sessions for u in usernames if (sessions := self.sessions_of(u))]
        self._send(online, push, skip, feature)
        return bool(usernames) and self.is_online(usernames[0])

    def carbons(self, sender: str, push: Push, origin: Recipient | None, in_room: bool) -> None:
        """Send what `sender` sent from `origin` (None: another node) to their other
        sessions that asked for carbons (and for rooms, if said in one but the lobby)."""
        sessions = self.sessions_of(sender)
        if len(sessions) > (0 if origin is None else 1):  # someone besides `origin`
            wanted = [s for s in sessions if CARBONS in s.features]
            self._send([wanted], push, origin, ROOMS if in_room else None)

    def _send(
        self,
        groups: Iterable[Collection[Recipient]],
        push: Push,
        skip: Recipient | None,
        feature: str | None = None,
    ) -> None:
        """Encode `push` once, if anyone is there, and write it to each session but `skip`
        (and but those that did not ask for `feature`)."""
        frame = b""
        for sessions in groups:
            for session in sessions:
                if session is not skip and (feature is None or feature in session.features):
                    if not frame:
                        self.write_gathered()
                        frame = push.frame()
                    session.send_frame(frame)

    def send_away(self, username: str, reason: ByeReason, keep: Recipient | None = None) -> int:
        """Close every session of `username` but `keep` (kicked, banned); how many."""
        self.write_gathered()
        sessions = [session for session in self.sessions_of(username) if session is not keep]
        for session in sessions:
            session.say_bye(reason)
        return len(sessions)

    def broadcast(
        self, push: Push, exclude: str | None = None, skip: Recipient | None = None
    ) -> None:
        """Send `push` to every session of every online user but `exclude`, and `skip`."""
        self._broadcast_here(push, exclude, skip)

    def _broadcast_here(
        self, push: Push, exclude: str | None = None, skip: Recipient | None = None
    ) -> None:
        """`broadcast` to this process's sessions only: what a hub that also tells other
        nodes does for their news, and for the lobby and presence it sends itself."""
        excluded_online = 1 if exclude in self._sessions else 0
        if len(self._sessions) > excluded_online:  # else it is stored for them, no more
            self._gather(LOBBY_CONV, push, exclude, skip)

    def _gather(self, conv: int, push: Push, exclude: str | None, skip: Recipient | None) -> None:
        if self._gathered_conv != conv:
            self.write_gathered()
            self._gathered_conv = conv
        if not self._gathered:
            asyncio.get_running_loop().call_soon(self.write_gathered)
        self._gathered.append((push.frame(), exclude, skip))

    def write_gathered(self) -> None:
        """Write the room's pushes gathered so far: to each session, all those meant for
        it, in one `send_frame`."""
        if not self._gathered:
            return
        pending, self._gathered = self._gathered, []
        everything = b"".join(frame for frame, _, _ in pending)
        excluded = {user for _, user, _ in pending if user is not None}
        skipped = {session for _, _, session in pending if session is not None}
        conv = self._gathered_conv
        listening = self._listening.get(conv, ())
        sessions = self._everyone() if conv == LOBBY_CONV else [(s.user, s) for s in listening]
        for username, session in sessions:
            if username in excluded or session in skipped:
                some = [f for f, user, skip in pending if user != username and skip is not session]
                if some:
                    session.send_frame(b"".join(some))
            else:
                session.send_frame(everything)

    def _announce(self, username: str) -> None:
        """What others see of `username` may have changed: keep the online list, and tell
        them at the end of the window."""
        self._index(username)
        if not self.announce_presence:
            return
        self._changes.add(username)
        if self._flush is None:
            window = presence_window(len(self._sessions))
            self._flush = asyncio.get_running_loop().call_later(window, self._send_presence)

    def _index(self, username: str) -> None:
        self._visible.put(username, *self.shown(username))

    def _send_presence(self) -> None:
        self._flush = None
        # Only what differs from what was last said: in and out again within the window
        # is no news. Unless someone was given the list of this very moment during the
        # window: that list may hold what changed back since, so say everything.
        changes, self._changes = self._changes, set()
        news = {u: self.shown(u) for u in changes}
        if not self._snapshot_in_window:
            told = self._announced
            news = {u: shown for u, shown in news.items() if told.get(u, OFFLINE) != shown}
        self._snapshot_in_window = False
        for username, shown in news.items():
            if shown == OFFLINE:
                self._announced.pop(username, None)
            else:
                self._announced[username] = shown
        if len(news) == 1:
            ((username, (status, text)),) = news.items()
            push = PresencePush(username, status != Status.OFFLINE, status, text)
            self._broadcast_here(push, exclude=username)
        elif news:
            came = sorted(u for u, shown in news.items() if shown != OFFLINE)
            went = sorted(u for u, shown in news.items() if shown == OFFLINE)
            statuses = status_entries((u, news[u]) for u in came if news[u] != ONLINE)
            self._broadcast_here(PresenceBatchPush(came, went, statuses))

    async def start(self) -> None:
        """Start routing (the in-process hub has nothing to start)."""

    def shared_limits(self, limits: Limits, throttle: LoginThrottle) -> SharedLimits:
        """The limits that count across nodes: none, for a server alone."""
        return SharedLimits()

    async def stop(self) -> None:
        """Stop routing, once every session has left."""
        self.close()

    def close(self) -> None:
        """Stop announcing presence (the server is shutting down)."""
        self.announce_presence = False
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
