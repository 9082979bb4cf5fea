"""What a line typed on the chat screen does: each command, run against the chat it is
given (the screen, seen through `Chat`).

`run` answers at once whether the line was taken (else it stays in the input to be
corrected); what needs the server (rooms, search, files) goes on in the background and
says how it went in the conversation on screen.
"""

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from textual.app import App
from textual.content import Content
from textual.message import Message

from chatroom.client.api import amount, explained
from chatroom.client.replies import Found
from chatroom.client.tui import commands, rooms
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.entries import Item
from chatroom.client.tui.entry import Entry
from chatroom.client.tui.events import MessageRefused, QuitWanted
from chatroom.client.tui.people import People, profile_lines
from chatroom.client.tui.screens.panel import Panel
from chatroom.client.tui.screens.password import PasswordScreen
from chatroom.client.tui.session import ChatSession
from chatroom.client.tui.tabs import GROUP, ConversationTabs
from chatroom.client.tui.transfers import Transfers
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.files import human_size
from chatroom.common.limits import LOBBY
from chatroom.common.messages import FilePush
from chatroom.common.visible import visible


class Chat(Protocol):
    """What the commands need of the chat screen."""

    session: ChatSession
    tabs: ConversationTabs

    @property
    def app(self) -> App[Any]: ...
    @property
    def online(self) -> set[str]: ...

    def shown_log(self) -> ConversationLog: ...
    def open_private(self, partner: str) -> None: ...
    def send_file(self, path: Path, to: str | None, room: str | None) -> None: ...
    def queue(self, to: str | None, room: str | None, text: str) -> None: ...
    def transfers(self) -> Transfers: ...
    def post_message(self, message: Message) -> bool: ...
    def in_background(self, work: Coroutine[Any, Any, None]) -> None: ...
    def show_panel(self, panel: Panel, picked: Callable[[int], None]) -> None: ...
    def jump_to(self, item: Item) -> None: ...
    def open_profile(self) -> None: ...
    def people_changed(self) -> None: ...

    @property
    def people(self) -> People: ...


def run(chat: Chat, line: str, entry: Entry | None = None) -> bool:
    """Do what the line says; whether it was taken (else it stays in the input). A request
    the server refuses gives the line back to `entry`, the input it was typed in."""
    command = commands.parse(line)
    log = chat.shown_log()
    back = _giving_back(chat, line, entry)
    limit = chat.session.link.max_text
    if isinstance(command, commands.Say | commands.SendPrivate) and len(command.text) > limit:
        log.write_notice(
            f"Not sent: {len(command.text):,} characters; the server takes {limit:,}. "
            "Shorten it (it is still in the input).",
            style="red",
        )
        return False
    match command:
        case commands.ShowHelp():
            for text in commands.HELP:
                log.write_notice(text, style="cyan")
        case commands.ClearLog():
            log.clear()
        case commands.CloseTab():
            if chat.tabs.active == GROUP:
                log.write_notice("The group's tab stays; /close is for private chats and rooms.")
                return False
            chat.tabs.close(chat.tabs.active)
        case commands.ListUsers():
            log.write_notice("Online: " + ", ".join(sorted(chat.online, key=str.casefold)))
        case commands.SendPrivate(to, text):
            chat.open_private(to)
            chat.queue(to, None, text)
        case commands.OpenPrivate(partner):
            chat.open_private(partner)
        case commands.SendFile(path, to):
            chat.send_file(path, *((to, None) if to else chat.tabs.where()))
        case commands.SaveFile(fid):
            chat.transfers().save_file(fid, log)
        case commands.Quit():
            chat.post_message(QuitWanted())
        case commands.Usage(text):
            log.write_notice(text, style="red")
            return False
        case commands.Unknown(name):
            log.write_notice(f"Unknown command {name}; /help lists them.", style="red")
            return False
        case commands.RoomCommand():
            chat.in_background(_room_command(chat, command, log, back))
        case commands.ListRooms():
            chat.in_background(_list_rooms(chat, log))
        case commands.Search(query):
            chat.in_background(_search(chat, query, log, back))
        case commands.ListFiles():
            chat.in_background(_list_files(chat, log))
        case commands.ServerRequest():
            chat.in_background(_server_request(chat, command, log, back))
        case commands.DeleteNewest():
            if not (mid := log.newest_mine()):
                log.write_notice("Nothing you sent is shown here: /delete MID.", style="red")
                return False
            done = "Your last message here is deleted."
            request = commands.ServerRequest("delete", {"mid": mid}, done)
            chat.in_background(_server_request(chat, request, log, back))
        case commands.ShowProfile():
            chat.open_profile()
        case commands.ChangePassword():
            chat.in_background(_change_password(chat, log))
        case commands.Say(text):
            chat.queue(*chat.tabs.where(), text)
    return True


def start(chat: Chat, entry: Entry, usage: str) -> None:
    """A command picked in the palette: run at once if it takes nothing, else put into
    the input for the rest to be typed."""
    name, _, needs = usage.partition(" ")
    if needs and not needs.startswith("["):
        entry.value = f"{name} "
        entry.cursor_position = len(entry.value)
        entry.focus()
    elif run(chat, name):
        entry.remember(name)


def _giving_back(chat: Chat, line: str, entry: Entry | None) -> Callable[[], str]:
    """What gives `line` back, once refused, to the input of the tab it was typed in (or
    its history, if something else is typed there by then), and says where: `; it is
    back in the input.`"""
    if entry is None:  # picked in the palette: nothing was typed
        return lambda: ""
    pane_id = chat.tabs.active or GROUP
    return lambda: f"; {give_back(chat.tabs, entry, line, pane_id)}."


def refused_pane(tabs: ConversationTabs, refused: MessageRefused) -> str | None:
    """The tab of a refused message, if it is open. A private tab in which nothing was said
    yet, to someone who does not exist, was opened only by the /msg refused: it is closed
    (the line goes back to the tab shown before it, where it was typed), and there is none."""
    pane_id = tabs.open_pane(refused.to, refused.room)
    if refused.code == ErrorCode.NO_SUCH_USER and pane_id and not tabs.logs[pane_id].newest_mid:
        tabs.close(pane_id)
        return None
    return pane_id


def give_back(tabs: ConversationTabs, entry: Entry, line: str, pane_id: str | None) -> str:
    """Give `line`, refused, back to the input of its tab `pane_id` (or of the tab on
    screen, if that one was closed since); says where."""
    if pane_id is None or pane_id not in tabs.logs:
        entry.switch_to(tabs.active or GROUP)  # now, not when the tab's switch is told
        return entry.give_back(line)
    return entry.give_back(line, pane_id, tabs.title_of(pane_id))


async def _server_request(
    chat: Chat, command: commands.ServerRequest, log: ConversationLog, back: Callable[[], str]
) -> None:
    """Send a request about people or moderation, and say in the log how it went."""
    data = dict(command.data)
    room = chat.tabs.where()[1]
    if command.in_room and room is not None:
        data["room"] = room
    try:
        reply = await chat.session.connected().request(command.kind, **data)
    except ChatError as error:
        log.write_notice(f"{explained(error)}{back()}", style="red")
        return
    people = chat.people
    match command.kind:
        case "profile_get":
            for line in profile_lines(reply):
                log.write_notice(line, style="cyan")
            return
        case "contacts":
            people.contacts = {c["username"]: c["state"] for c in reply["contacts"]}
            rows = [f"{c['username']} ({c['state']})" for c in reply["contacts"]]
            log.write_notice("Contacts: " + (", ".join(rows) or "none yet"), style="cyan")
        case "block":
            people.blocked.add(reply["username"])
            people.contacts.pop(reply["username"], None)
        case "unblock":
            people.blocked.discard(reply["username"])
        case "status_set":
            people.set_mine(reply["status"], reply["status_text"])
        case "contact_add" | "contact_accept":
            people.contacts[reply["username"]] = (
                "asked" if reply["state"] == "requested" else "contact"
            )
        case "contact_decline" | "contact_remove":
            people.contacts.pop(reply["username"], None)
    chat.people_changed()
    if command.done:
        log.write_notice(command.done, style="green")


async def _room_command(
    chat: Chat, command: commands.RoomCommand, log: ConversationLog, back: Callable[[], str]
) -> None:
    try:
        said = await rooms.run(command, chat.session, chat.tabs)
    except ChatError as error:
        log.write_notice(f"{explained(error)}{back()}", style="red")
    else:
        chat.shown_log().write_notice(said, style="green")


async def _list_rooms(chat: Chat, log: ConversationLog) -> None:
    try:
        listed = await chat.session.connected().rooms()
    except ChatError as error:
        log.write_notice(f"No list of rooms: {explained(error)}", style="red")
        return
    for room in listed:
        log.write_notice(rooms.describe(room), style="cyan" if room.joined else "")
    log.write_notice("/join ROOM joins one; /create ROOM makes one.", style="cyan")


async def _search(chat: Chat, query: str, log: ConversationLog, back: Callable[[], str]) -> None:
    try:
        found = await chat.session.connected().search(query, limit=100)
    except ChatError as error:
        log.write_notice(f"Not searched: {explained(error)}{back()}", style="red")
        return
    if not found:
        log.write_notice(f"Nothing found for {query}.")
        return
    width = max(len(str(item.push.mid)) for item in found)
    rows = [_found_row(item, chat.session.me, width) for item in found]
    many = amount(len(found), "message")
    title = f"{many} with {query} (newest first): Enter shows one, Esc closes"
    chat.show_panel(Panel(title, rows), lambda index: chat.jump_to(found[index].push))


async def _change_password(chat: Chat, log: ConversationLog) -> None:
    if await chat.app.push_screen_wait(PasswordScreen(chat.session)):
        log.write_notice("Password changed; your other sessions are logged out.", style="green")


async def _list_files(chat: Chat, log: ConversationLog) -> None:
    partner, room = chat.tabs.where()
    listed: list[FilePush] = []
    try:
        async for page in chat.session.connected().files(
            room or (LOBBY if partner is None else None), with_user=partner
        ):
            listed[:0] = page
            if len(listed) >= 500:
                break
    except ChatError as error:
        log.write_notice(f"No list of files: {explained(error)}", style="red")
        return
    if not listed:
        log.write_notice("No file was sent in this conversation.")
        return
    listed.reverse()  # newest first
    rows = [_file_row(item) for item in listed]
    title = f"{amount(len(listed), 'file')} here (newest first): Enter saves one, Esc closes"

    def save(index: int) -> None:
        chat.transfers().save_file(listed[index].fid, log)

    chat.show_panel(Panel(title, rows), save)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _found_row(found: Found, me: str, width: int) -> Content:
    """A search result: its mid (for /delete MID) in a column `width` wide, when, where,
    who and the words found."""
    item = found.push
    if item.to is not None:
        where = "@" + visible(item.to if item.sender == me else item.sender)
    else:
        where = "#" + visible(item.room or LOBBY)
    return Content.assemble(
        (f"{item.mid:>{width}}  ", "dim"),
        (f"{_when(item.ts)} ", "dim"),
        (where, "bold"),
        f" {visible(item.sender)}: ",
        visible(found.snippet),
    )


def _file_row(item: FilePush) -> Content:
    return Content.assemble(
        (f"{_when(item.ts)} ", "dim"),
        (visible(item.name), "bold"),
        f"  {human_size(item.size)}  from {visible(item.sender)}",
    )
