"""Who may do what: roles and ranks, mutes and bans, the private-message policy.

A user's authority is the highest of their server role (`admin`, `moderator`) and, in a
room, their place in it (its owner, or a moderator the owner named). One may moderate
only someone of lower rank: a room moderator cannot mute the room's owner, a server
moderator cannot kick an admin, and nobody moderates themselves.
"""

from enum import IntEnum

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.server.services import Services
from chatroom.server.store import FileRecord, Room, StoredMessage
from chatroom.server.store.moderation import BAN, MUTE
from chatroom.server.store.refusals import banned_from


class Rank(IntEnum):
    USER = 0
    ROOM_MODERATOR = 1
    ROOM_OWNER = 2
    MODERATOR = 3
    ADMIN = 4


SERVER_RANKS = {"user": Rank.USER, "moderator": Rank.MODERATOR, "admin": Rank.ADMIN}
"""Server roles (`users.role`) and the rank each gives."""
ROOM_RANKS = {"member": Rank.USER, "moderator": Rank.ROOM_MODERATOR, "owner": Rank.ROOM_OWNER}
"""Places in a room (`members.role`, or its owner) and the rank each gives."""

DM_POLICIES = ("anyone", "contacts")
"""Who may send a private message to whom (the server's `--dm-policy`)."""


async def rank(server: Services, username: str, room: Room | None = None) -> Rank:
    """`username`'s authority on the server, or in `room` if given."""
    ranked = SERVER_RANKS.get(await server.store.role(username), Rank.USER)
    if room is not None and ranked < Rank.MODERATOR:
        place = await server.store.room_role(room, username)
        ranked = max(ranked, ROOM_RANKS.get(place or "member", Rank.USER))
    return ranked


async def require_rank(
    server: Services, username: str, least: Rank, room: Room | None, what: str
) -> Rank:
    """`username`'s rank, if at least `least`; else `forbidden` saying what they tried."""
    ranked = await rank(server, username, room)
    if ranked < least:
        where = f" in {room.name}" if room is not None else ""
        raise ChatError(ErrorCode.FORBIDDEN, f"you may not {what}{where}")
    return ranked


async def require_above(
    server: Services, actor: str, target: str, room: Room | None, what: str
) -> None:
    """That `actor` moderates (in `room`, or server-wide) and outranks `target`."""
    if actor == target:
        raise ChatError(ErrorCode.BAD_REQUEST, f"you cannot {what} yourself")
    least = Rank.ROOM_MODERATOR if room is not None else Rank.MODERATOR
    mine = await require_rank(server, actor, least, room, what + " anyone")
    if await rank(server, target, room) >= mine:
        raise ChatError(ErrorCode.FORBIDDEN, f"you may not {what} {target}: they outrank you")


def may_see(server: Services, username: str, said: StoredMessage | FileRecord) -> bool:
    """Whether `username` may see a message or a file: its sender and recipient if it
    is private, the room's members if not."""
    if said.recipient is not None:
        return username in (said.sender, said.recipient)
    return server.hub.is_member(said.conv, username)


def check_not_muted(server: Services, username: str, room: Room | None) -> None:
    """`muted` (with `until`) if `username` may not write in `room` (None: privately)."""
    conv = room.conv if room is not None else 0
    muted, until = server.store.sanctioned_until(username, conv, MUTE, server.wall_clock())
    if muted:
        raise ChatError(ErrorCode.MUTED, "you are muted: a moderator silenced you", until=until)


def check_not_banned(server: Services, username: str, room: Room) -> None:
    """`banned` (with `until`) if `username` is banned from `room`."""
    banned, until = server.store.sanctioned_until(username, room.conv, BAN, server.wall_clock())
    if banned:
        raise banned_from(room.name, until)


async def check_private_allowed(server: Services, sender: str, to: str) -> None:
    """Under the `contacts` policy, `forbidden` unless the two are contacts (or one of
    them moderates the server, or it is a note to oneself)."""
    if server.dm_policy != "contacts" or sender == to:
        return
    if await server.store.are_contacts(sender, to):
        return
    for username in (sender, to):
        if await rank(server, username) >= Rank.MODERATOR:
            return
    raise ChatError(
        ErrorCode.FORBIDDEN,
        f"this server allows private messages between contacts only: ask {to} first",
    )
