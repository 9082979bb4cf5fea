"""The chat screen's input line: nothing typed is lost, and the habits of terminal chat
(history, Tab completion, multi-line paste), driven through the real app with Pilot."""

import contextlib
from collections.abc import AsyncIterator

from textual import events
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.commands import COMMANDS
from chatroom.client.tui.entry import LINE_BREAK, Entry
from chatroom.client.tui.screens.help import HelpScreen
from chatroom.client.tui.tabs import GROUP
from chatroom.common.messages import MessagePush
from tests.conftest import RunningServer, next_push
from tests.test_tui import chatting, log_in, log_text, make_app, until


@contextlib.asynccontextmanager
async def alice_typing(
    app: ChatApp, size: tuple[int, int] = (80, 24)
) -> AsyncIterator[tuple[Pilot, Entry]]:
    """alice logged in to `app` through its form, and the input she types into."""
    async with chatting(app, size=size) as (pilot, screen):
        yield pilot, screen.query_one(Entry)


def all_logs(app: ChatApp) -> str:
    """The text of every conversation's log, rows joined as the words they wrapped."""
    return " ".join(log_text(app, pane) for pane in app.screen.logs).replace("\n", " ")


async def test_up_and_down_recall_what_was_sent_per_conversation(server: RunningServer) -> None:
    await server.register("alice")
    await server.login("bob")
    app = make_app(server.port)
    async with alice_typing(app) as (pilot, entry):
        for line in ("first", "second"):
            await pilot.press(*line, "enter")
        await pilot.press(*"half typed")
        await pilot.press("up")
        assert entry.value == "second"
        await pilot.press("up", "up")  # stops at the oldest
        assert entry.value == "first"
        await pilot.press("down", "down")
        assert entry.value == "half typed"  # the draft comes back below the newest
        entry.value = ""
        await pilot.press(*"/msg bob in private", "enter")
        await until(pilot, lambda: entry.conversation != "room", "the private tab")
        await pilot.press("up")
        assert entry.value == ""  # the private tab has its own history, empty so far


async def test_tab_completes_names_and_commands_and_cycles(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    await server.login("bobby")
    app = make_app(server.port)
    async with alice_typing(app) as (pilot, entry):
        await until(pilot, lambda: "bobby" in app.screen.online, "bobby online")
        await pilot.press("b", "o", "tab")
        assert entry.value == "bob: "
        await pilot.press("tab")
        assert entry.value == "bobby: "
        await pilot.press("tab")
        assert entry.value == "bob: "  # round again
        await pilot.press(*"hi and bobb", "tab")
        assert entry.value == "bob: hi and bobby "  # later in the line: no colon
        await pilot.press(*" and al", "tab")  # never yourself
        assert entry.value == "bob: hi and bobby  and al"
        await pilot.press("enter")
        assert (await next_push(bob, MessagePush)).text == "bob: hi and bobby  and al"
        await pilot.press("/", "h", "e", "tab")
        assert entry.value == "/help "
        assert app.focused is entry  # Tab never moved the focus


async def test_a_multi_line_paste_is_sent_as_one_message(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with alice_typing(app) as (pilot, entry):
        entry.post_message(events.Paste("line one\nline two\r\nline three\n"))
        await until(pilot, lambda: LINE_BREAK in entry.value, "the paste")
        assert entry.value == f"line one{LINE_BREAK}line two{LINE_BREAK}line three"
        await until(pilot, lambda: "Pasted 3 lines" in all_logs(app), "the line count")
        await pilot.press("enter")
        assert (await next_push(bob, MessagePush)).text == "line one\nline two\nline three"


async def test_what_is_refused_stays_in_the_input(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with alice_typing(app) as (pilot, entry):
        for line in ("/dance around", "/msg bob", "/me", "x" * 5000):
            entry.value = line
            await pilot.press("enter")
            assert entry.value == line, line  # an unknown command, a usage, too long
        assert "5,000 characters; the server takes 4,096" in all_logs(app)
        entry.value = "/msg nobody hello there"
        await pilot.press("enter")  # taken, then refused by the server: it comes back
        await until(pilot, lambda: entry.value == "/msg nobody hello there", "the text back")
        # The tab the /msg opened for nobody, with nothing in it, is closed: the line is
        # back in the group's input, where it was typed.
        said = "Not sent to nobody: there is no user 'nobody'; it is back in the input."
        assert said in log_text(app).replace("\n", " ")  # the group's log, on screen
        assert app.screen.tabs.open_pane("nobody") is None and entry.conversation == GROUP
        # The same from nobody's tab, on screen: it closes, and the group's tab shows the line.
        entry.value = ""
        await pilot.press(*"/query nobody", "enter")
        await until(pilot, lambda: entry.conversation != GROUP, "nobody's tab, on screen")
        await pilot.press(*"still there?", "enter")
        await until(pilot, lambda: entry.conversation == GROUP, "the group's tab")
        await until(pilot, lambda: entry.value == "/msg nobody still there?", "the line back")
        assert app.screen.tabs.open_pane("nobody") is None


async def test_f1_or_a_question_mark_on_an_empty_line_shows_every_key(
    server: RunningServer,
) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with alice_typing(app, size=(100, 40)) as (pilot, entry):
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        shown = "\n".join(str(s.render()) for s in app.screen.query(Static))
        for line in ("Ctrl+Q", "Quit", "PageUp", "Tab", "Complete", "/msg NAME TEXT"):
            assert line in shown, line
        assert shown.count("Ctrl+Q           Quit") == 1  # bound by the app and the screen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the chat again")
        await pilot.press("?")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help again")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the chat again")
        await pilot.press("w", "h", "y", "?")  # in a line, a question mark is text
        assert entry.value == "why?" and not isinstance(app.screen, HelpScreen)


async def test_f2_finds_every_command_in_the_palette(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test(size=(100, 40)) as pilot:
        await log_in(pilot, "alice")
        chat = app.screen
        entry = chat.query_one(Entry)
        titles = [command.title for command in app.get_system_commands(chat)]
        assert titles[: len(COMMANDS)] == [usage for usage, _ in COMMANDS]
        assert "Quit" not in titles  # Textual's, which would not log out: /quit does
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"join")
        palette = app.screen
        await until(
            pilot,
            lambda: (
                "/join ROOM" in str(palette.query_one(OptionList).get_option_at_index(0).prompt)
            ),
            "the match",
        )
        await pilot.press("enter")
        await until(pilot, lambda: entry.value == "/join ", "the command in the input")
        assert app.screen is chat and app.focused is entry
        entry.value = ""
        await pilot.press("f2", *"users", "enter")  # one that takes nothing runs at once
        await until(pilot, lambda: "Online: alice" in all_logs(app), "the list")


async def test_me_clear_and_close(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        screen = app.screen
        entry = screen.query_one(Entry)
        entry.value = "/me waves"
        await pilot.press("enter")
        assert (await next_push(bob, MessagePush)).text == "/me waves"  # plain text on the wire
        await until(pilot, lambda: "* alice waves" in log_text(app), "the action, shown")
        await bob.broadcast("/me waves back")
        await until(pilot, lambda: "* bob waves back" in log_text(app), "bob's action")
        entry.value = "/clear"
        await pilot.press("enter")
        await until(pilot, lambda: log_text(app) == "", "an empty log")
        entry.value = "/close"
        await pilot.press("enter")  # the group's tab cannot be closed
        assert entry.value == "/close"
        entry.value = "/msg bob hi"
        await pilot.press("enter")
        await until(pilot, lambda: screen.partners, "the private tab")
        pane = next(iter(screen.partners))
        await until(pilot, lambda: screen.tabs.active == pane, "the private tab on screen")
        entry.value = "/close"
        await pilot.press("enter")
        await until(pilot, lambda: not screen.partners, "the tab closed")
        await bob.private("alice", "again")
        await until(pilot, lambda: screen.partners, "the tab again with the next message")


async def test_what_is_typed_stays_with_its_conversation(server: RunningServer) -> None:
    """A line half written to bob does not follow into the group's tab, where Enter would
    send it to everyone; a message refused in a hidden tab goes back to that tab's input."""
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with alice_typing(app) as (pilot, entry):
        await pilot.press(*"/query bob", "enter")
        await until(pilot, lambda: entry.conversation != GROUP, "bob's tab")
        await pilot.press(*"for bob only")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: entry.conversation == GROUP, "the group's tab")
        assert entry.value == ""
        await pilot.press(*"for all")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: entry.conversation != GROUP, "bob's tab again")
        assert entry.value == "for bob only"
        await pilot.press("enter")
        got = await next_push(bob, MessagePush)
        assert (got.text, got.to) == ("for bob only", "bob")
        bobs = entry.conversation
        app.screen.tabs.active = GROUP
        await until(pilot, lambda: entry.value == "for all", "the group's line, kept")
        # Refused while its tab is hidden: back in its tab's input, and said in a toast.
        too_long = "x" * 5000  # as if typed there just before (the app checks the length)
        app.screen.session.queue("bob", too_long, None)
        back = "it is back in the input of @bob."

        def toasted() -> bool:
            return any(n.message.startswith("Not sent: ") for n in app._notifications)

        await until(pilot, toasted, "the toast")
        assert [n.message.endswith(back) for n in app._notifications] == [True]
        assert entry.value == "for all"
        app.screen.tabs.active = bobs
        await until(pilot, lambda: entry.value == f"/msg bob {too_long}", "back in its tab")
