"""The refusals the store makes inside a write: a full mailbox, an upload over its
sender's quota or number of unfinished uploads, a join of a room one is banned from, and
what a block drops (a contact request, a room invitation)."""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import human_size
from chatroom.server.store.base import Room
from chatroom.server.store.database import Database


def mailbox_full(recipient: str, limit: int) -> ChatError:
    """The refusal of a private message or file to a recipient with `limit` unread."""
    return ChatError(
        ErrorCode.MAILBOX_FULL,
        f"{recipient} has {limit} unread private messages; try again once they have read some",
        limit=limit,
    )


async def check_upload_room(
    db: Database, sender: str, size: int, quota: int, max_uploads: int
) -> None:
    """Refuse a new upload over the sender's quota or number of unfinished uploads."""
    ((used, unfinished),) = await db.execute_fetchall(
        """SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT),
                  COUNT(*) FILTER (WHERE mid IS NULL)
           FROM files WHERE sender = ?""",
        (sender,),
    )
    if unfinished >= max_uploads:
        raise ChatError(
            ErrorCode.TOO_MANY_UPLOADS,
            f"you have {unfinished} unfinished uploads; finish one first (or wait for it "
            "to expire)",
            limit=max_uploads,
        )
    if used + size > quota:
        raise ChatError(
            ErrorCode.QUOTA_EXCEEDED,
            f"you have {human_size(used)} of files stored; the quota is {human_size(quota)}",
            quota=quota,
            used=used,
        )


def banned_from(room_name: str, until: float | None) -> ChatError:
    """The refusal of a join of a room its user is banned from (`until`: None, until
    lifted)."""
    return ChatError(ErrorCode.BANNED, f"you are banned from {room_name}", until=until)


async def check_not_banned_in(db: Database, room: Room, username: str, now: float) -> None:
    """Refuse a join of `room` by `username` if they are banned from it at `now`. Read in
    the join's write: of a ban and a join at once, one is stored first, and a join stored
    after the ban sees it (the ban takes out of the room a join stored before it)."""
    rows = await db.execute_fetchall(
        """SELECT until FROM sanctions
           WHERE username = ? AND conv = ? AND kind = 'ban' AND (until IS NULL OR until > ?)""",
        (username, room.conv, now),
    )
    for (until,) in rows:
        raise banned_from(room.name, until)


async def has_blocked(db: Database, username: str, other: str) -> bool:
    """Whether `username` has blocked `other`, read in the write of what the block drops:
    the remembered blocks may not hold a block just stored (on another node, or in the
    moment before this one remembers it), and what is stored after a block outlives it."""
    return bool(
        await db.execute_fetchall(
            "SELECT 1 FROM blocks WHERE username = ? AND blocked = ?", (username, other)
        )
    )
