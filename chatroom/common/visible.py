"""Text from other people made safe to show in a terminal, as plain strings.

A message, a username or a file name may hold characters that act instead of showing: a
line break that starts what looks like a new message, an ANSI escape sequence that
recolours the screen or moves the cursor, a bidi override that turns the rest of the line
around. Here each acting character becomes a visible escape (`\\x1b`, `<U+202E>`) and a
message is split into its lines; where those lines go on screen is the display's business.
Nothing here touches a terminal, so it is tested on strings.
"""

import re
from dataclasses import dataclass

TAB = "    "
"""What a tab in a message becomes: a tab would jump to a column the sender chose."""

_ACTING = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
"""Runs of characters a terminal acts on: the C0 and C1 controls and DEL (ESC starts the
ANSI sequences), and the bidi marks, embeddings, overrides and isolates."""

_UNSTEADY = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
"""What joins or reshapes emoji, and which terminals disagree on the width of: the
variation selectors (`❤️` is one cell or two), the zero-width joiner (a family is one
emoji or three) and the skin tones (`👍🏽` two cells or four). Left in, a line is wider on
screen than the layout measured, and pushes the sidebar's border out of place; so they
are dropped, and the emoji show plain (`❤`, `👍`, three people)."""


@dataclass(slots=True, frozen=True)
class Piece:
    """A run of text to show: as it is, or the escapes of characters that would act."""

    text: str
    escaped: bool


def escape(char: str) -> str:
    """`\\x1b` for a control character, `<U+202E>` for a bidi control."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"<U+{code:04X}>"


def pieces(text: str) -> list[Piece]:
    """`text` as runs that show as they are, and runs of escapes for the characters between.

    A line break is a control character here too: call this on one line of a message, or
    on a name, which has no business spanning lines.
    """
    result = []
    shown_upto = 0
    text = _UNSTEADY.sub("", text)
    for match in _ACTING.finditer(text):
        if match.start() > shown_upto:
            result.append(Piece(text[shown_upto : match.start()], escaped=False))
        result.append(Piece("".join(map(escape, match.group())), escaped=True))
        shown_upto = match.end()
    if shown_upto < len(text):
        result.append(Piece(text[shown_upto:], escaped=False))
    return result


def visible(text: str) -> str:
    """`text` on one line, every acting character replaced by its escape."""
    return "".join(piece.text for piece in pieces(text))


def json_for_terminal(document: str) -> str:
    """A JSON document with the acting characters JSON leaves as they are (DEL, the C1
    controls, the bidi controls) written as `\\uXXXX` escapes: the same JSON, to a program
    that reads it, and nothing that acts on the terminal that shows it. (They can only be
    inside its strings, where such an escape means the character itself.)"""
    return _ACTING.sub(lambda run: "".join(f"\\u{ord(c):04x}" for c in run.group()), document)


def message_lines(text: str) -> list[str]:
    """The lines of a message, tabs as spaces; at least one, maybe empty.

    Split at every line break `str.splitlines` knows, `\\r` and U+2028 as well as `\\n`,
    so none of them can start a line that the display does not know is a continuation.
    """
    return [line.replace("\t", TAB) for line in text.splitlines()] or [""]
