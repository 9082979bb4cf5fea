"""Contacts end to end: requests answered live or after a login, both ways of asking at
once, removal, and what is refused, against a real server over real sockets."""

import asyncio
from typing import Any

from chatroom.client import ChatClient
from chatroom.common.messages import ContactPush
from tests.conftest import PASSWORD, RunningServer, next_push, refused

FAST = {"message_rate": 1e6, "message_burst": 10**6}


async def states(client: ChatClient) -> dict[str, str]:
    return {c["username"]: c["state"] for c in (await client.request("contacts"))["contacts"]}


async def test_a_request_accepted_live_makes_two_contacts(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    asked = await alice.request("contact_add", username="BOB")
    assert asked == {"username": "bob", "state": "requested"}
    assert await next_push(bob, ContactPush) == ContactPush("alice", "request")
    assert await states(alice) == {"bob": "asked"} and await states(bob) == {"alice": "asking"}
    again = await alice.request("contact_add", username="bob")  # idempotent: no new push
    assert again["state"] == "requested"
    accepted = await bob.request("contact_accept", username="alice")
    assert accepted == {"username": "alice", "state": "contact"}
    assert await next_push(alice, ContactPush) == ContactPush("bob", "accepted")
    listed = (await alice.request("contacts"))["contacts"]
    assert listed == [
        {"username": "bob", "state": "contact", "status": "online", "status_text": ""}
    ]
    assert await states(bob) == {"alice": "contact"}
    assert await refused(bob, "contact_accept", username="alice") == "no_such_request"
    removed = await bob.request("contact_remove", username="alice")
    assert removed == {"username": "alice", "removed": True}
    assert await next_push(alice, ContactPush) == ContactPush("bob", "removed")
    assert await states(alice) == {} and await states(bob) == {}
    assert (await bob.request("contact_remove", username="alice"))["removed"] is False


async def test_a_request_to_someone_offline_reaches_them_at_their_next_login(
    server: RunningServer,
) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    await alice.request("contact_add", username="bob")
    await server.restart()  # kept in the store, not in memory
    bob = await server.connect()
    reply = await bob.login("bob", PASSWORD)
    assert reply.username == "bob"
    assert await next_push(bob, ContactPush) == ContactPush("alice", "request")
    declined = await bob.request("contact_decline", username="alice")
    assert declined == {"username": "alice", "state": "none"}
    assert await states(bob) == {}
    alice = await server.login("alice")
    assert await states(alice) == {}  # her request is gone; she may ask again
    assert (await alice.request("contact_add", username="bob"))["state"] == "requested"


async def test_asking_each_other_at_once_makes_contacts_once(make_server: Any) -> None:
    server = await make_server(**FAST)
    alice = await server.login("alice")
    bob = await server.login("bob")
    for _ in range(20):
        a, b = await asyncio.gather(
            alice.request("contact_add", username="bob"),
            bob.request("contact_add", username="alice"),
        )
        # Whichever came second accepted the first: both end as contacts, once.
        assert {a["state"], b["state"]} == {"requested", "contact"}
        assert (
            await states(alice)
            == {"bob": "contact"}
            == {k.replace("alice", "bob"): v for k, v in (await states(bob)).items()}
        )
        await alice.request("contact_remove", username="bob")
        assert await states(alice) == {} and await states(bob) == {}


async def test_a_client_gone_mid_request_leaves_a_request_that_counts(
    server: RunningServer,
) -> None:
    bob = await server.login("bob")
    raw = await server.raw()
    await raw.request({"type": "login", "id": 1, "data": {"username": "bob", "password": PASSWORD}})
    await server.register("carol")
    carol = await server.raw()
    await carol.request(
        {"type": "login", "id": 1, "data": {"username": "carol", "password": PASSWORD}}
    )
    await carol.send({"type": "contact_add", "id": 2, "data": {"username": "bob"}})
    carol.close()  # gone before reading the reply
    assert await next_push(bob, ContactPush) == ContactPush("carol", "request")
    carol_again = await server.login("carol")
    assert await states(carol_again) == {"bob": "asked"}
    raw.close()


async def test_contact_requests_refuse_what_is_wrong(server: RunningServer) -> None:
    alice = await server.login("alice")
    assert await refused(alice, "contact_add", username="alice") == "bad_request"
    assert await refused(alice, "contact_add", username="nobody") == "no_such_user"
    assert await refused(alice, "contact_add", username="no one") == "invalid_username"
    assert await refused(alice, "contact_add") == "bad_request"
    assert await refused(alice, "contact_accept", username=5) == "bad_request"
    await server.register("bob")
    assert await refused(alice, "contact_accept", username="bob") == "no_such_request"
    assert await refused(alice, "contact_decline", username="bob") == "no_such_request"
    anonymous = await server.connect()
    assert await refused(anonymous, "contacts") == "not_logged_in"
    assert await states(alice) == {}


async def test_requests_racing_a_block_leave_none_behind(make_server: Any) -> None:
    """A request checked just before a block was stored, written just after the block
    took every request away: it stayed, and the one who blocked was asked by the one
    they blocked. Four of bob's sessions keep asking while alice blocks him."""
    server: RunningServer = await make_server(**FAST)
    alice = await server.login("alice")
    askers = [await server.login("bob") for _ in range(4)]
    blocked = asyncio.Event()

    async def keep_asking(bob: ChatClient) -> None:
        while not blocked.is_set():
            await bob.request("contact_add", username="alice")

    asking = [asyncio.create_task(keep_asking(bob)) for bob in askers]
    await next_push(alice, ContactPush, event="request")  # asked before the block
    await alice.request("block", username="bob")
    blocked.set()
    await asyncio.wait_for(asyncio.gather(*asking), 10)  # each request answered
    assert await states(alice) == {} and await states(askers[0]) == {}
