"""The write side of the SQLite store: one task owns the write connection and every
transaction on it.

Requests queue their writes and wait. The writer takes everything queued, runs it in one
transaction, and commits once (one fsync) before it answers anyone; what arrives during a
commit goes into the next one. Inside the transaction each write runs in a savepoint of
its own, so a write that fails (a taken username, a full quota) undoes its own rows and
nobody else's. Messages, the hot path, skip the savepoints: a batch of them is checked
first (a repeated `cid`, a full mailbox) and then stored by one multi-row INSERT, which on
its own (no other writes, no cids) is a transaction by itself: one trip to the database
thread and one fsync. Rows no constraint can refuse (a resume token: a random key) skip
the savepoints too: all those queued for a table go in by one `executemany` (one trip,
and one statement that SQLite prepares once, whatever the number of rows).

Nothing is answered before its commit, so no one ever sees a mid that is not on disk,
and AUTOINCREMENT never hands out a committed mid twice, even after a crash.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.server.storage_health import StorageHealth, is_storage_full
from chatroom.server.store.base import StoredMessage
from chatroom.server.store.database import Database
from chatroom.server.store.refusals import mailbox_full
from chatroom.server.store.rows import RoomNames

log = logging.getLogger("chatroom.server")

T = TypeVar("T")
Job = Callable[[Database], Awaitable[T]]
"""A write: statements run on the write connection, inside the writer's transaction."""
Table = tuple[str, tuple[str, ...]]
"""A table and the columns a row for it gives."""

GROUP_COMMIT_MAX = 4000
"""Most messages in one INSERT (6 parameters each, under SQLite's 32,766)."""
MESSAGE_INSERT = ("sender", "recipient", "text", "ts", "conv", "seq")
SEQ_CACHE = 100_000
"""Conversations whose newest `seq` is remembered (the cache starts over when full)."""


@dataclass(slots=True)
class Post:
    """A message waiting for the next commit."""

    sender: str
    recipient: str | None
    text: str
    ts: float
    conv: int
    room: str | None
    cid: str | None
    mailbox_limit: int
    done: "asyncio.Future[StoredMessage]"


class Writer:
    """Runs every write to one SQLite connection, in batches, one transaction each."""

    def __init__(
        self,
        db: Database,
        newest_mid: int,
        health: StorageHealth,
        rooms: RoomNames,
    ) -> None:
        self._db = db
        self._health = health
        self._rooms = rooms
        self._jobs: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._posts: list[Post] = []
        self._rows: dict[Table, list[tuple[tuple[Any, ...], asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        self.newest_mid = newest_mid
        """The newest committed mid."""
        self._batch_newest_mid = newest_mid
        self._unread: dict[str, int] = {}
        """Unread private messages per recipient, for the users looked up since their
        last ack. Exact: every message and every ack passes through this writer."""
        self._begun: bool | None = None
        """Set when the next transaction is begun (`_begin_next`): what `begin` said."""
        self._last_seq: dict[int, int] = {}
        """The `seq` of the newest message of each conversation looked up (exact, for the
        same reason; it may run ahead of the commit, and is forgotten if that fails)."""

    # -- what the store calls ---------------------------------------------------------

    async def write(self, job: Job[T]) -> T:
        """Run `job` in the next transaction; its result once that is committed."""
        done: asyncio.Future[T] = self._loop.create_future()
        self._jobs.append((job, done))
        self._wake()
        return await done

    async def insert(self, table: str, columns: tuple[str, ...], values: tuple[Any, ...]) -> None:
        """Add a row no constraint can refuse in the next transaction (with every other
        queued for the table, in one trip, and no savepoint); returns once committed."""
        done: asyncio.Future[None] = self._loop.create_future()
        self._rows.setdefault((table, columns), []).append((values, done))
        self._wake()
        await done

    def post(
        self,
        sender: str,
        recipient: str | None,
        text: str,
        conv: int,
        cid: str | None,
        mailbox_limit: int,
    ) -> "asyncio.Future[StoredMessage]":
        """Queue a message for the next transaction; the future resolves once it is committed."""
        done: asyncio.Future[StoredMessage] = self._loop.create_future()
        room = self._rooms.name(conv)
        self._posts.append(
            Post(sender, recipient, text, time.time(), conv, room, cid, mailbox_limit, done)
        )
        self._wake()
        return done

    def noted_mid(self, mid: int) -> None:
        """A job stored message `mid` (known as committed once the batch is)."""
        self._batch_newest_mid = max(self._batch_newest_mid, mid)

    async def unread(self, db: Database, username: str) -> int:
        """Unread private messages of `username` (for a job that checks the mailbox limit)."""
        if username not in self._unread:
            await self._load(db, [username], [])
        return self._unread[username]

    async def last_seq(self, db: Database, conv: int) -> int:
        """The `seq` of the conversation's newest message (0 if it has none), for a job."""
        if conv not in self._last_seq:
            await self._load(db, [], [conv])
        return self._last_seq[conv]

    async def next_seq(self, db: Database, conv: int) -> int:
        """The `seq` of a message a job is about to add to the conversation."""
        seq = await self.last_seq(db, conv) + 1
        self._last_seq[conv] = seq
        return seq

    def forget_unread(self, username: str | None) -> None:
        """The user's mailbox changed outside the message path (an ack, a file): recount."""
        if username is not None:
            self._unread.pop(username, None)

    async def close(self) -> None:
        """Wait for every queued write to be committed."""
        while self._task is not None and not self._task.done():
            await self._task

    # -- the batch --------------------------------------------------------------------

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._write_queued())

    async def _write_queued(self) -> None:
        while self._jobs or self._posts or self._rows:
            jobs, self._jobs = self._jobs, []
            rows, self._rows = self._rows, {}
            posts = self._posts[:GROUP_COMMIT_MAX]
            del self._posts[:GROUP_COMMIT_MAX]
            await self._write_batch(jobs, rows, posts)

    async def _write_batch(
        self,
        jobs: list[tuple[Job[Any], asyncio.Future[Any]]],
        rows: dict[Table, list[tuple[tuple[Any, ...], asyncio.Future[None]]]],
        posts: list[Post],
    ) -> None:
        db = self._db
        self._batch_newest_mid = self.newest_mid
        # Plain messages alone are one INSERT, its own transaction (one trip, one fsync);
        # a job, rows, a cid to remember, a database others write to need BEGIN, COMMIT.
        whole = bool(jobs or rows) or any(post.cid is not None for post in posts) or db.shared
        added = [done for queued in rows.values() for _, done in queued]
        begun, self._begun = self._begun, None
        try:
            others = whole and (await db.begin() if begun is None else begun)
            if others:  # another server wrote: count afresh, in the lock
                self._unread.clear()
                self._last_seq.clear()
            outcomes = [await self._run_isolated(job) for job, _ in jobs]
            for (table, columns), queued in rows.items():
                row = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({row})"
                await db.executemany(sql, [values for values, _ in queued])
            stored = await self._store_posts(posts) if posts else []
            if whole:
                await db.execute("COMMIT")
        except Exception as exc:
            waiters = [done for _, done in jobs] + added + [p.done for p in posts]
            await self._abandon(exc, waiters)
            return
        self._health.wrote()
        self.newest_mid = self._batch_newest_mid
        if db.shared and not others and (self._jobs or self._rows or self._posts):
            await self._begin_next()
        for (_, done), outcome in zip(jobs, outcomes, strict=True):
            _settle(done, outcome)
        for done in added:
            _settle(done, None)
        for post, outcome in zip(posts, stored, strict=True):
            _settle(post.done, outcome)

    async def _begin_next(self) -> None:
        """Begin the next transaction before this batch is answered, so that its INSERT
        is stored meanwhile (begun after, each trip waits a turn of the loop behind them).
        Only while no other server writes: it would wait for their lock to answer this."""
        try:
            self._begun = await self._db.begin()
        except Exception as exc:  # the next batch begins anew
            await self._abandon(exc, [])

    async def _run_isolated(self, job: Job[Any]) -> Any:
        """Run one job in its own savepoint: its result, or the exception it raised
        (with its writes undone). An error that ended the whole transaction is raised."""
        db = self._db
        await db.execute("SAVEPOINT request")
        try:
            result = await job(db)
        except Exception as exc:
            if not db.in_transaction:
                raise  # SQLite rolled everything back (an I/O error): the batch fails
            await db.execute("ROLLBACK TO request")
            await db.execute("RELEASE request")
            return exc
        await db.execute("RELEASE request")
        return result

    async def _abandon(self, exc: Exception, waiters: list[asyncio.Future[Any]]) -> None:
        """The transaction failed: undo it and tell every waiter; nothing was stored."""
        self._unread.clear()  # counts taken inside the transaction may be off now
        self._last_seq.clear()
        try:
            if self._db.in_transaction:
                await self._db.execute("ROLLBACK")
        except Exception:
            log.exception("rolling back a failed transaction failed")
        if is_storage_full(exc):
            error = self._health.refused(f"a transaction of {len(waiters)} writes", exc)
        else:
            log.error("a transaction of %d writes failed", len(waiters), exc_info=exc)
            error = ChatError(ErrorCode.SERVER_ERROR, "storing failed; nothing was stored")
        for done in waiters:
            _settle(done, error)

    # -- messages ---------------------------------------------------------------------

    async def _store_posts(self, posts: list[Post]) -> list[StoredMessage | ChatError]:
        """Store the batch's messages; for each, what it became (in the same order)."""
        db = self._db
        outcomes: list[StoredMessage | ChatError | None] = [None] * len(posts)
        earlier = await self._earlier_posts(posts)
        first_of: dict[tuple[str, str], int] = {}
        """Index of the post that carries each (sender, cid) new in this batch."""
        unknown = {p.recipient for p in posts if p.recipient and p.recipient not in self._unread}
        if len(self._last_seq) + len(posts) > SEQ_CACHE:  # full: start over here, so that
            self._last_seq.clear()  # every conversation of this batch is loaded below
        await self._load(db, list(unknown), list({p.conv for p in posts} - self._last_seq.keys()))
        last_seq = self._last_seq
        fresh: list[int] = []
        for index, post in enumerate(posts):
            key = (post.sender, post.cid) if post.cid is not None else None
            if key is not None and key in earlier:
                outcomes[index] = earlier[key]
            elif key is not None and key in first_of:
                continue  # the same request twice in one batch: answered like the first
            elif post.recipient is not None and self._unread[post.recipient] >= post.mailbox_limit:
                outcomes[index] = mailbox_full(post.recipient, post.mailbox_limit)
            else:
                if post.recipient is not None:
                    self._unread[post.recipient] += 1
                if key is not None:
                    first_of[key] = index
                fresh.append(index)
        if fresh:
            rows = []
            for index in fresh:
                post = posts[index]
                last_seq[post.conv] = seq = last_seq[post.conv] + 1
                rows.append((post.sender, post.recipient, post.text, post.ts, post.conv, seq))
            mids = await db.insert_rows("messages", MESSAGE_INSERT, rows)
            for mid, index in zip(mids, fresh, strict=True):
                post = posts[index]
                outcomes[index] = StoredMessage(
                    mid,
                    post.sender,
                    post.recipient,
                    post.text,
                    post.ts,
                    conv=post.conv,
                    room=post.room,
                )
            self.noted_mid(mids[-1])
            await self._remember_cids(posts, first_of, outcomes)
        for index, post in enumerate(posts):
            if outcomes[index] is None:  # a repeat within the batch
                assert post.cid is not None
                original = outcomes[first_of[(post.sender, post.cid)]]
                assert isinstance(original, StoredMessage)
                outcomes[index] = _repeat(original)
        assert all(outcome is not None for outcome in outcomes)
        return outcomes  # type: ignore[return-value]

    async def _earlier_posts(
        self, posts: list[Post]
    ) -> dict[tuple[str, str], StoredMessage | ChatError]:
        """The messages stored earlier under the (sender, cid) of any post in the batch."""
        keys = list({(p.sender, p.cid) for p in posts if p.cid is not None})
        if not keys:
            return {}
        # From the list of keys into the table (CROSS JOIN keeps that order), so each is
        # one primary-key lookup; `WHERE (sender, cid) IN (...)` scanned the whole table.
        rows = await self._db.execute_fetchall(
            "WITH wanted (sender, cid) AS (VALUES "
            + ", ".join(["(?, ?)"] * len(keys))
            + """) SELECT r.sender, r.cid, m.mid, m.sender, m.recipient, m.text, m.ts, m.conv
                   FROM wanted CROSS JOIN request_ids AS r
                     ON r.sender = wanted.sender AND r.cid = wanted.cid
                   LEFT JOIN messages AS m ON m.mid = r.mid""",
            [v for key in keys for v in key],
        )
        earlier: dict[tuple[str, str], StoredMessage | ChatError] = {}
        for sender, cid, mid, author, recipient, text, ts, conv in rows:
            if mid is None:
                earlier[(sender, cid)] = ChatError(
                    ErrorCode.BAD_REQUEST, f"cid {cid!r} was already used for a file"
                )
            else:
                room = self._rooms.name(conv)
                earlier[(sender, cid)] = StoredMessage(
                    mid, author, recipient, text, ts, None, True, conv, room
                )
        return earlier

    async def _remember_cids(
        self,
        posts: list[Post],
        first_of: dict[tuple[str, str], int],
        outcomes: list[StoredMessage | ChatError | None],
    ) -> None:
        rows = []
        for (sender, cid), index in first_of.items():
            stored = outcomes[index]
            assert isinstance(stored, StoredMessage)
            rows.append((sender, cid, stored.mid, posts[index].ts))
        if rows:
            await self._db.insert_rows("request_ids", ("sender", "cid", "mid", "created_at"), rows)

    async def _load(self, db: Database, usernames: list[str], convs: list[int]) -> None:
        """Load the unread private counts of `usernames` and the newest `seq` of each
        conversation in `convs` into the caches: one query (one round trip in the lock)."""
        selects, parameters = [], [*usernames, *convs]
        if usernames:
            selects.append(
                f"""SELECT u.username, NULL, (SELECT COUNT(*) FROM messages AS m
                                             WHERE m.recipient = u.username
                                               AND m.mid > u.acked_upto)
                    FROM users AS u WHERE u.username IN ({", ".join("?" * len(usernames))})"""
            )
        if convs:
            selects.append(
                f"""SELECT NULL, c.conv, (SELECT seq FROM messages AS m WHERE m.conv = c.conv
                                         ORDER BY m.mid DESC LIMIT 1)
                    FROM conversations AS c WHERE c.conv IN ({", ".join("?" * len(convs))})"""
            )
        if not selects:
            return
        rows = await db.execute_fetchall(" UNION ALL ".join(selects), parameters)
        self._unread.update(dict.fromkeys(usernames, 0))  # a vanished user has none
        self._last_seq.update(dict.fromkeys(convs, 0))
        for username, conv, number in rows:
            if username is not None:
                self._unread[username] = number
            else:
                self._last_seq[conv] = number or 0


def _repeat(message: StoredMessage) -> StoredMessage:
    m = message
    return StoredMessage(m.mid, m.sender, m.recipient, m.text, m.ts, None, True, m.conv, m.room)


def _settle(done: "asyncio.Future[Any]", outcome: Any) -> None:
    if done.done():  # the waiter went away (its connection closed); the write stands
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
