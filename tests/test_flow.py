"""Abuse that used to cost the server without bound: huge mailboxes, pipelined replies,
announced uploads, dribbled frames, guess and registration floods, a full disk, and
secrets in the logs."""

import asyncio
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from chatroom.bench.spawn import peak_rss_kib
from chatroom.client import ChatClient
from chatroom.common.codec import encode
from chatroom.common.errors import ChatError
from chatroom.common.messages import MessagePush
from chatroom.common.names import username_key
from tests.conftest import (
    PASSWORD,
    TEST_LIMITS,
    WAIT,
    RawConnection,
    RunningServer,
    next_push,
    spawn_server,
)

FAST = ("--message-rate", "1000000", "--message-burst", "1000000")
WIDE = "字" * 4096  # the longest text, 12 KiB of UTF-8


async def user(port: int, name: str) -> ChatClient:
    client = await ChatClient.connect("127.0.0.1", port)
    await client.register(name, PASSWORD)
    await client.login(name, PASSWORD)
    return client


async def fill_mailbox(sender: ChatClient, to: str, count: int) -> None:
    for _ in range(count // 100):
        replies = [sender.submit("private", to=to, text=WIDE) for _ in range(100)]
        await sender.drain()
        await asyncio.gather(*replies)


async def test_a_large_mailbox_reaches_a_reader_that_keeps_reading(make_server) -> None:
    """1,000 offline messages of 12 KiB (12 MB) used to be written at once at login, so
    even a reader at full speed was cut off as a slow consumer, at every reconnect."""
    server = await make_server(message_rate=1e6, message_burst=10**6)
    alice = await server.login("alice")
    await server.register("bob")
    await fill_mailbox(alice, "bob", 1000)
    bob = await server.connect()
    assert (await bob.login("bob", PASSWORD)).offline == 1000
    async with asyncio.timeout(WAIT * 4):
        mids = [(await next_push(bob, MessagePush)).mid for _ in range(1000)]
    assert mids == sorted(set(mids))
    assert bob.closed_reason is None


async def test_logins_that_do_not_read_their_backlog_hold_little_memory(tmp_path: Path) -> None:
    server = await spawn_server(tmp_path, *FAST)
    try:
        alice = await user(server.port, "alice")
        bob = await user(server.port, "bob")
        await bob.close()
        await fill_mailbox(alice, "bob", 1000)
        before = peak_rss_kib(server.process.pid)
        sleepers = [await RawConnection.open(server.port) for _ in range(20)]
        login = {"username": "bob", "password": PASSWORD}
        for sleeper in sleepers:  # each is sent its reply, then as much backlog as fits
            reply = await sleeper.request({"type": "login", "id": 1, "data": login})
            assert reply["data"]["offline"] == 1000
        for _ in range(20):
            await alice.ping()
        growth_mib = (peak_rss_kib(server.process.pid) - before) / 1024
        assert growth_mib < 60, f"20 unread 12 MB backlogs grew the server {growth_mib:.0f} MiB"
        for sleeper in sleepers:
            sleeper.close()
        await alice.close()
    finally:
        await server.stop(signal.SIGTERM)


async def test_pipelined_downloads_wait_for_the_reader(tmp_path: Path) -> None:
    """4,000 file_get in one write used to queue 250 MiB of replies at once."""
    server = await spawn_server(tmp_path)
    try:
        alice = await user(server.port, "alice")
        path = tmp_path / "blob.bin"
        path.write_bytes(os.urandom(1 << 20))
        fid = (await alice.send_file(path)).fid
        reader = await RawConnection.open(server.port)
        login = {"username": "alice", "password": PASSWORD}
        assert (await reader.request({"type": "login", "id": 0, "data": login}))["type"] == "ok"
        before = peak_rss_kib(server.process.pid)
        wanted = 4000
        requests = b"".join(
            encode(
                {
                    "type": "file_get",
                    "id": n + 1,
                    "data": {"fid": fid, "offset": (n % 16) << 16, "length": 1 << 16},
                }
            )
            for n in range(wanted)
        )
        await reader.send_bytes(requests)
        for _ in range(20):  # the server goes on serving others meanwhile
            await alice.ping()
        growth_mib = (peak_rss_kib(server.process.pid) - before) / 1024
        assert growth_mib < 40, f"unread replies grew the server {growth_mib:.0f} MiB"
        async with asyncio.timeout(WAIT * 6):
            for n in range(wanted):
                reply = await reader.receive()
                assert (reply["id"], len(reply["data"]["data"])) == (n + 1, 1 << 16)
        reader.close()
        await alice.close()
    finally:
        await server.stop(signal.SIGTERM)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_announced_uploads_are_capped_and_hold_no_descriptors(make_server) -> None:
    server = await make_server(max_uploads=3)
    users = [await server.login(f"up{n}") for n in range(10)]
    before = open_descriptors()
    for n, client in enumerate(users):
        for k in range(3):
            digest = hashlib.sha256(b"%d-%d" % (n, k)).hexdigest()
            fid = (await client.request("file_put", name="a", size=10, sha256=digest))["fid"]
            await client.request("file_chunk", fid=fid, offset=0, data=b"12345")
    assert open_descriptors() <= before + 2  # thirty half-sent uploads, no file kept open
    with pytest.raises(ChatError) as refused:
        await users[0].request("file_put", name="b", size=10, sha256="0" * 64)
    assert refused.value.code == "too_many_uploads"


async def test_an_abandoned_upload_expires_and_frees_its_quota(make_server) -> None:
    server = await make_server(file_quota=1000, upload_ttl=60)
    alice = await server.login("alice")
    fid = (await alice.request("file_put", name="a", size=800, sha256="a" * 64))["fid"]
    await alice.request("file_chunk", fid=fid, offset=0, data=b"x" * 100)
    part = server.data_dir / "files" / f"{fid}.part"
    assert part.exists()
    with pytest.raises(ChatError) as refused:
        await alice.request("file_put", name="b", size=800, sha256="b" * 64)
    assert refused.value.code == "quota_exceeded"
    assert await server.server.expire_uploads(now=time.time() + 30) == 0  # not stale yet
    assert await server.server.expire_uploads(now=time.time() + 120) == 1
    assert not part.exists()
    assert (await alice.request("file_put", name="b", size=800, sha256="b" * 64))["offset"] == 0


async def test_a_frame_dribbled_after_login_is_cut_at_the_frame_timeout(make_server) -> None:
    server = await make_server(frame_timeout=0.3, idle_timeout=60)
    await server.register("slow")
    raw = await server.raw()
    login = {"username": "slow", "password": PASSWORD}
    assert (await raw.request({"type": "login", "id": 1, "data": login}))["type"] == "ok"
    frame = encode({"type": "ping", "id": 2, "data": {"pad": "x" * 200}})

    async def dribble() -> None:
        for byte in frame:  # a byte every 20 ms: never idle, never done
            raw.writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    dribbling = asyncio.create_task(dribble())
    try:
        async with asyncio.timeout(WAIT):
            while (push := await raw.receive())["type"] != "bye":
                pass
        assert push["data"]["reason"] == "frame_timeout"
        assert await raw.closed_by_server()
    finally:
        dribbling.cancel()


async def test_a_hundred_guesses_at_once_cannot_outrun_the_lockout(make_server) -> None:
    """Attempts count from their start: of a burst of guesses only the free ones are
    checked, then one at a time, each failure locking the name for longer."""
    server = await make_server(login_attempts=5)
    await server.register("alice")
    guessers = [await server.connect() for _ in range(100)]
    checked = 0
    for burst in range(2):
        outcomes = await asyncio.gather(
            *(g.login("alice", f"guess {burst}-{n}") for n, g in enumerate(guessers)),
            return_exceptions=True,
        )
        codes = [o.code for o in outcomes if isinstance(o, ChatError)]
        assert len(codes) == 100 and set(codes) <= {"bad_credentials", "too_many_attempts"}
        checked += codes.count("bad_credentials")
    assert checked <= 6  # five free, then one at a time; the other 194 cost no bcrypt
    owner = await server.connect()
    with pytest.raises(ChatError) as refused:
        await owner.login("alice", PASSWORD)
    assert refused.value.code == "too_many_attempts"


async def test_guesses_from_clients_that_vanish_still_count(make_server) -> None:
    server = await make_server(login_attempts=2)
    await server.register("alice")
    throttle, key = server.server.services.throttle, f"user:{username_key('alice')}"
    for n in range(3):
        raw = await server.raw()
        guess = {"username": "alice", "password": f"wrong {n}"}
        await raw.send({"type": "login", "id": 1, "data": guess})
        raw.close()  # gone before the answer
        async with asyncio.timeout(WAIT):
            while throttle.failures(key) < n + 1:  # checked after the client has gone
                await asyncio.sleep(0.01)
    owner = await server.connect()  # two free failures spent, the third locked the name
    with pytest.raises(ChatError) as refused:
        await owner.login("alice", PASSWORD)
    assert refused.value.code == "too_many_attempts"


async def test_registrations_from_one_address_are_rate_limited(make_server) -> None:
    server = await make_server(register_burst=3, register_rate=0.001)
    client = await server.connect()
    for n in range(3):
        await client.register(f"new{n}", PASSWORD)
    with pytest.raises(ChatError) as refused:
        await client.register("new3", PASSWORD)
    assert refused.value.code == "rate_limited" and refused.value.extra["retry_after"] > 100


async def test_a_login_is_not_queued_behind_a_registration_flood(make_server) -> None:
    server = await make_server(bcrypt_cost=9)  # ~30 ms a hash: 30 of them take a second
    await server.register("early")
    clients = [await server.connect() for _ in range(30)]
    registering = [
        asyncio.create_task(c.register(f"flood{n}", PASSWORD)) for n, c in enumerate(clients)
    ]
    async with asyncio.timeout(WAIT):
        while not server.server.services.passwords.running:
            await asyncio.sleep(0.001)  # until the first hash has started in its thread
    owner = await server.connect()
    assert (await owner.login("early", PASSWORD)).username == "early"
    done = sum(task.done() for task in registering)
    assert done < 10, f"the login waited for {done} of 30 registrations"
    await asyncio.gather(*registering)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB file system of its own (tmpfs), so the test can fill it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("filling a disk needs a tmpfs mount, which needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_is_logged_once_and_loses_nothing(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RunningServer(small_disk / "data", TEST_LIMITS)
    await server.start()
    try:
        alice = await server.login("alice")
        await server.register("bob")
        acked = [(await alice.broadcast(f"before {n}")).mid for n in range(10)]
        filler = fill(small_disk)
        codes = []
        for n in range(20):
            try:
                acked.append((await alice.broadcast(f"during {n} " + "x" * 4000)).mid)
            except ChatError as err:
                codes.append(err.code)
        assert codes and set(codes) == {"storage_full"}
        bob = await server.connect()
        with pytest.raises(ChatError) as refused:  # no token it could not store
            await bob.login("bob", PASSWORD)
        assert refused.value.code == "storage_full"
        full_lines = [r for r in caplog.records if "storage full" in r.getMessage()]
        assert len(full_lines) == 1
        assert not any(r.exc_info for r in caplog.records)  # no traceback per refusal
        filler.unlink()
        acked.append((await alice.broadcast("after")).mid)
        token = (await bob.login("bob", PASSWORD)).resume_token
        assert (await (await server.connect()).resume(token)).username == "bob"
        assert any("room again" in r.getMessage() for r in caplog.records)
        await server.restart()
        again = await server.connect()
        await again.login("alice", PASSWORD)
        acked.append((await again.broadcast("after a restart")).mid)
    finally:
        await server.stop()
    with sqlite3.connect(small_disk / "data" / "chatroom.db") as db:
        stored = {mid for (mid,) in db.execute("SELECT mid FROM messages")}
    assert set(acked) <= stored


async def test_an_upload_cut_short_by_a_full_disk_resumes_once_there_is_room(
    small_disk: Path, tmp_path: Path
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(2 * 1024 * 1024))
    server = RunningServer(small_disk / "data", TEST_LIMITS)
    await server.start()
    try:
        alice = await server.login("alice")
        bob = await server.login("bob")
        filler = fill(small_disk)
        # Leave room for part of the file, ending inside a chunk: a short write, then none.
        os.truncate(filler, max(0, filler.stat().st_size - 1024 * 1024 - 1000))
        with pytest.raises(ChatError) as refused:
            await alice.send_file(payload, "bob", cid="upload-1")
        assert refused.value.code == "storage_full"
        filler.unlink()
        sent = await alice.send_file(payload, "bob", cid="upload-1")
        saved = await bob.download(sent.fid, tmp_path / "downloads")
        assert saved.read_bytes() == payload.read_bytes()
        stored = (small_disk / "data" / "files" / str(sent.fid)).read_bytes()
        assert stored == payload.read_bytes()
    finally:
        await server.stop()


async def test_debug_logs_hold_no_passwords_hashes_tokens_or_texts(tmp_path: Path) -> None:
    server = await spawn_server(tmp_path, "--log-level", "DEBUG")
    secret_password = "swordfish-9F2k"
    alice = await ChatClient.connect("127.0.0.1", server.port)
    await alice.register("alice", secret_password)
    reply = await alice.login("alice", secret_password)
    bob = await user(server.port, "bob")
    await alice.private("bob", "the launch code is 0000")
    await next_push(bob, MessagePush)
    await alice.close()
    await bob.close()
    await server.stop(signal.SIGTERM)
    log = "".join(server.log)
    assert "register alice" in log  # it did log, at DEBUG
    for secret in (secret_password, "launch code", reply.resume_token, "$2b$"):
        assert secret and secret not in log
