"""Conversations end to end: history paging, search and its permissions, read markers on
two sessions, carbons, the file list, pulling instead of the login replay, compression."""

import asyncio
import hashlib
from typing import Any

import msgpack

from chatroom.client import ChatClient
from chatroom.common.codec import expand
from chatroom.common.messages import FilePush, MessagePush, ReadPush
from tests.conftest import PASSWORD, RunningServer, next_push
from tests.test_rooms import ALL, FAST, refused


async def page_through(client: ChatClient, limit: int, **where: Any) -> list[dict[str, Any]]:
    """Every message of a conversation, by walking `history` back to the start."""
    pages: list[list[dict[str, Any]]] = []
    before: dict[str, int] = {}
    while True:
        page = await client.request("history", limit=limit, **where, **before)
        pages.insert(0, page["messages"])
        if not page["more"]:
            return [message for p in pages for message in p]
        before = {"before": page["messages"][0]["mid"]}


async def test_ten_thousand_messages_page_back_with_no_gap_or_repeat(make_server) -> None:
    server = await make_server(**FAST)
    alice = await server.login("alice", features=ALL)
    await alice.request("room_create", room="busy")
    sent = []
    for start in range(0, 10_000, 1000):
        batch = [
            alice.submit("broadcast", room="busy", text=f"m{n}") for n in range(start, start + 1000)
        ]
        sent += [reply["mid"] for reply in await asyncio.gather(*batch)]
    await alice.request("broadcast", text="in the lobby, not in busy")
    messages = await page_through(alice, 200, room="busy")
    assert [m["mid"] for m in messages] == sorted(sent)
    assert [m["text"] for m in messages] == [f"m{n}" for n in range(10_000)]
    assert {(m["type"], m["room"], m["from"]) for m in messages} == {("message", "busy", "alice")}
    oldest = await alice.request("history", room="busy", before=sent[0])
    assert oldest["messages"] == [] and oldest["more"] is False


async def test_a_private_conversation_is_read_only_by_its_two_users(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    carol = await server.login("carol", features=ALL)
    await alice.private("bob", "just us")
    await bob.private("alice", "indeed")
    both = [m["text"] for m in (await bob.request("history", **{"with": "ALICE"}))["messages"]]
    assert both == ["just us", "indeed"]
    theirs = await carol.request("history", **{"with": "alice"})
    assert theirs["messages"] == [] and theirs["more"] is False
    assert await refused(carol, "history", **{"with": "ghost"}) == "no_such_user"
    assert await refused(carol, "history") == "bad_request"
    assert await refused(carol, "history", room="lobby", **{"with": "bob"}) == "bad_request"
    assert await refused(carol, "history", room="lobby", limit=0) == "bad_request"
    assert await refused(carol, "history", room="lobby", limit=201) == "bad_request"
    assert await refused(carol, "history", room="lobby", before=-1) == "bad_request"


async def test_search_finds_only_what_the_user_may_read(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    carol = await server.login("carol", features=ALL)
    await alice.request("room_create", room="hidden", public=False)
    await alice.request("broadcast", room="hidden", text="pineapple in the hidden room")
    await alice.private("bob", "a private pineapple")
    await alice.request("broadcast", text="Pineapples? one pineapple for the lobby")
    mine = await alice.request("search", query="pineapple")
    assert [m["text"] for m in mine["messages"]] == [
        "Pineapples? one pineapple for the lobby",
        "a private pineapple",
        "pineapple in the hidden room",
    ]
    assert "«pineapple»" in mine["messages"][0]["snippet"]
    theirs = await carol.request("search", query="pineapple")
    assert [m["text"] for m in theirs["messages"]] == ["Pineapples? one pineapple for the lobby"]
    prefix = await carol.request("search", query="pine*")
    assert len(prefix["messages"]) == 1
    only = await bob.request("search", query="pineapple", **{"with": "alice"})
    assert [m["text"] for m in only["messages"]] == ["a private pineapple"]
    for hostile in ('"', "AND", "pine OR (", "NEAR(a b)", "*", "-x"):
        assert isinstance((await carol.request("search", query=hostile))["messages"], list)
    assert await refused(carol, "search", query="   ") == "empty_text"
    assert await refused(carol, "search", query="x" * 201) == "text_too_long"
    assert await refused(carol, "search", query="pineapple", room="hidden") == "forbidden"


async def test_reading_on_one_session_clears_the_count_on_the_other(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    phone = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    mids = [(await bob.request("broadcast", text=f"news {n}"))["mid"] for n in range(3)]
    await next_push(phone, MessagePush, mid=mids[-1])
    lobby = {r["room"]: r for r in (await phone.request("rooms"))["rooms"]}["lobby"]
    assert lobby["unread"] == 3 and lobby["last_mid"] == mids[-1]
    assert await alice.request("read", room="lobby", upto=mids[1]) == {
        "room": "lobby",
        "upto": mids[1],
        "unread": 1,
    }
    assert (await next_push(phone, ReadPush)) == ReadPush("lobby", None, mids[1], 1)
    await alice.request("read", room="lobby", upto=mids[0])  # never moves back
    fresh = await server.connect()
    login = await fresh.request("login", username="alice", password=PASSWORD)
    counts = {c.get("room"): c for c in login["conversations"]}
    assert counts["lobby"]["unread"] == 1 and counts["lobby"]["read_upto"] == mids[1]
    await alice.request("broadcast", text="my own message reads the lobby")
    after = {r["room"]: r for r in (await phone.request("rooms"))["rooms"]}["lobby"]
    assert after["unread"] == 0


async def test_read_markers_raced_from_two_sessions_end_at_the_furthest(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    phone = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    mids = [(await bob.request("broadcast", text=f"n{n}"))["mid"] for n in range(30)]
    marks = [c.submit("read", room="lobby", upto=m) for m in mids for c in (alice, phone)]
    await asyncio.gather(*marks)
    lobby = {r["room"]: r for r in (await alice.request("rooms"))["rooms"]}["lobby"]
    assert lobby["read_upto"] == mids[-1] and lobby["unread"] == 0


async def test_what_one_session_sends_appears_once_on_the_others(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    laptop = await server.login("alice", features=ALL)
    await server.login("bob", features=ALL)
    sent = await alice.request("broadcast", text="from my phone")
    private = await alice.private("bob", "to bob, from my phone")
    carbon = await next_push(laptop, MessagePush, mid=sent["mid"])
    assert carbon.sender == "alice" and carbon.room == "lobby"
    carbon = await next_push(laptop, MessagePush, mid=private.mid)
    assert carbon.to == "bob"
    await laptop.request("broadcast", text="from the laptop")
    first = await next_push(alice, MessagePush)
    assert first.text == "from the laptop"  # the sender's own session got none of its own


async def test_the_files_of_a_conversation_are_listed_and_readable_by_members(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="share")
    await bob.request("room_join", room="share")
    carol = await server.login("carol", features=ALL)
    content = b"shared notes\n" * 100
    digest = hashlib.sha256(content).hexdigest()
    put = await alice.request(
        "file_put", room="share", name="notes.txt", size=len(content), sha256=digest
    )
    done = await alice.request("file_chunk", fid=put["fid"], offset=0, data=content)
    assert done["complete"] is True
    push = await next_push(bob, FilePush, fid=put["fid"])
    assert push.room == "share" and push.to is None
    listed = await bob.request("files", room="share")
    assert [(f["fid"], f["name"], f["room"]) for f in listed["files"]] == [
        (put["fid"], "notes.txt", "share")
    ]
    got = await bob.request("file_get", fid=put["fid"], offset=0, length=65536)
    assert got["data"] == content
    assert await refused(carol, "file_get", fid=put["fid"], offset=0, length=10) == "forbidden"
    assert await refused(carol, "files", room="share") == "forbidden"
    history = await bob.request("history", room="share")
    assert history["messages"][-1]["type"] == "file"
    assert history["messages"][-1]["fid"] == put["fid"]


async def test_a_client_that_pulls_gets_counts_instead_of_a_replay(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=ALL)
    for n in range(5):
        await bob.request("broadcast", text=f"while away {n}")
    raw = await server.raw()
    ask = {"version": 1, "features": ["pull", "no such feature"]}
    hello = await raw.request({"type": "hello", "id": 1, "data": ask})
    assert {"rooms", "history", "search", "pull"} <= set(hello["data"]["features"])
    assert hello["data"]["enabled"] == ["pull"]
    login = {"type": "login", "id": 2, "data": {"username": "alice", "password": PASSWORD}}
    reply = await raw.request(login)
    assert reply["data"]["offline"] == 0
    assert {
        k: v for k, v in reply["data"]["conversations"][0].items() if k in ("room", "unread")
    } == {"room": "lobby", "unread": 5}
    pong = await raw.request({"type": "ping", "id": 3})
    # Nothing was replayed (presence news of the two logins may have come meanwhile).
    assert pong["type"] == "ok"
    assert [p for p in raw.pushes if not p["type"].startswith("presence")] == []


async def test_large_replies_are_compressed_only_for_a_client_that_asked(make_server) -> None:
    server = await make_server(**FAST)
    bob = await server.login("bob", features=ALL)
    for n in range(60):
        await bob.request("broadcast", text=f"a fairly repetitive message number {n}")
    await server.register("alice")
    plain, packed = await server.raw(), await server.raw()
    login = {"type": "login", "id": 2, "data": {"username": "alice", "password": PASSWORD}}
    await plain.request({"type": "hello", "id": 1, "data": {"version": 1}})
    hello = {"type": "hello", "id": 1, "data": {"version": 1, "features": ["compress"]}}
    assert (await packed.request(hello))["data"]["enabled"] == ["compress"]
    history = {"type": "history", "id": 3, "data": {"room": "lobby", "limit": 60}}
    replies = []
    for raw in (plain, packed):
        await raw.request(login)
        replies.append(await raw.request(history))
    uncompressed, compressed = replies
    assert "z" not in uncompressed and "data" not in compressed
    assert len(compressed["z"]) < len(msgpack.packb(uncompressed["data"])) / 3
    assert expand(compressed, 1 << 20)["data"] == uncompressed["data"]


async def test_a_page_too_large_for_one_frame_is_cut_and_paging_still_finds_all(
    make_server,
) -> None:
    server = await make_server(max_frame=64 * 1024, **FAST)
    alice = await server.login("alice", features=ALL)
    wide = "😀" * 4000  # 16,000 bytes of UTF-8 each
    sent = [(await alice.request("broadcast", text=f"{n}{wide}"))["mid"] for n in range(12)]
    first = await alice.request("history", room="lobby", limit=12)
    assert 0 < len(first["messages"]) < 12 and first["more"] is True
    assert first["messages"][-1]["mid"] == sent[-1]  # the newest are kept
    assert [m["mid"] for m in await page_through(alice, 12, room="lobby")] == sent


async def test_many_senders_at_once_number_a_room_without_gap_and_count_exactly(
    make_server,
) -> None:
    server = await make_server(**FAST)
    owner = await server.login("owner", features=ALL)
    await owner.request("room_create", room="rush")
    senders = [await server.login(f"sender{n}", features=ALL) for n in range(20)]
    await asyncio.gather(*(s.request("room_join", room="rush") for s in senders))
    sends = [s.submit("broadcast", room="rush", text=f"{n}") for s in senders for n in range(50)]
    sends += [s.submit("broadcast", text="lobby too") for s in senders]  # another conversation
    await asyncio.gather(*sends)
    numbered = await server.rows(
        """SELECT m.seq FROM messages AS m JOIN conversations AS c ON c.conv = m.conv
           WHERE c.room = 'rush' ORDER BY m.mid""",
    )
    assert [seq for (seq,) in numbered] == list(range(1, 1001))
    rush = {r["room"]: r for r in (await owner.request("rooms"))["rooms"]}["rush"]
    assert rush["unread"] == 1000
    mine = {r["room"]: r for r in (await senders[0].request("rooms"))["rooms"]}["rush"]
    assert mine["unread"] < 1000 and mine["read_upto"] > 0  # what it sent, it has read


async def test_a_read_marker_sent_by_a_client_that_vanished_is_kept_or_not_but_whole(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=ALL)
    mids = [(await bob.request("broadcast", text=f"n{n}"))["mid"] for n in range(5)]
    raw = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "alice", "password": PASSWORD}}
    assert (await raw.request(login))["type"] == "ok"
    await raw.send({"type": "read", "id": 2, "data": {"room": "lobby", "upto": mids[2]}})
    raw.close()
    alice = await server.login("alice", features=ALL)
    # Whether or not it was stored, the count agrees with the marker; and it can move on.
    lobby = {r["room"]: r for r in (await alice.request("rooms"))["rooms"]}["lobby"]
    assert lobby["read_upto"] in (0, mids[2])
    assert lobby["unread"] == sum(1 for m in mids if m > lobby["read_upto"])
    done = await alice.request("read", room="lobby", upto=mids[-1])
    assert done["unread"] == 0


async def test_control_characters_in_a_search_or_a_message_are_plain_text(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    await alice.request("broadcast", text="a nul\x00byte and a bell\x07here")
    for query in ("hello\x00", "a\x00b", "byte", "bell"):
        await alice.request("search", query=query, room="lobby")  # never server_error
    assert await refused(alice, "search", query="\x00\x07") == "empty_text"
    found = await alice.request("search", query="byte")
    assert [m["text"] for m in found["messages"]] == ["a nul\x00byte and a bell\x07here"]


async def test_a_read_marker_stops_at_the_conversations_own_newest_message(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    await alice.request("room_create", room="quiet")
    await bob.request("room_join", room="quiet")
    only = (await alice.request("broadcast", room="quiet", text="the only one"))["mid"]
    for n in range(5):
        await alice.request("broadcast", text=f"lobby {n}")
    marked = await bob.request("read", room="quiet", upto=2**62)
    assert marked == {"room": "quiet", "upto": only, "unread": 0}
    quiet = {r["room"]: r for r in (await bob.request("rooms"))["rooms"]}["quiet"]
    assert quiet["read_upto"] == quiet["last_mid"] == only


async def test_a_private_message_to_yourself_reaches_your_other_sessions_only(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=ALL)
    phone = await server.login("alice", features=ALL)
    sent = await alice.private("alice", "note to self")
    assert (await next_push(phone, MessagePush)).mid == sent.mid
    await phone.request("broadcast", text="end")
    assert (await next_push(alice, MessagePush)).text == "end"  # no echo of its own note


async def test_features_are_chosen_before_login_and_kept(server: RunningServer) -> None:
    alice = await server.login("alice", features=ALL)
    bob = await server.login("bob", features=ALL)
    old = await server.login("bob")  # a first-version session of bob's
    await alice.request("room_create", room="club")
    await bob.request("room_join", room="club")
    late = await bob.request("hello", version=1, features=[])
    assert late["enabled"] == ["carbons", "read", "rooms"]  # unchanged after login
    assert (await old.request("hello", version=1, features=["rooms"]))["enabled"] == []
    sent = await alice.request("broadcast", room="club", text="still for bob")
    await alice.request("broadcast", text="end")
    assert (await next_push(bob, MessagePush)).mid == sent["mid"]
    assert (await next_push(old, MessagePush)).text == "end"  # never the room's message


async def test_the_room_list_comes_in_pages_that_fit_a_frame(make_server) -> None:
    server = await make_server(max_frame=4096, **FAST)
    alice = await server.login("alice", features=ALL)
    names = [f"room{n}" for n in range(7)]
    for name in names:
        await alice.request("room_create", room=name, topic="😀" * 200)
    raw = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "alice", "password": PASSWORD}}
    await raw.request(login)
    listed, after = [], {}
    while True:
        await raw.send({"type": "rooms", "id": 2, "data": after})
        reply = await raw.receive()
        assert len(msgpack.packb(reply)) <= 4096
        page = reply["data"]
        listed += [r["room"] for r in page["rooms"]]
        if not page["more"]:
            break
        after = {"after": listed[-1]}
    assert listed == ["lobby", *names]
