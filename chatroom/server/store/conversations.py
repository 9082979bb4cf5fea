"""The conversations half of the SQLite store: rooms, private pairs, membership, read
markers, history, the file list and full-text search.

Every message belongs to one conversation (`messages.conv`) and has a place in it
(`messages.seq`: 1, 2, 3, ...), so a page of history is one range of the (conv, mid)
index, and a member's unread count is the conversation's newest seq minus the seq at
their read marker: a subtraction, however far behind they are.
"""

import asyncio
import time
from typing import Any

from chatroom.common.amounts import amount
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import LOBBY
from chatroom.common.names import username_key
from chatroom.server.store.base import Page, ReadState, Room, StoredMessage
from chatroom.server.store.database import Database
from chatroom.server.store.refusals import check_not_banned_in, has_blocked
from chatroom.server.store.rows import MESSAGE_COLUMNS, RoomNames
from chatroom.server.store.writer import Writer

LOBBY_CONV = 1
ROOMS = "rooms"
"""What `Database.changed` says when a room is made or its topic changes."""
_ROOM_COLUMNS = "conv, room, topic, owner, public"

# How far a member has read each of their conversations, and how much is left: the
# newest seq and mid of a conversation are each one probe of the (conv, mid) index.
READ_STATES_SQL = """
    SELECT mb.conv, c.room, CASE WHEN c.user_a = :me THEN c.user_b ELSE c.user_a END,
           mb.read_upto,
           COALESCE((SELECT seq FROM messages WHERE conv = mb.conv
                     ORDER BY mid DESC LIMIT 1), 0) - mb.read_seq,
           COALESCE((SELECT MAX(mid) FROM messages WHERE conv = mb.conv), 0)
    FROM members AS mb JOIN conversations AS c ON c.conv = mb.conv
    WHERE mb.username = :me
"""


HISTORY_SQL = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
    WHERE m.conv = ? AND m.mid < ? ORDER BY m.mid DESC LIMIT ?
"""
"""The newest messages of a conversation before a mid: one range of (conv, mid)."""
SINCE_SQL = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
    WHERE m.mid > ? ORDER BY m.mid LIMIT ?
"""


class SqlConversations:
    """Rooms, pairs, members and what is read of them, on the store's connections."""

    def __init__(
        self,
        writer: Writer,
        lookups: Database,
        mailboxes: Database,
        rooms: RoomNames,
    ) -> None:
        self._writer = writer
        self._lookups = lookups
        self._mailboxes = mailboxes
        self._rooms = rooms
        self._room_keys = {username_key(r.name): r for r in rooms.by_conv.values()}
        self._sorted: list[Room] | None = None
        self._pairs: dict[tuple[str, str], int] = {}
        """Private conversations by their two users (pairs are never deleted)."""
        self._pairs_coming: dict[tuple[str, str], asyncio.Future[int | None]] = {}
        """The pairs being looked up or made now: asked for again meanwhile (a client's
        first hundred pipelined messages to someone), each is looked up or made once."""

    @staticmethod
    async def load_rooms(db: Database) -> list[Room]:
        rows = await db.execute_fetchall(
            f"SELECT {_ROOM_COLUMNS} FROM conversations WHERE room IS NOT NULL"
        )
        return [
            Room(conv, name, topic, owner, bool(public))
            for conv, name, topic, owner, public in rows
        ]

    # -- rooms ----------------------------------------------------------------------

    def find_room(self, name: str) -> Room | None:
        """The room called `name` (any case or look-alike spelling finds it)."""
        return self._room_keys.get(username_key(name))

    def lobby(self) -> Room:
        return self._rooms.by_conv[LOBBY_CONV]

    def all_rooms(self) -> list[Room]:
        if self._sorted is None:  # sorted once per change, not per `rooms` request
            self._sorted = sorted(self._rooms.by_conv.values(), key=lambda room: room.name)
        return self._sorted

    async def create_room(
        self, name: str, owner: str, topic: str, public: bool, *, room_limit: int, owned_limit: int
    ) -> Room:
        """Create a room owned (and joined) by `owner`: `room_taken`, `too_many_rooms`."""
        writer = self._writer
        now = time.time()

        async def create(db: Database) -> Room:
            ((owned,),) = await db.execute_fetchall(
                "SELECT COUNT(*) FROM conversations WHERE owner = ?", (owner,)
            )
            if owned >= owned_limit:
                raise ChatError(
                    ErrorCode.TOO_MANY_ROOMS,
                    f"you have created {amount(owned, 'room')}; the limit is {owned_limit}",
                    limit=owned_limit,
                )
            cursor = await db.execute(
                """INSERT INTO conversations (room, room_key, topic, owner, public, created_at)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (name, username_key(name), topic, owner, public, now),
            )
            if cursor.rowcount != 1:
                raise ChatError(ErrorCode.ROOM_TAKEN, f"there is a room called {name!r} already")
            assert cursor.lastrowid is not None
            room = Room(cursor.lastrowid, name, topic, owner, public)
            await _join(db, writer, room.conv, owner, room_limit)
            await db.changed(ROOMS)
            return room

        room = await writer.write(create)
        self._remember(room)
        return room

    async def reload_rooms(self) -> None:
        """Read every room again (another server made one, or changed a topic)."""
        self._rooms.by_conv = {room.conv: room for room in await self.load_rooms(self._lookups)}
        self._room_keys = {username_key(r.name): r for r in self._rooms.by_conv.values()}
        self._sorted = None

    def _remember(self, room: Room) -> None:
        self._sorted = None
        self._rooms.by_conv[room.conv] = room
        self._room_keys[username_key(room.name)] = room

    async def join_room(self, room: Room, username: str, *, room_limit: int, now: float) -> bool:
        """Make `username` a member, reading from now on; whether they were not one before.
        Raises `too_many_rooms` past `room_limit`, `banned` if banned from it at `now`."""
        writer = self._writer

        async def join(db: Database) -> bool:
            await check_not_banned_in(db, room, username, now)
            joined = await _join(db, writer, room.conv, username, room_limit)
            await db.execute(
                "DELETE FROM invites WHERE conv = ? AND username = ?", (room.conv, username)
            )
            return joined

        return await writer.write(join)

    async def leave_room(self, room: Room, username: str) -> bool:
        """Whether `username` was a member (and no longer is)."""

        async def leave(db: Database) -> bool:
            cursor = await db.execute(
                "DELETE FROM members WHERE conv = ? AND username = ?", (room.conv, username)
            )
            return cursor.rowcount == 1

        return await self._writer.write(leave)

    async def invite(self, room: Room, username: str, by: str) -> bool:
        async def invite(db: Database) -> bool:
            if await has_blocked(db, username, by):
                return False  # dropped, and not said so
            await db.execute(
                """INSERT INTO invites (conv, username, invited_by, created_at)
                   VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (room.conv, username, by, time.time()),
            )
            return True

        return await self._writer.write(invite)

    async def is_invited(self, room: Room, username: str) -> bool:
        rows = await self._lookups.execute_fetchall(
            "SELECT 1 FROM invites WHERE conv = ? AND username = ?", (room.conv, username)
        )
        return bool(rows)

    async def set_topic(self, room: Room, topic: str) -> Room:
        async def update(db: Database) -> None:
            await db.execute(
                "UPDATE conversations SET topic = ? WHERE conv = ?", (topic, room.conv)
            )
            await db.changed(ROOMS)

        await self._writer.write(update)
        changed = Room(room.conv, room.name, topic, room.owner, room.public)
        self._remember(changed)
        return changed

    async def memberships(self) -> dict[int, set[str]]:
        """The members of every room but the lobby (whose members are all users)."""
        rows = await self._lookups.execute_fetchall(
            """SELECT mb.conv, mb.username FROM members AS mb
               JOIN conversations AS c ON c.conv = mb.conv
               WHERE c.room IS NOT NULL AND c.conv != ?""",
            (LOBBY_CONV,),
        )
        members: dict[int, set[str]] = {}
        for conv, username in rows:
            members.setdefault(conv, set()).add(username)
        return members

    async def room_members(self, room: Room, limit: int) -> list[str]:
        """The first `limit` members of the room, by name."""
        rows = await self._lookups.execute_fetchall(
            "SELECT username FROM members WHERE conv = ? ORDER BY username LIMIT ?",
            (room.conv, limit),
        )
        return [username for (username,) in rows]

    # -- private pairs ----------------------------------------------------------------

    async def pair(self, a: str, b: str, create: bool = True) -> int | None:
        """The conversation of users `a` and `b`; made (with both as members) if new
        and `create`, else None if they have never written to each other."""
        key = (a, b) if a <= b else (b, a)
        conv = self._pairs.get(key)
        if conv is not None:
            return conv
        if not create:
            return await self._find_pair(key, create)
        coming = self._pairs_coming.get(key)
        if coming is None:
            coming = self._pairs_coming[key] = asyncio.ensure_future(self._find_pair(key, True))
            coming.add_done_callback(lambda _: self._pairs_coming.pop(key, None))
        return await asyncio.shield(coming)  # one asker leaving does not stop the others'

    async def _find_pair(self, key: tuple[str, str], create: bool) -> int | None:
        rows = await self._lookups.execute_fetchall(
            "SELECT conv FROM conversations WHERE user_a = ? AND user_b = ?", key
        )
        conv = next((conv for (conv,) in rows), None)
        if conv is None and create:
            conv = await self._writer.write(lambda db: _create_pair(db, key))
        if conv is not None:
            self._pairs[key] = conv
        return conv

    # -- reading ----------------------------------------------------------------------

    async def history(self, conv: int, before: int, limit: int) -> Page:
        rows = await self._mailboxes.execute_fetchall(HISTORY_SQL, (conv, before, limit + 1))
        return self._page(rows, limit)

    async def since(self, after: int, limit: int) -> list[StoredMessage]:
        rows = await self._mailboxes.execute_fetchall(SINCE_SQL, (after, limit))
        return [self._rooms.message(row) for row in rows]

    async def files(self, conv: int, before: int, limit: int) -> Page:
        rows = await self._mailboxes.execute_fetchall(
            f"""SELECT {MESSAGE_COLUMNS} FROM files AS f JOIN messages AS m ON m.mid = f.mid
                WHERE f.conv = ? AND f.mid IS NOT NULL AND f.mid < ?
                ORDER BY f.mid DESC LIMIT ?""",
            (conv, before, limit + 1),
        )
        return self._page(rows, limit)

    def _page(self, rows: Any, limit: int) -> Page:
        messages = [self._rooms.message(row) for row in rows[:limit]]
        messages.reverse()
        return Page(messages, more=len(rows) > limit)

    async def search(
        self, username: str, text: str, conv: int | None, limit: int
    ) -> list[tuple[StoredMessage, str]]:
        """Messages of `username`'s conversations (or of `conv` alone) with every word of
        `text`, newest first, each with a snippet in which the words are marked « »."""
        db = self._mailboxes
        rows = await db.execute_fetchall(
            db.search_sql(one_conversation=conv is not None),
            {"query": db.search_query(text, conv), "me": username, "conv": conv, "limit": limit},
        )
        return [(self._rooms.message(row[:-1]), row[-1]) for row in rows]

    async def read_states(self, username: str) -> list[ReadState]:
        """Every conversation of `username`: each room they are in, and each private one."""
        rows = await self._mailboxes.execute_fetchall(READ_STATES_SQL, {"me": username})
        return [ReadState(*row) for row in rows]

    async def mark_read(self, username: str, conv: int, upto: int) -> ReadState | None:
        """Move the user's read marker in `conv` forward to mid `upto` (never back, never
        past the newest message); where it is now, or None if they are not a member."""
        writer = self._writer

        async def mark(db: Database) -> ReadState | None:
            # The marker is always a message of the conversation: the newest up to `upto`.
            rows = await db.execute_fetchall(
                """SELECT mid, seq FROM messages WHERE conv = ? AND mid <= ?
                   ORDER BY mid DESC LIMIT 1""",
                (conv, upto),
            )
            for mid, seq in rows:
                await db.execute(
                    """UPDATE members SET read_upto = ?, read_seq = ?
                       WHERE conv = ? AND username = ? AND read_upto < ?""",
                    (mid, seq, conv, username, mid),
                )
            rows = await db.execute_fetchall(
                READ_STATES_SQL + " AND mb.conv = :conv", {"me": username, "conv": conv}
            )
            return next((ReadState(*row) for row in rows), None)

        return await writer.write(mark)


async def _join(db: Database, writer: Writer, conv: int, username: str, limit: int) -> bool:
    """Add a member whose read marker is at the conversation's newest message."""
    ((newest,),) = await db.execute_fetchall(
        "SELECT COALESCE(MAX(mid), 0) FROM messages WHERE conv = ?", (conv,)
    )
    rows = await db.execute_fetchall(
        "SELECT 1 FROM members WHERE conv = ? AND username = ?", (conv, username)
    )
    if rows:
        return False
    ((count,),) = await db.execute_fetchall(
        """SELECT COUNT(*) FROM members AS mb JOIN conversations AS c ON c.conv = mb.conv
           WHERE mb.username = ? AND c.room IS NOT NULL""",
        (username,),
    )
    if count >= limit:
        raise ChatError(
            ErrorCode.TOO_MANY_ROOMS,
            f"you are in {amount(count, 'room')}; the limit is {limit}: leave one first",
            limit=limit,
        )
    await db.execute(
        """INSERT INTO members (conv, username, read_upto, read_seq, joined_at)
           VALUES (?, ?, ?, ?, ?)""",
        (conv, username, newest, await writer.last_seq(db, conv), time.time()),
    )
    return True


async def _create_pair(db: Database, key: tuple[str, str]) -> int:
    await db.execute(
        """INSERT INTO conversations (user_a, user_b, created_at) VALUES (?, ?, ?)
           ON CONFLICT DO NOTHING""",
        (*key, time.time()),
    )
    ((conv,),) = await db.execute_fetchall(
        "SELECT conv FROM conversations WHERE user_a = ? AND user_b = ?", key
    )
    await db.executemany(
        """INSERT INTO members (conv, username, read_upto, read_seq, joined_at)
           VALUES (?, ?, 0, 0, ?) ON CONFLICT DO NOTHING""",
        [(conv, username, time.time()) for username in set(key)],
    )
    return int(conv)


__all__ = [
    "HISTORY_SQL",
    "LOBBY",
    "LOBBY_CONV",
    "READ_STATES_SQL",
    "SqlConversations",
]
