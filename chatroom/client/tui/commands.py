"""What a line typed in the chat screen asks for: `parse` turns it into a command value.

Each slash command is one small function in `PARSERS`, found by name; a line without a
slash is text for the conversation on screen. A malformed or unknown command comes back as
a value (`Usage`, `Unknown`) for the screen to show, never as an exception.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COMMANDS = [
    ("/msg NAME TEXT", "send TEXT to NAME privately (opens a tab for the conversation)"),
    ("/send PATH [NAME]", "send a file to this conversation, or to NAME (also Ctrl+O)"),
    ("/get FID", "save a received file to the downloads folder (Ctrl+S: the newest)"),
    ("/me TEXT", "say what you do: shows as `* alice TEXT`"),
    ("/clear", "empty this conversation's log (on screen only)"),
    ("/close", "close this tab (a private chat's or a room's; you stay in the room)"),
    ("/join ROOM", "join a room: a tab opens for it"),
    ("/leave [ROOM]", "leave a room (this tab's without a name)"),
    ("/create ROOM [TOPIC]", "make a room, and join it"),
    ("/topic TEXT", "set the topic of this tab's room (if it is yours)"),
    ("/invite NAME", "invite NAME into this tab's room"),
    ("/query NAME", "open a private chat with NAME"),
    ("/rooms", "list the rooms: yours, and every public one"),
    ("/search TEXT", "find messages in all your conversations; Enter jumps to one"),
    ("/files", "the files of this conversation; Enter saves one"),
    ("/users", "list who is online"),
    ("/help", "this list"),
    ("/quit", "log out and leave (also Ctrl+Q)"),
]
"""Every command: how it is typed, and what it does (for /help and the command palette)."""

NOTES = [
    "Enter sends to the conversation on screen (the group, or the open private chat).",
    "Pick a user on the right to chat privately; Ctrl+N / Ctrl+P switch tabs.",
    "F2 finds a command by name; F1 lists every key.",
    "Tab completes names and /commands (again: the next match); Up / Down recall what you sent.",
    "A pasted block of lines is one message; Ctrl+C copies, Ctrl+Q quits.",
]

HELP = [NOTES[0]] + [f"{usage:<16} {does}" for usage, does in COMMANDS] + NOTES[1:]


@dataclass(slots=True, frozen=True)
class Say:
    """Text for the conversation on screen."""

    text: str


@dataclass(slots=True, frozen=True)
class SendPrivate:
    to: str
    text: str


@dataclass(slots=True, frozen=True)
class SendFile:
    path: Path
    to: str | None
    """The recipient, or None for the conversation on screen."""


@dataclass(slots=True, frozen=True)
class SaveFile:
    fid: int


@dataclass(slots=True, frozen=True)
class ShowHelp:
    pass


@dataclass(slots=True, frozen=True)
class RoomCommand:
    """A request about a room: `room` None means the room on screen."""

    kind: str
    room: str | None
    text: str | None = None


@dataclass(slots=True, frozen=True)
class ClearLog:
    pass


@dataclass(slots=True, frozen=True)
class CloseTab:
    pass


@dataclass(slots=True, frozen=True)
class ListUsers:
    pass


@dataclass(slots=True, frozen=True)
class OpenPrivate:
    partner: str


@dataclass(slots=True, frozen=True)
class ListRooms:
    pass


@dataclass(slots=True, frozen=True)
class Search:
    query: str


@dataclass(slots=True, frozen=True)
class ListFiles:
    pass


@dataclass(slots=True, frozen=True)
class Quit:
    pass


@dataclass(slots=True, frozen=True)
class Usage:
    """A known command used the wrong way; `text` says the right way."""

    text: str


@dataclass(slots=True, frozen=True)
class Unknown:
    command: str


Command = (
    Say
    | SendPrivate
    | SendFile
    | SaveFile
    | ShowHelp
    | RoomCommand
    | ClearLog
    | CloseTab
    | ListUsers
    | OpenPrivate
    | ListRooms
    | Search
    | ListFiles
    | Quit
    | Usage
    | Unknown
)

ACTION = "/me "
"""How an action is sent: as text starting with this, which clients show as `* name ...`
(a convention among clients, as IRC's CTCP ACTION is; the server sees plain text)."""


def about_a_room(kind: str, usage: str, needs: str) -> Callable[[str], Command]:
    """A parser for a room command: `needs` is what its words are: "room" (a room's name
    first, maybe text after), "text" (all of it), or "room?" (a name, or none)."""

    def parse(rest: str) -> Command:
        first, _, more = rest.strip().partition(" ")
        if needs == "text":
            return RoomCommand(kind, None, rest.strip()) if rest.strip() else Usage(usage)
        if needs == "room" and not first:
            return Usage(usage)
        return RoomCommand(kind, first or None, more.strip() or None)

    return parse


def act(rest: str) -> Command:
    if not rest.strip():
        return Usage("Usage: /me TEXT (what you do)")
    return Say(ACTION + rest.strip())


def send_private(rest: str) -> Command:
    name, _, text = rest.strip().partition(" ")
    if not name or not text.strip():
        return Usage("Usage: /msg NAME TEXT")
    return SendPrivate(to=name, text=text)


def open_private(rest: str) -> Command:
    name = rest.strip()
    return OpenPrivate(name) if name and " " not in name else Usage("Usage: /query NAME")


def search(rest: str) -> Command:
    return Search(rest.strip()) if rest.strip() else Usage("Usage: /search TEXT")


def send_file(rest: str) -> Command:
    path, _, name = rest.strip().partition(" ")
    if not path:
        return Usage("Usage: /send PATH [NAME]")
    return SendFile(path=Path(path).expanduser(), to=name.strip() or None)


def save_file(rest: str) -> Command:
    if not rest.strip().isdecimal():
        return Usage("Usage: /get FID (the number shown with the file)")
    return SaveFile(fid=int(rest))


PARSERS: dict[str, Callable[[str], Command]] = {
    "/help": lambda rest: ShowHelp(),
    "/me": act,
    "/clear": lambda rest: ClearLog(),
    "/join": about_a_room("room_join", "Usage: /join ROOM", "room"),
    "/leave": about_a_room("room_leave", "Usage: /leave [ROOM]", "room?"),
    "/create": about_a_room("room_create", "Usage: /create ROOM [TOPIC]", "room"),
    "/topic": about_a_room("room_topic", "Usage: /topic TEXT (in the room's tab)", "text"),
    "/invite": about_a_room("room_invite", "Usage: /invite NAME (in the room's tab)", "text"),
    "/close": lambda rest: CloseTab(),
    "/users": lambda rest: ListUsers(),
    "/query": open_private,
    "/rooms": lambda rest: ListRooms(),
    "/search": search,
    "/files": lambda rest: ListFiles(),
    "/msg": send_private,
    "/send": send_file,
    "/get": save_file,
    "/quit": lambda rest: Quit(),
}


def parse(line: str) -> Command:
    """`parse("/msg bob hi") == SendPrivate(to="bob", text="hi")`; plain text is `Say`."""
    if not line.startswith("/"):
        return Say(line)
    command, _, rest = line.partition(" ")
    parser = PARSERS.get(command)
    return Unknown(command) if parser is None else parser(rest)
