"""The client library's rooms and conversations against a real server: the room
lifecycle, history as pages, search, read markers, carbons, pulling and compression."""

import asyncio
from pathlib import Path
from typing import Any

import msgpack

from chatroom.client import ChatClient
from chatroom.client.api import ConversationState, Member, RoomInfo
from chatroom.common.errors import ChatError
from chatroom.common.messages import (
    FilePush,
    InvitedPush,
    JoinedPush,
    LeftPush,
    MessagePush,
    ReadPush,
    TopicPush,
)
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push
from tests.test_rooms import FAST


async def connected(server: RunningServer, pull: bool = False, **options: Any) -> ChatClient:
    """A client that said `hello`, so that it asked for compression (and `pull` if told)."""
    client = await ChatClient.connect("127.0.0.1", server.port, pull=pull, **options)
    server.clients.append(client)
    await client.hello("test")
    return client


async def session(server: RunningServer, username: str, **options: Any) -> ChatClient:
    """A client after `hello`, logged in as `username` (registered first if need be)."""
    client = await connected(server, **options)
    try:
        await client.register(username, PASSWORD)
    except ChatError as error:
        assert error.code == "username_taken"
    await client.login(username, PASSWORD)
    return client


async def test_a_room_lives_and_ends_through_the_library(server: RunningServer) -> None:
    alice = await session(server, "alice")
    bob = await session(server, "bob")
    created = await alice.room_create("Games", topic="play")
    assert created == RoomInfo("Games", "play", "alice", True)
    joined = await bob.room_join("games")
    assert (joined.room, joined.joined) == ("Games", True)
    assert (await bob.room_join("Games")).joined is False
    assert (await next_push(alice, JoinedPush)) == JoinedPush("Games", "bob")
    assert (await alice.room_topic("Games", "play more")).topic == "play more"
    assert (await next_push(bob, TopicPush)) == TopicPush("Games", "play more", "alice")
    sent = await alice.broadcast("in the room", room="Games")
    got = await next_push(bob, MessagePush, mid=sent.mid)
    assert (got.room, got.sender, got.text) == ("Games", "alice", "in the room")

    members = await alice.room_members("Games")
    assert members.members == [Member("alice", True), Member("bob", True)]
    assert members.more is False
    listed = {room.room: room for room in await bob.rooms()}
    assert set(listed) == {"lobby", "Games"}
    assert (listed["Games"].members, listed["Games"].joined) == (2, True)
    assert listed["Games"].last_mid == sent.mid and listed["Games"].unread == 1

    await alice.room_create("secret", public=False)
    assert await alice.room_invite("secret", "bob") is True
    assert (await next_push(bob, InvitedPush)) == InvitedPush("secret", "alice")
    await bob.room_join("secret")
    assert await alice.room_invite("secret", "bob") is False  # a member already

    assert await bob.room_leave("Games") is True
    assert (await next_push(alice, LeftPush)) == LeftPush("Games", "bob")
    assert await bob.room_leave("Games") is False


async def test_history_pages_back_over_1200_messages_with_no_gap_or_repeat(make_server) -> None:
    server = await make_server(**FAST)
    alice = await session(server, "alice")
    await alice.room_create("busy")
    sent = []
    for start in range(0, 1200, 400):
        batch = [alice.broadcast(f"m{n}", room="busy") for n in range(start, start + 400)]
        sent += [reply.mid for reply in await asyncio.gather(*batch)]
    await alice.broadcast("in the lobby, not in busy")
    pages = [page async for page in alice.history("busy", limit=200)]
    assert [len(page) for page in pages] == [200] * 6
    for page in pages:  # each page oldest first, each page older than the one before
        assert [m.mid for m in page] == sorted(m.mid for m in page)
    messages = [message for page in reversed(pages) for message in page]
    assert [m.mid for m in messages] == sorted(sent)
    assert {(type(m), m.room, m.sender) for m in messages} == {(MessagePush, "busy", "alice")}
    assert {m.text for m in messages} == {f"m{n}" for n in range(1200)}
    older = [page async for page in alice.history("busy", before=sent[0])]
    assert older == []


async def test_files_and_private_history_come_as_their_pushes(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await session(server, "alice")
    bob = await session(server, "bob")
    said = await alice.private("bob", "here are the notes")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"shared notes\n" * 100)
    shared = await alice.send_file(notes)
    pages = [page async for page in bob.history(with_user="alice")]
    assert [(m.mid, m.to, m.text) for page in pages for m in page] == [
        (said.mid, "bob", "here are the notes")
    ]
    (last,) = await anext(bob.history("lobby", limit=1))
    assert isinstance(last, FilePush) and last.fid == shared.fid and last.name == "notes.txt"
    files = [f for page in [p async for p in bob.files("lobby")] for f in page]
    assert [(f.fid, f.name, f.size, f.room) for f in files] == [
        (shared.fid, "notes.txt", 1300, "lobby")
    ]


async def test_search_returns_pushes_with_marked_snippets(server: RunningServer) -> None:
    alice = await session(server, "alice")
    bob = await session(server, "bob")
    await alice.broadcast("who wants pineapple pizza")
    secret = await alice.private("bob", "pineapple is a secret between us")
    await alice.broadcast("nothing to see")
    found = await bob.search("pineapple")
    assert found[0].push.mid == secret.mid  # newest first
    assert [hit.push.text for hit in found] == [
        "pineapple is a secret between us",
        "who wants pineapple pizza",
    ]
    assert all("«pineapple»" in hit.snippet for hit in found)
    in_lobby = await bob.search("pineapple", "lobby")
    assert [hit.push.room for hit in in_lobby] == ["lobby"]
    assert await bob.search("pineapple", with_user="alice", limit=1) == found[:1]


async def test_a_read_marker_reaches_the_users_other_session(server: RunningServer) -> None:
    alice = await session(server, "alice")
    phone = await session(server, "alice")
    bob = await session(server, "bob")
    mids = [(await bob.broadcast(f"news {n}")).mid for n in range(3)]
    await next_push(phone, MessagePush, mid=mids[-1])
    marked = await alice.read("lobby", upto=mids[1])
    assert marked == ConversationState("lobby", None, 1, mids[1])
    assert (await next_push(phone, ReadPush)) == ReadPush("lobby", None, mids[1], 1)
    login = await (await connected(server)).login("alice", PASSWORD)
    states = {state.room: state for state in login.conversations}
    assert states["lobby"] == ConversationState("lobby", None, 1, mids[1], mids[-1])


async def messages_until(client: ChatClient, last: str) -> list[str]:
    """The texts of the message pushes the application gets, up to the one saying `last`."""
    texts: list[str] = []
    async with asyncio.timeout(WAIT):
        while not texts or texts[-1] != last:
            push = await client.next_push()
            if isinstance(push, MessagePush):
                texts.append(push.text)
    return texts


async def test_carbons_and_replays_reach_the_application_once(server: RunningServer) -> None:
    phone = await session(server, "alice")
    laptop = await session(server, "alice")
    bob = await session(server, "bob")
    await phone.broadcast("from my phone")
    await phone.private("bob", "to bob, from my phone")
    await bob.broadcast("live, then replayed")
    assert await messages_until(laptop, "live, then replayed") == [
        "from my phone",  # carbons: the user's own words, from another session
        "to bob, from my phone",
        "live, then replayed",
    ]
    await laptop.close()
    await bob.broadcast("while the laptop was away")
    # The laptop comes back remembering what it showed: the login replays the lobby
    # since its last ack, which holds bob's first message again.
    again = await session(server, "alice", seen=laptop.seen)
    await bob.broadcast("after the return")
    assert await messages_until(again, "after the return") == [
        "while the laptop was away",
        "after the return",
    ]


async def test_a_client_that_pulls_gets_no_replay_and_reads_history(
    server: RunningServer,
) -> None:
    bob = await session(server, "bob")
    await session(server, "alice")
    mids = [(await bob.broadcast(f"while away {n}")).mid for n in range(3)]
    for client in list(server.clients):
        if client is not bob:
            await client.close()
    puller = await connected(server, pull=True)
    login = await puller.login("alice", PASSWORD)
    assert login.offline == 0
    assert {s.room: s.unread for s in login.conversations}["lobby"] == 3
    await bob.broadcast("live")
    assert await messages_until(puller, "live") == ["live"]  # nothing replayed first
    (page,) = [page async for page in puller.history("lobby")]
    assert [m.mid for m in page][:3] == mids


async def test_large_replies_come_compressed_and_are_expanded(make_server) -> None:
    server = await make_server(**FAST)
    alice = await session(server, "alice")
    texts = [f"a fairly repetitive message number {n}" for n in range(60)]
    for text in texts:
        await alice.broadcast(text)
    assert "compress" in alice.enabled
    (page,) = [page async for page in alice.history("lobby", limit=60)]
    assert [m.text for m in page] == texts
    # The same request on a bare socket, with the hello the library sends, shows that
    # what the library read was compressed on the wire.
    raw = await server.raw()
    hello = {"version": 1, "features": ["rooms", "carbons", "read", "compress"]}
    await raw.request({"type": "hello", "id": 1, "data": hello})
    await raw.request(
        {"type": "login", "id": 2, "data": {"username": "alice", "password": PASSWORD}}
    )
    reply = await raw.request({"type": "history", "id": 3, "data": {"room": "lobby", "limit": 60}})
    raw.close()
    assert "data" not in reply and isinstance(reply["z"], bytes)
    assert len(reply["z"]) < len(msgpack.packb([m.as_data() for m in page])) / 3


async def test_rooms_walks_every_page_of_a_long_room_list(make_server) -> None:
    server = await make_server(max_frame=4096, **FAST)
    alice = await session(server, "alice")
    names = [f"room{n}" for n in range(7)]
    for name in names:
        await alice.room_create(name, topic="😀" * 200)
    assert [room.room for room in await alice.rooms()] == ["lobby", *names]
