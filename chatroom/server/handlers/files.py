"""The file-transfer requests: file_put, file_chunk, file_get, file_info.

An upload ends like a message: a row in `messages` (pointing at the file), committed
before the last chunk's `ok`, then a `file` push to the recipients now, or at their next
login through the same acks.
"""

from typing import Any

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import display_name, too_large
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import private_recipient, room_to_write_in, route_once
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.handlers.permissions import may_see
from chatroom.server.services import Services
from chatroom.server.store import FileRecord, Room


async def file_put(server: Services, peer: Peer, data: Fields) -> Reply:
    to = data.optional_username("to")
    name = display_name(data.string("name"))
    size = data.integer("size")
    sha256 = data.sha256("sha256")
    cid = data.optional_cid()
    limits = server.limits
    if size > limits.max_file_size:
        raise too_large(size, limits.max_file_size)
    if to is not None and data.has("room"):
        raise ChatError(ErrorCode.BAD_REQUEST, "give 'to' or 'room', not both")
    recipient, room = await _allowed(server, peer, to, data.optional_room("room"))
    # Reserves the size against the quota, atomically with every other upload's
    # reservation; or finds the upload this one repeats (same cid) or resumes.
    file = await server.store.create_file(
        peer.username,
        recipient,
        name,
        size,
        sha256,
        room=room,
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
    upload = await server.vault.open_upload(file.fid, file.size, file.sha256, owner=peer)
    if upload is None:  # another connection has just received the last byte
        return {"fid": file.fid, "offset": file.size} | await _complete(server, peer, file.fid)
    reply: dict[str, Any] = {"fid": file.fid, "offset": upload.received}
    if upload.complete:  # a zero-byte file needs no chunks (or all were sent before)
        reply |= await _finish(server, peer, upload.fid)
    return reply


async def file_chunk(server: Services, peer: Peer, data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    chunk = data.binary("data", server.limits.max_chunk)
    upload = server.vault.upload(fid, owner=peer)
    server.vault.append(upload, offset, chunk)
    reply: dict[str, Any] = {"received": upload.received}
    if upload.complete:
        reply |= await _finish(server, peer, fid)
    return reply


async def _finish(server: Services, peer: Peer, fid: int) -> dict[str, Any]:
    """Check and keep the bytes of a complete upload, then complete its record."""
    vault = server.vault
    if not await vault.finish(vault.upload(fid, owner=peer)):
        await server.store.delete_file(fid)
        raise ChatError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the bytes received do not match the announced sha256; the upload was discarded",
        )
    return await _complete(server, peer, fid)


async def _allowed(
    server: Services, peer: Peer, to: str | None, room_name: str | None
) -> tuple[str | None, Room | None]:
    """Where a file goes (to a recipient, or else into a room: None, the lobby), if its
    sender may send it there: `no_such_user`, `no_such_room`, `muted`, `forbidden`."""
    if to is not None:
        recipient = await private_recipient(server, peer, to)
        if server.store.is_blocked(peer.username, by=recipient):
            raise ChatError(ErrorCode.FORBIDDEN, f"{recipient} does not accept files from you")
        return recipient, None
    return None, room_to_write_in(server, peer, room_name)


async def _complete(server: Services, peer: Peer, fid: int) -> dict[str, Any]:
    """Store the message that announces the file and route it; idempotent, so when two
    connections finish the same upload both get its mid and it is sent once.

    What `file_put` checked is checked again first: an upload may take minutes, and be
    resumed hours later, and its sender may have been muted, taken out of the room or
    blocked meanwhile. If so the upload stays as it is, until it expires or a `file_put`
    again completes it."""
    file = await server.store.find_file(fid)
    if file is not None and file.mid is None:
        await _allowed(server, peer, file.recipient, file.room)
    message = await server.store.complete_file(fid)
    return {"complete": True} | route_once(server.hub, message, peer)


async def _readable(server: Services, peer: Peer, fid: int) -> FileRecord:
    file = peer.readable_files.get(fid) if peer.readable_files else None
    if file is None:
        file = await server.store.find_file(fid)
        # Once complete, by those who may see it.
        if file is None or file.mid is None or not may_see(server, peer.username, file):
            if file is not None and file.mid is not None:
                raise ChatError(ErrorCode.FORBIDDEN, f"file {fid} was not sent to you")
            raise ChatError(ErrorCode.NO_SUCH_FILE, f"there is no file {fid}")
        if peer.readable_files is None:
            peer.readable_files = {}
        peer.readable_files[fid] = file
    return file


async def file_get(server: Services, peer: Peer, data: Fields) -> Reply:
    fid, offset = data.integer("fid"), data.integer("offset")
    length = data.integer("length", minimum=1)
    if length > server.limits.max_chunk:
        raise ChatError(ErrorCode.BAD_REQUEST, f"length is at most {server.limits.max_chunk} bytes")
    file = await _readable(server, peer, fid)
    if offset > file.size:
        raise ChatError(ErrorCode.BAD_REQUEST, f"offset {offset} is past the end ({file.size})")
    chunk = server.vault.read(file.fid, offset, length)
    return {"data": chunk, "offset": offset, "eof": offset + len(chunk) >= file.size}


async def file_info(server: Services, peer: Peer, data: Fields) -> Reply:
    return (await _readable(server, peer, data.integer("fid"))).info().as_data()
