"""`chatroom-server --chaos`: the server writes as an unreliable network delivers, and a
client written to the protocol still works (the library is one)."""

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chatroom.client import ChatClient
from chatroom.common.codec import encode
from chatroom.common.messages import MessagePush
from chatroom.server.chaos import ChaosSpec
from tests.conftest import (
    PASSWORD,
    WAIT,
    RawConnection,
    ServerProcess,
    cli_failure,
    next_push,
    spawn_server,
)


@pytest.fixture
async def chaotic(tmp_path: Path) -> AsyncIterator[Callable[[str], Awaitable[ServerProcess]]]:
    """`await chaotic(SPEC)`: a server started with `--chaos SPEC`, stopped at the end
    whatever happens."""
    started: list[ServerProcess] = []

    async def start(spec: str) -> ServerProcess:
        started.append(await spawn_server(tmp_path / f"data{len(started)}", "--chaos", spec))
        return started[-1]

    yield start
    for server in started:
        if server.process.returncode is None:
            await server.stop(signal.SIGTERM)


def test_a_spec_is_read_and_a_bad_one_says_what_is_wrong() -> None:
    assert ChaosSpec.parse("split=0.5, delay=0.05,drop=0.01,seed=7") == ChaosSpec(
        0.5, 0.05, 0.01, 7
    )
    for text, problem in [
        ("split=2", "split is a probability"),
        ("delay=-1", "delay is at least 0"),
        ("spin=1", "give split=P"),
        ("drop=often", "is not a number"),
    ]:
        with pytest.raises(ValueError, match=problem):
            ChaosSpec.parse(text)


async def test_a_bad_spec_is_one_line_and_exit_code_2() -> None:
    code, lines = await cli_failure("--chaos", "split=2")
    assert code == 2
    assert (
        lines[-1] == "chatroom-server: error: argument --chaos: split is a probability, from 0 to 1"
    )


async def test_frames_cut_into_pieces_and_delayed_still_make_a_chat(
    chaotic: Callable[[str], Awaitable[ServerProcess]],
) -> None:
    server = await chaotic("split=1,delay=0.01,seed=3")
    raw = await RawConnection.open(server.port)
    await raw.send({"type": "hello", "id": 1, "data": {"version": 1}})
    first = await asyncio.wait_for(raw.reader.read(65536), WAIT)
    raw.received.extend(raw.decoder.feed(first))
    reply = await raw.receive()  # the rest of it, however many pieces
    assert reply["type"] == "ok" and len(first) < len(encode(reply))  # it came in pieces
    raw.close()
    alice = await ChatClient.connect("127.0.0.1", server.port)
    bob = await ChatClient.connect("127.0.0.1", server.port)
    for client, name in ((alice, "alice"), (bob, "bob")):
        await client.register(name, PASSWORD)
        await client.login(name, PASSWORD)
    sent = await alice.request("private", to="bob", text="through the storm")
    assert (await next_push(bob, MessagePush, mid=sent["mid"])).text == "through the storm"
    pings = [alice.submit("ping") for _ in range(30)]  # replies come in order, late or not
    assert len(await asyncio.gather(*pings)) == 30
    for client in (alice, bob):
        await client.close()
    assert await server.stop(signal.SIGTERM) == 0


async def test_a_dropped_connection_is_cut_where_a_write_would_be(
    chaotic: Callable[[str], Awaitable[ServerProcess]],
) -> None:
    server = await chaotic("drop=1")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode({"type": "hello", "id": 1, "data": {"version": 1}}))
    received = b""
    async with asyncio.timeout(WAIT):
        try:
            while chunk := await reader.read(65536):
                received += chunk
        except ConnectionResetError:
            pass
    assert received == b""  # no reply: the connection was cut instead
    writer.close()
    assert await server.stop(signal.SIGTERM) == 0
