"""Fuzzing a live server with requests that are right but for a field or two: random
envelopes (test_fuzz.py) are mostly refused at their first field, these reach into the
handlers. Each is answered, `ok` or an error with one of the protocol's codes, the
connection stays, and the server logs no traceback. Sent by an admin, so the
moderation handlers get past their first check too. A server of its own, so that what
it does (rooms, announcements) stays out of test_fuzz.py's."""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatroom.common.errors import ErrorCode
from tests.conftest import PASSWORD
from tests.test_fuzz import FIELDS, LOGIN, Live, call, frame, live_server, receive, scalars


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("fuzz_requests")
    with live_server(data_dir, ["target", "boss"], admin="boss") as running:
        yield running


TEMPLATES: dict[str, dict[str, Any]] = {
    "broadcast": {"text": "hi", "cid": "c1"}, "private": {"to": "target", "text": "hi"},
    "ack": {"upto": 1}, "users": {"query": "t", "limit": 10, "after": "a"},
    "room_create": {"room": "r1", "topic": "t", "public": True}, "room_join": {"room": "r1"},
    "room_leave": {"room": "r1"}, "room_invite": {"room": "r1", "username": "target"},
    "room_topic": {"room": "r1", "topic": "x"}, "rooms": {"after": "a"},
    "room_members": {"room": "lobby", "after": "a"},
    "room_role": {"room": "r1", "username": "target", "role": "moderator"},
    "history": {"room": "lobby", "before": 10, "limit": 5}, "files": {"with": "target"},
    "search": {"query": "hi", "room": "lobby", "limit": 5}, "read": {"room": "lobby", "upto": 3},
    "profile_set": {"display_name": "A", "bio": "b"}, "profile_get": {"username": "target"},
    "status_set": {"status": "away", "status_text": "brb"}, "contact_add": {"username": "target"},
    "password_set": {"password": "not boss's", "new_password": "a new passphrase"},
    "contact_accept": {"username": "target"}, "contact_remove": {"username": "target"},
    "block": {"username": "target"}, "unblock": {"username": "target"},
    "kick": {"username": "target", "room": "r1", "reason": "x"},
    "mute": {"username": "target", "seconds": 60, "reason": "x"}, "unmute": {"username": "target"},
    "ban": {"username": "target", "seconds": 5, "room": "r1"}, "unban": {"username": "target"},
    "delete": {"mid": 1}, "announce": {"text": "hello all"}, "audit": {"limit": 5},
    "file_put": {"to": "target", "name": "a.txt", "size": 3, "sha256": "0" * 64, "cid": "f1"},
    "file_chunk": {"fid": 1, "offset": 0, "data": b"abc"}, "file_info": {"fid": 1},
    "file_get": {"fid": 1, "offset": 0, "length": 3}, "hello": {"version": 1, "features": []},
}  # fmt: skip
"""A request of each type as a client would send it."""
CODES = {code.value for code in ErrorCode}
decodable = st.recursive(  # (a map keyed by a map or an array is refused, and closed)
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


def gone_wrong_in(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A `kind` request with a field or two replaced: its own fields as often as others."""
    template = TEMPLATES[kind]
    own = st.sampled_from(sorted(template)) if template else st.sampled_from(FIELDS)
    wrong = st.dictionaries(own | st.sampled_from(FIELDS), decodable, min_size=1, max_size=2)
    return wrong.map(lambda fields: {"type": kind, "data": template | fields})


gone_wrong = st.sampled_from(sorted(TEMPLATES)).flatmap(gone_wrong_in)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=gone_wrong)
def test_a_request_with_a_field_gone_wrong_is_answered_in_words(
    live: Live, request: dict[str, Any]
) -> None:
    server, healthy, errors = live
    with socket.create_connection(("127.0.0.1", server.server.port), timeout=5) as hostile:
        hostile.sendall(frame(LOGIN | {"data": {"username": "boss", "password": PASSWORD}}))
        assert receive(hostile)["type"] == "ok"
        reply = call(hostile, request["type"], **request["data"])
        assert reply["type"] == "ok" or reply["data"]["code"] in CODES, reply
        assert call(hostile, "ping")["type"] == "ok"
    assert call(healthy, "ping")["type"] == "ok"
    assert not errors.records, errors.records[0].getMessage()
