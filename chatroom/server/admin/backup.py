"""Backups of a data directory that a server may be using, and restoring one.

The database is copied with SQLite's online backup API, which gives a consistent
snapshot however much the server writes meanwhile: every message acknowledged before the
snapshot is in it. Then the files: a file's bytes are complete and never change once its
message is stored, so copying, after the snapshot, the file of every message in the
snapshot gives a backup in which every file the database names is whole. Uploads not yet
complete at the snapshot are left out (their senders resume them).
"""

import contextlib
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from chatroom.server.datadir import DATABASE_FILES, PRIVATE, STAGING, lock, quick_check
from chatroom.server.store.sql import DATABASE_NAME
from chatroom.utils.args import failure_reason

FILES = "files"
UNFINISHED = f"{DATABASE_NAME}.unfinished"
"""A backup's database while its files are copied."""


class BackupError(Exception):
    """Why a backup or restore could not be made, in one line."""


@dataclass(slots=True, frozen=True)
class Copied:
    messages: int
    files: int
    missing: int
    """Files the snapshot names whose bytes were gone by the time they were copied (a
    message deleted meanwhile)."""
    bytes: int


def backup(data_dir: Path, dest: Path) -> Copied:
    """Copy the database and its files in `data_dir` to the new folder `dest`.

    The database is copied under the name `UNFINISHED` and given its own name once every
    file is copied: a backup killed half-way leaves a folder `restore` refuses, and one
    that fails removes what it copied."""
    database = data_dir / DATABASE_NAME
    if not database.exists():
        raise BackupError(f"there is no chatroom database in {data_dir}")
    taken = BackupError(f"{dest} is not an empty folder: give a new one")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise taken
    claimed = False
    try:
        dest.mkdir(mode=PRIVATE, parents=True, exist_ok=True)  # every message is in it
        try:
            # Of backups started at once into one new folder, this lets one go on.
            (dest / FILES).mkdir(mode=PRIVATE)
        except FileExistsError:
            raise taken from None
        claimed = True
        with (
            contextlib.closing(sqlite3.connect(database, timeout=30)) as source,
            contextlib.closing(sqlite3.connect(dest / UNFINISHED)) as copy,
        ):
            source.backup(copy, pages=4096)  # a step at a time: the server goes on
            ((messages,),) = copy.execute("SELECT COUNT(*) FROM messages")
            done = copy.execute("SELECT fid FROM files WHERE mid IS NOT NULL")
            fids = [fid for (fid,) in done]
            copy.execute("PRAGMA journal_mode = DELETE")  # one file, to carry around
        copied = missing = size = 0
        for fid in fids:
            try:
                shutil.copy2(data_dir / FILES / str(fid), dest / FILES / str(fid))
            except FileNotFoundError:
                missing += 1
                continue
            copied += 1
            size += (dest / FILES / str(fid)).stat().st_size
        (dest / UNFINISHED).rename(dest / DATABASE_NAME)  # whole now
        return Copied(messages, copied, missing, size)
    except (OSError, sqlite3.Error) as exc:
        if claimed:
            shutil.rmtree(dest / FILES, ignore_errors=True)
            (dest / UNFINISHED).unlink(missing_ok=True)
        reason = failure_reason(exc)
        raise BackupError(f"cannot back up {data_dir} to {dest}: {reason}") from None


def restore(source: Path, data_dir: Path, replace: bool) -> Path | None:
    """Put the backup in `source` into `data_dir`, which no server may be using. What
    `data_dir` held is moved aside (only with `replace`) into a folder returned.

    The backup is copied and checked beside the data first (`STAGING`), and only then
    put in place: a copy that fails (a full disk, a damaged backup) leaves the data as it
    was, and a restore killed half-way leaves at most the staging folder, which the next
    one removes."""
    if (source / UNFINISHED).exists():
        raise BackupError(f"{source} holds a backup that did not finish: make a new one")
    if not (source / DATABASE_NAME).exists():
        raise BackupError(f"{source} holds no chatroom backup (no {DATABASE_NAME})")
    held = lock(data_dir)  # DataDirError if a server has it
    staging, aside = data_dir / STAGING, None
    try:
        present = [data_dir / n for n in [*DATABASE_FILES, FILES] if (data_dir / n).exists()]
        if present and not replace:
            raise BackupError(f"{data_dir} has data already: add --replace to move it aside first")
        shutil.rmtree(staging, ignore_errors=True)  # what a killed restore left
        _copy_checked(source, staging)
        if present:
            aside = _new_aside(data_dir)
            for path in present:
                path.rename(aside / path.name)
        for name in (FILES, DATABASE_NAME):  # the database last: it says a restore is whole
            (staging / name).rename(data_dir / name)
        return aside
    except (OSError, sqlite3.Error) as exc:
        kept = f" (what was there is in {aside})" if aside else ""
        reason = failure_reason(exc)
        raise BackupError(f"cannot restore {source} into {data_dir}: {reason}{kept}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        held.release()


def _new_aside(data_dir: Path) -> Path:
    """A new folder in `data_dir` for what a restore replaces, named for the time:
    replaced-YYYYMMDD-HHMMSS, then -2, -3... for restores within the same second."""
    named = time.strftime("replaced-%Y%m%d-%H%M%S")
    aside, n = data_dir / named, 1
    while True:
        try:
            aside.mkdir(mode=PRIVATE)
            return aside
        except FileExistsError:
            n += 1
            aside = data_dir / f"{named}-{n}"


def _copy_checked(source: Path, staging: Path) -> None:
    """Copy the backup in `source` into the new folder `staging`, and check its database."""
    staging.mkdir(mode=PRIVATE)
    shutil.copy2(source / DATABASE_NAME, staging / DATABASE_NAME)
    if (source / FILES).is_dir():
        shutil.copytree(source / FILES, staging / FILES)
        (staging / FILES).chmod(PRIVATE)  # as the server makes it, whatever the backup's
    else:
        (staging / FILES).mkdir(mode=PRIVATE)
    verdict = quick_check(staging / DATABASE_NAME)
    if verdict != "ok":
        raise BackupError(f"the backup's database is damaged: {verdict}; nothing was changed")
