"""The SQLite schema, as the list of migrations that builds it step by step.

`PRAGMA user_version` records how many have run, so a database made by any earlier
chatroom is brought up to date when the server opens it, and one made by a newer chatroom
is refused rather than misread.
"""

import logging
from collections.abc import Awaitable, Callable

import aiosqlite

from chatroom.common.names import username_key

log = logging.getLogger("chatroom.server")


async def _rekey_users(db: aiosqlite.Connection) -> None:
    """Usernames are now compared by their confusable skeleton, not only casefolded.

    Two accounts made before that may now have the same key (`alice`, and `alice` spelt
    with a Cyrillic a). Neither is lost: the older keeps the key, so no new look-alike can
    register; the newer keeps a key of its own (the skeleton, a separator, its name) and
    still logs in by its exact name, which is looked up first.
    """
    rows = await db.execute_fetchall("SELECT username FROM users ORDER BY created_at, username")
    owners: dict[str, str] = {}
    keys = []
    for (username,) in rows:
        key = username_key(username)
        if key in owners:
            log.warning(
                "users %r and %r now look alike; both keep their accounts", owners[key], username
            )
            key = f"{key}\x1f{username}"  # a control character: no skeleton contains one
        owners[key] = username
        keys.append((key, username))
    # First a placeholder each (the username is unique), so that no row takes a key
    # another row has not given up yet.
    await db.execute("UPDATE users SET username_key = char(31, 31) || username")
    await db.executemany("UPDATE users SET username_key = ? WHERE username = ?", keys)


# Each entry moves the schema up one version: SQL, or a function for what SQL cannot do.
MIGRATIONS: list[str | Callable[[aiosqlite.Connection], Awaitable[None]]] = [
    # 1: users, and every message in one table with a global mid (recipient NULL = group).
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
    # 4: client ids (`cid`) of messages and uploads, so a request sent again after a lost
    # `ok` gets the original answer instead of being stored twice. Kept for a day.
    """
    CREATE TABLE request_ids (
        sender     TEXT NOT NULL,
        cid        TEXT NOT NULL,
        mid        INTEGER,
        fid        INTEGER,
        created_at REAL NOT NULL,
        PRIMARY KEY (sender, cid)
    ) WITHOUT ROWID;
    CREATE INDEX request_ids_by_age ON request_ids (created_at);
    """,
    # 5: usernames compared by confusable skeleton (see names.username_key).
    _rekey_users,
]
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(db: aiosqlite.Connection) -> None:
    """Bring the schema up to date; raises RuntimeError for a database from a newer chatroom."""
    ((version,),) = await db.execute_fetchall("PRAGMA user_version")
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database has schema version {version}; this chatroom knows up to "
            f"{SCHEMA_VERSION}: upgrade chatroom"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        if isinstance(step, str):
            await db.executescript(f"BEGIN; {step}; PRAGMA user_version = {number}; COMMIT;")
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            await step(db)
            await db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
