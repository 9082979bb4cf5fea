"""What `chatroom-admin` reads: lists of users and rooms, the audit log, figures, and
transcripts. Read-only connections: they see what a running server has committed, and
change nothing."""

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from chatroom.common.amounts import amount
from chatroom.common.files import human_size
from chatroom.common.names import username_key
from chatroom.common.visible import visible
from chatroom.server.admin.export import WRITERS, Line, room_lines, user_lines
from chatroom.server.store.sql import DATABASE_NAME, FIND_USER_SQL, user_lookup
from chatroom.utils.args import os_reason


class AdminError(Exception):
    """A failure to report in one line."""


@contextlib.contextmanager
def reading(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """The database, read-only (it sees what a running server has committed)."""
    database = data_dir / DATABASE_NAME
    if not database.exists():
        raise AdminError(f"there is no chatroom database in {data_dir}")
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield db
    finally:
        db.close()


def table(rows: Sequence[Sequence[object]], header: tuple[str, ...]) -> None:
    """Print rows as aligned columns under a header; what users wrote (a display name, a
    reason) shows every character, so none acts on the terminal (`visible`)."""
    cells = [list(header), *[["" if c is None else visible(str(c)) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def list_users(args: argparse.Namespace) -> None:
    with reading(args.data_dir) as db:
        rows = db.execute(
            """SELECT u.username, u.display_name, u.role, u.created_at,
                      (SELECT CASE WHEN s.until IS NULL THEN 'banned' ELSE 'banned until '
                                   || datetime(s.until, 'unixepoch', 'localtime') END
                       FROM sanctions AS s WHERE s.username = u.username AND s.conv = 0
                         AND s.kind = 'ban' AND (s.until IS NULL OR s.until > unixepoch()))
               FROM users AS u ORDER BY u.username"""
        ).fetchall()
    table([(n, d, r, when(c), b) for n, d, r, c, b in rows], ("USER", "NAME", "ROLE", "SINCE", ""))
    print(amount(len(rows), "user"))


def rooms(args: argparse.Namespace) -> None:
    with reading(args.data_dir) as db:
        rows = db.execute(
            """SELECT c.room, COALESCE(c.owner, ''),
                      CASE WHEN c.conv = 1 THEN (SELECT COUNT(*) FROM users)
                           ELSE (SELECT COUNT(*) FROM members WHERE conv = c.conv) END,
                      (SELECT COUNT(*) FROM messages WHERE conv = c.conv),
                      CASE WHEN c.public THEN 'public' ELSE 'invite-only' END, c.topic
               FROM conversations AS c WHERE c.room IS NOT NULL ORDER BY c.room"""
        ).fetchall()
    table(rows, ("ROOM", "OWNER", "MEMBERS", "MESSAGES", "ACCESS", "TOPIC"))


def audit(args: argparse.Namespace) -> None:
    with reading(args.data_dir) as db:
        rows = db.execute(
            """SELECT ts, action, actor, target, room, detail FROM audit
               ORDER BY id DESC LIMIT ?""",
            (args.limit,),
        ).fetchall()
    shown = [(when(ts), a, who, whom, room, detail) for ts, a, who, whom, room, detail in rows]
    table(shown[::-1], ("WHEN", "ACTION", "BY", "USER", "ROOM", "DETAIL"))


def stats(args: argparse.Namespace) -> None:
    with reading(args.data_dir) as db:
        (users,) = db.execute("SELECT COUNT(*) FROM users").fetchone()
        (room_count,) = db.execute(
            "SELECT COUNT(*) FROM conversations WHERE room IS NOT NULL"
        ).fetchone()
        (messages,) = db.execute("SELECT COUNT(*) FROM messages").fetchone()
        files, file_bytes = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files WHERE mid IS NOT NULL"
        ).fetchone()
        days = db.execute(
            """SELECT date(ts, 'unixepoch', 'localtime') AS day, COUNT(*) FROM messages
               WHERE ts >= unixepoch() - ? * 86400 GROUP BY day ORDER BY day""",
            (args.days,),
        ).fetchall()
    database = sum(
        path.stat().st_size for path in args.data_dir.glob(f"{DATABASE_NAME}*") if path.is_file()
    )
    stored = sum(p.stat().st_size for p in (args.data_dir / "files").glob("*") if p.is_file())
    print(f"users     {users}")
    print(f"rooms     {room_count}")
    print(f"messages  {messages}")
    print(f"files     {files} ({human_size(file_bytes)})")
    print(f"storage   database {human_size(database)}, files {human_size(stored)}")
    print(f"\nmessages per day, last {args.days} days:")
    table(days, ("DAY", "MESSAGES"))


def export(args: argparse.Namespace) -> None:
    since = parse_since(args.since) if args.since else 0.0
    with reading(args.data_dir) as db:
        if args.room is not None:
            found = db.execute(
                "SELECT conv, room FROM conversations WHERE room_key = ?",
                (username_key(args.room),),
            ).fetchone()
            if found is None:
                raise AdminError(f"there is no room {args.room!r}")
            lines, title = room_lines(db, found[0], since), f"chatroom transcript: {found[1]}"
        else:
            name = registered(db, args.user)
            lines, title = user_lines(db, name, since), f"chatroom transcript: {name}"
        if args.since:
            title += f" since {args.since}"
        write = WRITERS[args.format]
        if args.output is None:
            on_terminal = sys.stdout.isatty()  # (a pipe or a file gets the text as stored)
            write(map(Line.for_terminal, lines) if on_terminal else lines, sys.stdout, title)
            return
        try:  # a new file readable by its owner only: a user's transcript is private
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                count = write(lines, out, title)
        except OSError as exc:
            raise AdminError(f"cannot write {args.output}: {os_reason(exc)}") from None
    print(f"{amount(count, 'message')} written to {args.output}", file=sys.stderr)


def parse_since(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AdminError(f"--since {text!r} is not a date: give YYYY-MM-DD[THH:MM]") from None
    return moment.timestamp()  # a naive date is in local time


def registered(db: sqlite3.Connection, username: str) -> str:
    """The name `username` was registered under (found as the server finds it)."""
    name, key = user_lookup(username)
    row = db.execute(FIND_USER_SQL, {"name": name, "key": key}).fetchone()
    if row is None:
        raise AdminError(f"there is no user {username!r}")
    return str(row[0])
