"""Fixtures: a real server on an ephemeral loopback port, with a real SQLite file in
tmp_path, or a real PostgreSQL schema of its own and a real Redis as its hub (every server
test runs on both)."""

import asyncio
import contextlib
import dataclasses
import re
import shutil
import sqlite3
import ssl
import struct
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgpack
import pytest

from chatroom.client import ChatClient
from chatroom.common.codec import FrameDecoder, encode
from chatroom.common.errors import ChatError
from chatroom.common.limits import Limits
from chatroom.common.messages import PresenceBatchPush, PresencePush, Push
from chatroom.server.app import ChatServer
from chatroom.server.store.postgres import translate
from chatroom.server.store.sql import DATABASE_NAME
from tests.engines import Postgres, Redis, missing, postgres_bin

WAIT = 5.0
"""Upper bound on any single wait for an event in the tests."""

PASSWORD = "correct horse"

TEST_LIMITS = Limits(bcrypt_cost=4, register_burst=10**6)
"""Cheap hashes, and every test's users register from one address (127.0.0.1)."""


class RunningServer:
    """A server started in the test's event loop; `restart()` reopens the same data dir."""

    def __init__(
        self,
        data_dir: Path,
        limits: Limits,
        tls: ssl.SSLContext | None = None,
        dm_policy: str = "anyone",
        store_url: str | None = None,
        hub_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.store_url = store_url
        """The PostgreSQL database the server keeps its users and messages in (None:
        SQLite, in `data_dir`)."""
        self.hub_url = hub_url
        """The Redis the server routes through (None: the in-process hub)."""
        self.limits = limits
        self.tls = tls
        self.dm_policy = dm_policy
        self.client_tls: ssl.SSLContext | None = None
        """What `connect()` uses: set it to talk TLS to a TLS server."""
        self.server: ChatServer | None = None
        self.clients: list[ChatClient] = []

    async def start(self, port: int = 0) -> None:
        self.server = await ChatServer.open(
            self.data_dir, self.limits, self.dm_policy, self.store_url, self.hub_url
        )
        await self.server.start("127.0.0.1", port, self.tls)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def restart(self) -> None:
        port = self.port
        await self.stop()
        await self.start(port)

    async def restart_on(self, port: int) -> None:
        """Start again (or instead) on a given port, with the same data directory."""
        await self.stop()
        await self.start(port)

    async def connect(self) -> ChatClient:
        client = await ChatClient.connect("127.0.0.1", self.port, tls=self.client_tls)
        self.clients.append(client)
        return client

    async def register(self, username: str, password: str = PASSWORD) -> None:
        client = await self.connect()
        await client.register(username, password)
        await client.close()

    async def login(
        self, username: str, password: str = PASSWORD, features: list[str] | None = None
    ) -> ChatClient:
        """A new connection logged in as `username` (registered first if need be), having
        asked in `hello` for `features`, if given."""
        client = await self.connect()
        if features is not None:
            await client.request("hello", version=1, features=features)
        if await self._exists(username):
            await client.login(username, password)
        else:
            await client.register(username, password)
            await client.login(username, password)
        return client

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """What `sql` reads from the server's database through a connection of its own
        (the store's SQL: `?` placeholders), as another program would see it."""
        if self.store_url is None:
            with contextlib.closing(sqlite3.connect(self.data_dir / DATABASE_NAME)) as db:
                return db.execute(sql, params).fetchall()
        return await postgres_rows(self.store_url, sql, *params)

    async def _exists(self, username: str) -> bool:
        assert self.server is not None
        return await self.server.services.store.find_user(username) is not None

    async def raw(self) -> "RawConnection":
        return await RawConnection.open(self.port)

    async def raw_login(self, username: str) -> "RawConnection":
        """A raw connection of `username`, registered and logged in (the reply read)."""
        await self.register(username)
        raw = await self.raw()
        login = {"type": "login", "id": 1, "data": {"username": username, "password": PASSWORD}}
        reply = await raw.request(login)
        assert reply["type"] == "ok", reply
        return raw


class RawConnection:
    """A bare socket that sends arbitrary bytes and reads replies as decoded envelopes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(max_frame=2**32 - 1)
        self.received: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int) -> "RawConnection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_body(self, body: bytes) -> None:
        await self.send_bytes(struct.pack(">I", len(body)) + body)

    async def send(self, envelope: Any) -> None:
        await self.send_bytes(encode(envelope))

    async def receive(self) -> dict[str, Any]:
        """The next envelope from the server (fails the test if none comes in time)."""
        async with asyncio.timeout(WAIT):
            while not self.received:
                chunk = await self.reader.read(65536)
                assert chunk, "the server closed the connection"
                self.received.extend(self.decoder.feed(chunk))
        return self.received.pop(0)

    async def request(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Send `envelope` and return its reply; pushes that come first are kept in
        `pushes` (another session of the same user may be sending: carbons)."""
        await self.send(envelope)
        while (frame := await self.receive())["type"] not in ("ok", "error"):
            self.pushes.append(frame)
        return frame

    async def closed_by_server(self) -> bool:
        """Whether the server closes the connection (reading to the end) within the wait.
        A client that was still writing when the server closed may be sent a reset
        instead of the end (what it wrote arrived at a closed socket): closed too."""
        async with asyncio.timeout(WAIT):
            try:
                while chunk := await self.reader.read(65536):
                    self.received.extend(self.decoder.feed(chunk))
            except ConnectionResetError:
                pass
        return True

    def close(self) -> None:
        self.writer.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the whole run; each server gets a schema of its own."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL (pg_ctl, initdb)")
    assert bin_dir is not None
    cluster = Postgres(bin_dir)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    assert binary is not None
    server = Redis(binary)
    yield server
    server.close()


async def postgres_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """What `sql` (the store's SQL) reads from the PostgreSQL database at `url`."""
    statement = translate(sql)
    db = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await db.fetch(statement.sql, *params)]
    finally:
        await db.close()


async def new_schema(cluster: Postgres) -> str:
    """A new, empty schema in `cluster`: the URL of a database of one's own."""
    name = f"t{uuid.uuid4().hex[:16]}"
    db = await asyncpg.connect(cluster.url())
    try:
        await db.execute(f"CREATE SCHEMA {name}")
    finally:
        await db.close()
    return cluster.url(name)


POSTGRES_REDIS = "postgres-redis"


@pytest.fixture(params=["sqlite", POSTGRES_REDIS])
def backend(request: pytest.FixtureRequest) -> str:
    """What the test's servers run on: SQLite and the in-process hub, or PostgreSQL and
    Redis (as one node of a cluster). Every server test runs on both, but those marked
    `sqlite_only`, which look at the SQLite file itself."""
    return str(request.param)


@pytest.fixture
async def make_server(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    """Start a server with some limits changed: `await make_server(idle_timeout=0.5)`."""
    running: list[RunningServer] = []
    cluster = request.getfixturevalue("postgres") if backend == POSTGRES_REDIS else None
    hub = request.getfixturevalue("redis_server").url if cluster is not None else None

    async def start(
        tls: ssl.SSLContext | None = None, dm_policy: str = "anyone", **limits: Any
    ) -> RunningServer:
        server = RunningServer(
            tmp_path / f"data{len(running)}",
            dataclasses.replace(TEST_LIMITS, **limits),
            tls,
            dm_policy,
            await new_schema(cluster) if cluster is not None else None,
            hub,
        )
        await server.start()
        running.append(server)
        return server

    yield start
    for server in running:
        for client in server.clients:
            await client.close()
        await server.stop()


@pytest.fixture
async def server(make_server: Callable[..., Awaitable[RunningServer]]) -> RunningServer:
    return await make_server()


async def refusal(client: ChatClient, kind: str, **data: Any) -> ChatError:
    """The error of a request that must fail."""
    with pytest.raises(ChatError) as error:
        await client.request(kind, **data)
    return error.value


async def refused(client: ChatClient, kind: str, **data: Any) -> str:
    """The error code of a request that must fail."""
    return str((await refusal(client, kind, **data)).code)


def documented_program(doc: Path, name: str) -> str:
    """The Python program `name` printed whole in `doc`: the code block that opens with
    the comment `# NAME`, word for word, for a test to run as a reader would."""
    pattern = rf"```python\n(# {re.escape(name)}.*?)```"
    match = re.search(pattern, doc.read_text(), re.DOTALL)
    assert match, f"{doc.name} has no {name} block"
    return match.group(1)


async def next_push(
    client: ChatClient, kind: type[Push] | tuple[type[Push], ...] = Push, **fields: Any
) -> Any:
    """The next push of type `kind` (or of one of several) whose fields equal `fields`,
    skipping others."""
    async with asyncio.timeout(WAIT):
        while True:
            push = await client.next_push()
            if isinstance(push, kind) and all(getattr(push, k) == v for k, v in fields.items()):
                return push


class ServerProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self.port = 0

    async def wait_for_log(self, pattern: str) -> re.Match[str]:
        """Read the server's log until a line matches `pattern`."""
        async with asyncio.timeout(WAIT):
            while True:
                line = (await self.process.stderr.readline()).decode()
                assert line, f"the server exited before logging {pattern!r}: {self.log}"
                self.log.append(line)
                if match := re.search(pattern, line):
                    return match

    @contextlib.asynccontextmanager
    async def log_read_meanwhile(self) -> AsyncIterator[None]:
        """Read the server's log as it comes, for as long as this lasts. (A pipe no one
        reads fills, and the server then keeps lines waiting, up to its log's backlog.)"""

        async def read_lines() -> None:
            while line := await self.process.stderr.readline():
                self.log.append(line.decode())

        reading = asyncio.create_task(read_lines())
        try:
            yield
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    async def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        async with asyncio.timeout(WAIT):
            rest = await self.process.stderr.read()
            self.log.extend(rest.decode().splitlines(keepends=True))
            return await self.process.wait()


async def run_server(*args: str, **options: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatroom.server",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        **options,
    )


async def cli_failure(*args: str, **options: Any) -> tuple[int, list[str]]:
    """Run a `chatroom-server` that is expected to exit at once: its exit code and stderr lines."""
    process = await run_server(*args, **options)
    try:
        _, err = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:  # it did not exit: do not leave it running
            process.kill()
            await process.wait()
    return process.returncode, err.decode().splitlines()


async def spawn_server(data_dir: Path, *args: str, **options: Any) -> "ServerProcess":
    """`chatroom-server` in its own process on a free port; waits until it listens.
    `options` go to the process's creation (`preexec_fn`, say)."""
    server = ServerProcess(
        await run_server(
            "--port", "0", "--data-dir", str(data_dir), "--bcrypt-cost", "4", *args, **options
        )
    )
    match = await server.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)")
    server.port = int(match.group(1))
    return server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests marked `sqlite_only` on SQLite alone (they read its file)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and params.params.get("backend") == POSTGRES_REDIS
        (dropped if on_postgres and item.get_closest_marker("sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def presence_news(push: Push) -> dict[str, bool]:
    """Who came online (True) or went offline (False) according to a presence push."""
    if isinstance(push, PresencePush):
        return {push.username: push.online}
    if isinstance(push, PresenceBatchPush):
        return dict.fromkeys(push.online, True) | dict.fromkeys(push.offline, False)
    return {}


async def next_presence(client: ChatClient, username: str) -> bool:
    """Whether the next presence news about `username` says online (either push type)."""
    async with asyncio.timeout(WAIT):
        while True:
            news = presence_news(await client.next_push())
            if username in news:
                return news[username]


def packb(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


MINIMAL_SERVER = Path(__file__).parent / "lessons" / "minimal_server.py"
MinimalServer = Callable[..., Awaitable[int]]


@pytest.fixture
async def minimal_server() -> AsyncIterator[MinimalServer]:
    """Starts the lessons' minimal server (with a fault, if named); gives its port."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(fault: str = "") -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(MINIMAL_SERVER), "0", *([fault] if fault else []),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        processes.append(process)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), WAIT)
        return int(line.split()[-1])

    yield start
    for process in processes:
        process.kill()
        await process.wait()
