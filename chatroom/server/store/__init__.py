"""Where users and messages are kept: an interface (`base`) and its SQLite implementation."""

from chatroom.server.store.base import FileRecord, Store, StoredMessage, UserRecord
from chatroom.server.store.sqlite import SqliteStore

__all__ = ["FileRecord", "SqliteStore", "Store", "StoredMessage", "UserRecord"]
