"""What got an `ok` is stored once and delivered once, however requests race or repeat.

Many clients hit each shared thing at once (the write transaction, a username, a quota,
a mailbox), and clients vanish mid-request and come back with the same request.
"""

import asyncio
import hashlib
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError
from chatroom.common.messages import FilePush, MessagePush
from chatroom.server.store.sql import DATABASE_NAME
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push, spawn_server

FAST = {"message_rate": 1e6, "message_burst": 10**6}


def rows(data_dir: Path, sql: str, *params: Any) -> list[tuple]:
    """Read the server's database as it is on disk (committed rows only)."""
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return db.execute(sql, params).fetchall()


async def until(condition: Any) -> None:
    """Wait (bounded) until `condition()` is true; for state outside any socket."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


async def test_racing_registrations_never_undo_anyone_elses_messages(make_server) -> None:
    """150 registrations of one name while 20 users flood the group: before the writer
    owned every transaction, the losers' rollbacks undid others' acknowledged messages."""
    server = await make_server(**FAST)
    senders = [await server.login(f"sender{n}") for n in range(20)]
    acked: dict[int, str] = {}
    storm_over = asyncio.Event()

    async def flood(number: int, client: ChatClient) -> None:
        turn = 0
        while not storm_over.is_set():
            texts = [f"{number}-{turn + i}" for i in range(20)]
            turn += 20
            replies = [client.submit("broadcast", text=text) for text in texts]
            for text, reply in zip(texts, replies, strict=True):
                mid = (await reply)["mid"]
                assert acked.setdefault(mid, text) == text, f"mid {mid} given to two texts"

    async def register(name: str) -> str | None:
        client = await server.connect()
        try:
            await client.register(name, PASSWORD)
            return name
        except ChatError as err:
            assert err.code == "username_taken"
            return None
        finally:
            await client.close()

    floods = [asyncio.create_task(flood(n, c)) for n, c in enumerate(senders)]
    async with asyncio.timeout(60):
        names = ["victim"] * 150 + [f"fresh{n}" for n in range(30)]
        registered = await asyncio.gather(*(register(name) for name in names))
    storm_over.set()
    await asyncio.gather(*floods)

    assert registered.count("victim") == 1
    assert len(acked) > 1000
    stored = dict(await server.rows("SELECT mid, text FROM messages"))
    missing = {mid: text for mid, text in acked.items() if stored.get(mid) != text}
    assert not missing, f"{len(missing)} acknowledged messages missing or changed"
    for name in {name for name in registered if name}:
        client = await server.connect()
        assert (await client.login(name, PASSWORD)).username == name


async def raw_login(server: RunningServer, name: str) -> Any:
    raw = await server.raw()
    reply = await raw.request(
        {"type": "login", "id": 1, "data": {"username": name, "password": PASSWORD}}
    )
    assert reply["type"] == "ok", reply
    return raw


async def test_a_private_resent_after_a_lost_ok_is_stored_and_delivered_once(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    request = {"type": "private", "id": 2, "data": {"to": "bob", "text": "once", "cid": "c-1"}}
    first = await raw_login(server, "alice")
    await first.send(request)
    first.close()  # gone before the ok could be read
    again = await raw_login(server, "alice")
    reply = await again.request(request)
    assert reply["type"] == "ok"
    # Anything delivered twice would reach bob before this.
    second = await again.request({"type": "private", "id": 3, "data": {"to": "bob", "text": "end"}})
    assert second["type"] == "ok"
    seen = []
    async with asyncio.timeout(WAIT):
        while (push := await next_push(bob, MessagePush)).text != "end":
            seen.append(push.text)
    assert seen == ["once"]
    stored = await server.rows("SELECT mid FROM messages WHERE text = 'once'")
    assert stored == [(reply["data"]["mid"],)]


async def test_a_repeated_cid_gets_the_original_answer_and_nothing_more(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    first = await alice.request("broadcast", text="hello", cid="x1")
    repeat = await alice.request("broadcast", text="hello", cid="x1")
    assert repeat == first | {"duplicate": True}
    other = await alice.request("broadcast", text="hello", cid="x2")
    assert other["mid"] > first["mid"]
    pushes = [await next_push(bob, MessagePush), await next_push(bob, MessagePush)]
    assert [p.mid for p in pushes] == [first["mid"], other["mid"]]
    # A cid is the sender's own: bob's "x1" is a new message.
    assert (await bob.request("broadcast", text="mine", cid="x1"))["mid"] > other["mid"]


async def test_the_same_cid_sent_many_times_at_once_is_stored_once(server: RunningServer) -> None:
    alice = await server.login("alice")
    await server.register("bob")
    replies = await asyncio.gather(
        *(alice.request("private", to="bob", text="burst", cid="same") for _ in range(30))
    )
    assert len({reply["mid"] for reply in replies}) == 1
    assert sum(1 for reply in replies if not reply.get("duplicate")) == 1
    assert await server.rows("SELECT COUNT(*) FROM messages WHERE text = 'burst'") == [(1,)]


async def test_a_cid_must_be_a_short_string(server: RunningServer) -> None:
    alice = await server.login("alice")
    for cid in (7, "", "x" * 65, ["a"]):
        with pytest.raises(ChatError) as caught:
            await alice.request("broadcast", text="hi", cid=cid)
        assert caught.value.code == "bad_request"


async def test_a_message_committed_just_before_a_sigkill_is_not_stored_again(
    tmp_path: Path,
) -> None:
    server = await spawn_server(tmp_path)
    for name in ("alice", "bob"):
        client = await ChatClient.connect("127.0.0.1", server.port)
        await client.register(name, PASSWORD)
        await client.close()
    raw = await ChatClient.connect("127.0.0.1", server.port)
    await raw.login("alice", PASSWORD)
    raw.submit("private", to="bob", text="survivor", cid="k-1")  # the ok is never read
    query = "SELECT mid FROM messages WHERE text = 'survivor'"
    await until(lambda: rows(tmp_path, query))
    assert await server.stop(signal.SIGKILL) == -signal.SIGKILL
    await raw.close()

    server = await spawn_server(tmp_path)
    try:
        alice = await ChatClient.connect("127.0.0.1", server.port)
        await alice.login("alice", PASSWORD)
        reply = await alice.request("private", to="bob", text="survivor", cid="k-1")
        assert reply["duplicate"] is True
        assert rows(tmp_path, query) == [(reply["mid"],)]
        bob = await ChatClient.connect("127.0.0.1", server.port)
        assert (await bob.login("bob", PASSWORD)).offline == 1
        assert (await next_push(bob, MessagePush)).mid == reply["mid"]
        await alice.close()
        await bob.close()
    finally:
        await server.stop(signal.SIGTERM)


def write_file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(hashlib.sha256(name.encode()).digest() * (size // 32) + b"x" * (size % 32))
    return path


async def test_a_file_sent_again_with_its_cid_is_stored_and_counted_once(
    make_server, tmp_path: Path
) -> None:
    server = await make_server(file_quota=300_000)
    alice = await server.login("alice")
    bob = await server.login("bob")
    path = write_file(tmp_path, "report.pdf", 200_000)
    first = await alice.send_file(path, "bob", cid="f-1")
    again = await alice.send_file(path, "bob", cid="f-1")
    assert (again.fid, again.mid) == (first.fid, first.mid)
    assert await server.rows("SELECT COUNT(*), SUM(size) FROM files") == [(1, 200_000)]
    push = await next_push(bob, FilePush)
    assert push.fid == first.fid
    await alice.broadcast("sentinel")
    after = await next_push(bob, (FilePush, MessagePush))
    assert isinstance(after, MessagePush) and after.text == "sentinel"  # no second file push


async def test_racing_uploads_cannot_overrun_the_quota(make_server, tmp_path: Path) -> None:
    server = await make_server(file_quota=1_000_000)
    await server.register("alice")
    connections = [await server.login("alice") for _ in range(5)]  # one request each, at once
    puts = [
        alice.request(
            "file_put", name=f"f{n}", size=300_000, sha256=hashlib.sha256(b"%d" % n).hexdigest()
        )
        for n, alice in enumerate(connections)
    ]
    outcomes = await asyncio.gather(*puts, return_exceptions=True)
    accepted = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, ChatError)]
    assert len(accepted) == 3 and len(refused) == 2
    assert {err.code for err in refused} == {"quota_exceeded"}
    reserved = await server.rows("SELECT SUM(size) FROM files WHERE sender = 'alice'")
    assert reserved == [(900_000,)]


async def test_resuming_an_upload_while_its_last_chunk_completes_it_is_clean(
    server: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    data = bytes(range(256)) * 4096 * 4  # 4 MiB: the final fsync takes a moment
    digest = hashlib.sha256(data).hexdigest()
    put = {"to": "bob", "name": "big.bin", "size": len(data), "sha256": digest}
    fid = (await alice.request("file_put", **put))["fid"]
    other = await server.connect()
    await other.login("alice", PASSWORD)
    *first, end = range(0, len(data), 65536)
    for offset in first:
        await alice.request(
            "file_chunk", fid=fid, offset=offset, data=data[offset : offset + 65536]
        )
    finishing = alice.submit("file_chunk", fid=fid, offset=end, data=data[end:])
    resumed = other.submit("file_put", **put)  # while the first connection finishes it
    last, second = await asyncio.gather(finishing, resumed, return_exceptions=True)
    assert isinstance(second, dict), second
    assert "server_error" not in repr(last) and not any(
        r.levelname == "ERROR" for r in caplog.records
    )
    assert second["fid"] == fid
    mids = {reply["mid"] for reply in (last, second) if isinstance(reply, dict) and "mid" in reply}
    assert len(mids) == 1
    assert await server.rows("SELECT COUNT(*) FROM messages WHERE fid = ?", fid) == [(1,)]
    assert (await next_push(bob, FilePush)).fid == fid


async def test_a_full_mailbox_refuses_more_until_its_owner_reads(make_server) -> None:
    server = await make_server(mailbox_limit=10, **FAST)
    await server.register("bob")
    senders = [await server.login(f"fan{n}") for n in range(10)]
    outcomes = await asyncio.gather(
        *(s.private("bob", f"{n}-{i}") for n, s in enumerate(senders) for i in range(3)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, ChatError)]
    assert len(outcomes) - len(refused) == 10
    assert {err.code for err in refused} == {"mailbox_full"}
    assert await server.rows("SELECT COUNT(*) FROM messages WHERE recipient = 'bob'") == [(10,)]
    # Group messages are not bounded, and do not count.
    await senders[0].broadcast("to everyone")
    bob = await server.connect()
    assert (await bob.login("bob", PASSWORD)).offline == 11
    newest = 0
    for _ in range(11):
        newest = max(newest, (await next_push(bob, MessagePush)).mid)
    await bob.ack(newest)
    assert (await senders[0].private("bob", "room again")).mid > newest
