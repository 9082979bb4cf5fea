"""The SQLite schema, as the list of migrations that builds it step by step.

`PRAGMA user_version` records how many have run, so a database made by any earlier
chatroom is brought up to date when the server opens it, and one made by a newer chatroom
is refused rather than misread.
"""

import logging
import time
from collections.abc import Awaitable, Callable

import aiosqlite

from chatroom.common.limits import LOBBY
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


CONVERSATIONS = """
    -- A conversation is a room (named, with a topic) or the private pair of two users
    -- (user_a < user_b, or the same user twice). conv 1 is the lobby.
    CREATE TABLE conversations (
        conv       INTEGER PRIMARY KEY AUTOINCREMENT,
        room       TEXT UNIQUE,
        room_key   TEXT UNIQUE,
        topic      TEXT NOT NULL DEFAULT '',
        owner      TEXT,
        public     INTEGER NOT NULL DEFAULT 1,
        user_a     TEXT,
        user_b     TEXT,
        created_at REAL NOT NULL,
        UNIQUE (user_a, user_b)
    );
    CREATE INDEX rooms_by_owner ON conversations (owner) WHERE owner IS NOT NULL;
    -- Who is in each conversation, and how far they have read it: `read_upto` is a mid,
    -- `read_seq` that message's place in the conversation (so unread = last seq - it).
    CREATE TABLE members (
        conv      INTEGER NOT NULL REFERENCES conversations (conv),
        username  TEXT NOT NULL,
        read_upto INTEGER NOT NULL,
        read_seq  INTEGER NOT NULL,
        joined_at REAL NOT NULL,
        PRIMARY KEY (conv, username)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_user ON members (username, conv);
    CREATE TABLE invites (
        conv       INTEGER NOT NULL REFERENCES conversations (conv),
        username   TEXT NOT NULL,
        invited_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (conv, username)
    ) WITHOUT ROWID;

    -- Every message belongs to a conversation, numbered 1, 2, 3, ... within it (`seq`).
    ALTER TABLE messages ADD COLUMN conv INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN conv INTEGER NOT NULL DEFAULT 1;
    DROP INDEX messages_by_recipient;
    CREATE INDEX messages_by_recipient ON messages (recipient, mid) WHERE recipient IS NOT NULL;
    CREATE INDEX messages_by_conv ON messages (conv, mid);
    CREATE INDEX files_by_conv ON files (conv, mid) WHERE mid IS NOT NULL;

    -- Full-text search over the text of every message (a file's message holds its name),
    -- with its conversation as a second column: a search in one room is then found by
    -- the index, instead of read from every room's matches and filtered (50 ms at 10 M).
    CREATE VIRTUAL TABLE messages_text USING fts5 (
        text, conv, content = 'messages', content_rowid = 'mid'
    );
    CREATE TRIGGER index_message_text AFTER INSERT ON messages BEGIN
        INSERT INTO messages_text (rowid, text, conv) VALUES (NEW.mid, NEW.text, NEW.conv);
    END;
    -- Whoever writes in a conversation has read it up to what they wrote; in the same
    -- statement as the INSERT, so a message still costs one statement.
    CREATE TRIGGER sender_has_read AFTER INSERT ON messages BEGIN
        UPDATE members SET read_upto = NEW.mid, read_seq = NEW.seq
        WHERE conv = NEW.conv AND username = NEW.sender;
    END;
"""


async def _fill_conversations(db: aiosqlite.Connection) -> None:
    """The group becomes the lobby and each private pair a conversation of its own; every
    message and file is placed in one, and every user's mailbox position becomes their
    read marker in each."""
    now = time.time()
    await db.execute(
        "INSERT INTO conversations (conv, room, room_key, created_at) VALUES (1, ?, ?, ?)",
        (LOBBY, username_key(LOBBY), now),
    )
    await db.execute(
        """INSERT INTO conversations (user_a, user_b, created_at)
           SELECT DISTINCT min(sender, recipient), max(sender, recipient), ?
           FROM (SELECT sender, recipient FROM messages WHERE recipient IS NOT NULL
                 UNION SELECT sender, recipient FROM files WHERE recipient IS NOT NULL)""",
        (now,),
    )
    for table in ("messages", "files"):
        await db.execute(
            f"""UPDATE {table} SET conv = (
                    SELECT conv FROM conversations
                    WHERE user_a = min(sender, recipient) AND user_b = max(sender, recipient))
                WHERE recipient IS NOT NULL"""
        )
    await db.execute(
        """UPDATE messages SET seq = numbered.seq
           FROM (SELECT mid, row_number() OVER (PARTITION BY conv ORDER BY mid) AS seq
                 FROM messages) AS numbered
           WHERE messages.mid = numbered.mid"""
    )
    # Everyone is in the lobby and in their private pairs, having read what they acked.
    await db.execute(
        """INSERT INTO members (conv, username, read_upto, read_seq, joined_at)
           SELECT c.conv, u.username, u.acked_upto,
                  COALESCE((SELECT seq FROM messages AS m
                            WHERE m.conv = c.conv AND m.mid <= u.acked_upto
                            ORDER BY m.mid DESC LIMIT 1), 0),
                  u.created_at
           FROM users AS u JOIN conversations AS c
             ON c.conv = 1 OR u.username IN (c.user_a, c.user_b)"""
    )
    await db.execute("INSERT INTO messages_text (messages_text) VALUES ('rebuild')")


PEOPLE = """
    -- What a user says of themselves, and what the server lets them do.
    ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'online';
    ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
"""

CONTACTS = """
    -- A contact request from `username` to `contact`, and once accepted, the two are
    -- each other's contacts: one row for the pair, whoever asked.
    CREATE TABLE contacts (
        username   TEXT NOT NULL,
        contact    TEXT NOT NULL,
        accepted   INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        PRIMARY KEY (username, contact)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_by_contact ON contacts (contact, username);
"""

MODERATION = """
    -- Whom each user has blocked: their private messages and contact requests are dropped.
    CREATE TABLE blocks (
        username   TEXT NOT NULL,
        blocked    TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (username, blocked)
    ) WITHOUT ROWID;
    -- Mutes and bans, server-wide (conv 0) or in one room, until a unix time (NULL: until
    -- lifted). One of each kind per user and place: a new one replaces the old.
    CREATE TABLE sanctions (
        username   TEXT NOT NULL,
        conv       INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        until      REAL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (username, conv, kind)
    ) WITHOUT ROWID;
    -- Every moderation action: who did what to whom, where, when.
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        ts     REAL NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        room   TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    -- A room's moderators, named by its owner.
    ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
    -- 1: deleted (a tombstone: no text, no file), 2: an announcement to everyone.
    ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
"""


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
    # 6: rooms, private conversations, read markers, full-text search...
    CONVERSATIONS,
    # 7: ...and today's messages, files and mailbox positions placed in them.
    _fill_conversations,
    # 8: profiles, statuses and roles.
    PEOPLE,
    # 9: contacts.
    CONTACTS,
    # 10: blocks, mutes and bans, the audit log, room moderators, deleted messages.
    MODERATION,
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
