"""The data directory: one server at a time, and a damaged or read-only one refused at start."""

import asyncio
import ctypes
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatroom.client import ChatClient
from chatroom.server import datadir
from chatroom.server.app import ChatServer
from chatroom.server.datadir import DataDirError
from tests.conftest import PASSWORD, RunningServer, cli_failure, spawn_server


def server_args(data_dir: Path) -> tuple[str, ...]:
    return ("--port", "0", "--data-dir", str(data_dir))


async def test_a_second_server_on_the_same_data_dir_exits_and_the_first_keeps_serving(
    tmp_path: Path,
) -> None:
    first = await spawn_server(tmp_path)
    try:
        code, lines = await cli_failure(*server_args(tmp_path))
        assert code == 2
        assert lines == [
            f"chatroom-server: error: data directory {tmp_path} is in use by another "
            f"chatroom-server (pid {first.process.pid})"
        ]
        alice = await ChatClient.connect("127.0.0.1", first.port)
        await alice.register("alice", PASSWORD)
        await alice.login("alice", PASSWORD)
        await alice.close()
    finally:
        assert await first.stop(signal.SIGTERM) == 0


async def test_a_refused_program_is_told_which_program_holds_the_data_dir(
    tmp_path: Path,
) -> None:
    restoring = datadir.lock(tmp_path)  # as chatroom-admin restore holds it
    try:
        code, lines = await cli_failure(*server_args(tmp_path))
        assert (code, lines) == (2, [
            f"chatroom-server: error: data directory {tmp_path} is in use by "
            f"chatroom-admin restore (pid {os.getpid()})"
        ])  # fmt: skip
        with pytest.raises(DataDirError) as second:
            datadir.lock(tmp_path)
        assert str(second.value).endswith(
            f"in use by another chatroom-admin restore (pid {os.getpid()})"
        )
    finally:
        restoring.release()
    # A lock file from before the program was named holds a pid alone: a server's. What
    # is not a program of ours is not repeated (the error stays one line).
    for text in ("4242\n", "4242 rm -rf /\nmore\n"):
        (tmp_path / datadir.LOCK_NAME).write_text(text)
        with open(tmp_path / datadir.LOCK_NAME) as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            with pytest.raises(DataDirError, match=r"in use by chatroom-server \(pid 4242\)$"):
                datadir.lock(tmp_path)


async def test_a_killed_server_leaves_its_data_dir_to_the_next_one(tmp_path: Path) -> None:
    first = await spawn_server(tmp_path)
    alice = await ChatClient.connect("127.0.0.1", first.port)
    await alice.register("alice", PASSWORD)
    await alice.close()
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = await spawn_server(tmp_path)  # the kernel dropped the lock with the process
    try:
        alice = await ChatClient.connect("127.0.0.1", second.port)
        await alice.login("alice", PASSWORD)
        await alice.close()
    finally:
        assert await second.stop(signal.SIGTERM) == 0


@pytest.mark.sqlite_only
async def test_a_server_in_the_same_process_is_kept_out_too(server: RunningServer) -> None:
    with pytest.raises(DataDirError, match="is in use by another chatroom-server"):
        await ChatServer.open(server.data_dir, server.limits)
    await server.restart()  # shutdown releases the lock; reopening takes it again
    await server.login("alice")


async def database_left_by_a_server(data_dir: Path, stop: int = signal.SIGTERM) -> Path:
    """The database a server created in `data_dir`, with one user, once stopped by `stop`."""
    server = await spawn_server(data_dir)
    alice = await ChatClient.connect("127.0.0.1", server.port)
    await alice.register("alice", PASSWORD)
    await alice.close()
    await server.stop(stop)
    return data_dir / "chatroom.db"


def damage_a_messages_page(database: Path) -> None:
    """Fill the messages table over many pages, then overwrite the header of its root page."""
    db = sqlite3.connect(database)
    db.executemany(
        "INSERT INTO messages (sender, recipient, text, ts) VALUES ('alice', NULL, ?, 0)",
        [(f"message {i} " + "x" * 100,) for i in range(2000)],
    )
    db.commit()
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()  # the last connection: the WAL is copied into the file, and the damage stays
    with open(database, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * 12)


def damage_the_file_header(database: Path) -> None:
    with open(database, "r+b") as file:
        file.write(b"not SQLite at all")


@pytest.mark.parametrize("damage", [damage_a_messages_page, damage_the_file_header])
async def test_a_damaged_database_is_one_line_and_exit_code_2(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    database = await database_left_by_a_server(tmp_path)
    damage(database)

    code, lines = await cli_failure(*server_args(tmp_path))
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"chatroom-server: error: database {database} is damaged: ")
    assert lines[0].endswith("; restore it from a backup")


CAP_DAC_OVERRIDE = 1
PR_CAPBSET_DROP = 24


def drop_root_power_over_permissions() -> None:
    """In the child before it runs Python: take CAP_DAC_OVERRIDE (root's power to ignore
    permission bits) out of its bounding set, so that after exec root obeys them too."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
async def bound_by_permissions(tmp_path: Path) -> dict[str, Any]:
    """Options for `run_server` under which a read-only file cannot be written.

    Without root, chmod is enough. As root (CI), the server runs as root without the power
    to override permission bits (running it as `nobody` would need the interpreter, often
    under /root, to be readable by nobody). Skips if the options, tried on a read-only
    probe file, do not keep a process from writing it.
    """
    options = {} if os.geteuid() != 0 else {"preexec_fn": drop_root_power_over_permissions}
    probe = tmp_path / "probe"
    probe.touch(mode=0o444)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import os, sys; os.open(sys.argv[1], os.O_RDWR)",
            probe,
            stderr=asyncio.subprocess.DEVNULL,
            **options,
        )
    except subprocess.SubprocessError:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here (prctl failed), so root writes anything")
    if await process.wait() == 0:
        pytest.skip("a read-only file stays writable for the server's process here")
    probe.unlink()
    return options


@pytest.mark.parametrize("name", ["chatroom.db", "chatroom.db-wal", "chatroom.db-shm"])
async def test_a_read_only_database_file_is_one_line_and_exit_code_2(
    tmp_path: Path, bound_by_permissions: dict[str, Any], name: str
) -> None:
    data_dir = tmp_path / "data"
    await database_left_by_a_server(data_dir, signal.SIGKILL)  # a crash leaves -wal and -shm behind
    (data_dir / name).chmod(0o444)

    code, lines = await cli_failure(*server_args(data_dir), **bound_by_permissions)
    assert code == 2
    assert lines == [
        f"chatroom-server: error: cannot write to {data_dir / name}: permission denied"
    ]


async def test_a_read_only_data_dir_is_one_line_and_exit_code_2(
    tmp_path: Path, bound_by_permissions: dict[str, Any]
) -> None:
    data_dir = tmp_path / "data"
    await database_left_by_a_server(data_dir)
    data_dir.chmod(0o555)
    try:
        code, lines = await cli_failure(*server_args(data_dir), **bound_by_permissions)
    finally:
        data_dir.chmod(0o755)
    assert code == 2
    assert lines == [
        f"chatroom-server: error: cannot write to data directory {data_dir}: permission denied"
    ]
