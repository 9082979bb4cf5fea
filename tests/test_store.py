"""The SQLite file itself: its mode and schema version, and what the server does with one it
cannot use."""

import asyncio
import sqlite3
from pathlib import Path

from chatroom.common.limits import Limits
from chatroom.common.messages import MessagePush
from chatroom.server.auth import PasswordHasher
from chatroom.server.store.schema import MIGRATIONS, SCHEMA_VERSION
from chatroom.server.store.sqlite import DATABASE_NAME
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push, run_server


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
        while not server.server.passwords.running:
            await asyncio.sleep(0.001)  # until the hash has started in its thread
    for _ in range(20):
        await chatty.ping()
    assert not login.done()  # twenty round trips were answered while bcrypt ran
    assert (await login).username == "slow"


async def test_a_version_1_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    hasher = PasswordHasher(cost=4)
    password_hash = await hasher.hash(PASSWORD)
    hasher.close()
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
