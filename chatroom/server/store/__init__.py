"""Where users and messages are kept: the interface (`base`) and its SQLite implementation
(`schema` for the tables and their migrations, `writer` for every write, `sqlite` for the
rest)."""

from chatroom.server.store.base import FileRecord, Room, Store, StoredMessage, UserRecord
from chatroom.server.store.sqlite import SqliteStore

__all__ = ["FileRecord", "Room", "SqliteStore", "Store", "StoredMessage", "UserRecord"]
