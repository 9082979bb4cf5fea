"""File bytes on disk: uploads in progress, and reads for downloads.

Each file lives in `DATA_DIR/files/` under its fid, never under a name a client chose:
`7.part` while it arrives, `7` once its size and sha256 have been checked. An upload is
appended chunk by chunk and hashed as it goes, so memory does not grow with file size;
an interrupted one resumes from the bytes already in its `.part` file.
"""

import asyncio
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from chatroom.common.errors import ChatError, ErrorCode

WRITE_BEHIND = 8 * 1024 * 1024
"""Bytes after which an upload starts flushing to disk in the background, so the fsync
that must finish before the last chunk's `ok` has little left to do."""


class Upload:
    """One file being received: its open `.part` file and the running sha256."""

    def __init__(
        self, fid: int, sender: str, size: int, sha256: str, part: Path, owner: object
    ) -> None:
        self.fid = fid
        self.sender = sender
        self.owner = owner
        """The connection sending it; when it ends, the file is closed until a resume."""
        self.size = size
        self.sha256 = sha256
        self.part = part
        self._file: BinaryIO = open(part, "ab")  # noqa: SIM115 (kept open across chunks)
        self._fd = self._file.fileno()
        self._hash = hashlib.sha256()
        self.received = 0
        self._flushed_at = 0
        self._flushing: asyncio.Future[None] | None = None

    def catch_up(self) -> None:
        """Hash what an earlier connection already wrote (when resuming)."""
        with open(self.part, "rb") as earlier:
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
        self._file.write(data)
        self._hash.update(data)
        self.received += len(data)
        if self.received - self._flushed_at >= WRITE_BEHIND and self._flushing is None:
            self._flushed_at = self.received
            self._file.flush()
            self._flushing = asyncio.ensure_future(asyncio.to_thread(os.fdatasync, self._fd))
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
        self._file.flush()
        await asyncio.to_thread(os.fsync, self._fd)

    def close(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
        self._file.close()


class FileVault:
    """The `files/` folder and the uploads open on it."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "files"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._uploads: dict[int, Upload] = {}

    def path(self, fid: int) -> Path:
        return self.folder / str(fid)

    def open_upload(self, fid: int, sender: str, size: int, sha256: str, owner: object) -> Upload:
        """The upload of `fid` by `owner`, picking up whatever an earlier connection left."""
        self.release(fid)  # another connection's: this one takes over
        upload = Upload(fid, sender, size, sha256, self.folder / f"{fid}.part", owner)
        upload.catch_up()
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

    def release(self, fid: int) -> None:
        """Close an unfinished upload; its `.part` file stays for a resume."""
        upload = self._uploads.pop(fid, None)
        if upload is not None:
            upload.close()

    def release_all(self, owner: object) -> None:
        for upload in [u for u in self._uploads.values() if u.owner is owner]:
            self.release(upload.fid)

    async def finish(self, upload: Upload) -> bool:
        """Check a complete upload; keep it under its fid if it matches, else delete it."""
        del self._uploads[upload.fid]
        if not upload.verified():
            upload.close()
            upload.part.unlink(missing_ok=True)
            return False
        await upload.sync()
        upload.close()
        upload.part.rename(self.path(upload.fid))
        return True

    def read(self, fid: int, offset: int, length: int) -> bytes:
        with open(self.path(fid), "rb") as stored:
            stored.seek(offset)
            return stored.read(length)

    def close(self) -> None:
        for fid in list(self._uploads):
            self.release(fid)
