"""The SQL store: SQLite through aiosqlite (one background thread per connection), the
default, or PostgreSQL through asyncpg (see `postgres`), on the same statements.

One `messages` table holds every message with a global autoincrement `mid`, each in a
conversation (a room, or a private pair: see `conversations`). Each user has an
`acked_upto` cursor: their mailbox is every message after it that was sent to them, or
by someone else to a room they are in. A new user's cursor starts at the newest mid, so
newcomers are not sent old lobby traffic (they can page through it with `history`).

Three connections (to one SQLite file in WAL mode): every write goes through the
`Writer`, which owns the write connection and its transactions; reads go to two
read-only connections, which see only committed rows and never wait for a commit.
Quick lookups (a user, a file, a token) have one, mailboxes the other, so a login with a
huge backlog slows only other logins' backlogs, never a message or a lookup. (On
PostgreSQL, reads share a pool of connections.)
"""

import time
import unicodedata
from pathlib import Path
from typing import Self

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.names import username_key
from chatroom.server.storage_health import StorageHealth
from chatroom.server.store.base import Backlog, FileRecord, Room, StoredMessage, UserRecord
from chatroom.server.store.conversations import LOBBY_CONV, ROOMS, SqlConversations
from chatroom.server.store.database import Database
from chatroom.server.store.moderation import MODERATION, SqlModeration
from chatroom.server.store.people import SqlPeople
from chatroom.server.store.refusals import check_upload_room, mailbox_full
from chatroom.server.store.rows import FILE_COLUMNS, MESSAGE_COLUMNS, RoomNames
from chatroom.server.store.schema import migrate
from chatroom.server.store.sqlite import connect
from chatroom.server.store.writer import Writer

DATABASE_NAME = "chatroom.db"
USERS = "users"
"""What `Database.changed` says when a user registers."""
NEWEST_MID_SQL = "SELECT COALESCE(MAX(mid), 0) FROM messages"
"""The newest committed mid (of the rows this connection sees committed)."""
USER_CACHE = 100_000
"""Users remembered after a lookup (the cache starts over when it is full)."""

# The mailbox of :me between two mids. The unary + keeps SQLite from using the recipient
# index here: walking the mids in order and stopping at the page's LIMIT is what keeps a
# page cheap however large the mailbox is.
_MAILBOX = """
    FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
    WHERE m.mid > :after AND m.mid <= :upto
      AND (+m.recipient = :me OR (+m.recipient IS NULL AND m.sender != :me
           AND m.conv IN (SELECT conv FROM members WHERE username = :me)))
"""
_LOBBY_MAILBOX = _MAILBOX.replace(
    "IN (SELECT conv FROM members WHERE username = :me)", f"= {LOBBY_CONV}"
)
"""The mailbox of a client that knows no room but the lobby."""


FIND_USER_SQL = """
    SELECT username, password_hash FROM users WHERE username = :name OR username_key = :key
    ORDER BY username = :name DESC LIMIT 1
"""
"""The user registered as :name, or else under its key. The exact name first: two
accounts older than look-alike checking may share a key, and each must find itself."""


def lookup_name(username: str) -> str:
    """The name that `FIND_USER_SQL`, and the store's cache of users, look `username` up by."""
    return unicodedata.normalize("NFKC", username)


def user_lookup(username: str) -> tuple[str, str]:
    """The name and key that `FIND_USER_SQL` looks `username` up by."""
    name = lookup_name(username)
    return name, username_key(name)


class SqlStore(SqlPeople, SqlModeration, SqlConversations):
    """`Store` on a SQL database: one SQLite file in WAL mode, or PostgreSQL."""

    def __init__(
        self,
        writer: Writer,
        write_db: Database,
        lookups: Database,
        mailboxes: Database,
        rooms: RoomNames,
        users: int,
    ) -> None:
        super().__init__(writer, lookups, mailboxes, rooms)
        self._write_db = write_db
        self._user_count = users
        """How many users there are: counted when the store opens, then kept."""
        # Users are never renamed, deleted or re-keyed, so a found one can be remembered:
        # every private message looks its recipient up.
        self._users: dict[str, UserRecord] = {}

    @classmethod
    async def open(cls, data_dir: Path, health: StorageHealth | None = None) -> Self:
        """Open (creating if needed) the SQLite database in `data_dir` and bring its
        schema up to date."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DATABASE_NAME
        opened: list[Database] = []
        try:
            opened.append(write_db := await connect(path))
            await migrate(write_db.db)
            opened.append(await connect(path, read_only=True))
            opened.append(await connect(path, read_only=True))
            return await cls.assemble(write_db, opened[1], opened[2], health)
        except BaseException:
            for db in opened:
                await db.close()
            raise

    @classmethod
    async def assemble(
        cls,
        write_db: Database,
        lookups: Database,
        mailboxes: Database,
        health: StorageHealth | None = None,
    ) -> Self:
        """The store on its three connections to a database whose schema is up to date."""
        ((newest,),) = await write_db.execute_fetchall(NEWEST_MID_SQL)
        rooms = RoomNames(await cls.load_rooms(write_db))
        ((users,),) = await write_db.execute_fetchall("SELECT COUNT(*) FROM users")
        writer = Writer(write_db, newest, health or StorageHealth(), rooms)
        store = cls(writer, write_db, lookups, mailboxes, rooms, users)
        await store.load_moderation(write_db)
        return store

    # -- users --------------------------------------------------------------------------

    async def create_user(self, username: str, password_hash: bytes) -> None:
        async def insert(db: Database) -> None:
            # DO NOTHING, not an exception: a taken name must not disturb the transaction
            # that carries everyone else's writes.
            cursor = await db.execute(
                """INSERT INTO users (username, username_key, password_hash, acked_upto, created_at)
                   VALUES (?, ?, ?, (SELECT COALESCE(MAX(mid), 0) FROM messages), ?)
                   ON CONFLICT DO NOTHING""",
                (username, username_key(username), password_hash, time.time()),
            )
            if cursor.rowcount != 1:
                raise ChatError(ErrorCode.USERNAME_TAKEN, f"{username!r} is taken")
            await db.execute(  # into the lobby, having read all of it
                """INSERT INTO members (conv, username, read_upto, read_seq, joined_at)
                   VALUES (?1, ?2, (SELECT COALESCE(MAX(mid), 0) FROM messages WHERE conv = ?1),
                           ?3, ?4)""",
                (LOBBY_CONV, username, await writer.last_seq(db, LOBBY_CONV), time.time()),
            )
            await db.changed(USERS)

        writer = self._writer
        await writer.write(insert)
        self._user_count += 1

    def user_count(self) -> int:
        return self._user_count

    async def reload(self, what: str) -> None:
        """Read again what another server changed (see `Database.changed`)."""
        if what == ROOMS:
            await self.reload_rooms()
        elif what == MODERATION:
            await self.load_moderation(self._lookups)
        elif what == USERS:
            ((self._user_count,),) = await self._lookups.execute_fetchall(
                "SELECT COUNT(*) FROM users"
            )

    async def newest_mid(self) -> int:
        """The newest committed mid: the writer knows, unless other servers write too."""
        if not self._write_db.shared:
            return self._writer.newest_mid
        ((newest,),) = await self._lookups.execute_fetchall(NEWEST_MID_SQL)
        return int(newest)

    async def find_user(self, username: str, fresh: bool = False) -> UserRecord | None:
        # A fresh lookup (a login checking the password) reads the database and leaves
        # the cache alone: it holds the users messages are sent to, not everyone who
        # logs in (some 400 bytes each, for as long as they stay).
        # The key (ICU's skeleton, 0.7 µs when not cached) only for the database.
        if not fresh and (cached := self._users.get(lookup_name(username))) is not None:
            return cached
        name, key = user_lookup(username)
        rows = await self._lookups.execute_fetchall(FIND_USER_SQL, {"name": name, "key": key})
        user = next((UserRecord(*row) for row in rows), None)
        if user is not None and not fresh:
            if len(self._users) >= USER_CACHE:
                self._users.clear()
            self._users[name] = user
        return user

    # -- messages and mailboxes -------------------------------------------------------

    async def add_message(
        self,
        sender: str,
        recipient: str | None,
        text: str,
        *,
        room: Room | None = None,
        cid: str | None = None,
        mailbox_limit: int,
    ) -> StoredMessage:
        """Queue the message for the next group commit and wait until it is committed.

        Messages that arrive while a commit is in progress go into the next one, so under
        load one transaction (one fsync) carries many messages, and when the server is
        quiet a message is committed at once, on its own.
        """
        conv = await self._conv(sender, recipient, room)
        return await self._writer.post(sender, recipient, text, conv, cid, mailbox_limit)

    async def _conv(self, sender: str, recipient: str | None, room: Room | None) -> int:
        """The conversation of a message to `recipient`, or to `room` (neither: the lobby)."""
        if recipient is not None:
            conv = await self.pair(sender, recipient)
            assert conv is not None
            return conv
        return room.conv if room is not None else LOBBY_CONV

    async def backlog(
        self, username: str, acked_upto: int, limit: int, all_rooms: bool = True
    ) -> Backlog:
        db = self._mailboxes
        mailbox = _MAILBOX if all_rooms else _LOBBY_MAILBOX
        upto = await self.newest_mid()
        if acked_upto >= upto:
            return Backlog(upto, upto, 0, 0, all_rooms)
        window = {"me": username, "after": acked_upto, "upto": upto}
        rows = await db.execute_fetchall(
            f"SELECT m.mid {mailbox} ORDER BY m.mid DESC LIMIT 1 OFFSET :skip",
            window | {"skip": limit - 1},
        )
        oldest = next((mid for (mid,) in rows), None)
        if oldest is None:  # no more than `limit`: all of it
            ((count,),) = await db.execute_fetchall(f"SELECT COUNT(*) {mailbox}", window)
            return Backlog(acked_upto, upto, count, 0, all_rooms)
        ((skipped,),) = await db.execute_fetchall(
            f"SELECT COUNT(*) {mailbox}", window | {"upto": oldest - 1}
        )
        return Backlog(oldest - 1, upto, limit, skipped, all_rooms)

    async def backlog_page(
        self, username: str, after: int, upto: int, limit: int, all_rooms: bool = True
    ) -> list[StoredMessage]:
        mailbox = _MAILBOX if all_rooms else _LOBBY_MAILBOX
        rows = await self._mailboxes.execute_fetchall(
            f"SELECT {MESSAGE_COLUMNS} {mailbox} ORDER BY m.mid LIMIT :limit",
            {"me": username, "after": after, "upto": upto, "limit": limit},
        )
        return [self._rooms.message(row) for row in rows]

    async def ack(self, username: str, upto: int) -> None:
        newest = await self.newest_mid()

        async def update(db: Database) -> None:
            # Clamped to the newest committed mid: acking the future would silently
            # swallow later mail.
            upto_committed = min(upto, newest)
            await db.execute(
                "UPDATE users SET acked_upto = ? WHERE username = ? AND acked_upto < ?",
                (upto_committed, username, upto_committed),
            )
            self._writer.forget_unread(username)

        await self._writer.write(update)

    # -- files ------------------------------------------------------------------------

    async def create_file(
        self,
        sender: str,
        recipient: str | None,
        name: str,
        size: int,
        sha256: str,
        *,
        room: Room | None = None,
        cid: str | None,
        quota: int,
        max_uploads: int,
        mailbox_limit: int,
    ) -> FileRecord:
        writer = self._writer
        names = self._rooms
        conv = await self._conv(sender, recipient, room)

        async def reserve(db: Database) -> FileRecord:
            if cid is not None:
                rows = await db.execute_fetchall(
                    "SELECT fid FROM request_ids WHERE sender = ? AND cid = ?", (sender, cid)
                )
                for (fid,) in rows:
                    if fid is None:
                        raise ChatError(
                            ErrorCode.BAD_REQUEST, f"cid {cid!r} was already used for a message"
                        )
                    if (file := await names.find_file(db, fid)) is not None:
                        return file
            rows = await db.execute_fetchall(
                f"""SELECT {FILE_COLUMNS} FROM files
                    WHERE sender = ? AND conv = ? AND size = ? AND sha256 = ? AND mid IS NULL
                    ORDER BY fid DESC LIMIT 1""",
                (sender, conv, size, sha256),
            )
            file = next((names.file(row) for row in rows), None)
            if file is None:
                await check_upload_room(db, sender, size, quota, max_uploads)
                if recipient is not None and await writer.unread(db, recipient) >= mailbox_limit:
                    raise mailbox_full(recipient, mailbox_limit)
                cursor = await db.execute(
                    """INSERT INTO files (sender, recipient, name, size, sha256, created_at, conv)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (sender, recipient, name, size, sha256, time.time(), conv),
                )
                assert cursor.lastrowid is not None
                fid = cursor.lastrowid
                file = FileRecord(
                    fid, sender, recipient, name, size, sha256, None, conv, names.name(conv)
                )
            if cid is not None:
                await db.execute(
                    """INSERT INTO request_ids (sender, cid, fid, created_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT DO NOTHING""",
                    (sender, cid, file.fid, time.time()),
                )
            return file

        return await writer.write(reserve)

    async def find_file(self, fid: int) -> FileRecord | None:
        return await self._rooms.find_file(self._lookups, fid)

    async def complete_file(self, fid: int) -> StoredMessage:
        writer = self._writer
        names = self._rooms

        async def complete(db: Database) -> StoredMessage:
            file = await names.find_file(db, fid)
            if file is None:
                raise ChatError(ErrorCode.NO_SUCH_FILE, f"upload {fid} expired; send it again")
            if file.mid is not None:  # completed already, by another connection
                rows = await db.execute_fetchall(
                    f"""SELECT {MESSAGE_COLUMNS} FROM messages AS m
                        JOIN files AS f ON f.fid = m.fid WHERE m.mid = ?""",
                    (file.mid,),
                )
                return names.message(next(iter(rows)), duplicate=True)
            ts = time.time()
            seq = await writer.next_seq(db, file.conv)
            cursor = await db.execute(
                """INSERT INTO messages (sender, recipient, text, ts, fid, conv, seq)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (file.sender, file.recipient, file.name, ts, fid, file.conv, seq),
            )
            mid = cursor.lastrowid
            assert mid is not None
            await db.execute("UPDATE files SET mid = ? WHERE fid = ?", (mid, fid))
            writer.noted_mid(mid)
            writer.forget_unread(file.recipient)
            f = file
            done = FileRecord(
                f.fid, f.sender, f.recipient, f.name, f.size, f.sha256, mid, f.conv, f.room
            )
            return StoredMessage(
                mid, f.sender, f.recipient, f.name, ts, done, False, f.conv, f.room
            )

        return await writer.write(complete)

    async def delete_file(self, fid: int) -> None:
        async def delete(db: Database) -> None:
            await db.execute("DELETE FROM files WHERE fid = ? AND mid IS NULL", (fid,))
            await db.execute("DELETE FROM request_ids WHERE fid = ?", (fid,))

        await self._writer.write(delete)

    async def stale_uploads(self, before: float) -> list[FileRecord]:
        rows = await self._lookups.execute_fetchall(
            f"SELECT {FILE_COLUMNS} FROM files WHERE mid IS NULL AND created_at < ?", (before,)
        )
        return [self._rooms.file(row) for row in rows]

    async def forget_request_ids(self, before: float) -> None:
        async def delete(db: Database) -> None:
            await db.execute("DELETE FROM request_ids WHERE created_at < ?", (before,))

        await self._writer.write(delete)

    async def close(self) -> None:
        await self._writer.close()  # what was accepted is committed before the file closes
        for db in (self._lookups, self._mailboxes, self._write_db):
            await db.close()
