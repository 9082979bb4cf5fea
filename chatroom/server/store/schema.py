"""The SQLite schema, as the list of migrations that builds it step by step.

`PRAGMA user_version` records how many have run, so a database made by any earlier
chatroom is brought up to date when the server opens it, and one made by a newer chatroom
is refused rather than misread.
"""

import aiosqlite

# Each entry moves the schema up one version.
MIGRATIONS = [
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
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
