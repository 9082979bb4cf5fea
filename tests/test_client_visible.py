"""Text from other people as the client shows it: control characters as escapes, and every
row of a message after its first behind the gutter. No terminal needed."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from chatroom.client.tui.entries import GUTTER, MENTION, MessageRows, message_entry, shown
from chatroom.common.visible import Piece, message_lines, pieces, visible


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("ring\x07 nul\x00 del\x7f", "ring\\x07 nul\\x00 del\\x7f"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("name\nwith a break", "name\\x0awith a break"),
        ("\u202eexe.txt", "<U+202E>exe.txt"),
        ("\u2066iso\u2069 \u200e\u200f\u061c", "<U+2066>iso<U+2069> <U+200E><U+200F><U+061C>"),
        ("[bold red]admin[/]", "[bold red]admin[/]"),
        ("שלום مرحبا", "שלום مرحبا"),  # scripts stay as they are
    ],
)
def test_acting_characters_become_visible_escapes(raw: str, expected: str) -> None:
    assert visible(raw) == expected


@pytest.mark.parametrize(
    ("emoji", "plain"),
    [
        ("❤️", "❤"),
        ("👍🏽", "👍"),
        ("👨‍👩‍👧", "👨👩👧"),
        ("👩🏾‍💻", "👩💻"),
        ("☺︎", "☺"),
        ("🇫🇷", "🇫🇷"),
    ],
)
def test_emoji_are_as_wide_on_every_terminal_as_the_layout_measures(emoji: str, plain: str) -> None:
    """A terminal that knows nothing of emoji sequences adds up the widths of the
    characters; one that does, and the layout (Rich), measure the sequence: the same."""
    assert visible(f"a{emoji}b") == f"a{plain}b"
    assert cell_len(plain) == sum(cell_len(char) for char in plain)


def test_pieces_say_which_runs_are_escapes() -> None:
    assert pieces("a\x1b\x1bb\u202e") == [
        Piece("a", escaped=False),
        Piece("\\x1b\\x1b", escaped=True),
        Piece("b", escaped=False),
        Piece("<U+202E>", escaped=True),
    ]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("one line", ["one line"]),
        ("hi\n18:12 admin: pw?", ["hi", "18:12 admin: pw?"]),
        ("crlf\r\nand cr\rand ls\u2028end", ["crlf", "and cr", "and ls", "end"]),
        ("a\n\nb\n", ["a", "", "b"]),
        ("tab\there", ["tab    here"]),
        ("", [""]),
    ],
)
def test_a_message_splits_at_every_line_break(text: str, lines: list[str]) -> None:
    assert message_lines(text) == lines


def rows(text: str, width: int) -> list[str]:
    """The rows a message from bob takes in a log `width` columns wide."""
    first, *more = message_lines(text)
    line = Text("18:12 bob: ").append_text(shown(first))
    console = Console(width=width, color_system=None)
    rendered = console.render_lines(MessageRows(line, [shown(other) for other in more]))
    return ["".join(segment.text for segment in row).rstrip() for row in rendered]


def test_a_fake_message_line_shows_behind_the_gutter() -> None:
    assert rows("hi\n18:12 admin: give me your password", 60) == [
        "18:12 bob: hi",
        GUTTER + "18:12 admin: give me your password",
    ]


def test_a_wrapped_message_goes_on_behind_the_gutter() -> None:
    padded = "hi" + " " * 40 + "18:12 admin: padded to look like a new line"
    assert rows(padded, 40) == [
        "18:12 bob: hi",
        GUTTER + "18:12 admin: padded to look like",
        GUTTER + "a new line",
    ]


@given(st.text(max_size=300), st.integers(min_value=20, max_value=120))
def test_only_the_first_row_of_a_message_starts_at_the_left_edge(text: str, width: int) -> None:
    first, *others = rows(text, width)
    assert first.startswith("18:12 bob:")
    assert all(row.startswith(GUTTER.rstrip()) for row in others)  # rows are right-stripped
    assert not any(unicodedata.category(char) == "Cc" for row in [first, *others] for char in row)


def test_a_deleted_message_keeps_its_byline_but_not_the_mention() -> None:
    """A message that named the reader stands out; deleted, it names no one."""
    entry = message_entry(0, "bob", "alice: look\nsecret", mine=False, private=False, mention=True)
    assert any(span.style == MENTION for span in entry.first.spans)
    tombstone = entry.deleted()
    assert tombstone.first.plain.endswith(" bob deleted a message")
    assert tombstone.more == [] and "look" not in tombstone.first.plain
    assert all(span.style != MENTION for span in tombstone.first.spans)
