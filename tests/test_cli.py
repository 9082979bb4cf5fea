"""`chatroom-server` as a user runs it: a real process, flags, signals and exit codes."""

import asyncio
import importlib.util
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatroom.client import ChatClient
from chatroom.common.messages import ByePush, MessagePush
from chatroom.server.cli import build_parser
from tests.conftest import (
    PASSWORD,
    WAIT,
    ServerProcess,
    cli_failure,
    next_push,
    run_server,
    spawn_server,
)
from tests.engines import missing


@pytest.fixture
async def server_process(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    server = await spawn_server(tmp_path)
    yield server
    if server.process.returncode is None:
        server.process.kill()
        await server.process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_a_signal_says_bye_to_everyone_and_exits_cleanly(
    server_process: ServerProcess, signum: int
) -> None:
    alice = await ChatClient.connect("127.0.0.1", server_process.port)
    await alice.register("alice", PASSWORD)
    await alice.login("alice", PASSWORD)
    loitering = await ChatClient.connect("127.0.0.1", server_process.port)
    await loitering.ping()

    assert await server_process.stop(signum) == 0
    assert (await next_push(alice, ByePush)).reason == "shutdown"
    assert (await next_push(loitering, ByePush)).reason == "shutdown"
    assert "Traceback" not in "".join(server_process.log)
    # The log, written a batch at a time, is written to its last line before the exit.
    assert any(" login alice from " in line for line in server_process.log)
    assert server_process.log[-1].rstrip().endswith("stopped")


async def test_ctrl_c_while_the_server_is_still_loading_is_one_line(tmp_path: Path) -> None:
    """The console script's way in (pyproject.toml): Ctrl+C while Python is still
    importing the server, a tenth of a second and more, is a line, not a traceback."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from chatroom.utils.programs import server; server()",
        "--port", "0", "--data-dir", str(tmp_path),
        stderr=asyncio.subprocess.PIPE, env=os.environ | {"PYTHONPROFILEIMPORTTIME": "1"},
    )  # fmt: skip
    assert process.stderr is not None
    seen: list[bytes] = []
    async with asyncio.timeout(WAIT * 4):  # each import's line as it is done
        while not seen or not seen[-1].rstrip().endswith(b"chatroom.utils.programs"):
            seen.append(await process.stderr.readline())
        # The next import done is one of the server's own, inside `run`: a signal sent
        # as soon as programs itself is done can come before `run` is called.
        seen.append(await process.stderr.readline())
        process.send_signal(signal.SIGINT)  # in the server's own imports, now under way
        _, err = await process.communicate()
    lines = (b"".join(seen) + err).decode().splitlines()
    assert "Traceback" not in "\n".join(lines)
    assert (process.returncode, lines[-1]) == (1, "chatroom-server: interrupted")
    assert not any(line.rstrip().endswith("chatroom.server.app") for line in lines)


async def test_a_data_dir_it_makes_is_its_owners_alone_and_an_open_one_is_warned_of(
    tmp_path: Path,
) -> None:
    """Every private message and password hash is in the data dir: on a machine the
    students have accounts on, a 755 one is theirs to read."""
    made = tmp_path / "made"
    server = await spawn_server(made)
    await server.stop(signal.SIGTERM)
    assert (made.stat().st_mode & 0o777, (made / "files").stat().st_mode & 0o777) == (
        0o700, 0o700
    )  # fmt: skip
    assert not any("WARNING" in line for line in server.log)
    made.chmod(0o755)  # as one made before, or by hand
    server = await spawn_server(made)
    await server.stop(signal.SIGTERM)
    warned = [line for line in server.log if "WARNING" in line]
    assert len(warned) == 1 and f"data directory {made} can be read by other users" in warned[0]
    assert made.stat().st_mode & 0o777 == 0o755  # said, not changed behind the owner's back


async def test_a_restore_stopped_half_way_keeps_the_server_from_starting(tmp_path: Path) -> None:
    """Killed between its last two steps, a restore may have left no database: a server
    starting then would start empty. The staging folder it leaves says so."""
    (tmp_path / ".restoring").mkdir()
    code, lines = await cli_failure("--port", "0", "--data-dir", str(tmp_path))
    said = f"a restore into {tmp_path} was stopped half-way: run chatroom-admin restore again"
    assert (code, lines) == (2, [f"chatroom-server: error: {said}"])
    assert not (tmp_path / "chatroom.db").exists()  # nothing was made


async def test_a_host_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    code, lines = await cli_failure(
        "--port", "0", "--data-dir", str(tmp_path), "--host", "a\udcffb"
    )
    assert (code, lines) == (
        2,
        ["chatroom-server: error: argument --host: not UTF-8 text: 'a\\udcffb'"],
    )


async def test_offline_mail_survives_a_process_restart(tmp_path: Path) -> None:
    args = ("--port", "0", "--data-dir", str(tmp_path), "--bcrypt-cost", "4")
    first = ServerProcess(await run_server(*args))
    port = int((await first.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)")).group(1))
    alice = await ChatClient.connect("127.0.0.1", port)
    for name in ("alice", "bob"):
        await alice.register(name, PASSWORD)
    await alice.login("alice", PASSWORD)
    sent = await alice.private("bob", "see you after the restart")
    assert await first.stop(signal.SIGTERM) == 0

    second = ServerProcess(await run_server(*args))
    port = int((await second.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)")).group(1))
    try:
        bob = await ChatClient.connect("127.0.0.1", port)
        assert (await bob.login("bob", PASSWORD)).offline == 1
        push = await next_push(bob, MessagePush)
        assert (push.mid, push.text, push.offline) == (sent.mid, "see you after the restart", True)
        await bob.close()
    finally:
        assert await second.stop(signal.SIGTERM) == 0


async def test_on_uvloop_the_fast_extra_the_server_serves_chat_and_files(tmp_path: Path) -> None:
    # `pip install '.[fast]'` adds uvloop, which the server then runs on. uvloop's
    # transports are not subclasses of asyncio's: once, every connection failed a check
    # that they were, and the server answered nobody.
    if importlib.util.find_spec("uvloop") is None:
        missing("uvloop", install="pip install '.[fast]'; the test extra has it")
    server = await spawn_server(tmp_path / "data")
    assert "(event loop: uvloop)" in server.log[-1]
    try:
        users = []
        for name in ("alice", "bob"):
            client = await ChatClient.connect("127.0.0.1", server.port)
            await client.register(name, PASSWORD)
            await client.login(name, PASSWORD)
            users.append(client)
        alice, bob = users
        sent = await alice.private("bob", "over uvloop")
        push = await next_push(bob, MessagePush)
        assert (push.mid, push.text) == (sent.mid, "over uvloop")
        payload = tmp_path / "payload.bin"
        payload.write_bytes(os.urandom(300_000))  # five chunks
        file = await alice.send_file(payload, "bob")
        saved = await bob.download(file.fid, tmp_path / "downloads")
        assert saved.read_bytes() == payload.read_bytes()
        await alice.close()
        await bob.close()
    finally:
        assert await server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in "".join(server.log)


async def test_connect_login_logout_and_disconnect_are_logged(
    server_process: ServerProcess,
) -> None:
    client = await ChatClient.connect("127.0.0.1", server_process.port)
    await server_process.wait_for_log(r"INFO .* connect 127\.0\.0\.1:\d+")
    await client.register("alice", PASSWORD)
    await client.login("alice", PASSWORD)
    await server_process.wait_for_log(r"INFO .* login alice from 127\.0\.0\.1:\d+")
    await client.logout()
    await server_process.wait_for_log(r"INFO .* logout alice from 127\.0\.0\.1:\d+")
    await server_process.wait_for_log(r"INFO .* disconnect 127\.0\.0\.1:\d+")


async def test_a_port_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = await cli_failure("--port", str(port), "--data-dir", str(tmp_path))
    assert code == 2
    assert lines == [
        f"chatroom-server: error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


async def test_a_password_worker_that_cannot_start_is_one_line_and_exit_code_2(
    tmp_path: Path,
) -> None:
    """The workers are started with the server's own interpreter; here it is gone (as
    after an upgrade that removed it), so starting one fails before the server listens."""
    gone = tmp_path / "removed" / "python3"
    start = (
        f"import sys; sys.executable = {str(gone)!r}; "
        "from chatroom.server.cli import main; main(sys.argv[1:])"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", start, "--port", "0", "--data-dir", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 2
    assert err.decode().splitlines() == [
        f"chatroom-server: error: cannot start a password worker ({gone}): "
        "no such file or directory"
    ]


async def test_an_unusable_data_dir_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("I am a file")
    for data_dir, says in [
        (not_a_dir / "data", f"cannot make data directory {not_a_dir / 'data'}: not a directory"),
        (not_a_dir, f"data directory {not_a_dir} is a file, not a directory"),
    ]:
        code, lines = await cli_failure("--port", "0", "--data-dir", str(data_dir))
        assert (code, lines) == (2, [f"chatroom-server: error: {says}"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--port", "eighty"],
            "argument --port: must be a whole number from 0 to 65535, not eighty",
        ),
        # Not port 4464 (70000 wrapped around 65536), as it once was:
        (["--port", "70000"], "argument --port: must be a whole number from 0 to 65535, not 70000"),
        (["--port", "-1"], "argument --port: must be a whole number from 0 to 65535, not -1"),
        (["--bcrypt-cost", "3"], "argument --bcrypt-cost: must be from 4 to 31, not 3"),
        (["--idle-timeout", "-1"], "argument --idle-timeout: must be at least 0.01, not -1"),
        (["--idle-timeout", "soon"], "argument --idle-timeout: invalid float value: 'soon'"),
        # nan passed every bound (it is neither smaller nor larger): a traceback at start.
        (
            ["--idle-timeout", "nan"],
            "argument --idle-timeout: must be a number at least 0.01, not nan",
        ),
        (
            ["--message-rate", "inf"],
            "argument --message-rate: must be a number at least 0.01, not inf",
        ),
        (["--chaos", "delay=nan"], "argument --chaos: delay is at least 0 seconds, and finite"),
        (  # the password is not shown, even in a URL refused as malformed
            ["--store", "postgresql://u:hunter2@[::1/db"],
            "argument --store: 'postgresql://u:***@[::1/db': give a "
            "postgresql://USER@HOST:PORT/DB URL",
        ),
        (  # was a traceback (urllib's "Invalid IPv6 URL")
            ["--store", "postgresql://u@[::1/db"],
            "argument --store: 'postgresql://u@[::1/db': give a postgresql://USER@HOST:PORT/DB URL",
        ),
        (["--max-frame", "0"], "argument --max-frame: must be at least 1024, not 0"),
        (["--file-quota", "-5"], "argument --file-quota: must be at least 0, not -5"),
        (["--colour", "blue"], "unrecognized arguments: --colour blue"),
        (
            ["--hub", "redis://127.0.0.1:1"],
            "--hub joins nodes that share one database: give --store postgresql://... too",
        ),
    ],
)
async def test_a_bad_flag_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    code, lines = await cli_failure(*args)
    assert code == 2
    assert lines == [f"chatroom-server: error: {message}"]


async def test_the_data_dir_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    process = await run_server("--port", "0", env={"CHATROOM_DATA_DIR": str(tmp_path / "from-env")})
    server = ServerProcess(process)
    await server.wait_for_log(rf"data in {re.escape(str(tmp_path / 'from-env'))}")
    assert await server.stop(signal.SIGTERM) == 0
    assert (tmp_path / "from-env" / "chatroom.db").exists()


def test_every_server_flag_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    flags = [a.option_strings[0] for a in build_parser()._actions if a.option_strings]
    assert flags
    missing = [flag for flag in flags if flag != "-h" and f"| `{flag}" not in readme]
    assert not missing, f"README.md's flag table lacks {missing}"


async def test_trace_writes_every_frame_with_secrets_masked(tmp_path: Path) -> None:
    trace = tmp_path / "wire.log"
    server = await spawn_server(tmp_path / "data", "--trace", str(trace))
    client = await ChatClient.connect("127.0.0.1", server.port)
    await client.register("alice", PASSWORD)
    token = (await client.login("alice", PASSWORD)).resume_token
    await client.request("broadcast", text="hello, wire")
    await client.close()
    assert await server.stop(signal.SIGTERM) == 0
    lines = trace.read_text().splitlines()
    kinds = [(line.split(" ")[2], line.split('"type": "')[1].split('"')[0]) for line in lines]
    assert kinds[:6] == [
        ("->", "register"),
        ("<-", "ok"),
        ("->", "login"),
        ("<-", "ok"),
        ("->", "broadcast"),
        ("<-", "ok"),
    ]
    text = trace.read_text()
    assert PASSWORD not in text and token is not None and token not in text
    assert '"password": "***"' in text and '"resume_token": "***"' in text
    assert '"text": "hello, wire"' in text
    assert trace.stat().st_mode & 0o777 == 0o600  # every message is in it
