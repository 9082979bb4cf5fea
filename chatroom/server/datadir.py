"""The data directory at start: claim it for this server alone, and refuse one it cannot use.

Each check turns a failure that would otherwise come later, and worse, into one line at
start: two servers on one database (each delivers only to its own users), a file the
server cannot write (SQLite fails every write, or the process dies of SIGBUS), damaged
pages (logins fail once the server is up).
"""

import contextlib
import fcntl
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from chatroom.server.store.sql import DATABASE_NAME
from chatroom.utils.args import os_reason

LOCK_NAME = "lock"
"""The file in the data directory that a running server holds locked; it holds its pid."""

DATABASE_FILES = [DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm"]
"""The database and the two files SQLite keeps beside it in WAL mode."""

STAGING = ".restoring"
"""Where `chatroom-admin restore` copies and checks a backup before putting it in place:
found at start, it means a restore was stopped half-way."""

PRIVATE = 0o700
"""The mode of a data directory the server or chatroom-admin makes: its messages, password
hashes and files are for the user who runs the server alone."""


class DataDirError(Exception):
    """Why the server cannot use its data directory, in one line for whoever started it."""


class DataDirLock:
    """An exclusive lock on the data directory, held until `release()` or the process ends.

    It is a `flock` on an open file, which the kernel drops when the last descriptor for it
    closes, however the process ends: a server killed by SIGKILL leaves nothing to clean up.
    The lock is advisory: it keeps out other chatroom servers, not other programs.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        """Let the next server in; releasing again does nothing."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def claim(data_dir: Path) -> DataDirLock:
    """Lock `data_dir` (creating it if need be) and check its files; raises `DataDirError`."""
    make(data_dir)
    _check_directory_writable(data_dir)
    lock = _lock(data_dir, SERVER)
    try:
        if (data_dir / STAGING).exists():  # (a restore under way holds the lock)
            raise DataDirError(
                f"a restore into {data_dir} was stopped half-way: run chatroom-admin restore again"
            )
        # Both checks open the database files and close them again. Closing any descriptor
        # of a file drops every POSIX lock the process holds on it, SQLite's included, so
        # they must run before the store opens the database, never while it has it open.
        for name in DATABASE_FILES:
            _check_writable(data_dir / name)
        _check_integrity(data_dir / DATABASE_NAME)
    except BaseException:
        lock.release()
        raise
    return lock


def lock(data_dir: Path) -> DataDirLock:
    """Lock `data_dir` (creating it if need be) without checking its files: for taking it
    from the server while its database is replaced (`chatroom-admin restore`)."""
    make(data_dir)
    return _lock(data_dir, RESTORE)


def make(data_dir: Path) -> None:
    """Make `data_dir` and its parents if need be, `data_dir` itself for its owner's eyes
    only (it holds every message); raises `DataDirError` saying why not."""
    try:
        data_dir.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"data directory {data_dir} is a file, not a directory") from None
    except OSError as exc:
        raise DataDirError(f"cannot make data directory {data_dir}: {os_reason(exc)}") from None


def open_to_others(data_dir: Path) -> bool:
    """Whether users other than its owner may look inside `data_dir` (its mode bits)."""
    return bool(data_dir.stat().st_mode & ~PRIVATE & 0o777)


SERVER = "chatroom-server"
RESTORE = "chatroom-admin restore"
"""The programs that lock a data directory, as the lock file names its holder."""


def _lock(data_dir: Path, program: str) -> DataDirLock:
    path = data_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_line(fd)
        os.close(fd)
        in_use = f"data directory {data_dir} is in use by {_holder(holder, program)}"
        raise DataDirError(in_use) from None
    except OSError as exc:  # e.g. a file system without locks
        os.close(fd)
        raise DataDirError(f"cannot lock {path}: {os_reason(exc)}") from None
    # Only now that the lock is ours: writing earlier could erase the holder's line. The
    # line goes over the last holder's, then what is left of theirs is cut: never empty.
    line = f"{os.getpid()} {program}\n".encode()
    os.pwrite(fd, line, 0)
    os.ftruncate(fd, len(line))
    return DataDirLock(fd)


HOLDER_WAIT = 0.1
"""Seconds a program refused the lock waits for its holder's line, which the holder
writes just after it locks (a new lock file is empty until then)."""


def _holder_line(fd: int) -> str:
    """The lock file's first line, once the holder has written it (or the wait is over)."""
    waited_until = time.monotonic() + HOLDER_WAIT
    while True:
        text = os.pread(fd, 100, 0).decode(errors="replace")
        if "\n" in text or time.monotonic() > waited_until:
            return text
        time.sleep(0.001)  # another process's write: nothing here to wait on


def _holder(text: str, program: str) -> str:
    """Who holds the lock, from its file's `text` ("PID PROGRAM", or "PID" before the
    program was named), as `program` refused by it is told."""
    # A holder stopped between locking and writing its line leaves none to read.
    pid, _, holder = (text.splitlines() or [""])[0].strip().partition(" ")
    if holder not in (SERVER, RESTORE):  # none, or not ours to repeat
        holder = SERVER
    who = f"another {holder}" if holder == program else holder
    return f"{who} (pid {pid})" if pid.isdigit() else who


def _check_directory_writable(data_dir: Path) -> None:
    """SQLite creates its -wal and -shm files beside the database: try creating one."""
    try:
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise DataDirError(f"cannot write to data directory {data_dir}: {os_reason(exc)}") from None


def _check_writable(path: Path) -> None:
    """Open `path` for writing if it exists. Permission bits alone would not tell: root
    ignores them, and a read-only file system refuses a writable file."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except FileNotFoundError:
        pass  # SQLite creates it
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _check_integrity(database: Path) -> None:
    """`PRAGMA quick_check`: every page of every table and index is read and its structure
    checked (not whether each index matches its table; that is `integrity_check`)."""
    if not database.exists():
        return  # a new data directory: the store creates it
    try:
        verdict = quick_check(database)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        verdict = str(exc)  # too damaged to check: "file is not a database"
    if verdict != "ok":
        # Its first problem, without the "*** in database main ***" heading above it.
        first_line = verdict.removeprefix("*** in database main ***\n").splitlines()[0]
        raise DataDirError(
            f"database {database} is damaged: {first_line}; restore it from a backup"
        )


def quick_check(database: Path) -> str:
    """`PRAGMA quick_check(1)` on `database`: "ok", or its first problem. Read-only, so
    that checking changes nothing; it still reads what the WAL holds. Raises
    sqlite3.DatabaseError for a file too damaged to check (see `is_damage`)."""
    uri = f"{database.resolve().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        verdict: str = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    return verdict


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite failed because the database file is damaged (or not one at all)."""
    # An extended result code (SQLITE_CORRUPT_INDEX...) keeps its primary in the low byte.
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _unwritable(path: Path, exc: OSError) -> DataDirError:
    return DataDirError(f"cannot write to {path}: {os_reason(exc)}")
