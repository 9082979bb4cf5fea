"""Every new request, and every way its fields can be wrong, gets the documented error
code, and the connection goes on serving."""

from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.test_rooms import ALL, refused

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("room_create", {}, "bad_request"),
    ("room_create", {"room": 1}, "bad_request"),
    ("room_create", {"room": "no spaces"}, "invalid_room"),
    ("room_create", {"room": "x" * 33}, "invalid_room"),
    ("room_create", {"room": "owned"}, "room_taken"),
    ("room_create", {"room": "fine1", "topic": 5}, "bad_request"),
    ("room_create", {"room": "fine2", "topic": "t" * 201}, "text_too_long"),
    ("room_create", {"room": "fine3", "public": 1}, "bad_request"),
    ("room_join", {}, "bad_request"),
    ("room_join", {"room": "nowhere"}, "no_such_room"),
    ("room_join", {"room": "closed"}, "forbidden"),
    ("room_join", {"room": ["lobby"]}, "bad_request"),
    ("room_leave", {"room": "lobby"}, "forbidden"),
    ("room_leave", {"room": "nowhere"}, "no_such_room"),
    ("room_invite", {"room": "closed", "username": "bob"}, "forbidden"),
    ("room_invite", {"room": "owned", "username": "nobody"}, "no_such_user"),
    ("room_invite", {"room": "owned", "username": "a"}, "invalid_username"),
    ("room_invite", {"room": "owned"}, "bad_request"),
    ("room_topic", {"room": "owned"}, "bad_request"),
    ("room_topic", {"room": "lobby", "topic": "mine"}, "forbidden"),
    ("room_topic", {"room": "closed", "topic": "mine"}, "forbidden"),
    ("room_topic", {"room": "owned", "topic": "not the owner"}, "forbidden"),
    ("room_members", {"room": "closed"}, "forbidden"),
    ("room_members", {"room": "nowhere"}, "no_such_room"),
    ("broadcast", {"text": "hi", "room": "closed"}, "forbidden"),
    ("broadcast", {"text": "hi", "room": 3}, "bad_request"),
    ("broadcast", {"text": "", "room": "owned"}, "empty_text"),
    ("history", {}, "bad_request"),
    ("history", {"room": "lobby", "with": "bob"}, "bad_request"),
    ("history", {"room": "closed"}, "forbidden"),
    ("history", {"with": "nobody"}, "no_such_user"),
    ("history", {"room": "lobby", "before": "10"}, "bad_request"),
    ("history", {"room": "lobby", "before": 2**63}, "bad_request"),
    ("history", {"room": "lobby", "before": 0}, "bad_request"),
    ("files", {"room": "lobby", "before": 0}, "bad_request"),
    ("rooms", {"after": "no spaces"}, "invalid_room"),
    ("history", {"room": "lobby", "limit": 0}, "bad_request"),
    ("history", {"room": "lobby", "limit": 201}, "bad_request"),
    ("history", {"room": "lobby", "limit": True}, "bad_request"),
    ("files", {"room": "closed"}, "forbidden"),
    ("files", {"room": "lobby", "limit": -1}, "bad_request"),
    ("search", {}, "bad_request"),
    ("search", {"query": ""}, "empty_text"),
    ("search", {"query": 7}, "bad_request"),
    ("search", {"query": "q" * 201}, "text_too_long"),
    ("search", {"query": "x", "room": "closed"}, "forbidden"),
    ("search", {"query": "x", "limit": 101}, "bad_request"),
    ("read", {"room": "lobby"}, "bad_request"),
    ("read", {"room": "lobby", "upto": -5}, "bad_request"),
    ("read", {"room": "closed", "upto": 1}, "forbidden"),
    ("read", {"upto": 1}, "bad_request"),
    ("file_put", {"room": "closed", "name": "a", "size": 1, "sha256": "0" * 64}, "forbidden"),
    (
        "file_put",
        {"room": "owned", "to": "bob", "name": "a", "size": 1, "sha256": "0" * 64},
        "bad_request",
    ),
    ("hello", {"version": 1, "features": "rooms"}, "bad_request"),
    ("hello", {"version": 1, "features": [1]}, "bad_request"),
]


@pytest.fixture
async def setting(server: RunningServer) -> RunningServer:
    alice = await server.login("alice", features=ALL)
    await alice.request("room_create", room="owned")
    await alice.request("room_create", room="closed", public=False)
    await server.register("bob")
    return server


@pytest.mark.parametrize(("kind", "data", "code"), CASES, ids=[f"{k}-{c}" for k, _, c in CASES])
async def test_each_wrong_request_gets_its_code(
    setting: RunningServer, kind: str, data: dict[str, Any], code: str
) -> None:
    carol = await setting.login("carol", features=ALL)
    await carol.request("room_join", room="owned")
    assert await refused(carol, kind, **data) == code
    assert await carol.request("ping") == {}  # and the connection is fine
