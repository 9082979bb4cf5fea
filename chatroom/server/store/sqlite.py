"""The SQL store's `Database` on SQLite, through aiosqlite (one background thread per
connection): the store's statements are SQLite's already, and go through unchanged."""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from chatroom.server.store.database import KEYED, Params, Row, Written
from chatroom.server.store.search import search_match, search_sql


class SqliteDatabase:
    """`Database` on an aiosqlite connection: the store's SQL is SQLite's already."""

    shared = False

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    async def execute(self, sql: str, parameters: Params = ()) -> Written:
        return await self.db.execute(sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        return list(await self.db.execute_fetchall(sql, parameters))  # type: ignore[arg-type]

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> None:
        await self.db.executemany(sql, parameters)

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        row = f"({', '.join('?' * len(columns))})"
        cursor = await self.db.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))}",
            [value for values in rows for value in values],
        )
        # One writer, one statement: the keys are consecutive, in the order given, and
        # the last is the statement's last rowid.
        last = cursor.lastrowid
        return list(range(last - len(rows) + 1, last + 1)) if last and table in KEYED else []

    async def begin(self) -> bool:
        await self.db.execute("BEGIN IMMEDIATE")
        return False  # no other server writes to this file

    def search_sql(self, one_conversation: bool) -> str:
        return search_sql(one_conversation)

    def search_query(self, text: str, conv: int | None) -> str:
        return search_match(text, conv)

    async def forget_text(self, mid: int, text: str, conv: int) -> None:
        await self.db.execute(
            """INSERT INTO messages_text (messages_text, rowid, text, conv)
               VALUES ('delete', ?, ?, ?)""",
            (mid, text, conv),
        )

    async def changed(self, what: str) -> None:
        """No other server uses this file."""

    async def close(self) -> None:
        await self.db.close()


async def connect(path: Path, read_only: bool = False) -> SqliteDatabase:
    opening = asyncio.ensure_future(_opened(path))
    try:
        db = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # aiosqlite opens the file in a thread of its own, which hands the connection to
        # this loop once open: cancelled here (Ctrl+C while a program starts), the loop
        # could be closed by then, and the thread would die with a traceback. Let it
        # finish, and close what it opened.
        with contextlib.suppress(Exception):
            await (await opening).close()
        raise
    try:
        await db.execute("PRAGMA busy_timeout = 5000")
        if read_only:
            await db.execute("PRAGMA query_only = ON")
        else:
            await db.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before its `ok` is sent, even across a power cut.
            await db.execute("PRAGMA synchronous = FULL")
    except BaseException:
        await db.close()
        raise
    return SqliteDatabase(db)


async def _opened(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; the writer says BEGIN and COMMIT.
    return await aiosqlite.connect(path, isolation_level=None)
