"""Contacts: a request one user sends and the other accepts or declines.

Requests are kept in the store, so they are offline-safe like messages: one sent to a
user who is offline is pushed to them when they next log in (see `accounts`), and
`contacts` lists every request either way.
"""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import ContactPush
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import registered_name
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.services import Services


async def other_user(
    server: Services, peer: Peer, data: Fields, yourself: str = "you cannot be your own contact"
) -> str:
    """The registered user the request names, who is not the one asking (else
    `bad_request` saying `yourself`)."""
    other = await registered_name(server, data.username("username"))
    if other == peer.username:
        raise ChatError(ErrorCode.BAD_REQUEST, yourself)
    return other


async def contact_add(server: Services, peer: Peer, data: Fields) -> Reply:
    other = await other_user(server, peer, data)
    if server.store.is_blocked(peer.username, by=other):
        return {"username": other, "state": "requested"}  # dropped, and not said so
    state, changed = await server.store.contact_add(peer.username, other)
    if changed:
        event = "accepted" if state == "contact" else "request"
        server.hub.to_users([other], ContactPush(peer.username, event))
    return {"username": other, "state": state}


async def contact_accept(server: Services, peer: Peer, data: Fields) -> Reply:
    return await _answer(server, peer, data, accept=True)


async def contact_decline(server: Services, peer: Peer, data: Fields) -> Reply:
    return await _answer(server, peer, data, accept=False)


async def _answer(server: Services, peer: Peer, data: Fields, accept: bool) -> Reply:
    other = await other_user(server, peer, data)
    if not await server.store.contact_answer(peer.username, other, accept):
        raise ChatError(ErrorCode.NO_SUCH_REQUEST, f"{other} has not asked to be your contact")
    event = "accepted" if accept else "declined"
    server.hub.to_users([other], ContactPush(peer.username, event))
    return {"username": other, "state": "contact" if accept else "none"}


async def contact_remove(server: Services, peer: Peer, data: Fields) -> Reply:
    other = await other_user(server, peer, data)
    removed = await server.store.contact_remove(peer.username, other)
    if removed:
        server.hub.to_users([other], ContactPush(peer.username, "removed"))
    return {"username": other, "removed": removed}


async def contacts(server: Services, peer: Peer, data: Fields) -> Reply:
    listed = []
    for name, state in await server.store.contacts(peer.username):
        status, text = server.hub.shown(name)
        listed.append({"username": name, "state": state, "status": status, "status_text": text})
    return {"contacts": listed}
