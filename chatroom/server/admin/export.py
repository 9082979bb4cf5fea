"""Transcripts of a room, or of one user, in JSON, CSV, HTML or plain text.

Rows are read from the database and written out one at a time, so a room of a million
messages takes no more memory than one of ten. Times are written in the local time zone
of whoever runs the export, with its offset, as a teacher reads them.
"""

import csv
import dataclasses
import html
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from chatroom.common.actions import action_of
from chatroom.common.amounts import amount
from chatroom.common.files import human_size
from chatroom.common.visible import visible
from chatroom.server.store.rows import ANNOUNCEMENT, DELETED

FORMATS = ("json", "csv", "html", "txt")


@dataclass(slots=True, frozen=True)
class Line:
    """One message of a transcript."""

    mid: int
    ts: float
    sender: str
    to: str | None
    room: str | None
    text: str
    file_name: str | None
    file_size: int | None
    deleted: bool
    announcement: bool

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.ts).astimezone().isoformat(timespec="seconds")

    @property
    def where(self) -> str:
        return self.room if self.room is not None else f"{self.sender} → {self.to}"

    def for_terminal(self) -> "Line":
        """The same, its text and file name such that a terminal shows every character
        (`visible`): what a student wrote cannot recolour or retitle the one reading."""
        name = None if self.file_name is None else visible(self.file_name)
        return dataclasses.replace(self, text=visible(self.text), file_name=name)

    @property
    def action(self) -> str | None:
        """`* alice waves` for `/me waves` (protocol.md's actions), else None."""
        does = None if self.deleted or self.file_name is not None else action_of(self.text)
        return None if does is None else f"* {self.sender} {does}"

    @property
    def shown(self) -> str:
        """The text as a reader should see it."""
        if self.deleted:
            return "(deleted)"
        if self.file_name is not None:
            return f"[file] {self.file_name} ({human_size(self.file_size or 0)})"
        return self.text


_LINES = """
    SELECT m.mid, m.ts, m.sender, m.recipient, c.room, m.text, f.name, f.size, m.flags
    FROM messages AS m JOIN conversations AS c ON c.conv = m.conv
    LEFT JOIN files AS f ON f.fid = m.fid
"""


def room_lines(db: sqlite3.Connection, conv: int, since: float) -> Iterator[Line]:
    """Everything said in one room from `since` (unix time), oldest first."""
    rows = db.execute(_LINES + "WHERE m.conv = ? AND m.ts >= ? ORDER BY m.mid", (conv, since))
    return (_line(row) for row in rows)


def user_lines(db: sqlite3.Connection, username: str, since: float) -> Iterator[Line]:
    """What one user wrote anywhere, and every private message to them, oldest first."""
    rows = db.execute(
        _LINES + "WHERE (m.sender = :u OR m.recipient = :u) AND m.ts >= :since ORDER BY m.mid",
        {"u": username, "since": since},
    )
    return (_line(row) for row in rows)


def _line(row: Any) -> Line:
    mid, ts, sender, to, room, text, name, size, flags = row
    deleted, announcement = bool(flags & DELETED), bool(flags & ANNOUNCEMENT)
    return Line(mid, ts, sender, to, room, text, name, size, deleted, announcement)


def write_json(lines: Iterable[Line], out: TextIO, title: str) -> int:
    out.write('{"transcript": ' + json.dumps(title) + ', "messages": [')
    count = 0
    for line in lines:
        entry = {
            "mid": line.mid,
            "time": line.when,
            "ts": line.ts,
            "from": line.sender,
            "to": line.to,
            "room": line.room,
            "text": "" if line.deleted else line.text,
            "file": None
            if line.file_name is None
            else {"name": line.file_name, "size": line.file_size},
            "deleted": line.deleted,
            "announcement": line.announcement,
        }
        out.write(("\n  " if not count else ",\n  ") + json.dumps(entry, ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count


def write_csv(lines: Iterable[Line], out: TextIO, title: str) -> int:
    writer = csv.writer(out)
    writer.writerow(["mid", "time", "from", "to", "room", "text", "file", "file_size", "deleted"])
    count = 0
    for line in lines:
        text = "" if line.deleted else line.text
        writer.writerow(
            [
                line.mid,
                line.when,
                line.sender,
                line.to or "",
                line.room or "",
                text,
                line.file_name or "",
                line.file_size if line.file_size is not None else "",
                "yes" if line.deleted else "",
            ]
        )
        count += 1
    return count


def write_txt(lines: Iterable[Line], out: TextIO, title: str) -> int:
    out.write(f"{title}\n\n")
    count = 0
    for line in lines:
        mark = "[announcement] " if line.announcement else ""
        said = line.action or f"{line.sender}: {mark}{line.shown}"
        out.write(f"[{line.when}] ({line.where}) {visible(said)}\n")  # one line; no escapes
        count += 1
    return count


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
h1 { font-size: 1.3em; }
table { border-collapse: collapse; width: 100%; }
td { padding: .25em .6em; vertical-align: top; border-bottom: 1px solid #ddd; }
td.when { white-space: nowrap; color: #666; font-size: .85em; }
td.who { white-space: nowrap; font-weight: 600; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
tr.deleted td.text { color: #999; font-style: italic; }
tr.announcement td { background: #fff6d5; }
@media print { body { margin: 0; max-width: none; } tr { break-inside: avoid; } }
"""


def write_html(lines: Iterable[Line], out: TextIO, title: str) -> int:
    e = html.escape
    out.write(
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{e(title)}</title>\n<style>{_STYLE}</style></head>\n"
        f"<body>\n<h1>{e(title)}</h1>\n<table>\n"
    )
    count = 0
    for line in lines:
        kind = "deleted" if line.deleted else "announcement" if line.announcement else ""
        out.write(
            f'<tr class="{kind}"><td class="when">{e(line.when)}</td>'
            f'<td class="where">{e(line.where)}</td><td class="who">{e(line.sender)}</td>'
            f'<td class="text">{e(line.action or line.shown)}</td></tr>\n'
        )
        count += 1
    out.write(f"</table>\n<p>{amount(count, 'message')}.</p>\n</body></html>\n")
    return count


WRITERS: dict[str, Callable[[Iterable[Line], TextIO, str], int]] = {
    "json": write_json,
    "csv": write_csv,
    "html": write_html,
    "txt": write_txt,
}
"""Each format's writer: it writes the lines and returns how many there were."""
