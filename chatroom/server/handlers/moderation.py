"""Blocking, and moderation: kick, mute, ban, delete, announce, the audit log, room roles.

A block is one user's own business: it drops the blocked user's private messages and
contact requests to them (see `chat.private`, `contacts.contact_add`). Moderation acts
on others and needs the rank for it (see `permissions`); each action is written to the
audit log in the transaction that does it, and the user acted on is told by a
`moderated` push.
"""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import AUDIT_DEFAULT, AUDIT_MAX, REASON_MAX, SANCTION_MAX
from chatroom.common.messages import ByeReason, DeletedPush, ModeratedPush
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import find_room, registered_name
from chatroom.server.handlers.contacts import other_user
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.handlers.people import one_line
from chatroom.server.handlers.permissions import Rank, may_see, require_above, require_rank
from chatroom.server.handlers.rooms import remove_member
from chatroom.server.hub import LOBBY_CONV
from chatroom.server.services import Services
from chatroom.server.store import Room
from chatroom.server.store.moderation import BAN, MUTE

# -- blocks -------------------------------------------------------------------------------


async def block(server: Services, peer: Peer, data: Fields) -> Reply:
    other = await other_user(server, peer, data, yourself="you cannot block yourself")
    added = await server.store.block(peer.username, other)
    return {"username": other, "blocked": True, "changed": added}


async def unblock(server: Services, peer: Peer, data: Fields) -> Reply:
    other = await registered_name(server, data.username("username"))
    removed = await server.store.unblock(peer.username, other)
    return {"username": other, "blocked": False, "changed": removed}


async def blocks(server: Services, peer: Peer, data: Fields) -> Reply:
    return {"blocked": server.store.blocked(peer.username)}


# -- acting on a user -----------------------------------------------------------------------


async def _target(server: Services, peer: Peer, data: Fields, what: str) -> tuple[str, Room | None]:
    """The user a moderation request names and the room it is limited to (None: the
    whole server), once the one asking is known to outrank them there."""
    username = data.username("username")
    name = data.optional_room("room")
    room = find_room(server, name) if name is not None else None
    if room is not None and room.conv == LOBBY_CONV and what != "mute":
        room = None  # nobody leaves the lobby: a kick or ban from it is from the server
    target = await registered_name(server, username)
    await require_above(server, peer.username, target, room, what)
    return target, room


def _reason(data: Fields) -> str:
    return one_line(data, "reason", REASON_MAX) if data.has("reason") else ""


def _tell(
    server: Services,
    peer: Peer,
    target: str,
    action: str,
    room: Room | None,
    until: float | None = None,
    reason: str = "",
) -> Reply:
    """Push to `target` what was done to them; the reply to the moderator."""
    where = room.name if room is not None else None
    server.hub.to_users([target], ModeratedPush(action, peer.username, where, until, reason))
    return {"username": target, "room": where, "until": until}


async def kick(server: Services, peer: Peer, data: Fields) -> Reply:
    target, room = await _target(server, peer, data, "kick")
    reason = _reason(data)
    reply = _tell(server, peer, target, "kick", room, reason=reason)
    if room is not None:
        reply["removed"] = await remove_member(server, room, target)
    else:
        reply["removed"] = server.hub.send_away(target, ByeReason.KICKED) > 0
    await server.store.note(peer.username, "kick", target, room.name if room else "", reason)
    return reply


async def mute(server: Services, peer: Peer, data: Fields) -> Reply:
    target, room = await _target(server, peer, data, "mute")
    seconds = data.integer("seconds", minimum=1, maximum=SANCTION_MAX)
    reason = _reason(data)
    until = server.wall_clock() + seconds
    await server.store.sanction(target, room, MUTE, until, peer.username, reason)
    return _tell(server, peer, target, "mute", room, until, reason)


async def ban(server: Services, peer: Peer, data: Fields) -> Reply:
    target, room = await _target(server, peer, data, "ban")
    until = None
    if data.has("seconds"):
        seconds = data.integer("seconds", minimum=1, maximum=SANCTION_MAX)
        until = server.wall_clock() + seconds
    reason = _reason(data)
    await server.store.sanction(target, room, BAN, until, peer.username, reason)
    reply = _tell(server, peer, target, "ban", room, until, reason)
    if room is not None:
        await remove_member(server, room, target)
    else:
        server.hub.send_away(target, ByeReason.BANNED)
    return reply


async def unmute(server: Services, peer: Peer, data: Fields) -> Reply:
    return await _lift(server, peer, data, MUTE)


async def unban(server: Services, peer: Peer, data: Fields) -> Reply:
    return await _lift(server, peer, data, BAN)


async def _lift(server: Services, peer: Peer, data: Fields, kind: str) -> Reply:
    target, room = await _target(server, peer, data, kind)
    lifted = await server.store.lift(target, room, kind, peer.username)
    if lifted:
        _tell(server, peer, target, "un" + kind, room)
    return {"username": target, "room": room.name if room else None, "lifted": lifted}


# -- messages -------------------------------------------------------------------------------


async def delete(server: Services, peer: Peer, data: Fields) -> Reply:
    """Delete a message: its author may, and so may whoever moderates where it was said
    (private messages: server moderators)."""
    mid = data.integer("mid", minimum=1)
    message = await server.store.message(mid)
    me = peer.username
    if message is None or not may_see(server, me, message):
        raise ChatError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {mid} you can see")
    if message.deleted:
        return {"mid": mid, "deleted": False}
    if message.sender != me:
        room = server.store.find_room(message.room) if message.room is not None else None
        await require_above(server, me, message.sender, room, "delete messages of")
    deleted, fid = await server.store.delete_message(message, me)
    if fid is not None:
        server.vault.discard(fid)
    if deleted:
        push = DeletedPush(mid, message.sender, message.room, message.recipient, me)
        if message.recipient is None:
            server.hub.to_room(message.conv, push)
        else:
            server.hub.to_users(sorted({message.sender, message.recipient}), push)
    return {"mid": mid, "deleted": deleted}


async def announce(server: Services, peer: Peer, data: Fields) -> Reply:
    text = data.text("text")
    await require_rank(server, peer.username, Rank.MODERATOR, None, "announce")
    message = await server.store.announce(peer.username, text, LOBBY_CONV)
    server.hub.broadcast(message.as_push(), skip=peer)
    return {"mid": message.mid, "ts": message.ts}


# -- the log and room roles -------------------------------------------------------------------


async def audit(server: Services, peer: Peer, data: Fields) -> Reply:
    await require_rank(server, peer.username, Rank.MODERATOR, None, "read the audit log")
    before = data.optional_integer("before", 2**63 - 1, minimum=1)
    limit = data.limit("limit", AUDIT_DEFAULT, AUDIT_MAX)
    entries = await server.store.audit_log(before, limit + 1)
    more = len(entries) > limit
    return {"entries": [entry.as_data() for entry in entries[:limit]], "more": more}


async def room_role(server: Services, peer: Peer, data: Fields) -> Reply:
    room = find_room(server, data.room("room"))
    role = data.string("role")
    if role not in ("moderator", "member"):
        raise ChatError(ErrorCode.BAD_REQUEST, "role must be 'moderator' or 'member'")
    target = await registered_name(server, data.username("username"))
    if room.conv == LOBBY_CONV:
        raise ChatError(ErrorCode.FORBIDDEN, f"{room.name} has no owner: the server's roles rule")
    await require_rank(server, peer.username, Rank.ROOM_OWNER, room, "name moderators")
    if target == room.owner:
        raise ChatError(ErrorCode.BAD_REQUEST, f"{target} owns {room.name}")
    if not server.hub.is_member(room.conv, target):
        raise ChatError(ErrorCode.BAD_REQUEST, f"{target} is not in {room.name}")
    changed = await server.store.set_room_role(room, target, role, peer.username)
    return {"room": room.name, "username": target, "role": role, "changed": changed}
