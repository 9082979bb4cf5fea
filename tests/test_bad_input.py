"""Hostile and broken input: the offender gets a clear error; nobody else notices."""

import asyncio
import logging
import struct

import pytest

from chatroom.common.messages import ByePush
from tests.conftest import PASSWORD, RunningServer, packb


async def test_oversized_frame_gets_frame_too_large_and_is_closed(server: RunningServer) -> None:
    raw = await server.raw()
    await raw.send_bytes(struct.pack(">I", server.limits.max_frame + 1))  # no body follows
    reply = await raw.receive()
    assert reply["type"] == "error"
    assert reply["data"]["code"] == "frame_too_large"
    assert reply.get("id") is None
    assert await raw.closed_by_server()


@pytest.mark.parametrize(
    "body",
    [packb([1, 2]), packb("ping"), packb(None), b"\xc1", b"", packb({"type": "ping"}) + b"junk"],
    ids=["array", "string", "nil", "invalid-byte", "empty", "trailing-bytes"],
)
async def test_a_body_that_is_not_a_map_gets_bad_request_and_is_closed(
    server: RunningServer, body: bytes
) -> None:
    raw = await server.raw()
    await raw.send_body(body)
    reply = await raw.receive()
    assert (reply["type"], reply["data"]["code"]) == ("error", "bad_request")
    assert await raw.closed_by_server()


MAP_KEYED = b"\x81\x81\x01\x02\x03"
"""{{1: 2}: 3}: a map whose key is a map, which Python cannot hash (nor can packb make it)."""
ARRAY_KEYED = b"\x81\x92\x01\x02\x03"
"""{[1, 2]: 3}: a map whose key is an array."""


@pytest.mark.parametrize(
    "body",
    [
        MAP_KEYED,
        ARRAY_KEYED,
        b"\x82" + packb("type") + packb("ping") + packb("data") + MAP_KEYED,
        b"\x82" + packb("type") + packb("ping") + packb("data") + ARRAY_KEYED,
    ],
    ids=["map-key", "array-key", "map-key-in-data", "array-key-in-data"],
)
async def test_a_map_or_array_as_a_map_key_gets_bad_request_and_is_closed(
    server: RunningServer, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    bob = await server.login("bob")
    raw = await server.raw()
    await raw.send_body(body)
    reply = await raw.receive()
    assert (reply["type"], reply["data"]["code"]) == ("error", "bad_request")
    assert await raw.closed_by_server()
    assert await bob.users() == ["bob"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unknown_type_is_an_error_and_the_connection_stays(server: RunningServer) -> None:
    raw = await server.raw()
    reply = await raw.request({"type": "teleport", "id": 7, "data": {}})
    assert (reply["type"], reply["id"], reply["data"]["code"]) == ("error", 7, "unknown_type")
    assert (await raw.request({"type": "ping", "id": 8}))["type"] == "ok"


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": 42, "id": 1},
        {"type": "ping", "id": 1, "data": [1, 2]},
        {"type": "ping", "id": 1, "data": {1: "x"}},
        {"type": "register", "id": 1, "data": {"username": 5, "password": "password1"}},
        {"type": "register", "id": 1, "data": {"username": "bob", "password": b"bytes!!!!"}},
        {"type": "login", "id": 1, "data": {"username": "bob"}},
        {"type": "hello", "id": 1, "data": {"version": "1"}},
        {"type": "hello", "id": 1, "data": {"version": True}},
    ],
)
async def test_wrong_field_types_are_a_bad_request_and_the_connection_stays(
    server: RunningServer, envelope: dict
) -> None:
    raw = await server.raw()
    reply = await raw.request(envelope)
    assert (reply["type"], reply["id"], reply["data"]["code"]) == ("error", 1, "bad_request")
    assert reply["data"]["message"]
    assert (await raw.request({"type": "ping", "id": 2}))["id"] == 2


async def test_wrong_field_types_after_login_are_a_bad_request(server: RunningServer) -> None:
    await server.register("bob")
    raw = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "bob", "password": "correct horse"}}
    assert (await raw.request(login))["type"] == "ok"
    for data in ({"text": 5}, {"text": None}, {}):
        reply = await raw.request({"type": "broadcast", "id": 2, "data": data})
        assert reply["data"]["code"] == "bad_request"
    for upto in ("5", -1, 1.5):
        reply = await raw.request({"type": "ack", "id": 3, "data": {"upto": upto}})
        assert reply["data"]["code"] == "bad_request"
    reply = await raw.request({"type": "private", "id": 4, "data": {"to": ["bob"], "text": "hi"}})
    assert reply["data"]["code"] == "bad_request"


@pytest.mark.parametrize("value", [2**63, 2**64 - 1], ids=["2**63", "2**64-1"])
@pytest.mark.parametrize(
    ("kind", "field", "data"),
    [
        ("hello", "version", {"client": "raw"}),
        ("ack", "upto", {}),
        ("file_put", "size", {"to": None, "name": "a", "sha256": "0" * 64}),
        ("file_chunk", "fid", {"offset": 0, "data": b"x"}),
        ("file_chunk", "offset", {"fid": 1, "data": b"x"}),
        ("file_get", "fid", {"offset": 0, "length": 1}),
        ("file_get", "offset", {"fid": 1, "length": 1}),
        ("file_get", "length", {"fid": 1, "offset": 0}),
        ("file_info", "fid", {}),
    ],
)
async def test_an_integer_too_large_for_the_store_is_a_bad_request_naming_the_field(
    server: RunningServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    field: str,
    data: dict,
    value: int,
) -> None:
    bob = await server.login("bob")
    await server.register("alice")
    raw = await server.raw()
    login = {"username": "alice", "password": PASSWORD}
    assert (await raw.request({"type": "login", "id": 1, "data": login}))["type"] == "ok"
    reply = await raw.request({"type": kind, "id": 2, "data": {**data, field: value}})
    while reply.get("id") != 2:  # a push (presence) that came first
        reply = await raw.receive()
    assert (reply["type"], reply["data"]["code"]) == ("error", "bad_request")
    assert repr(field) in reply["data"]["message"]
    assert (await raw.request({"type": "ping", "id": 3}))["type"] == "ok"
    assert await bob.users() == ["alice", "bob"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_replies_come_in_order_and_echo_their_id(server: RunningServer) -> None:
    raw = await server.raw()
    frames = b"".join(
        [
            packb_frame({"type": "ping", "id": 1}),
            packb_frame({"type": "nope", "id": 2}),
            packb_frame({"type": "ping"}),
            packb_frame({"type": "ping", "id": 4}),
        ]
    )
    await raw.send_bytes(frames)  # all at once: one read on the server holds several frames
    replies = [await raw.receive() for _ in range(4)]
    assert [(r["type"], r.get("id")) for r in replies] == [
        ("ok", 1),
        ("error", 2),
        ("ok", None),
        ("ok", 4),
    ]


async def test_a_frame_split_across_many_writes_is_read_whole(server: RunningServer) -> None:
    raw = await server.raw()
    frame = packb_frame({"type": "ping", "id": 9})
    for byte in frame:
        await raw.send_bytes(bytes([byte]))
    assert (await raw.receive())["id"] == 9


async def test_garbage_from_one_client_does_not_touch_another(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    raw = await server.raw()
    await raw.send_bytes(b"\xff\xff\xff\xff garbage")
    assert (await raw.receive())["data"]["code"] == "frame_too_large"
    sent = await alice.private("bob", "still here")
    assert sent.delivered is True
    assert await bob.users() == ["alice", "bob"]


async def test_a_silent_connection_gets_bye_idle_and_is_closed(make_server) -> None:
    server = await make_server(idle_timeout=0.3)
    alice = await server.login("alice")
    async with asyncio.timeout(5):
        push = await alice.next_push()
        while not isinstance(push, ByePush):
            push = await alice.next_push()
    assert push.reason == "idle"
    await asyncio.wait_for(alice.wait_closed(), 5)


async def test_ping_keeps_a_connection_alive(make_server) -> None:
    server = await make_server(idle_timeout=0.5)
    alice = await server.login("alice")

    async def ping_every_fifth_of_a_second() -> None:
        while True:
            await alice.ping()
            await asyncio.sleep(0.2)

    pinging = asyncio.create_task(ping_every_fifth_of_a_second())
    idle = await server.login("idle")  # logged in after alice, and silent
    await asyncio.wait_for(idle.wait_closed(), 5)
    pinging.cancel()
    assert idle.closed_reason == "idle"
    assert not alice.closed.is_set()
    assert await alice.users() == ["alice"]


def packb_frame(envelope: dict) -> bytes:
    body = packb(envelope)
    return struct.pack(">I", len(body)) + body


async def test_pipelined_requests_are_answered_in_order(make_server) -> None:
    server = await make_server(message_burst=100)
    await server.register("bob")
    raw = await server.raw()
    login = {"username": "bob", "password": "correct horse"}
    assert (await raw.request({"type": "login", "id": 0, "data": login}))["type"] == "ok"
    frames = [
        packb_frame({"type": "broadcast", "id": n, "data": {"text": f"m{n}"}}) for n in range(1, 51)
    ]
    frames.insert(10, packb_frame({"type": "nope", "id": 1000}))
    frames.insert(20, packb_frame({"type": "login", "id": 1001, "data": login}))  # a barrier
    frames.append(packb_frame({"type": "users", "id": 1002}))
    await raw.send_bytes(b"".join(frames))  # all at once, in one write
    replies = [await raw.receive() for _ in range(len(frames))]
    ids = [reply["id"] for reply in replies]
    expected = list(range(1, 51))
    expected.insert(10, 1000)
    expected.insert(20, 1001)
    assert ids == [*expected, 1002]
    assert replies[10]["data"]["code"] == "unknown_type"
    assert replies[20]["data"]["code"] == "already_logged_in"
    mids = [r["data"]["mid"] for r in replies if r["type"] == "ok" and "mid" in r["data"]]
    assert len(mids) == 50 and mids == sorted(mids)  # stored in the order they were sent
