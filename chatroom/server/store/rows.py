"""The columns the SQL store reads messages and files with, and the records it makes
of their rows."""

from typing import TYPE_CHECKING, Any

from chatroom.server.store.base import FileRecord, Room, StoredMessage

if TYPE_CHECKING:
    from chatroom.server.store.database import Database

MESSAGE_COLUMNS = """
    m.mid, m.sender, m.recipient, m.text, m.ts, m.conv,
    f.fid, f.sender, f.recipient, f.name, f.size, f.sha256, f.mid, f.conv, m.flags
"""
"""A message (`m`), the file it announces, if any (`f`, LEFT JOINed on m.fid), and its
flags (`DELETED`, `ANNOUNCEMENT`)."""
DELETED = 1
"""A message's flag: deleted by its author or a moderator (no text, no file left)."""
ANNOUNCEMENT = 2
"""A message's flag: an announcement from a moderator to everyone."""
FILE_COLUMNS = "fid, sender, recipient, name, size, sha256, mid, conv"


class RoomNames:
    """Every room by its conversation number: rooms are few, and a message row carries
    only the number. Filled when the store opens, kept up to date as rooms change."""

    def __init__(self, rooms: list[Room]) -> None:
        self.by_conv = {room.conv: room for room in rooms}

    def name(self, conv: int) -> str | None:
        """The room's name; None for a private conversation."""
        room = self.by_conv.get(conv)
        return room.name if room is not None else None

    def message(self, row: Any, duplicate: bool = False) -> StoredMessage:
        """A StoredMessage from the columns of MESSAGE_COLUMNS (a row is a plain tuple)."""
        mid, sender, recipient, text, ts, conv = row[:6]
        file = self.file(row[6:14]) if row[6] is not None else None
        flags = row[14]
        return StoredMessage(
            mid,
            sender,
            recipient,
            text,
            ts,
            file,
            duplicate,
            conv,
            self.name(conv),
            deleted=bool(flags & DELETED),
            announcement=bool(flags & ANNOUNCEMENT),
        )

    def file(self, row: Any) -> FileRecord:
        """A FileRecord from the columns of FILE_COLUMNS."""
        fid, sender, recipient, name, size, sha256, mid, conv = row
        return FileRecord(fid, sender, recipient, name, size, sha256, mid, conv, self.name(conv))

    async def find_file(self, db: "Database", fid: int) -> FileRecord | None:
        rows = await db.execute_fetchall(f"SELECT {FILE_COLUMNS} FROM files WHERE fid = ?", (fid,))
        return next((self.file(row) for row in rows), None)
