"""Group and private chat, several sessions per user, presence, and the users list."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from chatroom.common.codec import encode
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import MessagePush, PresenceBatchPush, PresencePush
from tests.conftest import PASSWORD, WAIT, RunningServer, next_presence, next_push, presence_news

MakeServer = Callable[..., Awaitable[RunningServer]]


async def test_broadcast_reaches_every_other_online_user(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    carol = await server.login("carol")
    sent = await alice.broadcast("hello, room")
    for receiver in (bob, carol):
        push = await next_push(receiver, MessagePush)
        assert (push.mid, push.sender, push.to, push.text) == (
            sent.mid,
            "alice",
            None,
            "hello, room",
        )
        assert push.ts == sent.ts
        assert push.offline is False


async def test_the_sender_does_not_get_their_own_broadcast(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    await alice.broadcast("mine")
    marker = await bob.broadcast("marker")
    push = await next_push(alice, MessagePush)
    assert push.mid == marker.mid


async def test_private_reaches_every_session_of_the_recipient_only(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob_laptop = await server.login("bob")
    bob_phone = await server.login("bob")
    carol = await server.login("carol")
    sent = await alice.private("BOB", "just for you")
    assert sent.delivered is True
    for session in (bob_laptop, bob_phone):
        push = await next_push(session, MessagePush)
        assert (push.mid, push.sender, push.to, push.text) == (
            sent.mid,
            "alice",
            "bob",
            "just for you",
        )
    marker = await alice.broadcast("marker")
    assert (await next_push(carol, MessagePush)).mid == marker.mid


async def test_broadcast_reaches_all_sessions_of_each_user(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob_one = await server.login("bob")
    bob_two = await server.login("bob")
    sent = await alice.broadcast("to everyone")
    assert (await next_push(bob_one, MessagePush)).mid == sent.mid
    assert (await next_push(bob_two, MessagePush)).mid == sent.mid


async def test_the_sender_is_always_the_session_user(server: RunningServer) -> None:
    mallory = await server.login("mallory")
    bob = await server.login("bob")
    await mallory.request("private", to="bob", text="I am alice", **{"from": "alice"})
    await mallory.request("broadcast", text="me too", **{"from": "alice"})
    assert (await next_push(bob, MessagePush)).sender == "mallory"
    assert (await next_push(bob, MessagePush)).sender == "mallory"


async def test_private_to_an_unknown_user_is_refused(server: RunningServer) -> None:
    alice = await server.login("alice")
    with pytest.raises(ChatError) as caught:
        await alice.private("nobody", "hello?")
    assert caught.value.code == ErrorCode.NO_SUCH_USER


async def test_private_to_an_offline_user_is_stored_not_delivered(server: RunningServer) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    sent = await alice.private("bob", "when you are back")
    assert sent.delivered is False


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ErrorCode.EMPTY_TEXT),
        ("  \n\t", ErrorCode.EMPTY_TEXT),
        ("x" * 4097, ErrorCode.TEXT_TOO_LONG),
    ],
)
async def test_empty_and_overlong_texts_are_refused(
    server: RunningServer, text: str, code: ErrorCode
) -> None:
    alice = await server.login("alice")
    for send in (alice.broadcast(text), alice.private("alice", text)):
        with pytest.raises(ChatError) as caught:
            await send
        assert caught.value.code == code


async def test_text_at_the_limit_is_accepted(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    await alice.broadcast("é" * server.limits.max_text)
    assert len((await next_push(bob, MessagePush)).text) == server.limits.max_text


async def test_mids_increase_in_the_order_messages_are_stored(server: RunningServer) -> None:
    alice = await server.login("alice")
    await server.register("bob")
    mids = [(await alice.broadcast(f"m{i}")).mid for i in range(3)]
    mids.append((await alice.private("bob", "p")).mid)
    assert mids == sorted(mids) and len(set(mids)) == 4


async def test_messages_committed_together_each_get_their_own_mid(server: RunningServer) -> None:
    # Three senders with 30 messages each in flight at once: the server stores them in a
    # few group commits, and each `ok` must carry the mid its own text was stored under.
    await server.register("dora")
    names = ("alice", "bob", "carol")
    senders = {name: await server.login(name) for name in names}
    texts = [f"{name} {n}" for name in names for n in range(30)]
    sent = await asyncio.gather(*(senders[text.split()[0]].private("dora", text) for text in texts))
    dora = await server.connect()
    assert (await dora.login("dora", PASSWORD)).offline == len(texts)
    stored = {}
    for _ in texts:
        push = await next_push(dora, MessagePush)
        stored[push.mid] = push.text
    assert {reply.mid: text for reply, text in zip(sent, texts, strict=True)} == stored


async def test_broadcasts_committed_together_go_out_together(make_server: MakeServer) -> None:
    """A client pipelines 100 broadcasts; they are stored in one or two commits, and
    the hub writes each receiver everything they routed at once, not one at a time."""
    server = await make_server(message_rate=1000, message_burst=1000)
    assert server.server is not None
    hub = server.server.services.hub
    receiver = await server.login("bob")
    sender = await server.raw_login("alice")
    await next_presence(receiver, "alice")
    writes: list[int] = []  # the lobby pushes written together, each time some are
    write_gathered = hub.write_gathered

    def counted() -> None:
        if hub._gathered:
            writes.append(len(hub._gathered))
        write_gathered()

    hub.write_gathered = counted  # type: ignore[method-assign]
    await sender.send_bytes(
        b"".join(
            encode({"type": "broadcast", "id": n, "data": {"text": f"m{n}"}}) for n in range(1, 101)
        )
    )
    replies: list[int] = []
    while len(replies) < 100:
        if (frame := await sender.receive())["type"] == "ok":
            replies.append(frame["id"])
    assert replies == list(range(1, 101))
    texts = [(await next_push(receiver, MessagePush)).text for _ in range(100)]
    assert texts == [f"m{n}" for n in range(1, 101)]
    assert sum(writes) == 100 and len(writes) <= 4, writes


async def test_users_lists_who_is_online_sorted(server: RunningServer) -> None:
    carol = await server.login("carol")
    await server.login("alice")
    bob = await server.login("bob")
    await server.login("bob")
    assert await carol.users() == ["alice", "bob", "carol"]
    await bob.logout()
    assert await carol.users() == ["alice", "bob", "carol"]  # bob has another session


async def test_presence_follows_first_and_last_session(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob_one = await server.login("bob")
    assert await next_presence(alice, "bob") is True
    bob_two = await server.login("bob")  # not the first: no presence push
    await bob_one.close()
    await bob_two.logout()  # the last: offline
    assert await next_presence(alice, "bob") is False
    assert await alice.users() == ["alice"]


async def test_login_reply_lists_who_is_online(server: RunningServer) -> None:
    await server.login("bob")
    await server.login("alice")
    carol = await server.connect()
    await carol.register("carol", "correct horse")
    reply = await carol.login("carol", "correct horse")
    assert reply.online == ["alice", "bob", "carol"]


async def test_ping_gets_an_empty_ok(server: RunningServer) -> None:
    client = await server.connect()
    assert await client.request("ping") == {}


async def test_a_login_storm_is_announced_in_batches(server: RunningServer) -> None:
    watcher = await server.login("watcher")
    for n in range(20):
        await server.register(f"user{n}")
    logins = [server.connect() for _ in range(20)]
    clients = await asyncio.gather(*logins)
    await asyncio.gather(*(c.login(f"user{n}", "correct horse") for n, c in enumerate(clients)))
    online: set[str] = set()
    frames = 0
    async with asyncio.timeout(5):
        while len(online) < 20:
            push = await watcher.next_push()
            if isinstance(push, PresencePush | PresenceBatchPush):
                frames += 1
                online |= {u for u, on in presence_news(push).items() if on}
    assert online == {f"user{n}" for n in range(20)}
    assert frames < 20  # fewer frames than users: they were gathered


async def test_a_hundred_first_messages_at_once_make_one_conversation(
    make_server: MakeServer,
) -> None:
    """The first messages between two users make their conversation: sent together (a
    client pipelining them, and another user writing back), it is made once."""
    server = await make_server(message_burst=1000)
    alice = await server.login("alice")
    bob = await server.login("bob")
    sends = [alice.submit("private", to="bob", text=f"{n}") for n in range(100)]
    sends += [bob.submit("private", to="alice", text=f"back {n}") for n in range(20)]
    replies = await asyncio.gather(*sends)
    pairs = await server.rows(
        "SELECT conv FROM conversations WHERE user_a = ? AND user_b = ?", "alice", "bob"
    )
    assert len(pairs) == 1
    (conv,) = pairs[0]
    numbered = await server.rows("SELECT mid, seq FROM messages WHERE conv = ? ORDER BY mid", conv)
    assert [mid for mid, _ in numbered] == sorted(reply["mid"] for reply in replies)
    assert [seq for _, seq in numbered] == list(range(1, 121))


async def test_every_pipelined_request_at_once_from_clients_half_of_which_vanish(
    make_server: MakeServer,
) -> None:
    """Thirty clients a round, four rounds: each logs in and pipelines 100 requests of
    every kind that may be pipelined (messages to users not looked up yet and to users
    who do not exist, `users` with a directory page, `read`, `ack`, `ping`), and every
    other one cuts the connection (RST) at once. Each that stays gets its 100 replies,
    and a new client can still log in and write. (On PostgreSQL the lookups share the
    read pool's few connections, while requests are started out of turn: see
    tests/test_postgres_reads.py.)"""
    server = await make_server(message_burst=100_000, message_rate=100_000)
    for n in range(40):
        await server.register(f"user{n}")
    kinds = [
        lambda n: {"type": "private", "id": n, "data": {"to": f"user{n % 40}", "text": "hi"}},
        lambda n: {"type": "private", "id": n, "data": {"to": f"nobody{n % 5}", "text": "?"}},
        lambda n: {"type": "users", "id": n, "data": {"query": "user", "limit": 5}},
        lambda n: {"type": "read", "id": n, "data": {"upto": n}},
        lambda n: {"type": "ack", "id": n, "data": {"upto": n}},
        lambda n: {"type": "ping", "id": n},
    ]
    requests = b"".join(encode(kinds[n % len(kinds)](n)) for n in range(2, 102))
    async with asyncio.timeout(WAIT * 6):
        for round_ in range(4):
            staying = []
            for n in range(30):
                raw = await server.raw_login(f"round{round_}x{n}")
                await raw.send_bytes(requests)
                if n % 2:
                    raw.writer.transport.abort()
                else:
                    staying.append(raw)
            for raw in staying:
                answered = set()
                while len(answered) < 100:
                    if (frame := await raw.receive())["type"] in ("ok", "error"):
                        answered.add(frame["id"])
                assert answered == set(range(2, 102))
                raw.close()
        last = await server.login("last")
        assert (await last.request("private", to="user1", text="still here"))["mid"] > 0


async def test_clients_that_vanish_mid_lookup_leave_the_lookups_working(
    make_server: MakeServer,
) -> None:
    """Twenty clients each pipeline 50 lookups (messages to nobody) and cut the
    connection (RST) before any reply; they come back, and every lookup they make then
    is answered: none of the first ones kept what lookups share (on PostgreSQL, the read
    pool's ten connections)."""
    server = await make_server(message_burst=100_000, message_rate=100_000)
    lookups = b"".join(
        encode({"type": "private", "id": i, "data": {"to": "nobody", "text": "?"}})
        for i in range(2, 52)
    )
    async with asyncio.timeout(WAIT * 4):
        for n in range(20):
            raw = await server.raw_login(f"gone{n}")
            await raw.send_bytes(lookups)
            raw.writer.transport.abort()
        back = [await server.login(f"gone{n}") for n in range(20)]
        for _ in range(3):
            for client in back:
                with pytest.raises(ChatError) as refused:
                    await client.request("private", to="nobody", text="again?")
                assert refused.value.code == ErrorCode.NO_SUCH_USER
        replies = await asyncio.gather(
            *(client.request("private", to="gone0", text="hi") for client in back)
        )
    assert len({reply["mid"] for reply in replies}) == 20


async def test_messages_to_more_conversations_than_the_writer_remembers_are_numbered(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer remembers the newest `seq` of so many conversations, then starts over:
    a batch that mixes conversations it remembers and others, when it is full, still
    numbers each conversation's messages 1, 2, 3, ... and every message is stored."""
    monkeypatch.setattr("chatroom.server.store.writer.SEQ_CACHE", 3)
    server = await make_server(message_burst=1000)
    others = [f"friend{n}" for n in range(5)]
    for name in others:
        await server.login(name)
    alice = await server.login("alice")
    for name in others:  # each conversation made, and its first message numbered
        await alice.request("private", to=name, text="hello")
    replies = await asyncio.gather(
        *(alice.submit("private", to=name, text=f"{n}") for n in range(20) for name in others)
    )
    assert len({reply["mid"] for reply in replies}) == 100
    for name in others:
        numbered = await server.rows(
            """SELECT m.seq FROM messages AS m JOIN conversations AS c ON c.conv = m.conv
               WHERE c.user_a = 'alice' AND c.user_b = ? ORDER BY m.mid""",
            name,
        )
        assert [seq for (seq,) in numbered] == list(range(1, 22))


async def test_first_messages_from_a_client_that_vanishes_make_one_conversation(
    make_server: MakeServer,
) -> None:
    """The first asker of a new conversation leaving mid-request does not stop it being
    made for the others asking, nor make a second one."""
    server = await make_server(message_burst=1000)
    bob = await server.login("bob")
    raw = await server.raw_login("alice")
    for n in range(50):  # sent, and the connection gone before any reply is read
        await raw.send({"type": "private", "id": n + 2, "data": {"to": "bob", "text": f"{n}"}})
    raw.close()
    reply = await bob.request("private", to="alice", text="are you there?")
    pairs = await server.rows(
        "SELECT conv FROM conversations WHERE user_a = ? AND user_b = ?", "alice", "bob"
    )
    assert len(pairs) == 1
    (conv,) = pairs[0]
    seqs = await server.rows("SELECT seq FROM messages WHERE conv = ? ORDER BY mid", conv)
    assert [seq for (seq,) in seqs] == list(range(1, len(seqs) + 1))  # numbered once each
    assert reply["mid"] in [mid for (mid,) in await server.rows("SELECT mid FROM messages")]
