"""`chatroom-conformance client`: the referee serves a client through split, coalesced and
interleaved frames, unknown pushes and a dropped connection, and says which it survived.

Our own client library, driven through the referee's script as a person would drive a
client, survives all five; a client that takes one recv() for one frame survives none.
"""

import asyncio
import re
import socket
import struct
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest

from chatroom.client.api import ChatClient
from chatroom.common.messages import MessagePush
from chatroom.conformance.referee import PASSWORD, REFEREE, STUDENT, referee
from chatroom.conformance.requirements import Outcome
from tests.conftest import WAIT, next_push

LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


async def started(lines: AsyncIterator[str]) -> int:
    """The referee's port, from the script it prints."""
    async with asyncio.timeout(30):
        async for line in lines:
            if match := LISTENING.search(line):
                return int(match.group(1))
    raise AssertionError("the referee printed no port")


async def follow_the_script(port: int) -> None:
    """What a person does with a working client, reading the words off the screen."""
    client = await ChatClient.connect("127.0.0.1", port)
    reply = await client.login(STUDENT, PASSWORD)
    assert reply.offline == 3
    waiting = [await next_push(client, MessagePush, sender=REFEREE) for _ in range(3)]
    first = re.search(r"first word is (\w+)", waiting[2].text)
    assert first and [push.offline for push in waiting] == [True] * 3
    await client.broadcast(first.group(1))
    await client.private(REFEREE, "hello, referee")
    answer = await next_push(client, MessagePush, sender=REFEREE)
    second = re.search(r"second word is (\w+)", answer.text)
    assert second
    await client.broadcast(second.group(1))
    async with asyncio.timeout(WAIT):
        await client.wait_closed()  # the drop
    again = await ChatClient.connect("127.0.0.1", port)
    await again.login(STUDENT, PASSWORD)
    await again.broadcast("done")
    await again.close()
    await client.close()


async def test_the_client_library_survives_every_trial(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        "chatroom-conformance", "client", "--port", "0", "--junit", str(tmp_path / "r.xml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    lines = (line.decode() async for line in process.stdout)
    try:
        await follow_the_script(await started(lines))
        rest = [line async for line in lines]
        code = await asyncio.wait_for(process.wait(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out = "".join(rest)
    assert code == 0, out
    for trial in ("split", "coalesce", "unknown", "interleave", "drop"):
        assert f"  pass  {trial}: " in out
    assert out.rstrip().endswith("5/5 trials survived")
    junit = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("5", "0")


def naive_client(port: int) -> None:
    """A student's first client: it takes whatever one recv() returns for one frame."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        login = {"username": STUDENT, "password": PASSWORD}
        body = msgpack.packb({"type": "login", "id": 1, "data": login})
        sock.sendall(struct.pack(">I", len(body)) + body)
        chunk = sock.recv(65536)
        with pytest.raises(ValueError):  # a single byte of the length, or less than a frame
            msgpack.unpackb(chunk[4:])
        # It gives up; a person then types "done" on a second try with a working client.


async def test_a_client_that_takes_one_recv_for_one_frame_survives_nothing() -> None:
    lines: asyncio.Queue[str] = asyncio.Queue()
    judging = asyncio.ensure_future(referee("127.0.0.1", 0, 30, lines.put_nowait))
    try:
        port = await started(_drain(lines))
        await asyncio.to_thread(naive_client, port)
        done = await ChatClient.connect("127.0.0.1", port)
        await done.login(STUDENT, PASSWORD)
        await done.broadcast("done")
        outcomes: list[Outcome] = await asyncio.wait_for(judging, WAIT)
        await done.close()
    finally:
        judging.cancel()
    # The second client's login came after no drop, and it did none of the steps.
    survived = {outcome.requirement.key for outcome in outcomes if outcome.met}
    assert "split" not in survived and "coalesce" not in survived
    failed = next(outcome for outcome in outcomes if outcome.requirement.key == "split")
    assert (failed.expected, failed.got) == ("the client's next step", "it never came")


async def _drain(queue: asyncio.Queue[str]) -> AsyncIterator[str]:
    while True:
        for line in (await queue.get()).splitlines():
            yield line
