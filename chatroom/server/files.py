"""File bytes on disk: uploads in progress, and reads for downloads.

Each file lives in `DATA_DIR/files/` under its fid, never under a name a client chose:
`7.part` while it arrives, `7` once its size and sha256 have been checked. An upload is
appended chunk by chunk and hashed as it goes, so memory does not grow with file size;
an interrupted one resumes from the bytes already in its `.part` file. No descriptor is
held between chunks, so announced uploads cannot use up the server's file descriptors.
"""

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.server.datadir import PRIVATE
from chatroom.server.storage_health import StorageHealth, is_storage_full

T = TypeVar("T")

WRITE_BEHIND = 8 * 1024 * 1024
"""Bytes after which an upload starts flushing to disk in the background, so the fsync
that must finish before the last chunk's `ok` has little left to do."""


def _sync_file(path: Path) -> None:
    """fsync a file by name (fsync flushes the file, whichever descriptor asks)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_to(path: Path, data: bytes) -> None:
    """Write `data` at the end of a file, through a bare descriptor: a file object's
    buffering costs more to set up than a 64 KiB write it would not buffer anyway."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        with memoryview(data) as rest:
            while rest:
                rest = rest[os.write(fd, rest) :]  # a short write: the rest again
    finally:
        os.close(fd)


class Upload:
    """One file being received: its `.part` file and the running sha256."""

    def __init__(self, fid: int, size: int, sha256: str, part: Path, owner: object) -> None:
        self.fid = fid
        self.owner = owner
        """The connection sending it; when it ends, the upload waits for a resume."""
        self.size = size
        self.sha256 = sha256
        self.part = part
        self._hash = hashlib.sha256()
        self.received = 0
        self._flushed_at = 0
        self._flushing: asyncio.Future[None] | None = None

    def catch_up(self) -> None:
        """Hash what an earlier connection already wrote (when resuming); create the
        `.part` file if there is none, so its age says when the upload last moved."""
        with open(self.part, "ab"), open(self.part, "rb") as earlier:
            while block := earlier.read(1 << 20):
                self._hash.update(block)
                self.received += len(block)

    def append(self, offset: int, data: bytes) -> None:
        if offset != self.received:
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                f"chunk at offset {offset}, but {self.received} bytes are held",
                received=self.received,
            )
        if self.received + len(data) > self.size:
            raise ChatError(ErrorCode.BAD_REQUEST, f"more than the announced {self.size} bytes")
        _append_to(self.part, data)
        self._hash.update(data)
        self.received += len(data)
        if self.received - self._flushed_at >= WRITE_BEHIND and self._flushing is None:
            self._flushed_at = self.received
            self._flushing = asyncio.ensure_future(asyncio.to_thread(_sync_file, self.part))
            self._flushing.add_done_callback(self._flushed)

    def _flushed(self, flushing: "asyncio.Future[None]") -> None:
        self._flushing = None
        if not flushing.cancelled():
            flushing.exception()  # a failed early flush is retried by the final sync

    @property
    def complete(self) -> bool:
        return self.received == self.size

    def verified(self) -> bool:
        return self._hash.hexdigest() == self.sha256

    async def sync(self) -> None:
        """Flush every byte to disk, off the event loop."""
        if self._flushing is not None:
            await asyncio.wait([self._flushing])
        await asyncio.to_thread(_sync_file, self.part)

    def close(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()


class FileVault:
    """The `files/` folder and the uploads in progress in it."""

    def __init__(self, data_dir: Path, health: StorageHealth | None = None) -> None:
        self.folder = data_dir / "files"
        self.folder.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        self.health = health or StorageHealth()
        self._uploads: dict[int, Upload] = {}
        self._finishing: dict[int, asyncio.Future[bool]] = {}
        """Uploads being checked and kept, by fid: another connection resuming one waits."""

    def path(self, fid: int) -> Path:
        return self.folder / str(fid)

    def _part(self, fid: int) -> Path:
        return self.folder / f"{fid}.part"

    async def open_upload(self, fid: int, size: int, sha256: str, owner: object) -> Upload | None:
        """The upload of `fid` by `owner`, picking up whatever an earlier connection left;
        None if its bytes are all here already, checked and kept (only its record is left
        to complete: another connection finished it)."""
        finishing = self._finishing.get(fid)
        if finishing is not None and await asyncio.shield(finishing):
            return None
        if self.path(fid).exists():
            return None
        self.release(fid)  # another connection's: this one takes over
        upload = Upload(fid, size, sha256, self._part(fid), owner)
        self._writing("resuming an upload", upload.catch_up)
        self._uploads[fid] = upload
        return upload

    def upload(self, fid: int, owner: object) -> Upload:
        """The upload `owner` is sending as `fid`."""
        upload = self._uploads.get(fid)
        if upload is None or upload.owner is not owner:
            raise ChatError(
                ErrorCode.NO_SUCH_FILE, f"no upload {fid} in progress here: file_put first"
            )
        return upload

    def append(self, upload: Upload, offset: int, data: bytes) -> None:
        self._writing("writing a file chunk", lambda: upload.append(offset, data))

    def release(self, fid: int) -> None:
        """Stop an unfinished upload here; its `.part` file stays for a resume."""
        upload = self._uploads.pop(fid, None)
        if upload is not None:
            upload.close()

    def release_all(self, owner: object) -> None:
        for upload in [u for u in self._uploads.values() if u.owner is owner]:
            self.release(upload.fid)

    async def finish(self, upload: Upload) -> bool:
        """Check a complete upload; keep it under its fid if it matches, else delete it.

        Whether it matched. A connection resuming the same fid meanwhile waits for this.
        """
        del self._uploads[upload.fid]
        finished: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._finishing[upload.fid] = finished
        kept = False
        try:
            if upload.verified():
                try:
                    await upload.sync()
                except OSError as exc:
                    if is_storage_full(exc):
                        raise self.health.refused("keeping a received file", exc) from None
                    raise
                upload.part.rename(self.path(upload.fid))
                kept = True
            else:
                upload.part.unlink(missing_ok=True)
            return kept
        finally:
            upload.close()
            del self._finishing[upload.fid]
            finished.set_result(kept)

    def last_written(self, fid: int) -> float | None:
        """When the unfinished upload `fid` last received bytes (unix time), if it has any."""
        try:
            return self._part(fid).stat().st_mtime
        except FileNotFoundError:
            return None

    def discard(self, fid: int) -> None:
        """Delete an unfinished upload's bytes (it expired)."""
        self.release(fid)
        self._part(fid).unlink(missing_ok=True)

    def read(self, fid: int, offset: int, length: int) -> bytes:
        """Up to `length` bytes of file `fid` from `offset` (one system call, no file object)."""
        fd = os.open(self.path(fid), os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def close(self) -> None:
        for fid in list(self._uploads):
            self.release(fid)

    def _writing(self, what: str, write: Callable[[], T]) -> T:
        """Run a write to disk; a full disk becomes `storage_full`, logged once."""
        try:
            result = write()
        except OSError as exc:
            if is_storage_full(exc):
                raise self.health.refused(what, exc) from None
            raise
        self.health.wrote()
        return result
