"""Handlers answered for a fake peer: what they check before touching any storage."""

from typing import Any, cast

import msgpack
import pytest

from chatroom.common.codec import pack
from chatroom.common.errors import ChatError
from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason, RequestType
from chatroom.server.fields import Fields
from chatroom.server.handlers import HANDLERS
from chatroom.server.hub import Hub
from chatroom.server.services import Services
from chatroom.server.shared_limits import SharedLimits
from chatroom.server.statuses import StatusKeeper
from chatroom.server.throttle import AddressRate, LoginThrottle


class FakePeer:
    """Just what the `Peer` protocol asks for, with nothing behind it."""

    peer = "127.0.0.1:5000"
    address = "127.0.0.1"
    address_key = "ip:127.0.0.1"
    resume_token_hash: str | None = None
    features: frozenset[str] = frozenset()

    def __init__(self, user: str | None = None) -> None:
        self.user = user
        self.readable_files: dict[int, Any] = {}
        self.closing: ByeReason | None = None

    @property
    def username(self) -> str:
        assert self.user is not None
        return self.user

    def require_logged_out(self) -> None:
        if self.user is not None:
            raise ChatError("already_logged_in", "already")

    async def log_in(self, username: str, how: str) -> Any:
        raise AssertionError("not reached in these tests")

    def close_after_reply(self, reason: ByeReason) -> None:
        self.closing = reason


def services(hub: Hub | None = None) -> Services:
    """Services whose store and vault must not be touched: None stands in for them."""
    limits, hub = Limits(), hub or Hub()
    return Services(
        store=cast(Any, None),
        hub=hub,
        statuses=StatusKeeper(cast(Any, None), hub),
        vault=cast(Any, None),
        passwords=cast(Any, None),
        throttle=LoginThrottle(5, 300),
        registrations=AddressRate(1, 1),
        shared=SharedLimits(),
        limits=limits,
    )


async def answer(kind: RequestType, peer: FakePeer, server: Services | None = None, **data: Any):
    handler = HANDLERS[kind]
    return await handler.function(server or services(), peer, Fields(data, Limits().max_text))


def test_every_request_type_has_a_handler() -> None:
    assert set(HANDLERS) == {kind.value for kind in RequestType}


async def test_hello_reports_the_limits_and_refuses_other_versions() -> None:
    reply = await answer(RequestType.HELLO, FakePeer(), version=1)
    assert reply["version"] == 1 and reply["limits"]["max_chunk"] == 65536
    with pytest.raises(ChatError) as refused:
        await answer(RequestType.HELLO, FakePeer(), version=2)
    assert refused.value.code == "unsupported_version"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"username": "al", "password": "long enough"}, "invalid_username"),
        ({"username": "alice", "password": "short"}, "weak_password"),
        ({"username": "alice"}, "bad_request"),
    ],
)
async def test_register_checks_its_fields_before_any_storage(data: dict, code: str) -> None:
    with pytest.raises(ChatError) as refused:
        await answer(RequestType.REGISTER, FakePeer(), **data)
    assert refused.value.code == code


async def test_a_logged_in_peer_cannot_register() -> None:
    with pytest.raises(ChatError) as refused:
        await answer(RequestType.REGISTER, FakePeer("bob"), username="carol", password="x" * 9)
    assert refused.value.code == "already_logged_in"


async def test_a_message_text_is_checked_before_it_is_stored() -> None:
    for text, code in (("   ", "empty_text"), ("x" * 4097, "text_too_long"), (7, "bad_request")):
        with pytest.raises(ChatError) as refused:
            await answer(RequestType.BROADCAST, FakePeer("bob"), text=text)
        assert refused.value.code == code


async def test_users_lists_who_the_hub_has() -> None:
    class Connection:
        features: frozenset[str] = frozenset()

        def __init__(self, user: str) -> None:
            self.user = user

        def send_frame(self, frame: bytes) -> None:
            pass

    hub = Hub()
    hub.announce_presence = False
    for name in ("carol", "alice"):
        hub.join(Connection(name))
    hub.set_status("carol", "busy")
    reply = await answer(RequestType.USERS, FakePeer("alice"), services(hub))
    assert msgpack.unpackb(pack(reply)) == {  # as sent
        "online": ["alice", "carol"],
        "statuses": {"carol": {"status": "busy", "status_text": ""}},
    }


async def test_logout_asks_the_connection_to_close_after_its_reply() -> None:
    peer = FakePeer("bob")
    assert await answer(RequestType.LOGOUT, peer) == {}
    assert peer.closing is ByeReason.LOGOUT
