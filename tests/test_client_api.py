"""What `ChatClient` puts on the wire: idempotency keys, and file chunks sized to the server.

A relay between the client and a real server records each request as the server got it.
"""

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError
from chatroom.common.limits import MAX_CHUNK, Limits
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, MinimalServer, RunningServer, next_push
from tests.relay import Relay


@contextlib.asynccontextmanager
async def alice_through_a_relay(server: RunningServer) -> AsyncIterator[tuple[Relay, ChatClient]]:
    """alice, after `hello` and logged in, through a relay that records what she sends."""
    async with (
        Relay(server.port) as relay,
        await ChatClient.connect("127.0.0.1", relay.port) as alice,
    ):
        await alice.hello()
        await alice.login("alice", PASSWORD)
        yield relay, alice


async def test_messages_and_files_carry_a_fresh_cid_unless_given_one(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    await server.register("bob")
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes")
    async with (
        Relay(server.port) as relay,
        await ChatClient.connect("127.0.0.1", relay.port) as alice,
    ):
        await alice.login("alice", PASSWORD)
        await alice.broadcast("one")
        await alice.broadcast("two")
        await alice.private("bob", "three")
        await alice.send_file(notes)
        await alice.broadcast("four", cid="chosen-by-the-caller")
    *generated, chosen = relay.sent("broadcast")
    generated += relay.sent("private") + relay.sent("file_put")
    assert chosen["cid"] == "chosen-by-the-caller"
    cids = [data["cid"] for data in generated]
    assert all(isinstance(cid, str) and 1 <= len(cid) <= 64 for cid in cids)
    assert len(set(cids)) == 4


@pytest.mark.parametrize(("max_chunk", "expected"), [(1000, 1000), (10 * MAX_CHUNK, MAX_CHUNK)])
async def test_file_chunks_are_the_smaller_of_64_kib_and_the_servers_max_chunk(
    make_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_chunk: int, expected: int
) -> None:
    reported = Limits.as_data
    monkeypatch.setattr(Limits, "as_data", lambda self: reported(self) | {"max_chunk": max_chunk})
    server = await make_server()
    await server.register("alice")
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(2 * MAX_CHUNK + 500))
    async with alice_through_a_relay(server) as (relay, alice):
        sent = await alice.send_file(source)
        saved = await alice.download(sent.fid, tmp_path / "downloads")
    assert saved.read_bytes() == source.read_bytes()
    chunks = [len(data["data"]) for data in relay.sent("file_chunk")]
    assert max(chunks) == expected and sum(chunks) == source.stat().st_size
    assert max(data["length"] for data in relay.sent("file_get")) == expected


async def test_file_chunks_are_64_kib_when_hello_was_not_called(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(MAX_CHUNK + 500))
    async with (
        Relay(server.port) as relay,
        await ChatClient.connect("127.0.0.1", relay.port) as alice,
    ):
        await alice.login("alice", PASSWORD)
        await alice.send_file(source)
    assert [len(data["data"]) for data in relay.sent("file_chunk")] == [MAX_CHUNK, 500]


async def test_a_value_msgpack_cannot_carry_is_a_value_error_and_nothing_is_sent(
    server: RunningServer,
) -> None:
    """2**64 has no msgpack form: the caller is told so at once (it was a TypeError,
    and a reply awaited for ever, logged at exit as "never retrieved")."""
    await server.register("alice")
    async with (
        Relay(server.port) as relay,
        await ChatClient.connect("127.0.0.1", relay.port) as alice,
    ):
        await alice.login("alice", PASSWORD)
        with pytest.raises(ValueError, match=r"file_info cannot be sent: .*msgpack"):
            await alice.request("file_info", fid=2**64)
        assert not alice._pending  # nothing waits for a reply that cannot come
        assert await alice.request("ping") == {}
    assert relay.sent("file_info") == []


async def test_a_file_over_the_servers_limit_is_refused_before_it_is_hashed(
    make_server, tmp_path: Path
) -> None:
    """`hello` told the limit: a file over it is refused at once, in the server's words,
    where the client hashed all of it first (a 50 GB file: minutes) to be refused."""
    server = await make_server(max_file_size=1000)
    await server.register("alice")
    sparse = tmp_path / "huge.img"
    with open(sparse, "wb") as out:
        out.truncate(2 * 1024**3)  # 2 GiB, none of it on disk
    async with alice_through_a_relay(server) as (relay, alice):
        with pytest.raises(ChatError) as refused:
            await alice.send_file(sparse)
        assert refused.value.code == "file_too_large"
        assert refused.value.message == "2.1 GB is over the limit of 1.0 KB"
        assert refused.value.extra == {"max_file_size": 1000}
    assert relay.sent("file_put") == []


async def test_a_request_over_the_servers_max_frame_is_refused_and_the_connection_stays(
    make_server,
) -> None:
    """The server hangs up on a frame over its `max_frame` (`frame_too_large`, fatal):
    the library refuses it before writing it, with the same code, and stays logged in."""
    server = await make_server(max_frame=4096)
    await server.register("alice")
    async with alice_through_a_relay(server) as (relay, alice):
        with pytest.raises(ChatError) as refused:
            await alice.broadcast("x" * 5000)
        assert refused.value.code == "frame_too_large"
        assert refused.value.message.startswith("broadcast is 5,")
        assert refused.value.message.endswith("bytes; the server takes at most 4,096")
        assert not alice._pending
        sent = await alice.broadcast("still here")
        assert sent.mid > 0
    assert [data["text"] for data in relay.sent("broadcast")] == ["still here"]


async def test_a_first_version_server_is_not_sent_what_it_does_not_know(
    minimal_server: MinimalServer, tmp_path: Path
) -> None:
    """The lessons' minimal server knows only sections 4 to 6 of docs/protocol.md: it
    ignores a `room`, so `broadcast(text, room="games")` went to everyone. Once its
    hello has said so (no `features`), the library refuses a room's message or file, and
    the later requests, without sending them; what the server knows still goes."""
    port = await minimal_server()
    async with (
        await ChatClient.connect("127.0.0.1", port) as alice,
        await ChatClient.connect("127.0.0.1", port) as bob,
    ):
        await alice.hello()
        assert (alice.first_version, alice.offered) == (True, frozenset())
        for name, client in [("alice", alice), ("bob", bob)]:
            await client.register(name, PASSWORD)
            await client.login(name, PASSWORD)
        notes = tmp_path / "notes.txt"
        notes.write_text("for the room only")
        for refused, why in [
            (alice.broadcast("for the room only", room="games"), "no rooms (broadcast)"),
            (alice.send_file(notes, room="games"), "no rooms (file_put)"),
            (alice.search("room"), "no request 'search'"),
            (alice.room_create("games"), "no request 'room_create'"),
        ]:
            with pytest.raises(ChatError) as error:
                await refused
            assert error.value.code == "not_offered"
            assert error.value.message == f"the server speaks the protocol's first version: {why}"
        sent = await alice.broadcast("to everyone")
        push = await next_push(bob, MessagePush)
        assert (push.mid, push.text) == (sent.mid, "to everyone")  # the first to arrive


async def test_a_server_that_offers_features_is_sent_the_later_requests(
    server: RunningServer,
) -> None:
    """chatroom-server lists its features in hello, so nothing is refused before sending."""
    async with await ChatClient.connect("127.0.0.1", server.port) as alice:
        await alice.hello()
        assert not alice.first_version and {"rooms", "history", "search"} <= alice.offered
        await alice.register("alice", PASSWORD)
        await alice.login("alice", PASSWORD)
        assert (await alice.room_create("games")).room == "games"
        assert (await alice.broadcast("for the room", room="games")).mid > 0
