"""The SQL store on PostgreSQL, through asyncpg: for several server nodes sharing one
database (`chatroom-server --store postgresql://USER@HOST:PORT/DB`).

The store's statements are shared with SQLite; `translate` turns each into what
PostgreSQL expects, once, and remembers the result:
- placeholders `?`, `?N` and `:name` become `$1`, `$2`, ... (asyncpg's);
- the few functions spelt differently are renamed (`group_concat` is `string_agg`,
  `instr` is `strpos`, `char` is `chr`), and SQLite's planner hints (`+column`, and
  `CROSS JOIN` for the order of a join) dropped;
- an INSERT into a table with a generated key returns that key, which SQLite hands
  back on its own (`lastrowid`).

Every write batch is one transaction that first takes one advisory lock: with several
nodes writing, mids are then handed out and committed in the same order, so a mailbox
read up to mid N never misses a message that commits later with a smaller mid.
"""

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from chatroom.server.storage_health import StorageHealth
from chatroom.server.store.conversations import ROOMS
from chatroom.server.store.database import KEYED, Params, Row
from chatroom.server.store.moderation import MODERATION
from chatroom.server.store.pg_schema import migrate
from chatroom.server.store.search import pg_search_sql, tsquery
from chatroom.server.store.sql import USERS, SqlStore

log = logging.getLogger("chatroom.server")

WRITE_LOCK = 0x63686174
"""The advisory lock every write batch holds until it commits (any number: 'chat')."""
CHANGES = "chatroom_changes"
"""The channel on which servers tell each other what changed (`Database.changed`)."""
LISTEN_RETRY = 0.5
"""Seconds between attempts to listen again after the listening connection was lost."""
READ_POOL = (2, 10)
"""Fewest and most connections for reads (lookups and mailboxes)."""

_TOKENS = re.compile(r"'(?:[^']|'')*'|::|\?(\d+)|\?|:([A-Za-z_]\w*)")
_RENAMES = [
    (re.compile(r"\bgroup_concat\("), "string_agg("),
    (re.compile(r"\binstr\("), "strpos("),
    (re.compile(r"\bchar\((\d+)\)"), r"chr(\1)"),
    (re.compile(r"(?<=[\s(])\+(?=\w+\.\w)"), ""),
    (re.compile(r"\bCROSS JOIN\b"), "JOIN"),
]
_INSERT_INTO = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)

ESCAPE = "\x01"
"""PostgreSQL's text holds every character but NUL, which a message may hold. Strings
that have one are stored with NUL as ESCAPE + "\x02", and ESCAPE itself doubled, and
read back as they were. Control characters both, they part words for the text search,
as NUL does for SQLite's."""
_ESCAPED = re.compile("\x01(.)", re.DOTALL)


def to_text(value: Any) -> Any:
    if isinstance(value, str) and ("\x00" in value or ESCAPE in value):
        return value.replace(ESCAPE, ESCAPE * 2).replace("\x00", ESCAPE + "\x02")
    return value


def from_text(value: Any) -> Any:
    if isinstance(value, str) and ESCAPE in value:
        return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "\x02" else m.group(1), value)
    return value


def _row(record: Any) -> Row:
    row = tuple(record)
    if any(isinstance(v, str) and ESCAPE in v for v in row):
        return tuple(from_text(v) for v in row)
    return row


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement as PostgreSQL takes it, and which parameter goes to `$1`, `$2`, ...:
    positions (for `?` and `?N`) or names (for `:name`)."""

    sql: str
    order: tuple[int | str, ...]
    returns_key: bool

    def arguments(self, parameters: Params) -> list[Any]:
        if isinstance(parameters, Mapping):
            return [to_text(parameters[str(key)]) for key in self.order]
        values: Sequence[Any] = parameters
        return [to_text(values[key]) for key in self.order]  # type: ignore[index]


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> Statement:
    """The PostgreSQL form of one of the store's statements (see the module's text).
    Remembered, but not all: a statement with a list of values comes in many lengths."""
    order: list[int | str] = []
    numbers: dict[int | str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("'") or token == "::":
            return token
        if match.group(2) is not None:
            key: int | str = match.group(2)
        elif match.group(1) is not None:
            key = int(match.group(1)) - 1
        else:
            order.append(len(order))  # a bare `?`: the next position
            return f"${len(order)}"
        if key not in numbers:
            order.append(key)
            numbers[key] = len(order)
        return f"${numbers[key]}"

    text = _TOKENS.sub(placeholder, sql)
    for pattern, replacement in _RENAMES:
        text = pattern.sub(replacement, text)
    insert = _INSERT_INTO.match(text)
    key_column = KEYED.get(insert.group(1)) if insert else None
    returns_key = key_column is not None and "RETURNING" not in text.upper()
    if returns_key:
        text = f"{text.rstrip()} RETURNING {key_column}"
    return Statement(text, tuple(order), returns_key)


@dataclass(frozen=True, slots=True)
class Outcome:
    rowcount: int
    lastrowid: int | None


class ReadPool:
    """An asyncpg pool whose every call runs in a task of its own.

    A pool hands a freed connection to the first call waiting for one, which must then
    run to take it; until it does, the connection sits unused. A request started out of
    turn (started.py) runs only once the requests before it on its connection are
    answered: waiting for a connection itself, it could hold one handed to it while
    those before it wait for connections handed to others like it, and none would run
    again. A task always runs when woken, and frees its connection as soon as its
    statement is done; the request waits only for the task, which needs nothing of it.
    """

    def __init__(self, pool: "asyncpg.Pool") -> None:
        self._pool = pool

    def fetch(self, sql: str, *arguments: Any) -> "asyncio.Task[list[Any]]":
        return asyncio.ensure_future(self._pool.fetch(sql, *arguments))

    def execute(self, sql: str, *arguments: Any) -> "asyncio.Task[str]":
        return asyncio.ensure_future(self._pool.execute(sql, *arguments))

    def executemany(self, sql: str, arguments: list[Any]) -> "asyncio.Task[None]":
        return asyncio.ensure_future(self._pool.executemany(sql, arguments))

    async def close(self) -> None:
        await self._pool.close()


class PostgresDatabase:
    """`Database` on PostgreSQL: one connection (for the writer, which owns its
    transactions), or a pool (for reads, which need none)."""

    shared = True

    def __init__(self, connection: "asyncpg.Connection | ReadPool", url: str = "") -> None:
        self._db = connection
        self._url = url
        """Where to connect again, for a connection PostgreSQL closed (a restart)."""
        self._stamp = secrets.randbits(63)
        """What this connection's batches leave in `write_generation` (see `begin`)."""
        self._types: dict[str, dict[str, str]] = {}
        """Each table's columns' types, for `insert_rows`."""

    def _write_connection(self) -> "asyncpg.Connection":
        """The connection, for what only the writer does (never on the read pool)."""
        assert isinstance(self._db, asyncpg.Connection)
        return self._db

    @property
    def in_transaction(self) -> bool:
        db = self._db
        return isinstance(db, asyncpg.Connection) and db.is_in_transaction()

    async def execute(self, sql: str, parameters: Params = ()) -> Outcome:
        statement = translate(sql)
        arguments = statement.arguments(parameters)
        if statement.returns_key:
            rows = await self._db.fetch(statement.sql, *arguments)
            return Outcome(len(rows), rows[-1][0] if rows else None)
        status = await self._db.execute(statement.sql, *arguments)
        count = status.rsplit(" ", 1)[-1]
        return Outcome(int(count) if count.isdigit() else -1, None)

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        statement = translate(sql)
        rows = await self._db.fetch(statement.sql, *statement.arguments(parameters))
        return [_row(row) for row in rows]

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> None:
        statement = translate(sql)
        await self._db.executemany(statement.sql, [statement.arguments(p) for p in parameters])

    def server_pid(self) -> int:
        """The PostgreSQL process of this connection (it changes when it connects again)."""
        return int(self._write_connection().get_server_pid())

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """One INSERT of a column of values per parameter, as arrays (`unnest`): the same
        statement, prepared once, whatever the number of rows."""
        types = await self._column_types(table)
        arrays = ", ".join(f"${n}::{types[c]}[]" for n, c in enumerate(columns, start=1))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        values = [[to_text(row[n]) for row in rows] for n in range(len(columns))]
        key = KEYED.get(table)
        if key is None:
            await self._db.execute(sql, *values)
            return []
        return [row[0] for row in await self._db.fetch(f"{sql} RETURNING {key}", *values)]

    async def _column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            rows = await self._db.fetch(
                """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                   WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped""",
                table,
            )
            self._types[table] = {name: kind for name, kind in rows}
        return self._types[table]

    async def begin(self) -> bool:
        """BEGIN, take the write lock, and leave this connection's stamp in
        `write_generation`: if another stamp was there, another server wrote since this
        connection's last batch. One round trip (the simple protocol runs the three
        statements in turn); the UPDATE's status tells whether the stamp changed."""
        db = self._write_connection()
        if self._url and db.is_closed():
            self._db = db = await asyncpg.connect(self._url)
            log.info("connected to PostgreSQL again")
        status = await db.execute(
            f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK});"
            f" UPDATE write_generation SET n = {self._stamp} WHERE n <> {self._stamp}"
        )
        return bool(status == "UPDATE 1")

    def search_sql(self, one_conversation: bool) -> str:
        return pg_search_sql(one_conversation)

    def search_query(self, text: str, conv: int | None) -> str:
        return tsquery(text)

    async def forget_text(self, mid: int, text: str, conv: int) -> None:
        """Nothing to do: the index is of the `text` column itself."""

    async def changed(self, what: str) -> None:
        await self._db.execute("SELECT pg_notify($1, $2)", CHANGES, what)

    async def close(self) -> None:
        await self._db.close()


class PostgresStore(SqlStore):
    """The SQL store on PostgreSQL, which also hears what the other servers change."""

    cluster = ""
    """The name the nodes sharing this database share in Redis (see `pg_schema`)."""
    _listener: Any = None
    _url = ""
    _writes: PostgresDatabase
    _reloads: set["asyncio.Task[None]"]

    async def listen(self, url: str, writes: PostgresDatabase) -> None:
        """Hear what the other servers change, on a connection of its own, made again
        when it is lost (PostgreSQL restarted)."""
        self._reloads = set()
        self._writes = writes
        self._url = url
        await self._connect_listener()

    async def _connect_listener(self) -> None:
        listener = await asyncpg.connect(self._url)
        await listener.add_listener(CHANGES, self._heard)
        listener.add_termination_listener(self._lost_listener)
        self._listener = listener

    def _lost_listener(self, connection: Any) -> None:
        if self._listener is connection:  # not closed by `close`
            self._listener = None
            self._start(self._listen_again())

    async def _listen_again(self) -> None:
        """Connect again, then read again all that may have changed meanwhile."""
        log.warning("not hearing the other servers' changes: listening again")
        while True:
            await asyncio.sleep(LISTEN_RETRY)
            try:
                await self._connect_listener()
                for what in (ROOMS, MODERATION, USERS):
                    await self.reload(what)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                continue
            log.info("hearing the other servers' changes again")
            return

    def _start(self, work: "Coroutine[Any, Any, None]") -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def _heard(self, connection: Any, pid: int, channel: str, what: str) -> None:
        if pid == self._writes.server_pid():
            return  # this server's own change: it knows
        self._start(self.reload(what))

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        for task in list(self._reloads):
            task.cancel()
        if listener is not None:
            await listener.close()
        await super().close()


async def open_postgres(url: str, health: StorageHealth | None = None) -> PostgresStore:
    """The store on the PostgreSQL database at `url` (its schema brought up to date)."""
    writer = await asyncpg.connect(url)
    try:
        cluster = await migrate(writer)
        reads = await asyncpg.create_pool(url, min_size=READ_POOL[0], max_size=READ_POOL[1])
    except BaseException:
        await writer.close()
        raise
    pool = PostgresDatabase(ReadPool(reads))
    writes = PostgresDatabase(writer, url)
    try:
        store = await PostgresStore.assemble(writes, pool, pool, health)
        store.cluster = cluster
        await store.listen(url, writes)
        return store
    except BaseException:
        await writer.close()
        await reads.close()
        raise
