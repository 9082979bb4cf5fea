"""`ChatClient` fed frames from memory (no sockets): replies, pushes, duplicates, closing."""

import asyncio

import pytest

from chatroom.client.connection import ChatClient, ConnectionClosed
from chatroom.client.seen import SeenMids
from chatroom.common.codec import FrameDecoder, compress, encode
from chatroom.common.envelope import error, ok
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import ByePush, MessagePush


class MemoryWriter:
    """Stands in for the StreamWriter: keeps what the client writes; closing it ends the
    reader's stream, as closing a socket would."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()

    async def wait_closed(self) -> None:
        pass


def message(mid: int) -> bytes:
    return encode(MessagePush(mid, "alice", None, f"hello {mid}", 1.0).envelope())


def client_on(reader: asyncio.StreamReader, seen: SeenMids | None = None) -> ChatClient:
    return ChatClient(reader, MemoryWriter(reader), seen)  # type: ignore[arg-type]


def test_seen_mids_tells_a_new_mid_from_a_repeat_and_forgets_the_oldest() -> None:
    seen = SeenMids(capacity=2)
    assert [seen.add(1), seen.add(1), seen.add(2), seen.add(3)] == [True, False, True, True]
    assert seen.add(1)  # pushed out by 3, so it counts as new again


async def test_the_constructor_starts_nothing_until_start() -> None:
    reader = asyncio.StreamReader()
    client = client_on(reader)
    reader.feed_data(message(1))
    reader.feed_eof()
    await asyncio.sleep(0)
    assert not client.closed.is_set()

    client.start()
    async with asyncio.timeout(1):
        assert (await client.next_push()).mid == 1  # type: ignore[attr-defined]
        await client.wait_closed()


async def test_a_request_is_one_frame_and_its_reply_is_matched_by_id() -> None:
    reader = asyncio.StreamReader()
    writer = MemoryWriter(reader)
    client = ChatClient(reader, writer).start()  # type: ignore[arg-type]

    reply = client.submit("users")
    (sent,) = FrameDecoder(max_frame=1 << 20).feed(bytes(writer.written))
    assert sent == {"type": "users", "id": 1, "data": {}}
    reader.feed_data(encode(ok(1, {"online": ["alice"]})))

    async with asyncio.timeout(1):
        assert await reply == {"online": ["alice"]}
    await client.close()


async def test_an_error_reply_is_raised_with_its_code() -> None:
    reader = asyncio.StreamReader()
    client = client_on(reader).start()

    reply = client.submit("private", to="nobody", text="hi")
    reader.feed_data(encode(error(1, ChatError(ErrorCode.NO_SUCH_USER, "no such user"))))

    async with asyncio.timeout(1):
        with pytest.raises(ChatError) as raised:
            await reply
    assert raised.value.code == ErrorCode.NO_SUCH_USER
    await client.close()


async def test_a_message_already_seen_by_an_earlier_client_is_dropped() -> None:
    seen = SeenMids()
    seen.add(1)
    reader = asyncio.StreamReader()
    client = client_on(reader, seen).start()
    reader.feed_data(message(1) + message(2))

    async with asyncio.timeout(1):
        assert (await client.next_push()).mid == 2  # type: ignore[attr-defined]
    assert client.seen is seen
    await client.close()


async def test_the_end_of_the_stream_fails_what_waits_and_keeps_the_bye_reason() -> None:
    reader = asyncio.StreamReader()
    client = client_on(reader).start()
    reply = client.submit("ping")
    reader.feed_data(encode(ByePush("idle").envelope()))
    reader.feed_eof()

    async with asyncio.timeout(1):
        assert await client.next_push() == ByePush("idle")
        with pytest.raises(ConnectionClosed):
            await reply
        with pytest.raises(ConnectionClosed):
            await client.next_push()
    assert client.closed_reason == "idle"
    with pytest.raises(ConnectionClosed):
        client.submit("ping")


async def test_hello_asks_for_compression_and_pull_and_bounds_what_expands() -> None:
    reader = asyncio.StreamReader()
    writer = MemoryWriter(reader)
    client = ChatClient(reader, writer, pull=True).start()  # type: ignore[arg-type]
    # Fed before the request is written, read only once hello() awaits its reply.
    enabled = ["carbons", "compress", "pull", "read", "rooms"]
    reader.feed_data(encode(ok(1, {"limits": {"max_frame": 1024}, "enabled": enabled})))
    async with asyncio.timeout(1):
        await client.hello("test")
    (sent,) = FrameDecoder(max_frame=1 << 20).feed(bytes(writer.written))
    assert sent["data"] == {
        "version": 1,
        "client": "test",
        "features": ["rooms", "carbons", "read", "compress", "pull"],
    }
    assert client.enabled == frozenset(enabled)

    listed = {"online": ["alice"] * 100}
    too_large = {"online": ["x" * 1000] * 5}  # 5 kB: over 4 x the server's 1,024 bytes
    reader.feed_data(
        encode(compress(ok(2, listed))) + encode(compress(ok(3, too_large))) + encode(ok(4))
    )
    replies = [client.submit("users") for _ in range(3)]
    async with asyncio.timeout(1):
        assert await replies[0] == listed
        with pytest.raises(ChatError) as raised:
            await replies[1]
        assert raised.value.code == ErrorCode.FRAME_TOO_LARGE
        assert await replies[2] == {}  # the connection goes on
    await client.close()
