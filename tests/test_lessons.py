"""The lessons' reference solutions (tests/lessons/), run against the real server, so
docs/lessons never rot: each exercise's solution does what the lesson asks of it.

Lessons 4 and 5's minimal server is graded by chatroom-conformance in
tests/test_conformance.py (levels 1 to 5, and each student fault).
"""

import asyncio
import os
import queue
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from chatroom.client import ChatClient
from chatroom.common.messages import FilePush
from chatroom.conformance.referee import PASSWORD, STUDENT
from tests.conftest import MINIMAL_SERVER, WAIT, RunningServer, next_push, spawn_server
from tests.lessons.envelopes import Connection, Refused
from tests.lessons.framing import frame, read_frame

ROOT = Path(__file__).parent.parent
LESSONS = ROOT / "docs" / "lessons"


def test_every_lesson_names_its_check_and_its_solution() -> None:
    lessons = sorted(LESSONS.glob("[1-5]-*.md"))
    assert len(lessons) == 5
    for lesson in lessons:
        text = lesson.read_text()
        assert "chatroom-conformance" in text, lesson.name
        for solution in re.findall(r"tests/lessons/\w+\.py", text):
            assert (ROOT / solution).exists(), f"{lesson.name} names {solution}"


async def test_lesson_1_reads_frames_split_into_pieces_and_stuck_together(tmp_path: Path) -> None:
    """Against a server that cuts every write into 1 to 7 bytes, three requests sent in
    one write come back as three whole replies."""
    server = await spawn_server(tmp_path / "data", "--chaos", "split=1,seed=1")
    try:

        def talk() -> list[Any]:
            with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
                pings = [msgpack.packb({"type": "ping", "id": n, "data": {}}) for n in (1, 2, 3)]
                sock.sendall(b"".join(frame(body) for body in pings))
                return [msgpack.unpackb(read_frame(sock)) for _ in pings]

        replies = await asyncio.to_thread(talk)
    finally:
        await server.stop(signal.SIGTERM)
    assert [(reply["type"], reply["id"]) for reply in replies] == [("ok", 1), ("ok", 2), ("ok", 3)]


async def test_lesson_2_matches_replies_to_requests_and_hands_on_pushes(
    server: RunningServer,
) -> None:
    pushes: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def talk() -> None:
        alice = Connection("127.0.0.1", server.port, lambda kind, data: pushes.put((kind, data)))
        assert alice.request("hello", version=1)["version"] == 1
        with pytest.raises(Refused) as refused:
            alice.request("login", username="nobody_here", password="whatever1")
        assert refused.value.code == "bad_credentials"
        alice.request("register", username="alice_l2", password="password1")
        alice.request("login", username="alice_l2", password="password1")
        bob = Connection("127.0.0.1", server.port, lambda kind, data: None)
        bob.request("register", username="bob_l2", password="password1")
        bob.request("login", username="bob_l2", password="password1")
        for n in range(20):  # pushes and replies interleave on alice's connection
            bob.request("private", to="alice_l2", text=f"number {n}")
            assert "alice_l2" in alice.request("users")["online"]
        texts = []
        while len(texts) < 20:
            kind, data = pushes.get(timeout=WAIT)
            if kind == "message":
                texts.append(data["text"])
        assert texts == [f"number {n}" for n in range(20)]
        alice.close()
        bob.close()

    await asyncio.to_thread(talk)


async def test_lessons_3_and_4_menu_client_survives_the_referee() -> None:
    """The menu client, driven as a person would (reading its screen, typing lines),
    through `chatroom-conformance client`: every trial survived."""
    referee = await asyncio.create_subprocess_exec(
        "chatroom-conformance", "client", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    client = None
    try:
        assert referee.stdout is not None
        port = int(await expect(referee.stdout, r"listening on 127\.0\.0\.1:(\d+)"))
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.lessons.menu_client", "127.0.0.1", str(port),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert client.stdin is not None and client.stdout is not None

        def type_in(*lines: str) -> None:
            assert client is not None and client.stdin is not None
            client.stdin.write("".join(f"{line}\n" for line in lines).encode())

        type_in("1", STUDENT, PASSWORD)
        type_in(await expect(client.stdout, r"first word is (\w+)"))
        type_in("/msg referee hello")
        type_in(await expect(client.stdout, r"second word is (\w+)"))
        await expect(client.stdout, r"(the connection is lost)")
        type_in("done")
        out = (await asyncio.wait_for(referee.stdout.read(), WAIT)).decode()
        type_in("/quit")
        assert await asyncio.wait_for(referee.wait(), WAIT) == 0, out
        assert out.rstrip().endswith("5/5 trials survived")
    finally:
        for process in (client, referee):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()


async def expect(stream: asyncio.StreamReader, pattern: str) -> str:
    """Read lines until one matches `pattern`; its first group."""
    async with asyncio.timeout(WAIT):
        while line := (await stream.readline()).decode():
            if match := re.search(pattern, line):
                return match.group(1)
    raise AssertionError(f"no line matching {pattern!r}")


async def test_lesson_5_menu_client_sends_and_saves_files(
    server: RunningServer, tmp_path: Path
) -> None:
    """`/send` uploads in pipelined chunks; `/get` saves a file it was sent and checks
    its sha256; both against chatroom-server and its library client."""
    bob = await server.login("bob")
    await server.register("alice_l5", PASSWORD)
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.lessons.menu_client", "127.0.0.1", str(server.port),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert client.stdin is not None and client.stdout is not None
    try:
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(300_000))  # five chunks, in flight together
        client.stdin.write(f"1\nalice_l5\n{PASSWORD}\n/send bob {big}\n".encode())
        push = await next_push(bob, FilePush, sender="alice_l5")
        assert (push.name, push.size) == ("big.bin", 300_000)
        saved = await bob.download(push.fid, tmp_path / "bob")
        assert saved.read_bytes() == big.read_bytes()

        small = tmp_path / "notes.txt"
        small.write_text("for alice\n")
        sent = await bob.send_file(small, "alice_l5")
        fid = await expect(client.stdout, rf"file ({sent.fid}): notes\.txt")
        client.stdin.write(f"/get {fid} {tmp_path / 'alice.txt'}\n".encode())
        assert await expect(client.stdout, r"Saved .*(sha256 checked)") == "sha256 checked"
        assert (tmp_path / "alice.txt").read_text() == "for alice\n"
        client.stdin.write(b"/quit\n")
        assert await asyncio.wait_for(client.wait(), WAIT) == 0
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()


async def test_the_minimal_server_stops_at_ctrl_c_with_a_client_logged_in() -> None:
    """From Python 3.12 on, a closed asyncio server waits for its clients to hang up: the
    reference solution, written as `async with listener: serve_forever()`, went on
    running at Ctrl+C for as long as a client stayed (on 3.11 it stopped with a
    traceback). It hangs up on its clients and exits, without a word."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(MINIMAL_SERVER), "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None and server.stderr is not None
    try:
        port = int((await asyncio.wait_for(server.stdout.readline(), WAIT)).split()[-1])
        client = await ChatClient.connect("127.0.0.1", port)
        await client.register("alice", PASSWORD)
        await client.login("alice", PASSWORD)
        server.send_signal(signal.SIGINT)
        await asyncio.wait_for(client.wait_closed(), WAIT)
        assert await asyncio.wait_for(server.wait(), WAIT) == 0
        assert await server.stderr.read() == b""
        await client.close()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


@pytest.mark.parametrize(
    ("program", "args", "said"),
    [
        ([str(MINIMAL_SERVER)], [], "usage: python minimal_server.py PORT [one-recv | "),
        ([str(MINIMAL_SERVER)], ["--help"], "usage: python minimal_server.py PORT"),
        ([str(MINIMAL_SERVER)], ["0", "bogus"], "usage: python minimal_server.py PORT"),
        (["-m", "tests.lessons.menu_client"], [], "usage: python -m tests.lessons.menu_client"),
        (["-m", "tests.lessons.menu_client"], ["127.0.0.1", "1"], "cannot connect to 127.0.0.1:1"),
    ],
)
async def test_the_reference_programs_say_a_mistake_in_one_line(
    program: list[str], args: list[str], said: str
) -> None:
    """A student starting them wrong, or with no server there, got a traceback."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *program, *args,
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    lines = err.decode().splitlines()
    assert process.returncode == 1 and len(lines) == 1 and lines[0].startswith(said), lines
