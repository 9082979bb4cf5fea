"""File transfers against a fake link (no sockets): naming, hashing, resuming, checking."""

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from chatroom.client.replies import ServerLimits
from chatroom.client.transfers import (
    claim_name,
    download_file,
    hasher_of_file,
    part_path,
    sha256_of_file,
    upload_file,
)
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import FileInfo, RequestType


class FakeLink:
    """Answers file requests from memory at once, and keeps every request it was sent."""

    def __init__(self, content: bytes = b"", chunk_size: int = 4) -> None:
        self.content = content
        self.chunk_size = chunk_size
        self.limits = ServerLimits()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.received = 0

    async def request(self, kind: str, **data: Any) -> dict[str, Any]:
        return await self.submit(kind, **data)

    def submit(self, kind: str, **data: Any) -> "asyncio.Future[dict[str, Any]]":
        self.requests.append((kind, data))
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        reply.set_result(self.answer(kind, data))
        return reply

    async def drain(self) -> None:
        pass

    def answer(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        if kind == RequestType.FILE_PUT:
            return {"fid": 7, "offset": 0, "complete": data["size"] == 0, "mid": 70}
        if kind == RequestType.FILE_CHUNK:
            self.received += len(data["data"])
            return {"received": self.received, "mid": 70}
        start = data["offset"]
        return {"data": self.content[start : start + data["length"]]}


def info_of(content: bytes, name: str = "notes.txt") -> FileInfo:
    digest = hashlib.sha256(content).hexdigest()
    return FileInfo(7, 70, "alice", None, name, len(content), digest)


def test_a_finished_download_takes_the_first_free_name(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("older")
    (tmp_path / "notes (1).txt").write_text("older still")
    part = tmp_path / ".notes.txt.part"
    part.write_text("new")

    claimed = claim_name(part, tmp_path, "notes.txt")

    assert claimed == tmp_path / "notes (2).txt"
    assert claimed.read_text() == "new"
    assert not part.exists()
    assert (tmp_path / "notes.txt").read_text() == "older"


def test_a_missing_file_hashes_as_nothing_and_a_hasher_goes_on_where_the_file_ends(
    tmp_path: Path,
) -> None:
    assert sha256_of_file(tmp_path / "absent") == hashlib.sha256().hexdigest()
    (tmp_path / "half").write_bytes(b"hello ")
    hasher = hasher_of_file(tmp_path / "half")
    hasher.update(b"world")
    assert hasher.hexdigest() == hashlib.sha256(b"hello world").hexdigest()


async def test_an_upload_sends_the_file_in_chunks_and_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"0123456789")
    link = FakeLink(chunk_size=4)
    progress: list[tuple[int, int]] = []

    sent = await upload_file(
        link, path, "bob", cid="c1", progress=lambda *p: progress.append(p), window=2
    )

    assert (sent.fid, sent.mid, sent.size) == (7, 70, 10)
    kind, put = link.requests[0]
    assert kind == RequestType.FILE_PUT
    assert put == {
        "to": "bob",
        "name": "notes.txt",
        "size": 10,
        "sha256": hashlib.sha256(b"0123456789").hexdigest(),
        "cid": "c1",
    }
    chunks = [(data["offset"], data["data"]) for kind, data in link.requests[1:]]
    assert chunks == [(0, b"0123"), (4, b"4567"), (8, b"89")]
    assert progress[-1] == (10, 10)


async def test_a_download_resumes_from_its_part_file_and_takes_the_senders_name(
    tmp_path: Path,
) -> None:
    content = b"the whole file"
    info = info_of(content)
    part_path(tmp_path, "notes.txt", info.sha256).write_bytes(content[:6])
    link = FakeLink(content, chunk_size=4)

    path = await download_file(link, info, tmp_path, progress=None, window=2)

    assert path == tmp_path / "notes.txt"
    assert path.read_bytes() == content
    assert [data["offset"] for _, data in link.requests] == [6, 10]
    assert list(tmp_path.iterdir()) == [path]


async def test_a_damaged_download_is_deleted_and_reported(tmp_path: Path) -> None:
    info = info_of(b"what was sent")
    link = FakeLink(b"what arrived!", chunk_size=64)

    with pytest.raises(ChatError) as raised:
        await download_file(link, info, tmp_path, progress=None, window=2)

    assert raised.value.code == ErrorCode.CHECKSUM_MISMATCH
    assert list(tmp_path.iterdir()) == []
