"""File transfers over a client connection: uploads and downloads in chunks, a window of
them in flight, resumed where an interrupted transfer stopped, checked by SHA-256.

The functions here need only a `Link` (send a request, submit one without waiting, drain),
so they know nothing of sockets; `FileRequests` makes them `ChatClient` methods.
"""

import asyncio
import contextlib
import hashlib
import itertools
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chatroom.client.replies import ServerLimits
from chatroom.common.envelope import new_cid
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import display_name, too_large
from chatroom.common.messages import FileInfo, RequestType
from chatroom.common.readable import Unreadable, read, reading, shown

FILE_WINDOW = 16
"""File chunks kept in flight at once (16 x 64 KiB = 1 MiB)."""

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer advances."""


class Link(Protocol):
    """What a transfer needs of a connection (`ChatClient` is one)."""

    chunk_size: int
    """Bytes of file data per request."""
    limits: ServerLimits
    """The server's, from `hello` (its `max_file_size`: the largest file it takes)."""

    async def request(self, kind: str, **data: Any) -> dict[str, Any]: ...

    def submit(self, kind: str, **data: Any) -> "asyncio.Future[dict[str, Any]]": ...

    async def drain(self) -> None: ...


class Hasher(Protocol):
    """A hashlib hasher (whose own type has no public name)."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(slots=True, frozen=True)
class FileSent:
    fid: int
    mid: int
    """The message that announced the file to its recipients."""
    size: int


def sha256_of_file(path: Path) -> str:
    """The hex SHA-256 of a file's content (of nothing if it does not exist)."""
    return hasher_of_file(path).hexdigest()


def hasher_of_file(path: Path) -> Hasher:
    """A SHA-256 hasher fed a file's content so far (nothing if it does not exist), to go
    on feeding as the rest of the file arrives."""
    hasher = hashlib.sha256()
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as source:
        while block := source.read(1 << 20):
            hasher.update(block)
    return hasher


def part_path(folder: Path, name: str, sha256: str) -> Path:
    """Where a download of `name` is written until it is complete and checked: hidden, and
    named after the content, so a later download of the same file resumes it."""
    return folder / f".{name}.{sha256[:16]}.part"


def claim_name(part: Path, folder: Path, name: str) -> Path:
    """Give the finished `part` the first free name of `name`, `name (1)`, `name (2)`, ..."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for number in itertools.count():
        target = folder / (name if number == 0 else f"{stem} ({number}){suffix}")
        try:
            os.link(part, target)  # fails if the name is taken, unlike rename
        except FileExistsError:
            continue
        part.unlink()
        return target
    raise AssertionError("unreachable")


async def file_info(link: Link, fid: int) -> FileInfo:
    """What the server knows of file `fid` (as in its `file` push)."""
    return read(FileInfo, await link.request(RequestType.FILE_INFO, fid=fid), "the file_info reply")


async def upload_file(
    link: Link,
    path: Path,
    to: str | None,
    *,
    room: str | None = None,
    cid: str,
    progress: Progress | None,
    window: int,
) -> FileSent:
    """Upload `path` to `to`, or into `room` (both None: the group), from where an earlier
    upload of it stopped."""
    size = path.stat().st_size
    if (most := link.limits.max_file_size) is not None and size > most:
        raise too_large(size, most)  # before hashing what is refused anyway
    digest = await asyncio.to_thread(sha256_of_file, path)
    where = {"to": to} if room is None else {"room": room}
    reply = await link.request(
        RequestType.FILE_PUT, **where, name=path.name, size=size, sha256=digest, cid=cid
    )
    with reading("the file_put reply"):
        fid, offset = int(reply["fid"]), int(reply["offset"])
    if reply.get("complete"):  # a zero-byte file, or a retry of an upload that finished
        offset = size
    replies: deque[asyncio.Future[dict[str, Any]]] = deque()
    try:
        with open(path, "rb") as source:
            source.seek(offset)
            while offset < size:
                chunk = source.read(min(link.chunk_size, size - offset))
                if not chunk:
                    raise OSError(f"{path} got shorter while it was being sent")
                replies.append(
                    link.submit(RequestType.FILE_CHUNK, fid=fid, offset=offset, data=chunk)
                )
                offset += len(chunk)
                await link.drain()
                while len(replies) >= window or (replies and offset == size):
                    reply = await replies.popleft()
                    with reading("the file_chunk reply"):
                        received = int(reply["received"])
                    if progress is not None:
                        progress(received, size)
    finally:
        for pending in replies:
            pending.cancel()
    if progress is not None and size == 0:
        progress(0, 0)
    with reading("the last file_chunk reply"):
        return FileSent(fid, int(reply["mid"]), size)


async def download_file(
    link: Link,
    info: FileInfo,
    folder: Path,
    *,
    progress: Progress | None,
    window: int,
) -> Path:
    """Fetch the file `info` describes into `folder`, resuming a partial download; returns
    its path. Raises `checksum_mismatch` (and deletes what arrived) if the sha256 differs."""
    folder.mkdir(parents=True, exist_ok=True)
    name = display_name(info.name)
    part = part_path(folder, name, info.sha256)
    if part.exists() and part.stat().st_size > info.size:
        part.unlink()
    hasher = await asyncio.to_thread(hasher_of_file, part)
    offset = part.stat().st_size if part.exists() else 0
    replies: deque[asyncio.Future[dict[str, Any]]] = deque()
    asked = offset
    try:
        with open(part, "ab") as out:
            while offset < info.size:
                while asked < info.size and len(replies) < window:
                    length = min(link.chunk_size, info.size - asked)
                    replies.append(
                        link.submit(RequestType.FILE_GET, fid=info.fid, offset=asked, length=length)
                    )
                    asked += length
                await link.drain()
                with reading("the file_get reply"):
                    data = (await replies.popleft())["data"]
                if not isinstance(data, bytes) or not data:
                    raise Unreadable(f"a file_get reply holds {shown(data)}, not the file's bytes")
                out.write(data)
                hasher.update(data)
                offset += len(data)
                if progress is not None:
                    progress(offset, info.size)
    finally:
        for pending in replies:
            pending.cancel()
    if hasher.hexdigest() != info.sha256:
        part.unlink()
        raise ChatError(ErrorCode.CHECKSUM_MISMATCH, f"{name} arrived damaged; deleted")
    if progress is not None and info.size == 0:
        progress(0, 0)
    return claim_name(part, folder, name)


class FileRequests:
    """The file requests as `ChatClient` methods: a `ChatClient` is the `Link` they use."""

    async def send_file(
        self: Link,
        path: str | os.PathLike[str],
        to: str | None = None,
        *,
        room: str | None = None,
        progress: Progress | None = None,
        window: int = FILE_WINDOW,
        cid: str | None = None,
    ) -> FileSent:
        """Upload a file to `to`, or into `room` (both None: the group), resuming an
        interrupted upload of it. `progress(done, total)` is called as chunks are
        acknowledged; `window` chunks are kept in flight, so a fast link is not held to
        one round trip per chunk. Pass the same `cid` to every retry of one upload, so
        it is announced only once."""
        cid = cid or new_cid()
        return await upload_file(
            self, Path(path), to, room=room, cid=cid, progress=progress, window=window
        )

    async def file_info(self: Link, fid: int) -> FileInfo:
        """What the server knows of file `fid` (as in its `file` push)."""
        return await file_info(self, fid)

    async def download(
        self: Link,
        file: int | FileInfo,
        dest_dir: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        window: int = FILE_WINDOW,
    ) -> Path:
        """Fetch a file (its fid, or the `file` push that told of it) into `dest_dir`,
        resuming a partial download; returns its path.

        The name is the sender's, sanitised so it cannot leave `dest_dir`; an existing
        file is never overwritten (`name (1).ext` instead). The sha256 is checked before
        the file takes its name; on a mismatch it is deleted and `checksum_mismatch` raised.
        """
        info = file if isinstance(file, FileInfo) else await file_info(self, file)
        return await download_file(self, info, Path(dest_dir), progress=progress, window=window)
