"""Whether storage is refusing writes (a full disk), so it is logged once, not per request.

When the disk fills, every write fails the same way until room is made. Clients get the
`storage_full` error each time; the log gets one line when the condition starts and one
when writes succeed again, instead of a traceback for every refused request.
"""

import errno
import logging
import sqlite3

from chatroom.common.errors import ChatError, ErrorCode

log = logging.getLogger("chatroom.server")

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_storage_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the user's disk quota) has no room left."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


class StorageHealth:
    """Remembers whether the last write failed for lack of room."""

    def __init__(self) -> None:
        self.full = False

    def refused(self, what: str, exc: BaseException) -> ChatError:
        """The error for a write that `exc` refused; logs the first of a run of them."""
        if not self.full:
            self.full = True
            log.error("storage full: %s failed (%s); refusing writes until it has room", what, exc)
        return ChatError(
            ErrorCode.STORAGE_FULL, "the server's disk is full: nothing was stored; try later"
        )

    def wrote(self) -> None:
        """A write succeeded: if storage was full, say it has room again."""
        if self.full:
            self.full = False
            log.warning("storage has room again: accepting writes")
