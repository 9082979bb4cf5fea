"""What a conversation's log shows, entry by entry: a message (its byline and rows), a
file, a divider.

Text from the network is appended as plain `rich.text.Text`, never parsed as markup, so a
message like `[bold]` or `[link=...]` shows exactly as typed. Characters that would act on
the terminal show as escapes in reverse video (`chatroom.common.visible`), and every row of
a message after its first starts with a gutter, so no line of a message, whether the
sender broke it or the log wrapped it, can pass for a message of its own.
"""

import re
from datetime import datetime

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from chatroom.common.actions import action_of
from chatroom.common.files import human_size
from chatroom.common.messages import FilePush, MessagePush
from chatroom.common.visible import message_lines, pieces

Item = MessagePush | FilePush
"""A message or a file, live or from the history."""

GUTTER = "      │ "
"""In front of a message's further rows. Times start at column 0 and names at column 6,
where this has its bar: a fake `18:12 admin:` line cannot start where a real one does."""


_GUTTER = Segment(GUTTER, Style(dim=True))

MENTION = "reverse bold yellow"
"""The byline of a message that names the user."""


def mentions(text: str, name: str) -> bool:
    """Whether `text` says `name` as a word of its own (any case): `bob`, `@bob`, `bob:`,
    but not `bobby` or `kebob`."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE) is not None


def written_to(item: Item, me: str) -> bool:
    """Whether a message or file was written to the user `me`: privately, or naming them."""
    return item.to is not None or (isinstance(item, MessagePush) and mentions(item.text, me))


def shown(text: str, style: str = "") -> Text:
    """`text` on one line, acting characters as escapes in reverse video."""
    line = Text(style=style)
    for piece in pieces(text):
        line.append(piece.text, style="reverse" if piece.escaped else None)
    return line


class MessageRows:
    """A message in the log: its first line after the byline, then the other lines, and
    any part the log's width pushes onto a row of its own, each behind the GUTTER."""

    def __init__(
        self, first: Text, more: list[Text], mid: int = 0, byline: int = 0, mine: bool = False
    ) -> None:
        self.first = first
        self.more = more
        self.mid = mid
        """The message's mid (0 for one not yet stored), to place it in the log."""
        self.byline = byline
        """How many characters `first` starts with are the byline (`HH:MM sender`)."""
        self.mine = mine
        """Whether the user sent it (and it is not deleted: /delete takes the newest)."""

    def deleted(self) -> "MessageRows":
        """The same message deleted: its byline, no longer standing out, and no text."""
        line = self.first[: self.byline]
        line.spans = [span for span in line.spans if span.style != MENTION]
        line.append(" deleted a message", style="dim italic")
        return MessageRows(line, [], self.mid, self.byline)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        head = self.first.wrap(console, width)[0]
        rest = self.first[len(head.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip()) :]  # the space it wrapped at
        # Rows as segments: a Text yielded would be wrapped a second time.
        yield from head.render(console)
        yield Segment.line()
        for line in [rest, *self.more] if rest.plain else self.more:
            for row in line.wrap(console, max(width - len(GUTTER), 1)):
                yield _GUTTER
                yield from row.render(console)
                yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max([self.first.cell_len, *(len(GUTTER) + line.cell_len for line in self.more)])
        return Measurement(min(widest, len(GUTTER) + 1), widest)


def divider(label: str) -> Text:
    return Text(f"── {label} ──", style="bold yellow")


def _byline(ts: float, sender: str, *, mine: bool, private: bool, action: bool = False) -> Text:
    """`HH:MM (private) sender`: how every line from a person starts (`* sender` for an
    action, `/me`)."""
    line = Text()
    line.append(datetime.fromtimestamp(ts).strftime("%H:%M "), style="dim")
    if private:
        line.append("(private) ", style="magenta")
    if action:
        line.append("* ", style="bold")
    line.append_text(shown(sender, style="bold green" if mine else "bold cyan"))
    return line


def message_entry(
    ts: float,
    sender: str,
    text: str,
    *,
    mine: bool,
    private: bool,
    mention: bool = False,
    mid: int = 0,
) -> MessageRows:
    style = "magenta" if private else ""
    action = action_of(text)
    first, *more = message_lines(text if action is None else action)
    line = _byline(ts, sender, mine=mine, private=private, action=action is not None)
    if mention:  # the byline stands out: someone said your name
        line.stylize(MENTION, 6)
    byline = len(line)
    line.append(": " if action is None else " ")
    line.append_text(shown(first, style))
    return MessageRows(line, [shown(other, style) for other in more], mid, byline, mine)


def file_entry(item: FilePush, *, mine: bool) -> MessageRows:
    line = _byline(item.ts, item.sender, mine=mine, private=item.to is not None)
    byline = len(line)
    line.append(" sent the file ")
    line.append_text(shown(item.name, style="bold"))
    line.append(f" ({human_size(item.size)})")
    if not mine:
        line.append(f"  /get {item.fid} or Ctrl+S saves it", style="dim")
    return MessageRows(line, [], item.mid or 0, byline, mine)


def item_entry(item: Item, me: str) -> MessageRows:
    """How a message or a file shows, for the user `me`."""
    mine = item.sender == me
    if isinstance(item, FilePush):
        return file_entry(item, mine=mine)
    private = item.to is not None
    if item.deleted or item.announcement:
        line = _byline(item.ts, item.sender, mine=mine, private=private)
        rows = MessageRows(line, [], item.mid or 0, len(line))
        if item.deleted:
            return rows.deleted()
        first, *more = message_lines(item.text)
        line.append(" announces: ", style="bold yellow")
        line.append_text(shown(first, "bold"))
        rows.more = [shown(other, "bold") for other in more]
        return rows
    mention = not mine and mentions(item.text, me)
    return message_entry(
        item.ts,
        item.sender,
        item.text,
        mine=mine,
        private=private,
        mention=mention,
        mid=item.mid or 0,
    )
