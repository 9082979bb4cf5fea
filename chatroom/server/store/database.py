"""What the SQL store needs of a database connection: `Database`.

The store's statements are written once, in the SQL that SQLite and PostgreSQL share,
with `?`, `?N` or `:name` placeholders. A `Database` runs them: `SqliteDatabase` (in
`sqlite`) hands them to aiosqlite as they are; `PostgresDatabase` (in `postgres`) rewrites them for
asyncpg. The little that cannot be shared (full-text search, how a batch of writes is
made a transaction) is a method of the `Database` too, so the store never asks which
engine it is on.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

Params = Sequence[Any] | Mapping[str, Any]
Row = tuple[Any, ...]

KEYED = {"messages": "mid", "files": "fid", "conversations": "conv", "audit": "id"}
"""The tables whose key the database makes, and its column."""


class Written(Protocol):
    """What a write statement did: how many rows it changed, and the key of the last
    row it inserted (None when it inserted none)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...


class Database(Protocol):
    """One connection (or, for reads, a pool of them) to the store's database."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def shared(self) -> bool:
        """Whether other servers write to this database too (PostgreSQL). Then every
        write batch is a transaction that first takes the lock keeping mids in commit
        order, and what another server may change is read, not remembered."""

    async def execute(self, sql: str, parameters: Params = ()) -> Written: ...

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]: ...

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> None: ...

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Insert `rows` (values for `columns`) in one statement: the keys the table
        made for them, in order (none for a table that makes no key)."""

    async def begin(self) -> bool:
        """Start the transaction of a batch of writes; whether another server may have
        written since this connection's last batch (then what the writer remembers of
        counts and sequence numbers is out of date)."""

    def search_sql(self, one_conversation: bool) -> str:
        """The full-text search of messages: `:query` (from `search_query`), `:me` or
        `:conv`, `:limit`; rows of MESSAGE_COLUMNS and a snippet, newest first."""

    def search_query(self, text: str, conv: int | None) -> str:
        """What `search_sql` takes as `:query` for the words the user typed."""

    async def forget_text(self, mid: int, text: str, conv: int) -> None:
        """Take a message's text out of the search index (before it is blanked)."""

    async def changed(self, what: str) -> None:
        """Tell the other servers, once this transaction commits, that `what` changed
        (`rooms`, `moderation`, `users`): what they remember of it is out of date."""

    async def close(self) -> None: ...
