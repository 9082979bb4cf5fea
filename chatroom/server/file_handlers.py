"""The file-transfer requests: file_put, file_chunk, file_get, file_info.

They register in the same table as the chat handlers. An upload ends like a message: a
row in `messages` (pointing at the file), committed before the last chunk's `ok`, then a
`file` push to the recipients now, or at their next login through the same acks.
"""

from typing import TYPE_CHECKING, Any

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import display_name, human_size
from chatroom.common.messages import RequestType
from chatroom.server.fields import Fields
from chatroom.server.handlers import Reply, handles, registered_name, route_once
from chatroom.server.store import FileRecord

if TYPE_CHECKING:
    from chatroom.server.connection import Session


@handles(RequestType.FILE_PUT, rate_limited=True)
async def file_put(session: "Session", data: Fields) -> Reply:
    to = data.optional_username("to")
    name = display_name(data.string("name"))
    size = data.integer("size")
    sha256 = data.sha256("sha256")
    cid = data.optional_cid()
    limits = session.limits
    if size > limits.max_file_size:
        raise ChatError(
            ErrorCode.FILE_TOO_LARGE,
            f"{human_size(size)} is over the limit of {human_size(limits.max_file_size)}",
            max_file_size=limits.max_file_size,
        )
    recipient = None if to is None else await registered_name(session, to)
    # Reserves the size against the quota, atomically with every other upload's
    # reservation; or finds the upload this one repeats (same cid) or resumes.
    file = await session.store.create_file(
        session.user,
        recipient,
        name,
        size,
        sha256,
        cid=cid,
        quota=limits.file_quota,
        max_uploads=limits.max_uploads,
        mailbox_limit=limits.mailbox_limit,
    )
    if file.mid is not None:  # sent before, and complete: the original answer
        return {
            "fid": file.fid,
            "offset": file.size,
            "mid": file.mid,
            "complete": True,
            "duplicate": True,
        }
    upload = await session.vault.open_upload(file.fid, file.size, file.sha256, owner=session)
    if upload is None:  # another connection has just received the last byte
        return {"fid": file.fid, "offset": file.size} | await _complete(session, file.fid)
    reply: dict[str, Any] = {"fid": file.fid, "offset": upload.received}
    if upload.complete:  # a zero-byte file needs no chunks (or all were sent before)
        reply |= await _finish(session, upload.fid)
    return reply


@handles(RequestType.FILE_CHUNK)
async def file_chunk(session: "Session", data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    chunk = data.binary("data", session.limits.max_chunk)
    upload = session.vault.upload(fid, owner=session)
    session.vault.append(upload, offset, chunk)
    reply: dict[str, Any] = {"received": upload.received}
    if upload.complete:
        reply |= await _finish(session, fid)
    return reply


async def _finish(session: "Session", fid: int) -> dict[str, Any]:
    """Check and keep the bytes of a complete upload, then complete its record."""
    vault = session.vault
    if not await vault.finish(vault.upload(fid, owner=session)):
        await session.store.delete_file(fid)
        raise ChatError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the bytes received do not match the announced sha256; the upload was discarded",
        )
    return await _complete(session, fid)


async def _complete(session: "Session", fid: int) -> dict[str, Any]:
    """Store the message that announces the file and route it; idempotent, so when two
    connections finish the same upload both get its mid and it is sent once."""
    message = await session.store.complete_file(fid)
    return {"complete": True} | route_once(session, message)


async def _readable(session: "Session", fid: int) -> FileRecord:
    file = session.readable_files.get(fid)
    if file is None:
        file = await session.store.find_file(fid)
        if file is None or not file.readable_by(session.user):
            if file is not None and file.mid is not None:
                raise ChatError(ErrorCode.FORBIDDEN, f"file {fid} was not sent to you")
            raise ChatError(ErrorCode.NO_SUCH_FILE, f"there is no file {fid}")
        session.readable_files[fid] = file
    return file


# Not pipelined: each reply can be 64 KiB, so they are made one at a time, and the
# connection stops reading requests while the replies wait to be read (see connection).
@handles(RequestType.FILE_GET)
async def file_get(session: "Session", data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    length = data.integer("length", minimum=1)
    if length > session.limits.max_chunk:
        raise ChatError(
            ErrorCode.BAD_REQUEST, f"length is at most {session.limits.max_chunk} bytes"
        )
    file = await _readable(session, fid)
    if offset > file.size:
        raise ChatError(ErrorCode.BAD_REQUEST, f"offset {offset} is past the end ({file.size})")
    chunk = session.vault.read(file.fid, offset, length)
    return {"data": chunk, "offset": offset, "eof": offset + len(chunk) >= file.size}


@handles(RequestType.FILE_INFO)
async def file_info(session: "Session", data: Fields) -> Reply:
    file = await _readable(session, data.integer("fid"))
    return {
        "fid": file.fid,
        "mid": file.mid,
        "from": file.sender,
        "to": file.recipient,
        "name": file.name,
        "size": file.size,
        "sha256": file.sha256,
    }
