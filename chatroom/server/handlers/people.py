"""People: profiles, statuses, and the directory of everyone registered.

What others see of a user's status comes from the hub (`offline` unless they have a
session and are not invisible); what the user chose is in the store, so it outlives
their sessions.
"""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import (
    BIO_MAX,
    DISPLAY_NAME_MAX,
    QUERY_MAX,
    STATUS_TEXT_MAX,
    USERNAME_MAX,
    USERS_DEFAULT,
    USERS_MAX,
)
from chatroom.common.messages import CHOSEN_STATUSES
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import registered_name
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.handlers.permissions import check_not_muted
from chatroom.server.services import Services
from chatroom.server.store.base import Profile

DIRECTORY_FIELDS = ("query", "limit", "after")
"""Any of these in `users` asks for a page of the directory."""


def one_line(data: Fields, name: str, most: int) -> str:
    """A short text shown on one line (a name, a status): no control characters."""
    value = data.short_text(name, most)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be one line, no controls")
    return value


def listed(server: Services, peer: Peer, profile: Profile) -> Reply:
    """A user as the directory and `profile_get` show them to `peer`: their own status
    as chosen, anyone else's as others see it."""
    if profile.username == peer.username:
        status, text = profile.status, profile.status_text
    else:
        status, text = server.hub.shown(profile.username)
    return {
        "username": profile.username,
        "display_name": profile.display_name,
        "status": status,
        "status_text": text,
        "online": server.hub.is_online(profile.username) or profile.username == peer.username,
    }


async def users(server: Services, peer: Peer, data: Fields) -> Reply:
    """Who is online; with `query`, `limit` or `after`, a page of everyone registered."""
    reply: Reply = server.hub.online_now()
    if any(data.has(name) for name in DIRECTORY_FIELDS):
        query = data.short_text("query", QUERY_MAX, default="")
        after = data.short_text("after", 4 * USERNAME_MAX, default="")
        limit = data.limit("limit", USERS_DEFAULT, USERS_MAX)
        page = await server.store.directory(query, after, limit + 1)
        reply["users"] = [listed(server, peer, profile) for profile in page[:limit]]
        reply["next"] = page[limit - 1].username if len(page) > limit else None
    return reply


async def profile_get(server: Services, peer: Peer, data: Fields) -> Reply:
    username = await registered_name(server, data.username("username"))
    profile = await server.store.profile(username)
    if profile is None:  # registered a moment ago on a name looked up since: not yet seen
        raise ChatError(ErrorCode.NO_SUCH_USER, f"there is no user {username!r}")
    return listed(server, peer, profile) | {"bio": profile.bio, "role": profile.role}


async def profile_set(server: Services, peer: Peer, data: Fields) -> Reply:
    if not data.has("display_name") and not data.has("bio"):
        raise ChatError(ErrorCode.BAD_REQUEST, "give display_name, bio or both")
    named = data.has("display_name")
    display_name = one_line(data, "display_name", DISPLAY_NAME_MAX) if named else None
    bio = data.short_text("bio", BIO_MAX) if data.has("bio") else None
    if display_name or bio:  # shown to everyone: not by someone muted (clearing is allowed)
        check_not_muted(server, peer.username, None)
    profile = await server.store.set_profile(peer.username, display_name, bio)
    return listed(server, peer, profile) | {"bio": profile.bio, "role": profile.role}


async def status_set(server: Services, peer: Peer, data: Fields) -> Reply:
    status = data.string("status")
    if status not in CHOSEN_STATUSES:
        choices = ", ".join(CHOSEN_STATUSES)
        raise ChatError(ErrorCode.BAD_REQUEST, f"status must be one of {choices}")
    text = one_line(data, "status_text", STATUS_TEXT_MAX) if data.has("status_text") else ""
    if text:  # said to everyone online: not by someone muted (a status alone is no speech)
        check_not_muted(server, peer.username, None)
    await server.store.set_status(peer.username, status, text)
    await server.statuses.changed(peer.username, (status, text))
    return {"status": status, "status_text": text}
