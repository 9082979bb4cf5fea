"""The SQLite store, through aiosqlite (one background thread per database).

One `messages` table holds every message with a global autoincrement `mid` (recipient
NULL = the group). Each user has an `acked_upto` cursor: their mailbox is every message
after it that was sent to them or to the group by someone else. A new user's cursor
starts at the newest mid, so newcomers do not receive old group traffic.
"""

import asyncio
import sqlite3
import time
from pathlib import Path

import aiosqlite

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.names import username_key
from chatroom.server.store.base import FileRecord, StoredMessage, UserRecord

DATABASE_NAME = "chatroom.db"
USER_CACHE = 100_000
"""Users remembered after a lookup (the cache starts over when it is full)."""
GROUP_COMMIT_MAX = 4000
"""Most messages in one INSERT (4 parameters each, under SQLite's 32,766)."""

# Each entry moves the schema up one version; PRAGMA user_version records where it is.
MIGRATIONS = [
    """
    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        username_key  TEXT NOT NULL UNIQUE,
        password_hash BLOB NOT NULL,
        acked_upto    INTEGER NOT NULL,
        created_at    REAL NOT NULL
    );
    CREATE TABLE messages (
        mid       INTEGER PRIMARY KEY AUTOINCREMENT,
        sender    TEXT NOT NULL,
        recipient TEXT,
        text      TEXT NOT NULL,
        ts        REAL NOT NULL
    );
    CREATE INDEX messages_by_recipient ON messages (recipient, mid);
    """,
    # 2: files. A message that announces a file points at it by fid; text holds its name.
    """
    CREATE TABLE files (
        fid        INTEGER PRIMARY KEY AUTOINCREMENT,
        sender     TEXT NOT NULL,
        recipient  TEXT,
        name       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        mid        INTEGER,
        created_at REAL NOT NULL
    );
    CREATE INDEX files_by_sender ON files (sender, sha256);
    ALTER TABLE messages ADD COLUMN fid INTEGER REFERENCES files (fid);
    """,
    # 3: resume tokens, stored only as their SHA-256.
    """
    CREATE TABLE resume_tokens (
        token_hash TEXT PRIMARY KEY,
        username   TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX resume_tokens_by_expiry ON resume_tokens (expires_at);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_MAILBOX = """
    FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
    WHERE m.mid > (SELECT acked_upto FROM users WHERE username = :me)
      AND (m.recipient = :me OR (m.recipient IS NULL AND m.sender != :me))
"""
_MESSAGE_COLUMNS = """
    m.mid, m.sender, m.recipient, m.text, m.ts,
    f.fid, f.sender, f.recipient, f.name, f.size, f.sha256, f.mid
"""
_FILE_COLUMNS = "fid, sender, recipient, name, size, sha256, mid"


def _message(row: tuple) -> StoredMessage:
    """A StoredMessage from the columns of _MESSAGE_COLUMNS."""
    file = FileRecord(*row[5:]) if row[5] is not None else None
    return StoredMessage(*row[:5], file=file)


class SqliteStore:
    """`Store` on one SQLite file in WAL mode."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._queued: list[tuple[tuple[str, str | None, str, float], asyncio.Future[int]]] = []
        self._committer: asyncio.Task[None] | None = None
        # Users are never renamed, deleted or re-keyed, so a found one can be remembered:
        # every private message looks its recipient up.
        self._users: dict[str, UserRecord] = {}
        self._loop = asyncio.get_running_loop()  # once: each lookup costs a getpid() call

    @classmethod
    async def open(cls, data_dir: Path) -> "SqliteStore":
        """Open (creating if needed) the database in `data_dir` and bring its schema up to date."""
        data_dir.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(data_dir / DATABASE_NAME)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before its `ok` is sent, even across a power cut.
            await db.execute("PRAGMA synchronous = FULL")
            await _migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def create_user(self, username: str, password_hash: bytes) -> None:
        try:
            await self._db.execute(
                """INSERT INTO users (username, username_key, password_hash, acked_upto, created_at)
                   VALUES (?, ?, ?, (SELECT COALESCE(MAX(mid), 0) FROM messages), ?)""",
                (username, username_key(username), password_hash, time.time()),
            )
            await self._db.commit()
        except sqlite3.IntegrityError:
            await self._db.rollback()
            raise ChatError(ErrorCode.USERNAME_TAKEN, f"{username!r} is taken") from None

    async def find_user(self, username: str) -> UserRecord | None:
        key = username_key(username)
        user = self._users.get(key)
        if user is None:
            rows = await self._db.execute_fetchall(
                "SELECT username, password_hash FROM users WHERE username_key = ?", (key,)
            )
            user = next((UserRecord(*row) for row in rows), None)
            if user is not None:
                if len(self._users) >= USER_CACHE:
                    self._users.clear()
                self._users[key] = user
        return user

    async def add_message(self, sender: str, recipient: str | None, text: str) -> StoredMessage:
        """Queue the message for the next group commit and wait until it is committed.

        Messages that arrive while a commit is in progress go into the next one, so under
        load one transaction (one fsync) carries many messages, and when the server is
        quiet a message is committed at once, on its own.
        """
        ts = time.time()
        committed: asyncio.Future[int] = self._loop.create_future()
        self._queued.append(((sender, recipient, text, ts), committed))
        if self._committer is None or self._committer.done():
            self._committer = self._loop.create_task(self._commit_queued())
        return StoredMessage(await committed, sender, recipient, text, ts)

    async def _commit_queued(self) -> None:
        while self._queued:
            batch = self._queued[:GROUP_COMMIT_MAX]
            del self._queued[:GROUP_COMMIT_MAX]
            try:
                cursor = await self._db.execute(
                    "INSERT INTO messages (sender, recipient, text, ts) VALUES "
                    + ", ".join(["(?, ?, ?, ?)"] * len(batch)),
                    [value for row, _ in batch for value in row],
                )
                await self._db.commit()
            except Exception as exc:  # every waiter hears of it; the server stays up
                for _, committed in batch:
                    if not committed.done():
                        committed.set_exception(exc)
                continue
            # One writer, one statement: the mids are consecutive, in the order given,
            # and the last is the statement's last rowid.
            assert cursor.lastrowid is not None
            first = cursor.lastrowid - len(batch) + 1
            for mid, (_, committed) in enumerate(batch, start=first):
                if not committed.done():
                    committed.set_result(mid)

    async def backlog(self, username: str, limit: int) -> tuple[list[StoredMessage], int]:
        params = {"me": username, "limit": limit}
        rows = await self._db.execute_fetchall(
            f"SELECT {_MESSAGE_COLUMNS} {_MAILBOX} ORDER BY m.mid DESC LIMIT :limit",
            params,
        )
        messages = [_message(row) for row in reversed(list(rows))]
        skipped = 0
        if len(messages) == limit:
            ((total,),) = await self._db.execute_fetchall(f"SELECT COUNT(*) {_MAILBOX}", params)
            skipped = total - limit
        return messages, skipped

    async def ack(self, username: str, upto: int) -> None:
        # Clamped to the newest mid: acking the future would silently swallow later mail.
        await self._db.execute(
            """UPDATE users SET acked_upto = MAX(
                   acked_upto, MIN(?, (SELECT COALESCE(MAX(mid), 0) FROM messages)))
               WHERE username = ?""",
            (upto, username),
        )
        await self._db.commit()

    async def find_pending_file(
        self, sender: str, recipient: str | None, size: int, sha256: str
    ) -> FileRecord | None:
        rows = await self._db.execute_fetchall(
            f"""SELECT {_FILE_COLUMNS} FROM files
                WHERE sender = ? AND recipient IS ? AND size = ? AND sha256 = ? AND mid IS NULL
                ORDER BY fid DESC LIMIT 1""",
            (sender, recipient, size, sha256),
        )
        return next((FileRecord(*row) for row in rows), None)

    async def create_file(
        self, sender: str, recipient: str | None, name: str, size: int, sha256: str
    ) -> FileRecord:
        cursor = await self._db.execute(
            """INSERT INTO files (sender, recipient, name, size, sha256, created_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (sender, recipient, name, size, sha256, time.time()),
        )
        await self._db.commit()
        assert cursor.lastrowid is not None
        return FileRecord(cursor.lastrowid, sender, recipient, name, size, sha256, None)

    async def find_file(self, fid: int) -> FileRecord | None:
        rows = await self._db.execute_fetchall(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE fid = ?", (fid,)
        )
        return next((FileRecord(*row) for row in rows), None)

    async def bytes_stored_by(self, sender: str) -> int:
        ((total,),) = await self._db.execute_fetchall(
            "SELECT COALESCE(SUM(size), 0) FROM files WHERE sender = ?", (sender,)
        )
        return total

    async def complete_file(self, fid: int) -> StoredMessage:
        file = await self.find_file(fid)
        assert file is not None and file.mid is None
        ts = time.time()
        cursor = await self._db.execute(
            "INSERT INTO messages (sender, recipient, text, ts, fid) VALUES (?, ?, ?, ?, ?)",
            (file.sender, file.recipient, file.name, ts, fid),
        )
        mid = cursor.lastrowid
        assert mid is not None
        await self._db.execute("UPDATE files SET mid = ? WHERE fid = ?", (mid, fid))
        await self._db.commit()
        done = FileRecord(fid, file.sender, file.recipient, file.name, file.size, file.sha256, mid)
        return StoredMessage(mid, file.sender, file.recipient, file.name, ts, done)

    async def delete_file(self, fid: int) -> None:
        await self._db.execute("DELETE FROM files WHERE fid = ? AND mid IS NULL", (fid,))
        await self._db.commit()

    async def add_resume_token(self, token_hash: str, username: str, expires_at: float) -> None:
        await self._db.execute("DELETE FROM resume_tokens WHERE expires_at < ?", (time.time(),))
        await self._db.execute(
            "INSERT INTO resume_tokens (token_hash, username, expires_at) VALUES (?, ?, ?)",
            (token_hash, username, expires_at),
        )
        await self._db.commit()

    async def find_resume_token(self, token_hash: str) -> str | None:
        rows = await self._db.execute_fetchall(
            "SELECT username FROM resume_tokens WHERE token_hash = ? AND expires_at > ?",
            (token_hash, time.time()),
        )
        return next((username for (username,) in rows), None)

    async def revoke_resume_token(self, token_hash: str) -> None:
        await self._db.execute("DELETE FROM resume_tokens WHERE token_hash = ?", (token_hash,))
        await self._db.commit()

    async def close(self) -> None:
        if self._committer is not None:
            await self._committer  # what was accepted is committed before the file closes
        await self._db.close()


async def _migrate(db: aiosqlite.Connection) -> None:
    ((version,),) = await db.execute_fetchall("PRAGMA user_version")
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database has schema version {version}; this chatroom knows up to "
            f"{SCHEMA_VERSION}: upgrade chatroom"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
