"""The file-transfer requests: file_put, file_chunk, file_get, file_info.

They register in the same table as the chat handlers. An upload ends like a message: a
row in `messages` (pointing at the file), committed before the last chunk's `ok`, then a
`file` push to the recipients now, or at their next login through the same acks.
"""

from typing import TYPE_CHECKING, Any

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import display_name, human_size
from chatroom.common.limits import MAX_CHUNK
from chatroom.common.messages import RequestType
from chatroom.server.fields import Fields
from chatroom.server.files import Upload
from chatroom.server.handlers import Reply, handles, registered_name
from chatroom.server.store import FileRecord

if TYPE_CHECKING:
    from chatroom.server.connection import Session


@handles(RequestType.FILE_PUT, rate_limited=True)
async def file_put(session: "Session", data: Fields) -> Reply:
    to = data.optional_username("to")
    name = display_name(data.string("name"))
    size = data.integer("size")
    sha256 = data.sha256("sha256")
    limits = session.limits
    if size > limits.max_file_size:
        raise ChatError(
            ErrorCode.FILE_TOO_LARGE,
            f"{human_size(size)} is over the limit of {human_size(limits.max_file_size)}",
            max_file_size=limits.max_file_size,
        )
    recipient = None if to is None else await registered_name(session, to)
    store = session.store
    file = await store.find_pending_file(session.user, recipient, size, sha256)
    if file is None:
        used = await store.bytes_stored_by(session.user)
        if used + size > limits.file_quota:
            raise ChatError(
                ErrorCode.QUOTA_EXCEEDED,
                f"you have {human_size(used)} of files stored; the quota is "
                f"{human_size(limits.file_quota)}",
                quota=limits.file_quota,
                used=used,
            )
        file = await store.create_file(session.user, recipient, name, size, sha256)
    upload = session.vault.open_upload(file.fid, session.user, size, sha256, owner=session)
    reply: dict[str, Any] = {"fid": file.fid, "offset": upload.received}
    if upload.complete:  # a zero-byte file needs no chunks
        reply |= await _finish(session, upload)
    return reply


@handles(RequestType.FILE_CHUNK)
async def file_chunk(session: "Session", data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    chunk = data.binary("data", session.limits.max_chunk)
    upload = session.vault.upload(fid, owner=session)
    upload.append(offset, chunk)
    reply: dict[str, Any] = {"received": upload.received}
    if upload.complete:
        reply |= await _finish(session, upload)
    return reply


async def _finish(session: "Session", upload: Upload) -> dict[str, Any]:
    if not await session.vault.finish(upload):
        await session.store.delete_file(upload.fid)
        raise ChatError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the bytes received do not match the announced sha256; the upload was discarded",
        )
    message = await session.store.complete_file(upload.fid)
    push = message.as_push()
    if message.recipient is None:
        session.hub.broadcast(push, exclude=session.user)
        return {"mid": message.mid, "complete": True}
    delivered = session.hub.deliver(message.recipient, push)
    return {"mid": message.mid, "complete": True, "delivered": delivered}


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


@handles(RequestType.FILE_GET, pipelined=True)
async def file_get(session: "Session", data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    length = data.integer("length", minimum=1)
    if length > session.limits.max_chunk:
        raise ChatError(ErrorCode.BAD_REQUEST, f"length is at most {MAX_CHUNK} bytes")
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
