"""The server as a whole: listen, accept a session per connection, and shut down in order."""

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason
from chatroom.server.admin_changes import obey_admin_changes
from chatroom.server.auth import PasswordHasher
from chatroom.server.chaos import Chaos
from chatroom.server.cluster import RedisHub
from chatroom.server.connection import Session
from chatroom.server.datadir import DataDirLock, claim
from chatroom.server.files import FileVault
from chatroom.server.hub import Hub
from chatroom.server.scheduling import Sweeper, WriteScheduler
from chatroom.server.services import Services
from chatroom.server.statuses import StatusKeeper
from chatroom.server.storage_health import StorageHealth
from chatroom.server.store import SqlStore, Store
from chatroom.server.store.postgres import open_postgres
from chatroom.server.throttle import AddressRate, Clock, LoginThrottle

log = logging.getLogger("chatroom.server")

SHUTDOWN_GRACE = 10.0
"""Seconds shutdown waits for requests in progress (a commit, a bcrypt) to finish."""
UPKEEP_INTERVAL = 60.0
"""Seconds between sweeps for expired uploads, request ids and resume tokens (at most)."""


class ChatServer:
    """Accepts connections and runs a `Session` for each, sharing one store and one hub."""

    def __init__(
        self,
        store: Store,
        vault: FileVault,
        limits: Limits,
        clock: Clock = time.monotonic,
        dm_policy: str = "anyone",
        hub: Hub | None = None,
        trace: Callable[[str], None] | None = None,
        chaos: Chaos | None = None,
    ) -> None:
        hub = hub or Hub()
        throttle = LoginThrottle(limits.login_attempts, limits.login_lockout_max, clock=clock)
        self.services = Services(
            store=store,
            hub=hub,
            statuses=StatusKeeper(store, hub),
            vault=vault,
            passwords=PasswordHasher(limits.bcrypt_cost),
            throttle=throttle,
            registrations=AddressRate(limits.register_rate, limits.register_burst, clock),
            shared=hub.shared_limits(limits, throttle),
            limits=limits,
            clock=clock,
            dm_policy=dm_policy,
            trace=trace,
            chaos=chaos,
        )
        if isinstance(hub, RedisHub):
            hub.status_heard = self.services.statuses.heard
        self.limits = limits
        self.writes = WriteScheduler()
        self._per_address: Counter[str] = Counter()
        self._sessions: dict[Session, None] = {}
        """Every session let in. A dict used as a set: at 10,000 sessions its table is
        30 bytes a session, a set's (which grows fourfold) 50 to 100."""
        self._sweeper: Sweeper | None = None
        self._all_closed: asyncio.Event | None = None
        """Set when the last session has closed, once shutdown has begun."""
        self._server: asyncio.Server | None = None
        self._chores: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._data_dir_lock: DataDirLock | None = None

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        limits: Limits,
        dm_policy: str = "anyone",
        store_url: str | None = None,
        hub_url: str | None = None,
        trace: Callable[[str], None] | None = None,
        chaos: Chaos | None = None,
    ) -> "ChatServer":
        """A server on the SQLite database in `data_dir`, which it keeps to itself until
        shutdown; or, given `store_url`, on that PostgreSQL database, which other nodes
        share, as they share `data_dir` for the files. Given `hub_url`, the nodes route
        to each other through that Redis. `trace` is given a line for every frame;
        `chaos` makes the network unreliable on purpose (for practice).

        Raises `DataDirError` if another server has the SQLite data directory, or if it
        is damaged or read-only; ValueError for a hub without a PostgreSQL store.
        """
        health = StorageHealth()  # one disk: a full one is reported once for both
        if store_url is not None:
            store = await open_postgres(store_url, health)
            hub = RedisHub(hub_url, store.cluster, store) if hub_url is not None else None
            vault = FileVault(data_dir, health)
            return cls(store, vault, limits, dm_policy=dm_policy, hub=hub, trace=trace, chaos=chaos)
        if hub_url is not None:
            raise ValueError("a hub joins nodes that share a PostgreSQL store: give one")
        lock = await asyncio.to_thread(claim, data_dir)  # quick_check reads the whole file
        try:
            sqlite = await SqlStore.open(data_dir, health)
            vault = FileVault(data_dir, health)
            server = cls(sqlite, vault, limits, dm_policy=dm_policy, trace=trace, chaos=chaos)
        except BaseException:
            lock.release()
            raise
        server._data_dir_lock = lock
        return server

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        """Start listening (with TLS if given); raises OSError if the address cannot be bound."""
        self.services.hub.set_rooms(await self.services.store.memberships())
        await self.services.hub.start()
        await self.services.passwords.start()  # not at the first login: it would wait
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self.services, self.writes, self), host, port, ssl=tls
        )
        limits = self.limits
        timeouts = (limits.idle_timeout, limits.login_timeout, limits.frame_timeout)
        self._sweeper = Sweeper(self._sessions, min(timeouts))
        self._sweeper.start()
        sessions = self._sessions.keys
        self._chores = [
            asyncio.create_task(self._keep_up()),
            asyncio.create_task(obey_admin_changes(self.services, sessions)),
        ]

    @property
    def port(self) -> int:
        """The port actually bound (useful when started on port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def admit(self, session: Session) -> ChatError | None:
        """Count a new connection in, or say why it is refused. Its place is taken before
        the other nodes' counts are asked for (a wait for Redis), so that connections
        arriving meanwhile see it taken: checked before the wait and taken after it,
        every connection of a burst was let in, however many the limit allowed."""
        address = session.address
        if len(self._sessions) >= self.limits.max_connections:
            return ChatError(ErrorCode.TOO_MANY_CONNECTIONS, "the server is full; try later")
        if self._per_address[address] >= self.limits.max_connections_per_ip:
            return self._too_many_from(address)
        self._per_address[address] += 1
        self._sessions[session] = None
        counted = False
        try:
            counted = await self.services.shared.connection_opened(address)
        finally:
            if not counted:  # refused by every node's count, or cancelled while asking
                self._let_go(session)
        return None if counted else self._too_many_from(address)

    def closed(self, session: Session) -> None:
        """Count a connection that was let in out again (once; one refused, nothing)."""
        if session in self._sessions:
            self._let_go(session)
            self.services.shared.connection_closed(session.address)

    def _let_go(self, session: Session) -> None:
        address = session.address
        del self._sessions[session]
        self._per_address[address] -= 1
        if not self._per_address[address]:
            del self._per_address[address]
        if self._all_closed is not None and not self._sessions:
            self._all_closed.set()

    @staticmethod
    def _too_many_from(address: str) -> ChatError:
        return ChatError(ErrorCode.TOO_MANY_CONNECTIONS, f"too many connections from {address}")

    async def _keep_up(self) -> None:
        """Now and then: delete uploads that stopped arriving (freeing their quota),
        forget request ids older than the window in which a repeat is recognised, and
        resume tokens that have expired."""
        interval = min(UPKEEP_INTERVAL, self.limits.upload_ttl / 2)
        while True:
            try:
                await self.expire_uploads()
                now = time.time()
                await self.services.store.forget_request_ids(before=now - self.limits.cid_window)
                await self.services.store.forget_resume_tokens(expired_by=now)
            except Exception:  # a full disk, say: try again at the next sweep
                log.exception("upkeep failed")
            await asyncio.sleep(interval)

    async def expire_uploads(self, now: float | None = None) -> int:
        """Delete unfinished uploads with no bytes for `upload_ttl` seconds; how many.

        `now` (unix time) is for tests, which move it forward instead of waiting.
        """
        cutoff = (time.time() if now is None else now) - self.limits.upload_ttl
        expired = 0
        for file in await self.services.store.stale_uploads(before=cutoff):
            last = self.services.vault.last_written(file.fid)
            if last is not None and last >= cutoff:
                continue  # still arriving, if slowly
            await self.services.store.delete_file(file.fid)
            self.services.vault.discard(file.fid)
            expired += 1
        if expired:
            log.info("expired %d unfinished uploads", expired)
        return expired

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop accepting, say `bye` to every session, let their requests finish, close storage."""
        if self._stopped.is_set():
            return
        if self._server is not None:
            log.info("shutting down: %d connections", len(self._sessions))
            self._server.close()
        self.services.hub.close()  # everyone is leaving; no one is left to tell
        for chore in self._chores:
            chore.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chore
        if self._sweeper is not None:
            self._sweeper.stop()
        self._all_closed = asyncio.Event()
        for session in list(self._sessions):
            session.say_bye(ByeReason.SHUTDOWN)
        if self._sessions:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    await self._all_closed.wait()
        for session in list(self._sessions):
            session.abort()
        await self.services.hub.stop()
        self.services.vault.close()
        await self.services.store.close()
        await self.services.passwords.close()
        if self._data_dir_lock is not None:
            self._data_dir_lock.release()  # after the store is closed: the next server may start
        self._stopped.set()
        if self._server is not None:
            log.info("stopped")
