"""Hostile and unlucky clients: slow readers, idlers, floods, guessers, too many sockets."""

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from chatroom.bench.spawn import rss_kib
from chatroom.client import ChatClient
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import MessagePush
from tests.conftest import (
    PASSWORD,
    WAIT,
    RawConnection,
    RunningServer,
    next_presence,
    next_push,
    presence_news,
    run_server,
    spawn_server,
)


async def test_a_client_that_stops_reading_is_dropped_and_nobody_else_waits(
    tmp_path: Path,
) -> None:
    server = await spawn_server(
        tmp_path,
        "--max-write-buffer", "65536",
        "--message-rate", "1000000",
        "--message-burst", "1000000",
    )  # fmt: skip
    try:

        async def user(name: str) -> ChatClient:
            client = await ChatClient.connect("127.0.0.1", server.port)
            await client.register(name, PASSWORD)
            await client.login(name, PASSWORD)
            return client

        alice, bob = await user("alice"), await user("bob")
        sleeper = await RawConnection.open(server.port)  # logs in, then reads nothing
        login = {"username": "sleeper", "password": PASSWORD}
        assert (await sleeper.request({"type": "register", "id": 1, "data": login}))["type"] == "ok"
        assert (await sleeper.request({"type": "login", "id": 2, "data": login}))["type"] == "ok"
        assert await next_presence(bob, "sleeper") is True
        before = rss_kib(server.process.pid)

        text = "x" * 4000  # 10,000 of these unread would be 40 MB buffered for the sleeper
        count = 10_000
        received = 0
        sleeper_left = asyncio.Event()

        async def bob_reads() -> None:
            nonlocal received
            async for push in bob:
                if isinstance(push, MessagePush) and push.sender == "alice":
                    received += 1
                    if received == count:
                        return
                elif presence_news(push).get("sleeper") is False:
                    sleeper_left.set()

        async def sleeper_wakes_when_dropped() -> bytes:
            await sleeper_left.wait()
            tail = b""
            while chunk := await sleeper.reader.read(1 << 20):
                tail = (tail + chunk)[-200:]
            return tail

        reading = asyncio.create_task(bob_reads())
        waking = asyncio.create_task(sleeper_wakes_when_dropped())
        for _ in range(count // 200):
            replies = [alice.submit("broadcast", text=text) for _ in range(200)]
            await alice.drain()
            await asyncio.gather(*replies)
        await asyncio.wait_for(reading, WAIT * 4)
        assert received == count  # everyone else got everything
        growth_mib = (rss_kib(server.process.pid) - before) / 1024
        assert growth_mib < 20, f"server RSS grew {growth_mib:.1f} MiB"
        # The sleeper was told why before its socket closed.
        assert b"slow_consumer" in await asyncio.wait_for(waking, WAIT)

        # What it missed is still its mail at the next login.
        again = await ChatClient.connect("127.0.0.1", server.port)
        reply = await again.login("sleeper", PASSWORD)
        assert reply.offline + reply.skipped == count
        for client in (alice, bob, again):
            await client.close()
    finally:
        await server.stop(signal.SIGTERM)


async def test_a_connection_that_never_logs_in_is_closed(make_server) -> None:
    server = await make_server(login_timeout=0.4, idle_timeout=60)
    raw = await server.raw()
    # Dribble half a frame: each byte resets no clock that matters before login.
    await raw.send_bytes(b"\x00\x00")
    assert await raw.closed_by_server()
    assert raw.received[-1] == {"type": "bye", "data": {"reason": "login_timeout"}}
    pinger = await server.connect()
    await pinger.ping()  # a client that talks but never logs in goes too
    await asyncio.wait_for(pinger.wait_closed(), WAIT)
    assert pinger.closed_reason == "login_timeout"


async def test_the_login_timeout_does_not_touch_logged_in_users(make_server) -> None:
    server = await make_server(login_timeout=0.3, idle_timeout=60)
    alice = await server.login("alice")
    loiterer = await server.connect()
    await asyncio.wait_for(loiterer.wait_closed(), WAIT)
    assert not alice.closed.is_set()
    await alice.ping()


async def test_connections_past_the_limits_are_refused_with_a_clear_error(make_server) -> None:
    server = await make_server(max_connections_per_ip=3)
    clients = [await server.connect() for _ in range(3)]
    for client in clients:
        await client.ping()
    refused = await server.raw()
    reply = await refused.receive()
    assert reply["data"]["code"] == "too_many_connections"
    assert "too many connections from 127.0.0.1" in reply["data"]["message"]
    assert await refused.closed_by_server()
    await clients[0].close()
    async with asyncio.timeout(WAIT):
        while True:  # the freed place is given to the next connection
            again = await server.connect()
            try:
                await again.ping()
                break
            except ConnectionError:
                await asyncio.sleep(0.01)


async def test_the_total_connection_limit(make_server) -> None:
    server = await make_server(max_connections=2)
    for _ in range(2):
        await (await server.connect()).ping()
    refused = await server.raw()
    assert (await refused.receive())["data"] == {
        "code": "too_many_connections",
        "message": "the server is full; try later",
    }


async def test_connections_arriving_at_once_are_let_in_up_to_the_limits_and_no_more(
    make_server,
) -> None:
    """On a node of several, letting a connection in waits for Redis (every node's count
    from its address). The node checked its own limits before that wait and counted the
    connection after it, so a burst all passed: 50 at once were let in under
    --max-connections 20. Each limit, hit by 40 connections at once, lets in its number;
    and once those and 40 more that vanish at once are gone, every place is free again."""
    for limits, admitted in [({"max_connections": 20}, 20), ({"max_connections_per_ip": 8}, 8)]:
        server = await make_server(**limits)
        burst = await asyncio.gather(*(server.raw() for _ in range(40)))
        pings = [{"type": "ping", "id": 1, "data": {}} for _ in burst]
        replies = await asyncio.gather(*(c.request(p) for c, p in zip(burst, pings, strict=True)))
        assert sum(reply["type"] == "ok" for reply in replies) == admitted, limits
        refused = [reply["data"]["code"] for reply in replies if reply["type"] == "error"]
        assert refused == ["too_many_connections"] * (40 - admitted)
        for connection in burst:
            connection.close()
        vanishing = await asyncio.gather(*(server.raw() for _ in range(40)))
        for connection in vanishing:  # gone while being let in, or just after
            connection.close()
        async with asyncio.timeout(WAIT):  # every place is given back: as many come in again
            while True:
                again = [await server.raw() for _ in range(admitted)]
                answers = [await c.request({"type": "ping", "id": 2, "data": {}}) for c in again]
                for connection in again:
                    connection.close()
                if all(answer["type"] == "ok" for answer in answers):
                    break
                await asyncio.sleep(0.05)


async def test_message_floods_are_rate_limited(make_server) -> None:
    server = await make_server(message_rate=5, message_burst=3)
    alice = await server.login("alice")
    await server.register("bob")
    for _ in range(3):
        await alice.private("bob", "within the burst")
    with pytest.raises(ChatError) as caught:
        await alice.broadcast("one too many")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert 0 < caught.value.extra["retry_after"] <= 0.2
    await asyncio.sleep(caught.value.extra["retry_after"])  # waiting as told is enough
    await alice.broadcast("after waiting")
    other = await server.login("carol")  # the limit is per connection
    await other.broadcast("not limited by alice")


async def test_failed_logins_lock_out_with_growing_waits(make_server) -> None:
    server = await make_server(login_attempts=2)
    await server.register("alice")
    client = await server.connect()
    for _ in range(2):  # the free attempts
        with pytest.raises(ChatError) as caught:
            await client.login("alice", "wrong password")
        assert caught.value.code == ErrorCode.BAD_CREDENTIALS
    waits = []
    for _ in range(2):
        with pytest.raises(ChatError) as caught:
            await client.login("alice", "wrong password")  # fails, and starts a lockout
        assert caught.value.code == ErrorCode.BAD_CREDENTIALS
        with pytest.raises(ChatError) as caught:
            await client.login("alice", PASSWORD)  # even the right password waits
        assert caught.value.code == ErrorCode.TOO_MANY_ATTEMPTS
        waits.append(caught.value.extra["retry_after"])
        await asyncio.sleep(waits[-1])
    assert waits[0] <= 1.0 < waits[1] <= 2.0  # 1 s, then 2 s
    assert (await client.login("alice", PASSWORD)).username == "alice"


async def test_the_lockout_is_per_address_too(make_server) -> None:
    server = await make_server(login_attempts=2)
    await server.register("alice")
    client = await server.connect()
    for name in ("nobody1", "nobody2", "nobody3"):  # guessing many names from one address
        with pytest.raises(ChatError):
            await client.login(name, "guess")
    with pytest.raises(ChatError) as caught:
        await client.login("alice", PASSWORD)
    assert caught.value.code == ErrorCode.TOO_MANY_ATTEMPTS


async def test_resume_logs_in_with_the_token_and_logout_revokes_it(
    server: RunningServer,
) -> None:
    await server.register("alice")
    first = await server.connect()
    reply = await first.login("alice", PASSWORD)
    assert reply.resume_token and len(reply.resume_token) >= 40
    await first.close()  # dropped, not logged out: the token stays valid

    bob = await server.login("bob")
    await bob.private("alice", "while you reconnected")
    second = await server.connect()
    resumed = await second.resume(reply.resume_token)
    assert (resumed.username, resumed.offline, resumed.resume_token) == ("alice", 1, None)
    assert (await next_push(second, MessagePush)).text == "while you reconnected"
    await second.logout()

    third = await server.connect()
    with pytest.raises(ChatError) as caught:
        await third.resume(reply.resume_token)
    assert caught.value.code == ErrorCode.INVALID_TOKEN


async def test_resume_tokens_survive_a_restart_but_not_their_expiry(make_server) -> None:
    server = await make_server(resume_ttl=0.5)
    await server.register("alice")
    client = await server.connect()
    token = (await client.login("alice", PASSWORD)).resume_token
    await server.restart()
    fresh = await server.connect()
    assert (await fresh.resume(token)).username == "alice"
    await asyncio.sleep(0.6)  # let the token expire: the expiry is the behaviour under test
    late = await server.connect()
    with pytest.raises(ChatError) as caught:
        await late.resume(token)
    assert caught.value.code == ErrorCode.INVALID_TOKEN


async def test_expired_tokens_are_deleted_by_the_upkeep_not_by_each_login(make_server) -> None:
    """A login only adds its token; the server's upkeep (every half `upload_ttl` here)
    deletes those that have expired."""
    server = await make_server(resume_ttl=1, upload_ttl=0.2)
    await server.register("alice")
    client = await server.connect()
    await client.login("alice", PASSWORD)
    assert await server.rows("SELECT COUNT(*) FROM resume_tokens") == [(1,)]
    async with asyncio.timeout(WAIT):
        while await server.rows("SELECT COUNT(*) FROM resume_tokens") != [(0,)]:
            await asyncio.sleep(0.05)


async def token_of(server: RunningServer, name: str) -> str:
    """Log `name` in on a connection of its own; the resume token it was given."""
    client = await server.connect()
    token = (await client.login(name, PASSWORD)).resume_token
    await client.close()
    return token


async def each_resumes(server: RunningServer, names: list[str], tokens: list[str]) -> None:
    for name, token in zip(names, tokens, strict=True):
        client = await server.connect()
        assert (await client.resume(token)).username == name
        await client.close()


async def test_the_upkeeps_token_delete_racing_many_logins_keeps_every_live_token(
    server: RunningServer,
) -> None:
    """The resume-token table under both at once: 40 logins (10 of them cut off right
    after sending their request) while the upkeep's DELETE runs again and again. Every
    token handed out still resumes; the vanished come back; the DELETE takes only what
    has expired."""
    assert server.server is not None
    store = server.server.services.store
    names = [f"racer{n}" for n in range(40)]
    await asyncio.gather(*(server.register(name) for name in names))

    async def vanish(name: str) -> None:
        raw = await server.raw()
        login = {"type": "login", "id": 1, "data": {"username": name, "password": PASSWORD}}
        await raw.send(login)
        raw.writer.transport.abort()  # gone before the reply

    async def upkeep() -> None:
        for _ in range(30):
            await store.forget_resume_tokens(expired_by=time.time())

    staying, gone = names[:30], names[30:]
    results = await asyncio.gather(
        *(token_of(server, name) for name in staying), *(vanish(name) for name in gone), upkeep()
    )
    tokens = [*results[:30], *await asyncio.gather(*(token_of(server, name) for name in gone))]
    await each_resumes(server, names, tokens)
    (rows,) = await server.rows("SELECT COUNT(*) FROM resume_tokens")
    assert rows[0] >= len(tokens)  # the vanished logins' tokens may have been stored too
    await store.forget_resume_tokens(expired_by=time.time() + server.limits.resume_ttl + 60)
    assert await server.rows("SELECT COUNT(*) FROM resume_tokens") == [(0,)]
    client = await server.connect()
    with pytest.raises(ChatError) as caught:
        await client.resume(tokens[0])
    assert caught.value.code == ErrorCode.INVALID_TOKEN
    await client.close()


async def test_tokens_messages_and_accounts_written_at_once_each_keep_their_own(
    server: RunningServer,
) -> None:
    """A batch's resume tokens go in together without savepoints, beside its messages
    (one INSERT) and other writes (each in a savepoint): 20 logins, 20 messages and 10
    registrations at once. Every token resumes, every message is stored once, every
    new account logs in."""
    names = [f"login{n}" for n in range(20)]
    await asyncio.gather(*(server.register(name) for name in names))
    alice = await server.login("alice")

    async def register(name: str) -> None:
        client = await server.connect()
        await client.register(name, PASSWORD)
        await client.close()

    newcomers = [f"new{n}" for n in range(10)]
    tokens, sent, _ = await asyncio.gather(
        asyncio.gather(*(token_of(server, name) for name in names)),
        asyncio.gather(*(alice.broadcast(f"m{n}") for n in range(20))),
        asyncio.gather(*(register(name) for name in newcomers)),
    )
    await each_resumes(server, names, tokens)
    mids = [message.mid for message in sent]
    assert len(set(mids)) == 20
    stored = await server.rows("SELECT text FROM messages WHERE sender = 'alice'")
    assert sorted(text for (text,) in stored) == sorted(f"m{n}" for n in range(20))
    for name in newcomers:
        await (await server.login(name)).close()


async def test_one_batch_of_tokens_messages_and_a_failing_write_keeps_all_but_that(
    server: RunningServer,
) -> None:
    """Queued in one turn of the loop, so committed as one batch: five resume tokens (in one
    trip), five messages (one INSERT) and two accounts, one of them taken (each in a
    savepoint). Only the taken name fails; the rest is stored."""
    assert server.server is not None
    store = server.server.services.store
    await server.register("alice")
    expires = time.time() + 60
    outcomes = await asyncio.gather(
        *(store.add_resume_token(f"{n:064x}", "alice", expires) for n in range(5)),
        *(store.add_message("alice", None, f"batch {n}", mailbox_limit=100) for n in range(5)),
        store.create_user("alice", b"taken"),
        store.create_user("carol", b"new"),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], ChatError)
    assert failed[0].code == ErrorCode.USERNAME_TAKEN
    assert await server.rows("SELECT COUNT(*) FROM resume_tokens") == [(5,)]
    stored = await server.rows("SELECT text FROM messages WHERE text LIKE 'batch %'")
    assert sorted(text for (text,) in stored) == [f"batch {n}" for n in range(5)]
    assert await server.rows("SELECT username FROM users WHERE username = 'carol'") == [("carol",)]


async def test_tokens_are_stored_only_as_hashes(server: RunningServer) -> None:
    await server.register("alice")
    client = await server.connect()
    token = (await client.login("alice", PASSWORD)).resume_token
    files = b"".join(p.read_bytes() for p in server.data_dir.glob("chatroom.db*"))
    assert token.encode() not in files
    assert await server.rows("SELECT COUNT(*) FROM resume_tokens") == [(1,)]


async def test_unknown_tokens_count_as_failed_attempts(make_server) -> None:
    server = await make_server(login_attempts=2)
    client = await server.connect()
    for _ in range(3):
        with pytest.raises(ChatError) as caught:
            await client.resume("guessed-token")
        assert caught.value.code == ErrorCode.INVALID_TOKEN
    with pytest.raises(ChatError) as caught:
        await client.resume("another guess")
    assert caught.value.code == ErrorCode.TOO_MANY_ATTEMPTS


async def test_a_server_whose_log_nobody_reads_keeps_answering(tmp_path: Path) -> None:
    """Standard error is a pipe that fills up (64 KiB) when nobody reads it: the log lines
    wait in a queue for their thread, and the event loop answers on. (Writing them from
    the loop, it stopped answering at the first line that did not fit.)"""
    process = await run_server(
        "--port", "0", "--data-dir", str(tmp_path / "data"), "--bcrypt-cost", "4",
        "--register-burst", "100000", "--register-rate", "100000",
    )  # fmt: skip
    try:
        assert process.stderr is not None
        async with asyncio.timeout(WAIT):
            while not (
                match := re.search(rb"listening on [\d.]+:(\d+)", await process.stderr.readline())
            ):
                pass
        # From here on nobody reads the server's standard error.
        client = await RawConnection.open(int(match.group(1)))
        # A log line each, some 130 bytes: 390 KB, more than the pipe and the reader's
        # buffer on this side hold (64 + 128 KiB).
        for n in range(COUNT := 3000):
            name = f"user{n:04d}_with_a_long_long_name"
            await client.send(
                {"type": "register", "id": n, "data": {"username": name, "password": PASSWORD}}
            )
        async with asyncio.timeout(WAIT * 4):
            for n in range(COUNT):
                assert (await client.receive())["id"] == n
        reply = await client.request({"type": "ping", "id": 99999, "data": {}})
        assert (reply["type"], reply["id"]) == ("ok", 99999)
    finally:
        process.kill()
        await process.communicate()  # (wait() would wait for ever on the paused pipe)
