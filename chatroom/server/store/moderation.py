"""The moderation half of the SQLite store: blocks, roles, mutes and bans, deleting
messages, announcements, and the audit log every moderation action is written to.

Blocks, mutes and room bans are read on every message, so they are also kept in memory,
loaded when the store opens and changed only through it. A server-wide ban is read from
the database at each login instead (see `SqlPeople.arrival`), so that
`chatroom-admin` can ban a user while a server runs.
"""

import time
from collections.abc import Sequence

from chatroom.server.store.base import AuditEntry, Room, StoredMessage
from chatroom.server.store.database import Database
from chatroom.server.store.rows import ANNOUNCEMENT, DELETED, MESSAGE_COLUMNS, RoomNames
from chatroom.server.store.writer import Writer

SERVER_WIDE = 0
"""The `conv` of a sanction that holds everywhere."""
MUTE = "mute"
BAN = "ban"
PASSWORD_SET = "password_set"
"""The audit log's action for a user's own new password."""
RESET_PASSWORD = "reset_password"
"""The audit log's action for `chatroom-admin reset-password`."""

_AUDIT_COLUMNS = "id, ts, actor, action, target, room, detail"
"""An `AuditEntry`'s columns, in its order."""

MODERATION = "moderation"
"""What `Database.changed` says when blocks or sanctions change."""

SanctionKey = tuple[str, int, str]
"""A user, where (a room's conv, or SERVER_WIDE), and the kind (MUTE or BAN)."""


async def audited(
    db: Database,
    actor: str,
    action: str,
    target: str = "",
    room: str = "",
    detail: str = "",
) -> None:
    """Write an action to the audit log, in the transaction that does it."""
    await db.execute(
        """INSERT INTO audit (ts, actor, action, target, room, detail)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (time.time(), actor, action, target, room, detail),
    )


class SqlModeration:
    """Blocks, roles, sanctions and the audit log (a part of `SqlStore`)."""

    _writer: Writer
    _lookups: Database
    _rooms: RoomNames
    _blocked: dict[str, set[str]]
    """Whom each user has blocked."""
    _sanctions: dict[SanctionKey, float | None]
    """Mutes (anywhere) and room bans, to when (None: until lifted)."""

    async def load_moderation(self, db: Database) -> None:
        """Read blocks and sanctions into memory (when the store opens)."""
        self._blocked = {}
        for username, blocked in await db.execute_fetchall("SELECT username, blocked FROM blocks"):
            self._blocked.setdefault(username, set()).add(blocked)
        rows = await db.execute_fetchall(
            "SELECT username, conv, kind, until FROM sanctions WHERE conv != ? OR kind != ?",
            (SERVER_WIDE, BAN),
        )
        self._sanctions = {(username, conv, kind): until for username, conv, kind, until in rows}

    # -- blocks ---------------------------------------------------------------------------

    def is_blocked(self, username: str, by: str) -> bool:
        return username in self._blocked.get(by, ())

    def blocked(self, username: str) -> list[str]:
        return sorted(self._blocked.get(username, ()))

    async def block(self, username: str, other: str) -> bool:
        async def insert(db: Database) -> bool:
            cursor = await db.execute(
                """INSERT INTO blocks (username, blocked, created_at) VALUES (?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                (username, other, time.time()),
            )
            await db.execute(  # no contact, and no request either way, survives a block
                """DELETE FROM contacts WHERE (username = :me AND contact = :other)
                                           OR (username = :other AND contact = :me)""",
                {"me": username, "other": other},
            )
            await db.execute(  # nor the blocked user's room invitations
                "DELETE FROM invites WHERE username = ? AND invited_by = ?", (username, other)
            )
            await db.changed(MODERATION)
            return cursor.rowcount > 0

        added = await self._writer.write(insert)
        self._blocked.setdefault(username, set()).add(other)
        return added

    async def unblock(self, username: str, other: str) -> bool:
        async def delete(db: Database) -> bool:
            cursor = await db.execute(
                "DELETE FROM blocks WHERE username = ? AND blocked = ?", (username, other)
            )
            await db.changed(MODERATION)
            return cursor.rowcount > 0

        removed = await self._writer.write(delete)
        self._blocked.get(username, set()).discard(other)
        return removed

    # -- roles ----------------------------------------------------------------------------

    async def role(self, username: str) -> str:
        rows = await self._lookups.execute_fetchall(
            "SELECT role FROM users WHERE username = ?", (username,)
        )
        return next((role for (role,) in rows), "user")

    async def set_role(self, username: str, role: str, by: str) -> bool:
        async def update(db: Database) -> bool:
            cursor = await db.execute(
                "UPDATE users SET role = ? WHERE username = ? AND role != ?",
                (role, username, role),
            )
            if cursor.rowcount:
                await audited(db, by, "set_role", username, detail=role)
            return cursor.rowcount > 0

        return await self._writer.write(update)

    async def room_role(self, room: Room, username: str) -> str | None:
        """`owner`, `moderator` or `member` of the room; None if not a member."""
        if room.owner == username:
            return "owner"
        rows = await self._lookups.execute_fetchall(
            "SELECT role FROM members WHERE conv = ? AND username = ?", (room.conv, username)
        )
        return next((role for (role,) in rows), None)

    async def set_room_role(self, room: Room, username: str, role: str, by: str) -> bool:
        async def update(db: Database) -> bool:
            cursor = await db.execute(
                "UPDATE members SET role = ? WHERE conv = ? AND username = ?",
                (role, room.conv, username),
            )
            if cursor.rowcount:
                await audited(db, by, "room_role", username, room.name, role)
            return cursor.rowcount > 0

        return await self._writer.write(update)

    # -- mutes and bans ---------------------------------------------------------------------

    def sanctioned_until(
        self, username: str, conv: int, kind: str, now: float
    ) -> tuple[bool, float | None]:
        """Whether `username` is under a `kind` in `conv` (or everywhere, for a mute) at
        `now`, and until when (None: until lifted)."""
        if not self._sanctions:  # as on most servers most of the time: every message asks
            return False, None
        places = (SERVER_WIDE, conv) if kind == MUTE else (conv,)
        found = False
        latest: float | None = 0.0
        for place in places:
            key = (username, place, kind)
            if key not in self._sanctions:
                continue
            until = self._sanctions[key]
            if until is not None and until <= now:
                continue
            found = True
            latest = None if until is None or latest is None else max(latest, until)
        return found, latest if found else None

    async def sanction(
        self,
        username: str,
        room: Room | None,
        kind: str,
        until: float | None,
        by: str,
        detail: str = "",
    ) -> None:
        conv = room.conv if room is not None else SERVER_WIDE

        async def insert(db: Database) -> None:
            await db.execute(
                """INSERT INTO sanctions (username, conv, kind, until, created_by, created_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (username, conv, kind) DO UPDATE SET until = excluded.until,
                       created_by = excluded.created_by, created_at = excluded.created_at""",
                (username, conv, kind, until, by, time.time()),
            )
            await audited(db, by, kind, username, room.name if room else "", detail)
            await db.changed(MODERATION)

        await self._writer.write(insert)
        if conv != SERVER_WIDE or kind != BAN:
            self._sanctions[(username, conv, kind)] = until

    async def lift(self, username: str, room: Room | None, kind: str, by: str) -> bool:
        conv = room.conv if room is not None else SERVER_WIDE

        async def delete(db: Database) -> bool:
            cursor = await db.execute(
                "DELETE FROM sanctions WHERE username = ? AND conv = ? AND kind = ?",
                (username, conv, kind),
            )
            if cursor.rowcount:
                await audited(db, by, "un" + kind, username, room.name if room else "")
                await db.changed(MODERATION)
            return cursor.rowcount > 0

        lifted = await self._writer.write(delete)
        self._sanctions.pop((username, conv, kind), None)
        return lifted

    async def note(
        self, actor: str, action: str, target: str = "", room: str = "", detail: str = ""
    ) -> None:
        """Write an action that changes nothing stored (a kick) to the audit log."""
        await self._writer.write(lambda db: audited(db, actor, action, target, room, detail))

    async def audit_log(self, before: int, limit: int) -> list[AuditEntry]:
        """The newest `limit` actions before id `before`, newest first."""
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {_AUDIT_COLUMNS} FROM audit
                WHERE id < ? ORDER BY id DESC LIMIT ?""",
            (before, limit),
        )
        return [AuditEntry(*row) for row in rows]

    async def audit_after(self, after: int, actions: Sequence[str]) -> list[AuditEntry]:
        marks = ", ".join("?" * len(actions))
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {_AUDIT_COLUMNS} FROM audit
                WHERE id > ? AND action IN ({marks}) ORDER BY id LIMIT 1000""",
            (after, *actions),
        )
        return [AuditEntry(*row) for row in rows]

    # -- messages ---------------------------------------------------------------------------

    async def message(self, mid: int) -> StoredMessage | None:
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {MESSAGE_COLUMNS} FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
                WHERE m.mid = ?""",
            (mid,),
        )
        return next((self._rooms.message(row) for row in rows), None)

    async def delete_message(self, message: StoredMessage, by: str) -> tuple[bool, int | None]:
        """Leave a tombstone of `message`: no text, out of the search index, and its file
        (if it announced one) forgotten. Whether it was still there to delete, and the fid
        of that file, for its bytes to go too."""

        async def delete(db: Database) -> tuple[bool, int | None]:
            rows = await db.execute_fetchall(
                "SELECT text, conv, fid, flags FROM messages WHERE mid = ?", (message.mid,)
            )
            if not rows:
                return False, None
            ((text, conv, fid, flags),) = rows
            if flags & DELETED:
                return False, None
            await db.forget_text(message.mid, text, conv)
            await db.execute(
                "UPDATE messages SET text = '', fid = NULL, flags = flags | ? WHERE mid = ?",
                (DELETED, message.mid),
            )
            if fid is not None:
                await db.execute("DELETE FROM files WHERE fid = ?", (fid,))
            whom = message.sender if by != message.sender else ""
            await audited(db, by, "delete", whom, message.room or "", f"mid {message.mid}")
            return True, fid

        return await self._writer.write(delete)

    async def announce(self, sender: str, text: str, lobby: int) -> StoredMessage:
        """Store an announcement in the lobby (where everyone is) and log it."""
        writer = self._writer
        room = self._rooms.name(lobby)

        async def insert(db: Database) -> StoredMessage:
            ts = time.time()
            seq = await writer.next_seq(db, lobby)
            cursor = await db.execute(
                """INSERT INTO messages (sender, recipient, text, ts, conv, seq, flags)
                   VALUES (?, NULL, ?, ?, ?, ?, ?)""",
                (sender, text, ts, lobby, seq, ANNOUNCEMENT),
            )
            mid = cursor.lastrowid
            assert mid is not None
            writer.noted_mid(mid)
            await audited(db, sender, "announce", detail=f"mid {mid}")
            return StoredMessage(
                mid, sender, None, text, ts, None, False, lobby, room, announcement=True
            )

        return await writer.write(insert)
