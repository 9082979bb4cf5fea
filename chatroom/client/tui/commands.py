"""What a line typed in the chat screen asks for: `parse` turns it into a command value.

Each slash command is one small function in `PARSERS`, found by name; a line without a
slash is text for the conversation on screen. A malformed or unknown command comes back as
a value (`Usage`, `Unknown`) for the screen to show, never as an exception.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatroom.common.actions import ACTION
from chatroom.utils.args import read_whole_number

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
    ("/create-private ROOM [TOPIC]", "make an invite-only room: /invite lets others in"),
    ("/topic TEXT", "set the topic of this tab's room (if it is yours)"),
    ("/invite NAME", "invite NAME into this tab's room"),
    ("/members [ROOM]", "list who is in this tab's room (the group's: #lobby) or ROOM"),
    ("/query NAME", "open a private chat with NAME"),
    ("/rooms", "list the rooms: yours, and every public one"),
    ("/search TEXT", "find messages in all your conversations; Enter jumps to one"),
    ("/files", "the files of this conversation; Enter saves one"),
    ("/users", "list who is online"),
    ("/status STATUS [TEXT]", "online, away, busy or invisible, with a text (F3: profile)"),
    ("/profile [NAME]", "show NAME's profile (yours without a name)"),
    ("/password", "change your password (your other sessions are logged out)"),
    ("/contact NAME", "ask NAME to be a contact"),
    ("/accept NAME", "accept NAME's contact request (/decline NAME declines it)"),
    ("/decline NAME", "decline NAME's contact request"),
    ("/uncontact NAME", "end a contact, or take back your request"),
    ("/contacts", "list your contacts and requests"),
    ("/block NAME", "hide NAME: their private messages and requests are dropped"),
    ("/unblock NAME", "see NAME again"),
    ("/kick NAME [REASON]", "moderators: remove NAME from this room (the server, in #group)"),
    ("/mute NAME SECONDS [REASON]", "moderators: silence NAME here for SECONDS"),
    ("/ban NAME [SECONDS] [REASON]", "moderators: ban NAME from this room (or the server)"),
    ("/unmute NAME", "moderators: let NAME talk again"),
    ("/unban NAME", "moderators: lift NAME's ban"),
    (
        "/delete [MID]",
        "delete your last message here, or MID (/search shows it; any if you moderate)",
    ),
    ("/announce TEXT", "moderators: a notice to everyone, now and at their next login"),
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
    public: bool = True
    """For `room_create`: false makes the room invite-only."""


@dataclass(slots=True, frozen=True)
class ServerRequest:
    """A request for the server, answered with a line in the log: people, contacts,
    blocks, moderation. `in_room` adds the room on screen (none in the group's tab)."""

    kind: str
    data: dict[str, Any]
    done: str
    """What to say once it worked."""
    in_room: bool = False


@dataclass(slots=True, frozen=True)
class DeleteNewest:
    """`/delete` alone: the user's newest message in the tab on screen."""


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
class ShowProfile:
    """Open the screen of one's own profile and status."""


@dataclass(slots=True, frozen=True)
class ChangePassword:
    """Open the form for a new password."""


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
    | ServerRequest
    | DeleteNewest
    | ShowProfile
    | ChangePassword
    | Quit
    | Usage
    | Unknown
)


def about_a_room(
    kind: str, usage: str, needs: str, public: bool = True
) -> Callable[[str], Command]:
    """A parser for a room command: `needs` is what its words are: "room" (a room's name
    first, maybe text after), "text" (all of it), or "room?" (a name, or none); `public`
    is the room's, for `room_create`."""

    def parse(rest: str) -> Command:
        first, _, more = rest.strip().partition(" ")
        if needs == "text":
            return RoomCommand(kind, None, rest.strip()) if rest.strip() else Usage(usage)
        if needs == "room" and not first:
            return Usage(usage)
        return RoomCommand(kind, first or None, more.strip() or None, public)

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
    fid = read_whole_number(rest, 0)
    if fid is None:
        return Usage("Usage: /get FID (the number shown with the file)")
    return SaveFile(fid=fid)


STATUSES = ("online", "away", "busy", "invisible")


def set_status(rest: str) -> Command:
    status, _, text = rest.strip().partition(" ")
    if status not in STATUSES:
        return Usage("Usage: /status online|away|busy|invisible [TEXT]")
    said = f"Your status is {status}" + (f": {text.strip()}" if text.strip() else "") + "."
    return ServerRequest("status_set", {"status": status, "status_text": text.strip()}, said)


def about_someone(kind: str, usage: str, done: str) -> Callable[[str], Command]:
    """A parser for a request that names one user: `done` says it, with `{name}`."""

    def parse(rest: str) -> Command:
        name = rest.strip()
        if not name or " " in name:
            return Usage(usage)
        return ServerRequest(kind, {"username": name}, done.format(name=name))

    return parse


def moderate(kind: str, usage: str, done: str, seconds: str) -> Callable[[str], Command]:
    """A parser for kick, mute and ban: NAME, then SECONDS (`seconds`: "needed",
    "optional" or "none"), then a reason (but for a ban)."""

    def parse(rest: str) -> Command:
        name, _, more = rest.strip().partition(" ")
        if not name:
            return Usage(usage)
        data: dict[str, Any] = {"username": name}
        first, _, after = more.strip().partition(" ")
        if seconds != "none" and first.isdecimal():
            data["seconds"], more = read_whole_number(first, 0), after
            if data["seconds"] is None:  # too many digits to send
                return Usage(usage)
        elif seconds == "needed":
            return Usage(usage)
        if more.strip() and kind in ("kick", "mute", "ban"):
            data["reason"] = more.strip()
        return ServerRequest(kind, data, done.format(name=name), in_room=True)

    return parse


def delete(rest: str) -> Command:
    if not rest.strip():
        return DeleteNewest()
    mid = read_whole_number(rest, 1)
    if mid is None:
        return Usage("Usage: /delete [MID] (the number /search shows; none: your last here)")
    return ServerRequest("delete", {"mid": mid}, f"Message {mid} deleted.")


def announce(rest: str) -> Command:
    if not rest.strip():
        return Usage("Usage: /announce TEXT")
    return ServerRequest("announce", {"text": rest.strip()}, "Announced to everyone.")


PARSERS: dict[str, Callable[[str], Command]] = {
    "/help": lambda rest: ShowHelp(),
    "/me": act,
    "/clear": lambda rest: ClearLog(),
    "/join": about_a_room("room_join", "Usage: /join ROOM", "room"),
    "/leave": about_a_room("room_leave", "Usage: /leave [ROOM]", "room?"),
    "/create": about_a_room("room_create", "Usage: /create ROOM [TOPIC]", "room"),
    "/create-private": about_a_room(
        "room_create", "Usage: /create-private ROOM [TOPIC]", "room", public=False
    ),
    "/topic": about_a_room("room_topic", "Usage: /topic TEXT (in the room's tab)", "text"),
    "/invite": about_a_room("room_invite", "Usage: /invite NAME (in the room's tab)", "text"),
    "/members": about_a_room("room_members", "Usage: /members [ROOM]", "room?"),
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
    "/status": set_status,
    "/profile": lambda rest: (
        ServerRequest("profile_get", {"username": rest.strip()}, "")
        if rest.strip()
        else ShowProfile()
    ),
    "/password": lambda rest: ChangePassword(),
    "/contact": about_someone("contact_add", "Usage: /contact NAME", "Asked {name}."),
    "/accept": about_someone("contact_accept", "Usage: /accept NAME", "{name} is your contact."),
    "/decline": about_someone("contact_decline", "Usage: /decline NAME", "Declined {name}."),
    "/uncontact": about_someone("contact_remove", "Usage: /uncontact NAME", "Done."),
    "/contacts": lambda rest: ServerRequest("contacts", {}, ""),
    "/block": about_someone("block", "Usage: /block NAME", "Blocked {name}."),
    "/unblock": about_someone("unblock", "Usage: /unblock NAME", "Unblocked {name}."),
    "/kick": moderate("kick", "Usage: /kick NAME [REASON]", "Kicked {name}.", "none"),
    "/mute": moderate("mute", "Usage: /mute NAME SECONDS [REASON]", "Muted {name}.", "needed"),
    "/ban": moderate("ban", "Usage: /ban NAME [SECONDS] [REASON]", "Banned {name}.", "optional"),
    "/unmute": moderate("unmute", "Usage: /unmute NAME", "Unmuted {name}.", "none"),
    "/unban": moderate("unban", "Usage: /unban NAME", "Unbanned {name}.", "none"),
    "/delete": delete,
    "/announce": announce,
}


def parse(line: str) -> Command:
    """`parse("/msg bob hi") == SendPrivate(to="bob", text="hi")`; plain text is `Say`."""
    if not line.startswith("/"):
        return Say(line)
    command, _, rest = line.partition(" ")
    parser = PARSERS.get(command)
    return Unknown(command) if parser is None else parser(rest)
