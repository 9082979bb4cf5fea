"""File transfer end to end: uploads, pushes, downloads, resumes, limits and hostile names."""

import hashlib
import os
from pathlib import Path

import pytest

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import display_name
from chatroom.common.limits import FILE_NAME_MAX, MAX_CHUNK
from chatroom.common.messages import FilePush, MessagePush
from tests.conftest import PASSWORD, RunningServer, next_push


def make_file(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("size", [0, 1, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 5 * 1024 * 1024])
async def test_private_file_round_trip_is_byte_exact(
    server: RunningServer, tmp_path: Path, size: int
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    source = make_file(tmp_path, "data.bin", size)
    seen: list[tuple[int, int]] = []
    sent = await alice.send_file(
        source, "bob", progress=lambda done, total: seen.append((done, total))
    )
    assert seen[-1] == (size, size)

    push = await next_push(bob, FilePush)
    assert (push.fid, push.mid, push.sender, push.to) == (sent.fid, sent.mid, "alice", "bob")
    assert (push.name, push.size, push.sha256, push.offline) == (
        "data.bin",
        size,
        sha256(source),
        False,
    )

    saved = await bob.download(push.fid, tmp_path / "downloads")
    assert saved == tmp_path / "downloads" / "data.bin"
    assert saved.read_bytes() == source.read_bytes()
    assert [p.name for p in saved.parent.iterdir()] == ["data.bin"]  # no .part left behind


async def test_group_file_reaches_everyone_else(server: RunningServer, tmp_path: Path) -> None:
    alice = await server.login("alice")
    receivers = [await server.login("bob"), await server.login("carol")]
    source = make_file(tmp_path, "notes.txt", 3000)
    sent = await alice.send_file(source)
    for number, receiver in enumerate(receivers):
        push = await next_push(receiver, FilePush)
        assert (push.fid, push.to) == (sent.fid, None)
        saved = await receiver.download(push.fid, tmp_path / f"r{number}")
        assert saved.read_bytes() == source.read_bytes()


async def test_offline_recipient_gets_the_file_at_login(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    source = make_file(tmp_path, "report.pdf", 200_000)
    sent = await alice.send_file(source, "bob")
    bob = await server.connect()
    assert (await bob.login("bob", PASSWORD)).offline == 1
    push = await next_push(bob, FilePush)
    assert (push.fid, push.mid, push.offline, push.name) == (sent.fid, sent.mid, True, "report.pdf")
    saved = await bob.download(push.fid, tmp_path / "in")
    assert sha256(saved) == sha256(source)
    await bob.ack(push.mid)
    again = await server.connect()
    assert (await again.login("bob", PASSWORD)).offline == 0


async def test_an_upload_dropped_midway_resumes_where_it_stopped(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("bob")
    source = make_file(tmp_path, "big.bin", 10 * MAX_CHUNK + 123)
    content = source.read_bytes()
    first = await server.login("alice")
    put = await first.request(
        "file_put", to="bob", name="big.bin", size=len(content), sha256=sha256(source)
    )
    assert put["offset"] == 0
    for offset in range(0, 4 * MAX_CHUNK, MAX_CHUNK):
        chunk = content[offset : offset + MAX_CHUNK]
        await first.request("file_chunk", fid=put["fid"], offset=offset, data=chunk)
    await first.close()  # the connection drops after 4 chunks

    second = await server.login("alice")
    resumed = await second.request(
        "file_put", to="bob", name="big.bin", size=len(content), sha256=sha256(source)
    )
    assert (resumed["fid"], resumed["offset"]) == (put["fid"], 4 * MAX_CHUNK)
    progress: list[int] = []
    sent = await second.send_file(source, "bob", progress=lambda done, _: progress.append(done))
    assert sent.fid == put["fid"]
    assert progress[0] == 5 * MAX_CHUNK  # the first chunk sent again was the fifth
    bob = await server.login("bob")
    saved = await bob.download(sent.fid, tmp_path / "in")
    assert saved.read_bytes() == content


async def test_a_download_dropped_midway_resumes_where_it_stopped(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await server.login("alice")
    source = make_file(tmp_path, "movie.bin", 40 * MAX_CHUNK)
    sent = await alice.send_file(source)
    bob = await server.login("bob")
    dest = tmp_path / "in"

    def drop_after_ten_chunks(done: int, total: int) -> None:
        if done >= 10 * MAX_CHUNK:
            bob._writer.transport.abort()  # the link dies mid-download

    with pytest.raises(ConnectionError):
        await bob.download(sent.fid, dest, progress=drop_after_ten_chunks, window=2)
    partial = [p for p in dest.iterdir()]
    assert len(partial) == 1 and partial[0].name.endswith(".part")
    held = partial[0].stat().st_size
    assert 10 * MAX_CHUNK <= held < source.stat().st_size

    bob = await server.login("bob")
    progress: list[int] = []
    saved = await bob.download(sent.fid, dest, progress=lambda done, _: progress.append(done))
    assert progress[0] == held + MAX_CHUNK
    assert saved.read_bytes() == source.read_bytes()


async def test_a_checksum_mismatch_discards_the_upload(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    put = await alice.request("file_put", to="bob", name="x.bin", size=5, sha256="0" * 64)
    with pytest.raises(ChatError) as caught:
        await alice.request("file_chunk", fid=put["fid"], offset=0, data=b"hello")
    assert caught.value.code == ErrorCode.CHECKSUM_MISMATCH
    with pytest.raises(ChatError) as caught:
        await bob.request("file_get", fid=put["fid"], offset=0, length=5)
    assert caught.value.code == ErrorCode.NO_SUCH_FILE
    marker = await alice.private("bob", "marker")
    # No file push came before it (presence news, which may, is not what is looked at).
    assert (await next_push(bob, (MessagePush, FilePush))).mid == marker.mid
    assert not any((server.data_dir / "files").iterdir())


async def test_an_oversized_file_is_refused_before_any_byte(make_server, tmp_path: Path) -> None:
    server = await make_server(max_file_size=1000)
    alice = await server.login("alice")
    with pytest.raises(ChatError) as caught:
        await alice.send_file(make_file(tmp_path, "big", 1001), None)
    assert caught.value.code == ErrorCode.FILE_TOO_LARGE
    assert caught.value.extra["max_file_size"] == 1000
    assert (await alice.send_file(make_file(tmp_path, "ok", 1000), None)).size == 1000


async def test_the_storage_quota_is_per_user(make_server, tmp_path: Path) -> None:
    server = await make_server(file_quota=100_000)
    alice = await server.login("alice")
    bob = await server.login("bob")
    await alice.send_file(make_file(tmp_path, "one", 60_000))
    with pytest.raises(ChatError) as caught:
        await alice.send_file(make_file(tmp_path, "two", 60_000))
    assert caught.value.code == ErrorCode.QUOTA_EXCEEDED
    assert (await bob.send_file(make_file(tmp_path, "three", 60_000))).size == 60_000


async def test_only_sender_and_recipient_may_fetch_a_private_file(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await server.login("alice")
    await server.register("bob")
    carol = await server.login("carol")
    sent = await alice.send_file(make_file(tmp_path, "secret.txt", 100), "bob")
    for request in (
        carol.request("file_get", fid=sent.fid, offset=0, length=100),
        carol.request("file_info", fid=sent.fid),
    ):
        with pytest.raises(ChatError) as caught:
            await request
        assert caught.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(ChatError) as caught:
        await carol.request("file_get", fid=9999, offset=0, length=100)
    assert caught.value.code == ErrorCode.NO_SUCH_FILE
    assert (await alice.file_info(sent.fid)).name == "secret.txt"  # the sender may


async def test_chunks_of_someone_elses_upload_are_refused(server: RunningServer) -> None:
    alice = await server.login("alice")
    mallory = await server.login("mallory")
    put = await alice.request("file_put", to=None, name="a", size=10, sha256="0" * 64)
    with pytest.raises(ChatError) as caught:
        await mallory.request("file_chunk", fid=put["fid"], offset=0, data=b"x" * 10)
    assert caught.value.code == ErrorCode.NO_SUCH_FILE


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("evil\x00name.txt", "evil name.txt"),
        ("two\nlines.txt", "two lines.txt"),
        ("..", "file"),
        ("x" * 300 + ".tar.gz", "x" * (FILE_NAME_MAX - 3) + ".gz"),
    ],
)
async def test_hostile_names_are_sanitised_and_stay_in_the_folder(
    server: RunningServer, tmp_path: Path, name: str, shown: str
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    content = b"payload"
    digest = hashlib.sha256(content).hexdigest()
    put = await alice.request("file_put", to="bob", name=name, size=len(content), sha256=digest)
    await alice.request("file_chunk", fid=put["fid"], offset=0, data=content)
    push = await next_push(bob, FilePush)
    assert push.name == shown
    dest = tmp_path / "downloads"
    saved = await bob.download(push.fid, dest)
    assert saved.parent == dest and saved.name == shown
    assert saved.read_bytes() == content
    stored = [p.name for p in (server.data_dir / "files").iterdir()]
    assert stored == [str(push.fid)]  # the server's copy is named by fid only


async def test_a_download_never_overwrites(server: RunningServer, tmp_path: Path) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    sent = await alice.send_file(make_file(tmp_path, "photo.jpg", 500), "bob")
    dest = tmp_path / "in"
    dest.mkdir()
    (dest / "photo.jpg").write_bytes(b"mine, keep it")
    first = await bob.download(sent.fid, dest)
    second = await bob.download(sent.fid, dest)
    assert (first.name, second.name) == ("photo (1).jpg", "photo (2).jpg")
    assert (dest / "photo.jpg").read_bytes() == b"mine, keep it"


async def test_file_requests_check_their_fields(server: RunningServer) -> None:
    alice = await server.login("alice")
    bad = [
        ("file_put", {"to": None, "name": "a", "size": -1, "sha256": "0" * 64}),
        ("file_put", {"to": None, "name": "a", "size": 1, "sha256": "xyz"}),
        ("file_put", {"to": None, "name": 5, "size": 1, "sha256": "0" * 64}),
        ("file_chunk", {"fid": 1, "offset": 0, "data": "text, not bin"}),
        ("file_get", {"fid": 1, "offset": 0, "length": MAX_CHUNK + 1}),
    ]
    for kind, data in bad:
        with pytest.raises(ChatError) as caught:
            await alice.request(kind, **data)
        assert caught.value.code == ErrorCode.BAD_REQUEST, (kind, data)
    put = await alice.request("file_put", to=None, name="a", size=1, sha256="0" * 64)
    with pytest.raises(ChatError) as caught:
        await alice.request("file_chunk", fid=put["fid"], offset=0, data=b"x" * (MAX_CHUNK + 1))
    assert caught.value.code == ErrorCode.BAD_REQUEST


async def test_a_small_max_frame_shrinks_max_chunk_to_what_one_frame_can_carry(
    make_server,
) -> None:
    server = await make_server(max_frame=8192)
    await server.register("bob")
    raw = await server.raw()
    hello = await raw.request({"type": "hello", "id": 1, "data": {"version": 1}})
    max_chunk = hello["data"]["limits"]["max_chunk"]
    assert 0 < max_chunk < 8192
    login = {"type": "login", "id": 2, "data": {"username": "bob", "password": PASSWORD}}
    assert (await raw.request(login))["type"] == "ok"
    put = {"to": None, "name": "f", "size": 3 * max_chunk, "sha256": "0" * 64}
    fid = (await raw.request({"type": "file_put", "id": 3, "data": put}))["data"]["fid"]

    # The widest id msgpack has: a whole chunk must fit in a frame whatever the id.
    full = {"fid": fid, "offset": 0, "data": b"x" * max_chunk}
    reply = await raw.request({"type": "file_chunk", "id": 2**64 - 1, "data": full})
    assert (reply["type"], reply["data"]["received"]) == ("ok", max_chunk)

    over = {"fid": fid, "offset": max_chunk, "data": b"x" * (max_chunk + 1)}
    reply = await raw.request({"type": "file_chunk", "id": 5, "data": over})
    assert (reply["type"], reply["data"]["code"]) == ("error", "bad_request")
    assert (await raw.request({"type": "ping", "id": 6}))["type"] == "ok"  # still open


async def test_files_and_messages_share_one_mid_order(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("bob")
    alice = await server.login("alice")
    first = await alice.private("bob", "before the file")
    sent = await alice.send_file(make_file(tmp_path, "f", 10), "bob")
    last = await alice.private("bob", "after the file")
    bob = await server.connect()
    await bob.login("bob", PASSWORD)
    pushes = [await next_push(bob, MessagePush | FilePush) for _ in range(3)]
    assert [p.mid for p in pushes] == [first.mid, sent.mid, last.mid]


def test_display_name_keeps_ordinary_names() -> None:
    assert display_name("Résumé 2026.pdf") == "Résumé 2026.pdf"
    assert display_name(".bashrc") == ".bashrc"
    assert display_name("") == "file"


async def test_an_upload_finished_after_its_sender_was_muted_or_blocked_is_not_sent(
    server: RunningServer,
) -> None:
    """What file_put checks is checked again as the upload completes: an upload can take
    minutes, and be resumed hours later, and its sender may have been muted, taken out of
    the room or blocked meanwhile. The bytes are kept until the upload expires: a
    file_put again completes it once it is allowed."""
    rooms = ["rooms"]
    alice = await server.login("alice", features=rooms)
    bob = await server.login("bob", features=rooms)
    carol = await server.login("carol", features=rooms)
    await alice.request("room_create", room="class")
    await bob.request("room_join", room="class")
    data = b"0123456789"
    digest = hashlib.sha256(data).hexdigest()
    into_room = {"room": "class", "name": "notes.txt", "size": len(data), "sha256": digest}
    put = await bob.request("file_put", **into_room)
    await bob.request("file_chunk", fid=put["fid"], offset=0, data=data[:5])
    await alice.request("mute", username="bob", room="class", seconds=600)
    with pytest.raises(ChatError) as error:
        await bob.request("file_chunk", fid=put["fid"], offset=5, data=data[5:])
    assert error.value.code == ErrorCode.MUTED
    assert (await alice.request("history", room="class"))["messages"] == []
    await alice.request("unmute", username="bob", room="class")
    done = await bob.request("file_put", **into_room)  # the same upload, whole: now sent
    assert done["fid"] == put["fid"] and done["complete"] is True
    assert (await next_push(alice, FilePush)).fid == put["fid"]

    private = {"to": "carol", "name": "notes.txt", "size": len(data), "sha256": digest}
    put = await bob.request("file_put", **private)
    await bob.request("file_chunk", fid=put["fid"], offset=0, data=data[:5])
    await carol.request("block", username="bob")
    with pytest.raises(ChatError) as error:
        await bob.request("file_chunk", fid=put["fid"], offset=5, data=data[5:])
    assert error.value.code == ErrorCode.FORBIDDEN
    assert (await carol.request("history", **{"with": "bob"}))["messages"] == []
