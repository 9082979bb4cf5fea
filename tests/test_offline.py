"""Mail kept for users who are away: offline delivery, acks, the replay cap, restarts."""

import asyncio
from collections.abc import Awaitable, Callable

from chatroom.client import ChatClient
from chatroom.common.codec import encode
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, RawConnection, RunningServer, next_push

MakeServer = Callable[..., Awaitable[RunningServer]]


async def drain_backlog(client: ChatClient, count: int) -> list[MessagePush]:
    return [await next_push(client, MessagePush) for _ in range(count)]


async def test_private_and_group_messages_arrive_at_next_login_in_mid_order(
    server: RunningServer,
) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    sent = [
        await alice.private("bob", "first"),
        await alice.broadcast("second"),
        await alice.private("bob", "third"),
    ]
    bob = await server.connect()
    reply = await bob.login("bob", "correct horse")
    assert (reply.offline, reply.skipped) == (3, 0)
    backlog = await drain_backlog(bob, 3)
    assert [m.mid for m in backlog] == [s.mid for s in sent]
    assert [m.text for m in backlog] == ["first", "second", "third"]
    assert [m.to for m in backlog] == ["bob", None, "bob"]
    assert all(m.offline for m in backlog)


async def test_what_is_not_acked_comes_again_and_what_is_acked_does_not(
    server: RunningServer,
) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    first = await alice.private("bob", "one")
    second = await alice.private("bob", "two")

    bob = await server.login("bob")
    assert [m.mid for m in await drain_backlog(bob, 2)] == [first.mid, second.mid]
    await bob.ack(first.mid)
    await bob.close()

    bob = await server.connect()
    reply = await bob.login("bob", "correct horse")
    assert reply.offline == 1
    assert (await next_push(bob, MessagePush)).mid == second.mid
    await bob.ack(second.mid)
    await bob.close()

    bob = await server.connect()
    assert (await bob.login("bob", "correct horse")).offline == 0


async def test_live_messages_are_redelivered_if_not_acked(server: RunningServer) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    sent = await alice.broadcast("seen live")
    push = await next_push(bob, MessagePush)
    assert (push.mid, push.offline) == (sent.mid, False)
    await bob.close()
    bob = await server.login("bob")
    push = await next_push(bob, MessagePush)
    assert (push.mid, push.offline) == (sent.mid, True)


async def test_newcomers_do_not_receive_old_group_traffic(server: RunningServer) -> None:
    alice = await server.login("alice")
    await alice.broadcast("before you came")
    newcomer = await server.connect()
    await newcomer.register("newbie", "correct horse")
    assert (await newcomer.login("newbie", "correct horse")).offline == 0
    after = await alice.broadcast("welcome")
    assert (await next_push(newcomer, MessagePush)).mid == after.mid


async def test_the_sender_does_not_get_their_own_messages_back(server: RunningServer) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    await alice.broadcast("group")
    await alice.private("bob", "private")
    await alice.close()
    alice = await server.connect()
    assert (await alice.login("alice", "correct horse")).offline == 0


async def test_replay_is_capped_newest_first_and_reports_what_was_left_out(make_server) -> None:
    server = await make_server(replay_limit=3)
    await server.register("bob")
    alice = await server.login("alice")
    mids = [(await alice.private("bob", f"m{i}")).mid for i in range(5)]
    bob = await server.connect()
    reply = await bob.login("bob", "correct horse")
    assert (reply.offline, reply.skipped) == (3, 2)
    assert [m.mid for m in await drain_backlog(bob, 3)] == mids[2:]


async def test_acking_beyond_the_newest_message_does_not_swallow_later_mail(
    server: RunningServer,
) -> None:
    bob = await server.login("bob")
    await bob.ack(10**12)
    await bob.close()
    alice = await server.login("alice")
    later = await alice.private("bob", "later")
    bob = await server.connect()
    assert (await bob.login("bob", "correct horse")).offline == 1
    assert (await next_push(bob, MessagePush)).mid == later.mid


async def test_logins_while_another_session_acks_lose_nothing_after_its_last_ack(
    server: RunningServer,
) -> None:
    """A login reads where the user acknowledged up to before it joins; another session
    acking meanwhile may make its backlog start earlier, never later: each backlog is a
    tail of the mail, holding everything after the last ack."""
    await server.register("bob")
    alice = await server.login("alice")
    mids = [(await alice.private("bob", f"m{n}")).mid for n in range(10)]
    reader = await server.login("bob")
    assert [m.mid for m in await drain_backlog(reader, 10)] == mids

    async def acks() -> None:
        for mid in mids[:5]:
            await reader.ack(mid)

    async def log_in() -> list[int]:
        client = await server.connect()
        reply = await client.login("bob", PASSWORD)
        return [m.mid for m in await drain_backlog(client, reply.offline)]

    # Four at once: a fifth attempt on one name while four are checked is refused.
    _, *backlogs = await asyncio.gather(acks(), *(log_in() for _ in range(4)))
    for backlog in backlogs:
        assert backlog == mids[len(mids) - len(backlog) :]
        assert set(mids[5:]) <= set(backlog)
    bob = await server.login("bob")
    assert [m.mid for m in await drain_backlog(bob, 5)] == mids[5:]


async def test_a_login_cut_off_mid_request_leaves_the_mail_for_the_next(
    server: RunningServer,
) -> None:
    """A login whose client vanishes before the reply (its arrival read, perhaps its
    backlog begun) acknowledges nothing: the next login gets all of the mail."""
    await server.register("bob")
    alice = await server.login("alice")
    mids = [(await alice.private("bob", f"m{n}")).mid for n in range(3)]
    for _ in range(3):
        raw = await server.raw()
        await raw.send(
            {"type": "login", "id": 1, "data": {"username": "bob", "password": PASSWORD}}
        )
        raw.writer.transport.abort()  # gone before the reply
    bob = await server.connect()
    reply = await bob.login("bob", PASSWORD)
    assert reply.offline == 3
    assert [m.mid for m in await drain_backlog(bob, 3)] == mids


async def test_offline_mail_survives_a_server_restart(server: RunningServer) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    sent = [await alice.private("bob", "kept"), await alice.broadcast("kept too")]
    await server.restart()
    bob = await server.connect()
    reply = await bob.login("bob", "correct horse")
    assert reply.offline == 2
    assert [(m.mid, m.text) for m in await drain_backlog(bob, 2)] == [
        (sent[0].mid, "kept"),
        (sent[1].mid, "kept too"),
    ]


async def test_an_ok_means_the_message_is_committed(server: RunningServer) -> None:
    alice = await server.login("alice")
    sent = await alice.broadcast("durable")
    # A second, independent connection to the database sees the row as soon as the ok arrives.
    row = await server.rows("SELECT sender, text FROM messages WHERE mid = ?", sent.mid)
    assert row == [("alice", "durable")]


async def test_broadcasts_from_many_senders_reach_each_receiver_once_though_some_vanish(
    make_server: MakeServer,
) -> None:
    """Eight senders each pipeline 40 broadcasts at once. Of twelve receivers, six read
    everything live; six are cut off (RST) after a few, at different points, while the
    broadcasts still come, and log in again once every sender has its `ok`s. The six
    that stayed got every broadcast that got an `ok`, once each, in mid order, and
    nothing else; those that came back get all of them as offline mail (they never
    acked), and what they got live before was some of them, in order."""
    server = await make_server(message_rate=10_000, message_burst=10_000)
    senders = [await server.raw_login(f"sender{n}") for n in range(8)]
    receivers = [await server.raw_login(f"receiver{n}") for n in range(12)]
    stayers, vanishers = receivers[:6], receivers[6:]

    async def send_all(number: int, raw: RawConnection) -> list[int]:
        await raw.send_bytes(
            b"".join(
                encode(_broadcast(request_id, f"{number}.{request_id}"))
                for request_id in range(1, 41)
            )
        )
        replies = []  # among the others' broadcasts and presence news
        while len(replies) < 40:
            if (frame := await raw.receive())["type"] in ("ok", "error"):
                replies.append(frame)
        assert [r["type"] for r in replies] == ["ok"] * 40, replies
        return [r["data"]["mid"] for r in replies]

    async def read_live(raw: RawConnection, count: int) -> list[int]:
        mids = []
        while len(mids) < count:
            frame = await raw.receive()
            if frame["type"] == "message":
                mids.append(frame["data"]["mid"])
        return mids

    async def vanish_after(raw: RawConnection, count: int) -> list[int]:
        mids = await read_live(raw, count)
        raw.writer.transport.abort()
        return mids

    sent, live, cut_off = await asyncio.gather(
        asyncio.gather(*(send_all(n, raw) for n, raw in enumerate(senders))),
        asyncio.gather(*(read_live(raw, 8 * 40) for raw in stayers)),
        asyncio.gather(*(vanish_after(raw, 1 + 9 * n) for n, raw in enumerate(vanishers))),
    )
    stored = sorted(mid for mids in sent for mid in mids)
    assert len(set(stored)) == 8 * 40
    for mids in live:
        assert mids == stored
    for n, mids in enumerate(cut_off):
        assert len(mids) == 1 + 9 * n and mids == sorted(mids) and set(mids) <= set(stored)

    for n in range(6, 12):
        raw = await server.raw()
        login = {
            "type": "login",
            "id": 1,
            "data": {"username": f"receiver{n}", "password": PASSWORD},
        }
        reply = await raw.request(login)
        assert reply["type"] == "ok" and reply["data"]["offline"] == 8 * 40, reply
        backlog = [await raw.receive() for _ in range(8 * 40)]
        assert all(frame["data"]["offline"] for frame in backlog)
        assert [frame["data"]["mid"] for frame in backlog] == stored
        raw.close()
    for raw in senders + stayers:
        raw.close()


def _broadcast(request_id: int, text: str) -> dict[str, object]:
    return {"type": "broadcast", "id": request_id, "data": {"text": text}}
