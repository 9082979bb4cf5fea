"""Blocking and the private-message policy end to end, against a real server over real
sockets: what a blocked user's messages and requests become, and `--dm-policy contacts`."""

import asyncio
import hashlib
from typing import Any

from chatroom.client import ChatClient
from chatroom.common.messages import ContactPush, InvitedPush, MessagePush
from tests.conftest import WAIT, RunningServer, next_push, refusal, refused

FAST = {"message_rate": 1e6, "message_burst": 10**6}


async def test_a_blocked_users_messages_and_requests_never_reach_the_blocker(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    carol = await server.login("carol")
    assert await bob.request("block", username="ALICE") == {
        "username": "alice",
        "blocked": True,
        "changed": True,
    }
    assert (await bob.request("blocks"))["blocked"] == ["alice"]
    dropped = await alice.request("private", to="bob", text="are you there?")
    assert dropped["mid"] == 0 and dropped["delivered"] is False
    assert await alice.request("contact_add", username="bob") == {
        "username": "bob",
        "state": "requested",
    }
    # What bob gets next is carol's, not alice's.
    await carol.request("contact_add", username="bob")
    assert (await next_push(bob, ContactPush)).username == "carol"
    sent = await carol.private("bob", "hi bob")
    assert (await next_push(bob, MessagePush)).mid == sent.mid
    assert await bob.request("contacts") == {
        "contacts": [
            {"username": "carol", "state": "asking", "status": "online", "status_text": ""}
        ]
    }
    assert (await bob.request("history", **{"with": "alice"}))["messages"] == []
    # Room messages still come (the client hides them); files are refused outright.
    said = await alice.broadcast("hello all")
    assert (await next_push(bob, MessagePush)).mid == said.mid
    digest = hashlib.sha256(b"x").hexdigest()
    code = await refused(alice, "file_put", to="bob", name="x.txt", size=1, sha256=digest)
    assert code == "forbidden"
    await bob.request("unblock", username="alice")
    assert (await bob.request("blocks"))["blocked"] == []
    again = await alice.private("bob", "now?")
    assert again.delivered and (await next_push(bob, MessagePush)).mid == again.mid


async def test_a_blocked_users_room_invitations_are_dropped(server: RunningServer) -> None:
    """Invitations were the one thing a blocked user could still send: one push each,
    as many as they liked."""
    rooms = ["rooms"]
    alice = await server.login("alice", features=rooms)
    bob = await server.login("bob", features=rooms)
    carol = await server.login("carol", features=rooms)
    await alice.request("room_create", room="secret", public=False)
    await carol.request("room_create", room="club", public=False)
    await bob.request("block", username="alice")
    for _ in range(3):
        dropped = await alice.request("room_invite", room="secret", username="bob")
        assert dropped == {"room": "secret", "username": "bob", "member": False}
    await carol.request("room_invite", room="club", username="bob")
    assert await next_push(bob, InvitedPush) == InvitedPush("club", "carol")  # not alice's
    assert await refused(bob, "room_join", room="secret") == "forbidden"  # not invited
    await bob.request("unblock", username="alice")
    await alice.request("room_invite", room="secret", username="bob")
    assert await next_push(bob, InvitedPush) == InvitedPush("secret", "alice")
    assert (await bob.request("room_join", room="secret"))["joined"] is True


async def test_invitations_racing_a_block_leave_none_behind(make_server: Any) -> None:
    """A block takes away the invitations of the one blocked, and an invitation checked
    just before the block, written just after it, must not outlive it: four of bob's
    sessions keep inviting alice into his invite-only room while she blocks him."""
    server: RunningServer = await make_server(**FAST)
    alice = await server.login("alice", features=["rooms"])
    inviters = [await server.login("bob", features=["rooms"]) for _ in range(4)]
    await inviters[0].request("room_create", room="den", public=False)
    blocked = asyncio.Event()

    async def keep_inviting(bob: ChatClient) -> None:
        while not blocked.is_set():
            await bob.request("room_invite", room="den", username="alice")

    inviting = [asyncio.create_task(keep_inviting(bob)) for bob in inviters]
    await next_push(alice, InvitedPush)  # invited before the block
    await alice.request("block", username="bob")
    blocked.set()
    await asyncio.wait_for(asyncio.gather(*inviting), WAIT)  # each invitation answered
    assert await refused(alice, "room_join", room="den") == "forbidden"  # not invited
    await alice.request("unblock", username="bob")
    await inviters[0].request("room_invite", room="den", username="alice")
    assert (await alice.request("room_join", room="den"))["joined"] is True


async def test_a_block_ends_a_contact_and_is_kept_across_a_restart(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    await alice.request("contact_add", username="bob")
    await bob.request("contact_accept", username="alice")
    await bob.request("block", username="alice")
    assert (await bob.request("contacts"))["contacts"] == []
    assert (await alice.request("contacts"))["contacts"] == []
    await server.restart()
    alice = await server.login("alice")
    bob = await server.login("bob")
    assert (await bob.request("blocks"))["blocked"] == ["alice"]
    assert (await alice.request("private", to="bob", text="hello?"))["mid"] == 0
    yourself = await refusal(bob, "block", username="bob")
    assert (yourself.code, yourself.message) == ("bad_request", "you cannot block yourself")
    assert await refused(bob, "block", username="nobody") == "no_such_user"
    assert await refused(bob, "block", username=5) == "bad_request"


async def test_many_blocking_one_user_at_once(make_server: Any) -> None:
    server: RunningServer = await make_server(**FAST)
    spammer = await server.login("spammer")
    others = [await server.login(f"user{n}") for n in range(20)]
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*(c.request("block", username="spammer") for c in others))
        replies = await asyncio.gather(
            *(spammer.request("private", to=f"user{n}", text="buy now") for n in range(20))
        )
    assert all(r["mid"] == 0 for r in replies)
    witness = await server.login("witness")
    for n, client in enumerate(others):
        sent = await witness.private(f"user{n}", "hello")
        assert (await next_push(client, MessagePush)).mid == sent.mid


async def test_under_the_contacts_policy_only_contacts_talk_privately(make_server: Any) -> None:
    server: RunningServer = await make_server(dm_policy="contacts")
    alice = await server.login("alice")
    bob = await server.login("bob")
    teacher = await server.login("teacher")
    assert server.server is not None
    await server.server.services.store.set_role("teacher", "moderator", by="test")
    hello = await alice.request("hello", version=1)
    assert hello["dm_policy"] == "contacts"
    assert await refused(alice, "private", to="bob", text="hi") == "forbidden"
    digest = hashlib.sha256(b"x").hexdigest()
    code = await refused(alice, "file_put", to="bob", name="x.txt", size=1, sha256=digest)
    assert code == "forbidden"
    assert (await alice.private("alice", "a note to myself")).mid > 0
    assert (await alice.private("teacher", "a question")).mid > 0  # moderators: always
    assert (await teacher.private("bob", "an answer")).mid > 0
    assert (await alice.broadcast("rooms are not private")).mid > 0
    await alice.request("contact_add", username="bob")
    assert await refused(alice, "private", to="bob", text="hi") == "forbidden"  # not yet
    await bob.request("contact_accept", username="alice")
    sent = await alice.private("bob", "hi, contact")
    assert (await next_push(bob, MessagePush, mid=sent.mid)).text == "hi, contact"
    await bob.request("contact_remove", username="alice")
    assert await refused(bob, "private", to="alice", text="bye") == "forbidden"
