"""Talking: who is online, messages to a room or to one user, acks, pings."""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import Framed
from chatroom.server.fields import Fields
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.handlers.permissions import check_not_muted, check_private_allowed
from chatroom.server.hub import LOBBY_CONV, Hub, Recipient
from chatroom.server.services import Services
from chatroom.server.store import Room, StoredMessage


async def registered_name(server: Services, username: str) -> str:
    """The name `username` was registered under (any case finds it), or `no_such_user`."""
    user = await server.store.find_user(username)
    if user is None:
        raise ChatError(ErrorCode.NO_SUCH_USER, f"there is no user {username!r}")
    return user.username


def room_to_write_in(server: Services, peer: Peer, name: str | None) -> Room:
    """The room called `name` (None: the lobby), which the user must be in and not be
    muted in: `no_such_room`, `forbidden`, `muted`."""
    room = server.store.lobby() if name is None else member_room(server, peer, name)
    check_not_muted(server, peer.username, room)
    return room


def find_room(server: Services, name: str) -> Room:
    room = server.store.find_room(name)
    if room is None:
        raise ChatError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name!r}")
    return room


def member_room(server: Services, peer: Peer, name: str) -> Room:
    """The room called `name`, if the user is in it: `no_such_room`, `forbidden`."""
    room = find_room(server, name)
    if not server.hub.is_member(room.conv, peer.username):
        raise ChatError(ErrorCode.FORBIDDEN, f"you are not in {room.name}: join it first")
    return room


async def broadcast(server: Services, peer: Peer, data: Fields) -> Reply:
    text = data.text("text")  # the request's own mistakes first, then the room's
    room = room_to_write_in(server, peer, data.optional_room("room"))
    return await _send(server, peer, data, text, room=room)


async def private(server: Services, peer: Peer, data: Fields) -> Reply:
    text = data.text("text")
    to = await private_recipient(server, peer, data.username("to"))
    if server.store.is_blocked(peer.username, by=to):
        # Dropped, and the sender is answered as if the recipient were offline: the one
        # who blocked is not bothered, and the one blocked is not told.
        data.optional_cid()
        return {"mid": 0, "ts": server.wall_clock(), "delivered": False}
    return await _send(server, peer, data, text, to=to)


async def private_recipient(server: Services, peer: Peer, to: str) -> str:
    """The registered user a private message or file goes to, if the sender may write to
    them: `no_such_user`, `muted`, `forbidden` (the server's private-message policy)."""
    recipient = await registered_name(server, to)
    check_not_muted(server, peer.username, None)
    await check_private_allowed(server, peer.username, recipient)
    return recipient


async def _send(
    server: Services,
    peer: Peer,
    data: Fields,
    text: str,
    to: str | None = None,
    room: Room | None = None,
) -> Reply:
    """Store a message from the session's user to `to` or into `room`, then route it.

    A repeat of an earlier request (the same `cid`) is answered as the first one was,
    and nothing is stored or sent again. A private message's reply says whether the
    recipient was online to receive it now.
    """
    cid = data.optional_cid()
    limit = server.limits.mailbox_limit
    message = await server.store.add_message(
        peer.username, to, text, room=room, cid=cid, mailbox_limit=limit
    )
    return {"ts": message.ts} | route_once(server.hub, message, peer)


def route_once(hub: Hub, message: StoredMessage, origin: Recipient) -> Reply:
    """Send a just-stored message to its recipients and the sender's other sessions,
    unless it is a repeat (sent when first stored); the reply's `mid`, and `duplicate`
    or a private one's `delivered`."""
    reply: Reply = {"mid": message.mid}
    if message.duplicate:
        reply["duplicate"] = True
        delivered = False
    elif message.recipient is None:
        push = Framed(message.as_push())
        hub.to_room(message.conv, push, exclude=message.sender)
        hub.carbons(message.sender, push, origin, in_room=message.conv != LOBBY_CONV)
    else:
        push = Framed(message.as_push())
        delivered = hub.to_users([message.recipient], push, skip=origin)
        if message.recipient != message.sender:
            hub.carbons(message.sender, push, origin, in_room=False)
    if message.recipient is not None:
        reply["delivered"] = delivered
    return reply


async def ack(server: Services, peer: Peer, data: Fields) -> Reply:
    await server.store.ack(peer.username, data.integer("upto"))
    return {}


async def ping(server: Services, peer: Peer, data: Fields) -> Reply:
    return {}
