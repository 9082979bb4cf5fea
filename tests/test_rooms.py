"""Rooms end to end: lifecycle, permissions, who receives what, and membership under
concurrency, against a real server over real sockets."""

import asyncio
import contextlib
from typing import Any

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError
from chatroom.common.messages import InvitedPush, JoinedPush, LeftPush, MessagePush, TopicPush
from tests.conftest import RunningServer, next_push, refused

FAST = {"message_rate": 1e6, "message_burst": 10**6}
ALL = ["rooms", "carbons", "read"]
"""The features that change which pushes a session gets; tests ask for all of them."""


async def test_a_room_message_reaches_its_members_and_no_one_else(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    carol = await server.login("carol", features=ALL)
    created = await alice.request("room_create", room="Games", topic="play", public=True)
    assert created == {"room": "Games", "topic": "play", "owner": "alice", "public": True}
    joined = await bob.request("room_join", room="games")  # any case finds it
    assert joined["joined"] is True and joined["room"] == "Games"
    assert (await next_push(alice, JoinedPush)) == JoinedPush("Games", "bob")
    sent = await alice.request("broadcast", room="Games", text="in the room")
    await carol.request("broadcast", text="in the lobby")  # carol's mark in her stream
    got = await next_push(bob, MessagePush, mid=sent["mid"])
    assert (got.room, got.to, got.sender, got.text) == ("Games", None, "alice", "in the room")
    # carol is not in Games: the lobby message is the next thing she sees of alice's
    lobby = await next_push(alice, MessagePush, text="in the lobby")
    assert lobby.room == "lobby"
    assert await refused(carol, "broadcast", room="Games", text="let me in") == "forbidden"
    assert await refused(carol, "broadcast", room="Nowhere", text="x") == "no_such_room"
    assert await refused(carol, "history", room="Games") == "forbidden"


async def test_leaving_stops_the_messages_and_tells_the_members(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="club")
    await bob.request("room_join", room="club")
    left = await bob.request("room_leave", room="club")
    assert left == {"room": "club", "left": True}
    assert (await next_push(alice, LeftPush)) == LeftPush("club", "bob")
    assert (await bob.request("room_leave", room="club"))["left"] is False  # idempotent
    assert await refused(bob, "broadcast", room="club", text="x") == "forbidden"
    await alice.request("broadcast", room="club", text="bob is gone")
    await alice.request("broadcast", text="end")
    seen = await next_push(bob, MessagePush, sender="alice")
    assert seen.text == "end"
    assert await refused(bob, "room_leave", room="lobby") == "forbidden"


async def test_an_invite_only_room_takes_only_the_invited(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    carol = await server.login("carol", features=ALL)
    await alice.request("room_create", room="secret", public=False)
    assert await refused(bob, "room_join", room="secret") == "forbidden"
    assert await refused(carol, "room_invite", room="secret", username="bob") == "forbidden"
    assert await refused(bob, "room_members", room="secret") == "forbidden"
    listed = await bob.request("rooms")
    assert [r["room"] for r in listed["rooms"]] == ["lobby"]  # secret rooms are not listed
    invited = await alice.request("room_invite", room="secret", username="BOB")
    assert invited == {"room": "secret", "username": "bob", "member": False}
    assert (await next_push(bob, InvitedPush)) == InvitedPush("secret", "alice")
    assert (await bob.request("room_join", room="secret"))["joined"] is True
    assert await refused(carol, "room_join", room="secret") == "forbidden"
    members = await bob.request("room_members", room="secret")
    assert members["members"] == [
        {"username": "alice", "online": True},
        {"username": "bob", "online": True},
    ]


async def test_the_topic_is_the_owners_and_reaches_the_members(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="news")
    await bob.request("room_join", room="news")
    assert await refused(bob, "room_topic", room="news", topic="mine now") == "forbidden"
    assert await refused(alice, "room_topic", room="lobby", topic="x") == "forbidden"
    assert await refused(alice, "room_topic", room="news", topic="x" * 201) == "text_too_long"
    changed = await alice.request("room_topic", room="news", topic="today")
    assert changed["topic"] == "today"
    assert (await next_push(bob, TopicPush)) == TopicPush("news", "today", "alice")
    rooms = {r["room"]: r for r in (await bob.request("rooms"))["rooms"]}
    assert rooms["news"]["topic"] == "today" and rooms["news"]["members"] == 2


async def test_room_names_follow_the_username_rules_and_are_unique(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    await alice.request("room_create", room="café")
    assert await refused(alice, "room_create", room="CAFÉ") == "room_taken"
    assert await refused(alice, "room_create", room="lobby") == "room_taken"
    assert await refused(alice, "room_create", room="a b") == "invalid_room"
    assert await refused(alice, "room_create", room="x") == "invalid_room"
    assert await refused(alice, "room_create", room=5) == "bad_request"
    assert await refused(alice, "room_create", room="ok1", public="yes") == "bad_request"
    assert await refused(alice, "room_join", room="nope") == "no_such_room"
    assert await refused(alice, "room_invite", room="café", username="ghost") == "no_such_user"


async def test_a_room_survives_a_restart_with_its_members(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="durable", topic="kept", public=False)
    await alice.request("room_invite", room="durable", username="bob")
    await bob.request("room_join", room="durable")
    await server.restart()
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    sent = await bob.request("broadcast", room="durable", text="still here")
    got = await next_push(alice, MessagePush, mid=sent["mid"])
    assert got.room == "durable"
    rooms = {r["room"]: r for r in (await alice.request("rooms"))["rooms"]}
    assert rooms["durable"]["topic"] == "kept" and rooms["durable"]["public"] is False


async def test_many_join_one_room_at_once_and_all_are_members(make_server) -> None:
    server = await make_server(**FAST)
    owner = await server.login("owner", features=ALL)
    await owner.request("room_create", room="crowd")
    clients = [await server.login(f"user{n}", features=ALL) for n in range(40)]
    replies = await asyncio.gather(*(c.request("room_join", room="crowd") for c in clients))
    assert all(reply["joined"] for reply in replies)
    again = await asyncio.gather(*(c.request("room_join", room="crowd") for c in clients[:10]))
    assert not any(reply["joined"] for reply in again)
    members = await owner.request("room_members", room="crowd")
    assert len(members["members"]) == 41
    sent = await owner.request("broadcast", room="crowd", text="all of you")
    pushes = await asyncio.gather(*(next_push(c, MessagePush, mid=sent["mid"]) for c in clients))
    assert len(pushes) == 40


async def test_the_room_limits_hold_when_many_requests_race(make_server) -> None:
    server = await make_server(room_limit=3, owned_room_limit=5, **FAST)
    alice = await server.login("alice", features=ALL)
    outcomes = await asyncio.gather(
        *(alice.request("room_create", room=f"r{n:02}") for n in range(12)),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, dict)]
    codes = {str(o.code) for o in outcomes if isinstance(o, ChatError)}
    # The lobby counts: alice may be in 3 rooms, so she made 2 (each creation joins).
    assert len(made) == 2 and codes == {"too_many_rooms"}
    await alice.request("room_leave", room=made[0]["room"])
    await alice.request("room_create", room="another")  # back under the limit
    owned = await asyncio.gather(
        *(alice.request("room_create", room=f"s{n:02}") for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, ChatError) and o.code == "too_many_rooms" for o in owned)


async def test_a_join_whose_client_vanished_is_whole_after_it_comes_back(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    await alice.request("room_create", room="flaky")
    raw = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "bob", "password": "password-1"}}
    await server.register("bob", "password-1")
    assert (await raw.request(login))["type"] == "ok"
    await raw.send({"type": "room_join", "id": 2, "data": {"room": "flaky"}})
    raw.close()  # gone before the reply
    await next_push(alice, JoinedPush, username="bob")  # the join was committed anyway
    bob = await server.login("bob", "password-1", features=ALL)
    again = await bob.request("room_join", room="flaky")
    assert again["joined"] is False  # the store and the routing agree: already in
    sent = await alice.request("broadcast", room="flaky", text="welcome")
    assert (await next_push(bob, MessagePush, mid=sent["mid"])).text == "welcome"


async def test_invites_cut_off_mid_request_stand_once(make_server: Any) -> None:
    """Sessions of the owner invite bob to an invite-only room and vanish before the
    answer: bob, online, is told; the room keeps one invitation; he can join."""
    server: RunningServer = await make_server(login_attempts=10**6)
    owner = await server.login("owner", features=ALL)
    await owner.request("room_create", room="secret", public=False)
    bob = await server.login("bob", features=ALL)

    async def invite_and_vanish() -> None:
        client = await server.login("owner", features=ALL)
        reply = client.submit("room_invite", room="secret", username="bob")
        await client.drain()
        client.abandon("gone")  # before the answer
        with contextlib.suppress(ConnectionError, ChatError):
            await reply

    await asyncio.gather(*(invite_and_vanish() for _ in range(8)))
    assert (await next_push(bob, InvitedPush)) == InvitedPush("secret", "owner")
    invites = await server.rows(
        """SELECT i.username, i.invited_by FROM invites AS i
           JOIN conversations AS c ON c.conv = i.conv WHERE c.room = ?""",
        "secret",
    )
    assert invites == [("bob", "owner")]
    assert (await bob.request("room_join", room="secret"))["joined"] is True
    members = (await owner.request("room_members", room="secret"))["members"]
    assert [member["username"] for member in members] == ["bob", "owner"]


async def test_a_first_version_client_sees_only_the_lobby_as_before(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    old = await server.login("alice")  # no hello: a client of the first version
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="newthings")
    await bob.request("room_join", room="newthings")
    await bob.request("broadcast", room="newthings", text="only for rooms-aware sessions")
    await alice.request("read", room="newthings", upto=1)
    await alice.request("broadcast", text="from alice's other session")
    await bob.request("broadcast", text="in the lobby")
    lobby = await next_push(old, MessagePush)
    assert lobby.text == "in the lobby"  # no room news, no carbon, no read push before it
    old_replay = await server.login("alice")
    rooms_replay = await server.login("alice", features=["rooms"])
    await bob.request("broadcast", text="end")  # live, so after each replay
    assert await texts_until_end(old_replay) == ["in the lobby"]
    assert await texts_until_end(rooms_replay) == ["only for rooms-aware sessions", "in the lobby"]


async def texts_until_end(client: ChatClient) -> list[str]:
    """The texts of the messages a client gets before one that says "end"."""
    texts = []
    while (push := await next_push(client, MessagePush)).text != "end":
        texts.append(push.text)
    return texts


async def test_one_name_created_by_many_at_once_makes_one_room(make_server) -> None:
    server = await make_server(**FAST)
    clients = [await server.login(f"maker{n}", features=ALL) for n in range(10)]
    # Case, a fullwidth a and a Cyrillic a: all the same name.
    spellings = ["arena", "Arena", "ARENA", "\uff41rena", "aren\u0430"]
    outcomes = await asyncio.gather(
        *(c.request("room_create", room=spellings[n % 5]) for n, c in enumerate(clients)),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, dict)]
    assert len(made) == 1
    assert all(
        isinstance(o, ChatError) and o.code == "room_taken" for o in outcomes if o not in made
    )
    owner = made[0]["owner"]
    rooms = {r["room"]: r for r in (await clients[0].request("rooms"))["rooms"]}
    assert len(rooms) == 2 and rooms[made[0]["room"]]["members"] == 1
    assert rooms[made[0]["room"]]["owner"] == owner
