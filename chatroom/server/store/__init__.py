"""Where users and messages are kept: the interface (`interface`, with the records it
returns in `base`) and its SQLite implementation (`schema` for the tables and their
migrations, `writer` for every write, `sqlite`, `people`, `moderation` and
`conversations` for the rest)."""

from chatroom.server.store.base import FileRecord, Room, StoredMessage, UserRecord
from chatroom.server.store.interface import Store
from chatroom.server.store.sql import SqlStore

__all__ = ["FileRecord", "Room", "SqlStore", "Store", "StoredMessage", "UserRecord"]
