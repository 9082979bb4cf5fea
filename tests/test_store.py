"""The SQLite file itself: its mode and schema version, and what the server does with one it
cannot use."""

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from chatroom.common.errors import ChatError
from chatroom.common.limits import Limits
from chatroom.common.messages import MessagePush
from chatroom.server.auth import PasswordHasher
from chatroom.server.store.schema import MIGRATIONS, SCHEMA_VERSION
from chatroom.server.store.sql import DATABASE_NAME
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push, run_server


@pytest.mark.sqlite_only
async def test_the_database_is_in_wal_mode_with_its_schema_version(server: RunningServer) -> None:
    with sqlite3.connect(server.data_dir / DATABASE_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_database_from_a_newer_chatroom_is_refused_in_one_line(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    process = await run_server("--port", "0", "--data-dir", str(tmp_path))
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1
    assert f"schema version {SCHEMA_VERSION + 1}" in lines[0] and "upgrade chatroom" in lines[0]


async def test_a_slow_login_does_not_stall_other_clients(make_server) -> None:
    server = await make_server(bcrypt_cost=12)  # the production cost: ~270 ms a hash here
    await server.register("slow")
    chatty = await server.connect()
    slow = await server.connect()
    login = asyncio.create_task(slow.login("slow", PASSWORD))
    async with asyncio.timeout(WAIT):
        while not server.server.services.passwords.running:
            await asyncio.sleep(0.001)  # until the hash has started in its thread
    for _ in range(20):
        await chatty.ping()
    assert not login.done()  # twenty round trips were answered while bcrypt ran
    assert (await login).username == "slow"


async def test_a_version_1_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    hasher = PasswordHasher(cost=4)
    password_hash = await hasher.hash(PASSWORD)
    await hasher.close()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO users VALUES ('bob', 'bob', ?, 0, 0), ('alice', 'alice', ?, 0, 0)",
            (password_hash, password_hash),
        )
        db.execute(
            "INSERT INTO messages (sender, recipient, text, ts) VALUES ('alice', 'bob', 'old', 1)"
        )
        db.execute("PRAGMA user_version = 1")
    server = RunningServer(tmp_path, Limits(bcrypt_cost=4))
    await server.start()
    try:
        bob = await server.connect()
        assert (await bob.login("bob", PASSWORD)).offline == 1
        push = await next_push(bob, MessagePush)
        assert (push.sender, push.text) == ("alice", "old")
        with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        await bob.close()
    finally:
        await server.stop()


async def test_look_alike_accounts_from_before_the_skeleton_both_keep_working(
    tmp_path: Path,
) -> None:
    """A database from before look-alike checking may hold `alice` and `alice` spelt
    with a Cyrillic a (U+0430); after the migration both log in, and no third look-alike
    can register."""
    hasher = PasswordHasher(cost=4)
    hashes = [await hasher.hash(f"password {n}") for n in range(2)]
    await hasher.close()
    cyrillic = "\u0430lice"
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        for number, script in enumerate(MIGRATIONS[:3], start=1):
            assert isinstance(script, str)
            db.executescript(f"{script}; PRAGMA user_version = {number};")
        db.execute(
            "INSERT INTO users VALUES ('alice', 'alice', ?, 0, 1), (?, ?, ?, 0, 2)",
            (hashes[0], cyrillic, cyrillic, hashes[1]),
        )
    server = RunningServer(tmp_path, Limits(bcrypt_cost=4))
    await server.start()
    try:
        for n, name in enumerate(["alice", cyrillic]):
            client = await server.connect()
            assert (await client.login(name, f"password {n}")).username == name
        newcomer = await server.connect()
        with pytest.raises(ChatError) as taken:
            await newcomer.register("\u0251lice", PASSWORD)  # Latin alpha
        assert taken.value.code == "username_taken"
        with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        await server.stop()


CANCELLED_WHILE_OPENING = """
import asyncio, sys
from pathlib import Path
from chatroom.server.store.sqlite import connect

async def cancelled(path, turns):
    opening = asyncio.create_task(connect(path))
    for _ in range(turns):
        await asyncio.sleep(0)  # a turn of the loop: the opening gets that far
    opening.cancel()
    try:
        await opening
    except asyncio.CancelledError:
        pass

for n in range(20):  # each run's loop is closed as soon as its opening is cancelled
    asyncio.run(cancelled(Path(sys.argv[1]) / f"db{n}", 1 + n % 5))
"""


@pytest.mark.sqlite_only
async def test_opening_a_database_cancelled_leaves_no_thread_to_fail_after_the_loop(
    tmp_path: Path,
) -> None:
    """Ctrl+C while a program opens its database (chatroom-admin create-users did, at
    once): aiosqlite's thread handed the connection to a loop already closed, and died
    with a traceback after the program's one line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CANCELLED_WHILE_OPENING, str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert (process.returncode, err.decode()) == (0, "")
