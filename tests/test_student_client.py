"""The minimal client printed in docs/protocol.md works, word for word, against a real server.

It uses only socket, struct and msgpack, as a student would, so this also proves the
protocol can be spoken without our library.
"""

import asyncio
import re
import sys
from pathlib import Path

from chatroom.common.messages import MessagePush
from tests.conftest import WAIT, RunningServer, documented_program, next_push

DOC = Path(__file__).parent.parent / "docs" / "protocol.md"
README = Path(__file__).parent.parent / "README.md"


def minimal_client_source() -> str:
    return documented_program(DOC, "minimal_client.py")


def test_the_docs_say_how_long_the_minimal_client_really_is() -> None:
    length = str(len(minimal_client_source().splitlines()))
    for doc in (DOC, README):
        claims = re.findall(r"(\d+)[- ]lines?\b", doc.read_text())
        assert claims, f"{doc.name} no longer says how long the minimal client is"
        assert set(claims) == {length}, f"{doc.name} says {claims} lines; it has {length}"


async def test_the_documented_minimal_client_chats_with_a_library_client(
    server: RunningServer, tmp_path: Path
) -> None:
    script = tmp_path / "minimal_client.py"
    script.write_text(minimal_client_source())
    bob = await server.login("bob")
    await server.register("student1", "password123")
    waiting = await server.login("alice")
    await waiting.private("student1", "sent while you were away")

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        "127.0.0.1",
        str(server.port),
        "student1",
        "password123",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        greeting = await next_push(bob, MessagePush, sender="student1")
        assert (greeting.to, greeting.text) == (None, "hello from student1")
        await bob.private("student1", "welcome!")
        out, err = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "connected to chatroom/0.1.0"
    assert lines[1] == "online: alice, bob, student1"
    assert "alice privately (while you were away): sent while you were away" in lines[2]
    # Presence news is sent at the end of a window (section 5), so on a slow machine it may
    # come after the message: the client shows it while waiting for its ack's reply.
    waited = lines.index("waiting for a message...")
    shown = [line for line in lines[waited + 1 :] if not line.startswith("* ")]
    assert len(shown) == 1 and shown[0].endswith("bob privately: welcome!"), lines

    # It acked what it showed, so the message does not come again at the next login.
    again = await server.connect()
    assert (await again.login("student1", "password123")).offline == 0
