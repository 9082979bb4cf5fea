"""Talking: who is online, messages to the group or to one user, acks, pings."""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.server.fields import Fields
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.hub import Hub
from chatroom.server.services import Services
from chatroom.server.store import StoredMessage


async def registered_name(server: Services, username: str) -> str:
    """The name `username` was registered under (any case finds it), or `no_such_user`."""
    user = await server.store.find_user(username)
    if user is None:
        raise ChatError(ErrorCode.NO_SUCH_USER, f"there is no user {username!r}")
    return user.username


async def users(server: Services, peer: Peer, data: Fields) -> Reply:
    return {"online": server.hub.online()}


async def broadcast(server: Services, peer: Peer, data: Fields) -> Reply:
    return await _send(server, peer, None, data)


async def private(server: Services, peer: Peer, data: Fields) -> Reply:
    to = await registered_name(server, data.username("to"))
    return await _send(server, peer, to, data)


async def _send(server: Services, peer: Peer, to: str | None, data: Fields) -> Reply:
    """Store a message from the session's user to `to` (None: the group), then route it.

    A repeat of an earlier request (the same `cid`) is answered as the first one was,
    and nothing is stored or sent again. A private message's reply says whether the
    recipient was online to receive it now.
    """
    text = data.text("text")
    cid = data.optional_cid()
    limit = server.limits.mailbox_limit
    message = await server.store.add_message(peer.username, to, text, cid=cid, mailbox_limit=limit)
    return {"ts": message.ts} | route_once(server.hub, message)


def route_once(hub: Hub, message: StoredMessage) -> Reply:
    """Send a just-stored message to its recipients, unless it is a repeat (sent when
    first stored); the reply's `mid`, and `duplicate` or a private one's `delivered`."""
    reply: Reply = {"mid": message.mid}
    if message.duplicate:
        reply["duplicate"] = True
        delivered = False
    else:
        delivered = hub.route(message.as_push(), message.recipient, message.sender)
    if message.recipient is not None:
        reply["delivered"] = delivered
    return reply


async def ack(server: Services, peer: Peer, data: Fields) -> Reply:
    await server.store.ack(peer.username, data.integer("upto"))
    return {}


async def ping(server: Services, peer: Peer, data: Fields) -> Reply:
    return {}
