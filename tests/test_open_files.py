"""A process may hold only so many open files (`ulimit -n`), and every connection is one:
the server takes no more connections than leave room for its database and files."""

import asyncio
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

from chatroom.client import ChatClient
from chatroom.common.messages import FilePush
from tests.conftest import PASSWORD, WAIT, RawConnection, next_push, spawn_server


def open_files(soft: int, hard: int) -> Callable[[], None]:
    """For the server's process: its limits on open files, as `ulimit -Sn` and `-Hn`."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_past_what_the_open_files_limit_leaves_connections_are_refused_and_files_move(
    tmp_path: Path,
) -> None:
    """With `ulimit -n 200`, 300 idle connections from one address took every descriptor:
    accepting more failed inside the event loop, with no `error` sent, and alice's upload
    to bob failed with `server_error` ("Too many open files"). The server now takes the
    100 connections that leave room for the rest, says so once it listens, and refuses
    the others with `too_many_connections`; alice's file reaches bob whole."""
    server = await spawn_server(tmp_path / "data", preexec_fn=open_files(200, 200))
    said = await server.wait_for_log("takes 100 connections at once, not --max-connections")
    assert " INFO " in said.string  # the default: not a number anyone asked for
    async with server.log_read_meanwhile():
        alice, bob = [await ChatClient.connect("127.0.0.1", server.port) for _ in range(2)]
        for name, client in [("alice", alice), ("bob", bob)]:
            await client.hello()
            await client.register(name, PASSWORD)
            await client.login(name, PASSWORD)
        idle = [await RawConnection.open(server.port) for _ in range(300)]
        refused = (await idle[-1].receive())["data"]
        assert refused == {
            "code": "too_many_connections",
            "message": "the server is full; try later",
        }
        notes = tmp_path / "notes.bin"
        notes.write_bytes(os.urandom(300_000))
        sent = await alice.send_file(notes, "bob")
        push = await next_push(bob, FilePush, fid=sent.fid)
        saved = await bob.download(push, tmp_path / "got")
        assert saved.read_bytes() == notes.read_bytes()
        for connection in idle:
            connection.close()
        for client in (alice, bob):
            await client.close()
    code = await server.stop(15)
    assert code == 0
    assert not [line for line in server.log if "Too many open files" in line or "Traceback" in line]


async def test_the_server_raises_its_own_open_files_limit_as_far_as_it_needs(
    tmp_path: Path,
) -> None:
    """A soft limit below what --max-connections needs, under a hard limit that allows it,
    is raised at start, with nothing to say (ulimit -Sn 200, -Hn 4096: 1,000 connections
    and 256 descriptors more). Past the hard limit, fewer are taken, and a number asked
    for gets a warning."""
    server = await spawn_server(
        tmp_path / "data", "--max-connections", "1000", preexec_fn=open_files(200, 4096)
    )
    limits = Path(f"/proc/{server.process.pid}/limits").read_text()
    assert [line.split()[3:5] for line in limits.splitlines() if "open files" in line] == [
        ["1256", "4096"]
    ]
    assert await server.stop(15) == 0
    assert not [line for line in server.log if "connections at once" in line]
    # Asked for more than the hard limit leaves room for: said as a warning.
    server = await spawn_server(
        tmp_path / "data", "--max-connections", "5000", preexec_fn=open_files(200, 4096)
    )
    said = await server.wait_for_log("takes 3,840 connections at once, not --max-connections 5,000")
    assert " WARNING " in said.string
    assert await server.stop(15) == 0


async def test_the_load_generator_raises_its_own_limit_for_its_connections(
    tmp_path: Path,
) -> None:
    """`chatroom-bench --clients 300` under `ulimit -Sn 100` ended in "too many open
    files" (said of its server, though the files were its own)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    report = tmp_path / "bench.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.bench", "--scenarios", "connections",
        "--clients", "300", "--json", str(report),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=open_files(100, hard),
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), WAIT * 4)
    assert process.returncode == 0, err.decode()[-2000:]
    results = json.loads(report.read_text())["results"]
    assert [result["clients"] for result in results] == [300]
