"""The Textual client driven through Pilot against a real server on loopback."""

import asyncio
import contextlib
import dataclasses
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TabbedContent
from textual.widgets.input import Selection

from chatroom.client.api import ChatClient, backoff
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.entries import GUTTER
from chatroom.client.tui.screens.chat import GROUP, ChatScreen
from chatroom.client.tui.screens.login import LoginScreen
from chatroom.client.tui.screens.menu import MenuScreen
from chatroom.client.tui.screens.register import RegisterScreen
from chatroom.common.limits import LOBBY
from chatroom.common.messages import FilePush, MessagePush, ReadPush
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push
from tests.relay import Relay

SNAPSHOTS = Path(__file__).parent / "snapshots"


def make_app(port: int) -> ChatApp:
    return ChatApp("127.0.0.1", port, reconnect_delays=lambda: backoff(0.05, 2, 0.2))


async def until(pilot: Pilot, condition: Callable[[], object], what: str) -> None:
    """Let the app run until `condition()` holds; fail the test after WAIT seconds."""
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await pilot.pause(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def text_of(widget: Static) -> str:
    return str(widget.render())


def log_text(app: ChatApp, pane_id: str = GROUP) -> str:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return "\n".join(strip.text.rstrip() for strip in screen.logs[pane_id].lines)


async def type_in(pilot: Pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).value = text


async def log_in(pilot: Pilot, username: str, password: str = PASSWORD) -> None:
    """From the menu, log in through the form and wait for the chat screen."""
    await until(pilot, lambda: isinstance(pilot.app.screen, MenuScreen), "the menu")
    await pilot.press("1")
    await until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen), "the login form")
    await type_in(pilot, "#username", username)
    await type_in(pilot, "#password", password)
    await pilot.click(".form-submit")
    await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat screen")


@contextlib.asynccontextmanager
async def chatting(
    app: ChatApp, username: str = "alice", size: tuple[int, int] = (80, 24)
) -> AsyncIterator[tuple[Pilot, ChatScreen]]:
    """Run `app` in a terminal of `size`, log `username` in through the form, and give
    the pilot and the chat screen."""
    async with app.run_test(size=size) as pilot:
        await log_in(pilot, username)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        yield pilot, screen


@contextlib.asynccontextmanager
async def app_through_a_relay(server: RunningServer) -> AsyncIterator[tuple[Pilot, ChatApp, Relay]]:
    """alice (registered here) logged in to the app through a relay, which can cut, stall
    or lose what passes between them."""
    await server.register("alice")
    async with Relay(server.port) as relay:
        app = make_app(relay.port)
        async with app.run_test() as pilot:
            await log_in(pilot, "alice")
            yield pilot, app, relay


async def send(pilot: Pilot, text: str) -> None:
    await type_in(pilot, "#entry", text)
    pilot.app.screen.query_one("#entry", Input).focus()
    await pilot.press("enter")


def assert_snapshot(app: ChatApp, name: str) -> None:
    """Compare the screen with tests/snapshots/NAME.svg (UPDATE_SNAPSHOTS=1 rewrites it)."""
    svg = app.export_screenshot(title=name)
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(svg)
    assert svg == path.read_text(), f"the screen differs from {path}: open both SVGs to compare"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the menu -------------------------------------------------------------------------


async def test_menu_keys_open_login_and_register_and_quit(server: RunningServer) -> None:
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        menu = app.screen
        await until(
            pilot, lambda: "Connected" in text_of(menu.query_one("#menu-notice")), "connect"
        )
        assert "Choose (1-3)" in text_of(menu.query_one("#menu-prompt"))
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login form")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is menu, "the menu again")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, RegisterScreen), "the register form")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is menu, "the menu again")
        await pilot.press("3")
        await until(pilot, lambda: not app.is_running, "the app to exit")


async def test_menu_options_can_be_picked_with_arrows_and_enter(server: RunningServer) -> None:
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        app.screen.query_one(OptionList).focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RegisterScreen), "the register form")


async def test_menu_says_when_the_server_is_unreachable_and_retries(make_server) -> None:
    port = free_port()
    app = make_app(port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        notice = app.screen.query_one("#menu-notice", Static)
        await until(pilot, lambda: "Cannot reach" in text_of(notice), "the error")
        assert text_of(notice) == (
            f"Cannot reach 127.0.0.1:{port}: connection refused. Press R to retry."
        )
        server = await make_server()
        await server.restart_on(port)
        await pilot.press("r")
        await until(pilot, lambda: "Connected" in text_of(notice), "the retry to connect")


async def test_menu_snapshot(tmp_path: Path) -> None:
    app = make_app(1)  # nothing listens on port 1: the menu shows its one-line error
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        notice = app.screen.query_one("#menu-notice", Static)
        await until(pilot, lambda: "Cannot reach" in text_of(notice), "the error")
        assert_snapshot(app, "menu")


# -- register and login ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "confirm", "error"),
    [
        ("taken", PASSWORD, PASSWORD, "'taken' is taken"),
        ("newbie", "short", "short", "A password has at least 8 characters"),
        ("no spaces", PASSWORD, PASSWORD, "A username has only letters, digits, '_', '-' and '.'"),
        ("newbie", PASSWORD, "something else", "The passwords do not match."),
    ],
)
async def test_register_errors_show_inline(
    server: RunningServer, username: str, password: str, confirm: str, error: str
) -> None:
    await server.register("taken")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, RegisterScreen), "the register form")
        await type_in(pilot, "#username", username)
        await type_in(pilot, "#password", password)
        await type_in(pilot, "#confirm", confirm)
        await pilot.click(".form-submit")
        shown = app.screen.query_one(".form-error", Static)
        await until(pilot, lambda: text_of(shown), "an error")
        assert text_of(shown) == error
        assert isinstance(app.screen, RegisterScreen)


async def test_registering_logs_straight_in(server: RunningServer) -> None:
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, RegisterScreen), "the register form")
        await type_in(pilot, "#username", "Carol")
        await type_in(pilot, "#password", PASSWORD)
        await type_in(pilot, "#confirm", PASSWORD)
        await pilot.click(".form-submit")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat screen")
        await until(pilot, lambda: "Logged in as Carol" in log_text(app), "the welcome")
    client = await server.connect()
    assert (await client.login("carol", PASSWORD)).username == "Carol"


async def test_an_error_on_a_form_goes_once_the_user_types_again(make_server) -> None:
    port = free_port()
    app = make_app(port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login form")
        await type_in(pilot, "#username", "alice")
        await type_in(pilot, "#password", PASSWORD)
        await pilot.click(".form-submit")
        error = app.screen.query_one(".form-error", Static)
        await until(pilot, lambda: "Cannot reach" in text_of(error), "the error")
        assert app.focused is app.screen.query_one("#password", Input)  # the empty field
        await pilot.press("x")
        assert text_of(error) == ""


async def test_login_failure_shows_inline_and_success_opens_the_chat(
    server: RunningServer,
) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login form")
        await type_in(pilot, "#username", "alice")
        await type_in(pilot, "#password", "not the password")
        await pilot.click(".form-submit")
        shown = app.screen.query_one(".form-error", Static)
        await until(pilot, lambda: text_of(shown), "an error")
        assert text_of(shown) == "Wrong username or password"
        assert app.screen.query_one("#password", Input).value == ""
        await type_in(pilot, "#password", PASSWORD)
        await pilot.click(".form-submit")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat screen")
        assert "connected as alice" in text_of(app.screen.query_one("#status"))


# -- chatting -------------------------------------------------------------------------


async def test_group_messages_both_ways(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await bob.broadcast("hello from bob [b]not markup[/b]")
        await until(pilot, lambda: "bob: hello from bob [b]not markup[/b]" in log_text(app), "it")
        await send(pilot, "hello from alice")
        push = await next_push(bob, MessagePush)
        assert (push.sender, push.to, push.text) == ("alice", None, "hello from alice")
        await until(pilot, lambda: "alice: hello from alice" in log_text(app), "the echo")


async def test_a_line_break_in_a_message_cannot_fake_another_message(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        await bob.broadcast("hi\n18:12 admin: give me your password")
        await until(pilot, lambda: "give me your password" in log_text(app), "the message")
        lines = log_text(app).splitlines()
        first = next(n for n, line in enumerate(lines) if line.endswith(" bob: hi"))
        assert lines[first + 1] == GUTTER + "18:12 admin: give me your password"
        assert not any(line.startswith("18:12 admin") for line in lines)


async def test_escape_sequences_and_bidi_controls_show_as_escapes(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await bob.broadcast("\x1b[2J\x1b[31mred \u202eexe.txt")
        await until(pilot, lambda: "red" in log_text(app), "the message")
        assert "bob: \\x1b[2J\\x1b[31mred <U+202E>exe.txt" in log_text(app)
        assert "\x1b" not in log_text(app) and "\u202e" not in log_text(app)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        escapes = [
            segment
            for strip in screen.logs[GROUP].lines
            for segment in strip
            if segment.text in ("\\x1b", "<U+202E>")
        ]
        assert len(escapes) == 3 and all(s.style and s.style.reverse for s in escapes)


async def test_a_name_that_looks_like_markup_shows_as_typed(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await send(pilot, "/msg x[/b] hello")
        await until(pilot, lambda: "Not sent" in log_text(app, "dm1"), "the refusal")
        assert app.screen.query_one(TabbedContent).get_tab("dm1").label_text == "@x[/b]"


async def test_private_messages_both_ways_in_their_own_tab(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await bob.private("alice", "psst")
        await until(pilot, lambda: "dm1" in screen.logs, "a private tab")
        tabs = screen.query_one(TabbedContent)
        label = lambda: tabs.get_tab("dm1").label_text  # noqa: E731
        await until(pilot, lambda: label() == "@bob (1)", "an unread count on the tab")
        assert "psst" not in log_text(app, GROUP)

        await pilot.press("ctrl+n")
        await until(pilot, lambda: tabs.active == "dm1", "the private tab")
        await until(pilot, lambda: label() == "@bob", "the unread count to reset")
        await until(pilot, lambda: "(private) bob: psst" in log_text(app, "dm1"), "the message")
        await send(pilot, "hi bob, privately")
        push = await next_push(bob, MessagePush)
        assert (push.sender, push.to, push.text) == ("alice", "bob", "hi bob, privately")

        await send(pilot, "/msg BOB via the command")
        push = await next_push(bob, MessagePush)
        assert (push.to, push.text) == ("bob", "via the command")


async def test_a_private_tab_opened_after_the_login_has_its_new_divider(
    server: RunningServer,
) -> None:
    """A private conversation read to its end before the login has no tab; what bob
    writes after opens one, and the divider is above it, where alice stopped reading.
    Closed and opened again, a tab gets a new id: another partner's tab never takes the
    old one's (nor what the TUI knew of it)."""
    await server.register("alice")
    bob = await server.login("bob")
    await server.register("carol")
    phone = await server.login("alice", features=["read"])
    seen = await bob.private("alice", "read on the phone")
    await phone.read(with_user="bob", upto=seen.mid)
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        assert not screen.partners
        await bob.private("alice", "written after the login")
        await until(pilot, lambda: screen.partners, "bob's tab")
        pane = next(iter(screen.partners))
        await pilot.press("ctrl+n")
        await until(pilot, lambda: "written after" in log_text(app, pane), "the history")
        lines = log_text(app, pane).splitlines()
        divider = lines.index("── new ──")
        assert "read on the phone" in lines[divider - 1]
        assert "written after the login" in lines[divider + 1]

        await send(pilot, "/close")
        await until(pilot, lambda: not screen.partners, "the tab closed")
        await send(pilot, "/query carol")
        await until(pilot, lambda: screen.partners, "carol's tab")
        assert list(screen.partners.items()) != [(pane, "carol")]


async def test_picking_a_user_in_the_sidebar_opens_a_private_chat(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        users = app.screen.query_one("#users", OptionList)
        users.focus()
        users.highlighted = [o.id for o in users.options].index("bob")
        await pilot.press("enter")
        tabs = app.screen.query_one(TabbedContent)
        await until(pilot, lambda: tabs.active == "dm1", "the private tab")
        await send(pilot, "picked you")
        push = await next_push(bob, MessagePush)
        assert (push.to, push.text) == ("bob", "picked you")


async def test_the_sidebar_follows_presence(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        users = app.screen.query_one("#users", OptionList)

        def online() -> list[str | None]:
            return [option.id for option in users.options]

        assert online() == ["alice"]
        carol = await server.login("carol")
        await until(pilot, lambda: online() == ["alice", "carol"], "carol to appear")
        await carol.logout()
        await until(pilot, lambda: online() == ["alice"], "carol to leave")


async def test_each_tab_opens_with_its_history_and_a_new_divider_at_the_read_marker(
    server: RunningServer,
) -> None:
    """No replay: the group's history fills its tab with `new` where alice stopped
    reading; a private chat with something unread gets a tab with a badge, and its
    history when opened; what she reads is marked read on her other devices too."""
    phone = await server.login("alice", features=["read"])
    bob = await server.login("bob")
    seen = await bob.broadcast("seen on the phone")
    await phone.read(LOBBY, upto=seen.mid)
    await bob.broadcast("while you were out")
    sent = await bob.private("alice", "private while out")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await until(pilot, lambda: "while you were out" in log_text(app), "the history")
        lines = log_text(app).splitlines()
        divider = lines.index("── new ──")
        assert "bob: seen on the phone" in lines[divider - 1]
        assert "bob: while you were out" in lines[divider + 1]
        assert "private while out" not in log_text(app)
        tab = app.screen.query_one(TabbedContent).get_tab("dm1")
        assert str(tab.label) == "@bob (1)"
        read = await next_push(phone, ReadPush, room=LOBBY)
        assert (read.upto, read.unread) == (sent.mid - 1, 0)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: "private while out" in log_text(app, "dm1"), "the private one")
        assert log_text(app, "dm1").splitlines()[0] == "── new ──"
        assert (await next_push(phone, ReadPush, with_user="bob")).upto == sent.mid
        await bob.broadcast("live again")
        await until(pilot, lambda: "live again" in log_text(app), "the live message")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert log_text(app).count("while you were out") == 1
        await until(
            pilot, lambda: not screen.session.ack_due and screen.session.ack_upto > sent.mid, "ack"
        )


async def test_help_and_users_commands(server: RunningServer) -> None:
    await server.register("alice")
    await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await send(pilot, "/help")
        await until(pilot, lambda: "/msg NAME TEXT" in log_text(app), "the help")
        await send(pilot, "/users")
        await until(pilot, lambda: "* Online: alice, bob" in log_text(app), "the list")
        await send(pilot, "/frobnicate")
        await until(pilot, lambda: "Unknown command /frobnicate" in log_text(app), "an error")


async def test_quit_command_logs_out_and_exits(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await send(pilot, "/quit")
        await until(pilot, lambda: not app.is_running, "the app to exit")
    assert await bob.users() == ["bob"]


async def test_ctrl_q_logs_out_and_exits(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running, "the app to exit")
    assert await bob.users() == ["bob"]


async def test_ctrl_c_copies_and_never_quits(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        entry = app.screen.query_one("#entry", Input)
        entry.value = "copy this part"
        entry.selection = Selection(0, 4)
        await pilot.press("ctrl+c")
        assert app.clipboard == "copy"
        entry.selection = Selection.cursor(0)
        await pilot.press("ctrl+c")  # nothing selected: a hint, and the app stays
        await until(pilot, lambda: any("Ctrl+Q" in n.message for n in app._notifications), "a hint")
        assert app.is_running and entry.value == "copy this part"


async def test_typing_after_a_click_anywhere_goes_into_the_input(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        entry = app.screen.query_one("#entry", Input)
        await pilot.press(*"half a line, ")
        for target in (f"#{GROUP}", "#conversations Tabs", "#sidebar-title"):
            await pilot.click(target)
            assert app.focused is entry, target
        await pilot.click("#users")
        await pilot.press("h", "i")  # the list of users had the keyboard: typing moves on
        assert app.focused is entry and entry.value == "half a line, hi"
        await pilot.press("enter")
        assert (await next_push(bob, MessagePush)).text == "half a line, hi"


async def test_connection_loss_shows_status_and_recovers(server: RunningServer) -> None:
    await server.register("alice")
    await server.register("bob")  # before alice can send: she resends the moment she is back
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        status = app.screen.query_one("#status", Static)
        port = server.port
        await server.stop()
        await until(pilot, lambda: "disconnected" in text_of(status), "the status to change")
        await send(pilot, "typed while the server was down")
        await until(pilot, lambda: "1 waiting to send" in text_of(status), "the outbox")
        await server.restart_on(port)
        bob = await server.login("bob")
        await until(pilot, lambda: "connected as alice" in text_of(status), "reconnection")
        assert "Reconnected." in log_text(app)
        push = await next_push(bob, MessagePush)
        assert (push.sender, push.text) == ("alice", "typed while the server was down")


async def test_a_message_whose_ok_was_lost_is_sent_again_with_the_same_cid(
    server: RunningServer,
) -> None:
    async with app_through_a_relay(server) as (pilot, app, relay):
        relay.lose_reply_to = "broadcast"
        await send(pilot, "only once, please")
        await until(pilot, lambda: len(relay.sent("broadcast")) == 2, "the retry")
        await until(pilot, lambda: "alice: only once, please" in log_text(app), "the echo")
        assert "Disconnected" in log_text(app)
        assert log_text(app).count("only once, please") == 1
    first, retry = relay.sent("broadcast")
    assert first["cid"] == retry["cid"]


async def test_a_message_typed_while_disconnected_keeps_its_cid_until_sent(
    server: RunningServer,
) -> None:
    async with app_through_a_relay(server) as (pilot, app, relay):
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        port = server.port
        await server.stop()
        await until(pilot, lambda: not screen.session.linked.is_set(), "the disconnection")
        await send(pilot, "typed while the server was down")
        await until(pilot, lambda: screen.session.outbox, "the outbox")
        cid = screen.session.outbox[0].cid
        await server.restart_on(port)
        await until(pilot, lambda: not screen.session.outbox, "the message to be sent")
    assert [data["cid"] for data in relay.sent("broadcast")] == [cid]


async def test_a_server_gone_without_a_word_is_noticed_and_left_for_another_connection(
    make_server: Callable[..., Awaitable[RunningServer]],
) -> None:
    """A server whose machine leaves the network closes nothing: the app went on waiting
    for the replies of a dead connection, for as long as TCP takes to give up."""
    server = await make_server(idle_timeout=3.0)  # a ping every second, each given 0.5 s
    async with app_through_a_relay(server) as (pilot, app, relay):
        relay.stall()
        await until(pilot, lambda: "no answer to ping" in log_text(app), "the dead link")
        await send(pilot, "after the silence")
        await until(pilot, lambda: "alice: after the silence" in log_text(app), "the echo")
        shown = " ".join(log_text(app).split())  # as one line, not wrapped at 80
    assert "* Disconnected from the server (no answer to ping in 0.5 s). * Reconnected." in shown
    assert [data["text"] for data in relay.sent("broadcast")] == ["after the silence"]


async def rooms_and_news_for_alice(server: RunningServer) -> ChatClient:
    """alice in two rooms besides the group, and bob in one of them has written to her."""
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="games", topic="board games")
    await alice.request("room_create", room="club")
    await alice.close()
    bob = await server.login("bob", features=["rooms"])
    await bob.request("room_join", room="games")
    await bob.private("alice", "are you there?")
    return bob


async def test_chat_snapshot(server: RunningServer) -> None:
    bob = await rooms_and_news_for_alice(server)
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        await until(pilot, lambda: screen.unread.get("dm3") == 1, "the private badge")
        await bob.broadcast("alice: your move", room="games")
        await until(pilot, lambda: screen.tabs.mentioned == {"r1"}, "the mention")
        await until(pilot, lambda: app.terminal_title == "chatroom (2 for you)", "the title")
        await pilot.pause()
        assert_snapshot(app, "chat")


async def test_chat_snapshot_at_60x20_folds_the_sidebar_and_keeps_quit(
    server: RunningServer,
) -> None:
    await rooms_and_news_for_alice(server)
    app = make_app(server.port)
    async with chatting(app, size=(60, 20)) as (pilot, screen):
        await until(pilot, lambda: screen.unread.get("dm3") == 1, "the private badge")
        assert not app.screen.query_one("#sidebar").display
        await pilot.pause()
        assert_snapshot(app, "chat-60x20")


# -- files ----------------------------------------------------------------------------


async def test_send_a_file_and_save_a_received_one(server: RunningServer, tmp_path: Path) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    outgoing = tmp_path / "plan.txt"
    outgoing.write_bytes(b"the plan" * 10_000)
    app = ChatApp("127.0.0.1", server.port, downloads=tmp_path / "downloads")
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await send(pilot, f"/send {outgoing} bob")
        push = await next_push(bob, FilePush)
        assert (push.name, push.to, push.size) == ("plan.txt", "bob", outgoing.stat().st_size)

        incoming = tmp_path / "photo.jpg"
        incoming.write_bytes(os.urandom(200_000))
        await bob.send_file(incoming)  # to the group
        await until(pilot, lambda: "bob sent the file photo.jpg" in log_text(app), "the file")
        await pilot.press("ctrl+s")
        saved = tmp_path / "downloads" / "photo.jpg"
        await until(pilot, lambda: "* Saved" in log_text(app), "the save")
        assert saved.read_bytes() == incoming.read_bytes()

        await send(pilot, "/send /no/such/file.txt")
        await until(pilot, lambda: "/no/such/file.txt is not a file" in log_text(app), "an error")


async def test_a_file_upload_cut_off_is_retried_with_the_same_cid(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    outgoing = tmp_path / "slides.pdf"
    outgoing.write_bytes(os.urandom(300_000))
    async with Relay(server.port) as relay:
        app = make_app(relay.port)
        async with app.run_test() as pilot:
            await log_in(pilot, "alice")
            relay.lose_reply_to = "file_chunk"
            await send(pilot, f"/send {outgoing}")
            push = await next_push(bob, FilePush)
            await until(pilot, lambda: "alice sent the file slides.pdf" in log_text(app), "it")
            assert "Disconnected" in log_text(app)
    first, retry = relay.sent("file_put")
    assert first["cid"] == retry["cid"]
    saved = await bob.download(push.fid, tmp_path / "downloads")
    assert saved.read_bytes() == outgoing.read_bytes()


async def test_the_tui_keeps_an_idle_connection_alive(make_server) -> None:
    server = await make_server(idle_timeout=0.6)
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        assert app.link.keepalive == pytest.approx(0.2)  # a third of the server's idle timeout
        silent = await server.login("silent")  # logged in after alice, never speaks
        await asyncio.wait_for(silent.wait_closed(), WAIT)
        assert silent.closed_reason == "idle"
        assert "Disconnected" not in log_text(app)
        assert "connected as alice" in text_of(app.screen.query_one("#status"))


async def test_pings_follow_the_idle_timeout_of_the_server_connected_again(
    make_server: Callable[..., Awaitable[RunningServer]],
) -> None:
    """The pings kept the interval learnt at login: a server restarted with a shorter
    idle timeout then closed the connection as idle, again and again."""
    server = await make_server(idle_timeout=60.0)
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        status = app.screen.query_one("#status", Static)
        port = server.port
        await server.stop()
        server.limits = dataclasses.replace(server.limits, idle_timeout=0.6)
        await server.restart_on(port)
        await until(pilot, lambda: "Reconnected." in log_text(app), "reconnection")
        assert app.link.keepalive == pytest.approx(0.2)
        silent = await server.login("silent")  # logged in after alice, never speaks
        await asyncio.wait_for(silent.wait_closed(), WAIT)
        assert silent.closed_reason == "idle"
        assert log_text(app).count("Disconnected") == 1  # when the server stopped
        assert "connected as alice" in text_of(status)


async def test_reconnecting_uses_the_resume_token(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        screen = app.screen
        assert isinstance(screen, ChatScreen) and screen.session.resume_token
        screen.session.password = "no longer the password"  # only the token can log in again now
        status = screen.query_one("#status", Static)
        port = server.port
        await server.stop()
        await until(pilot, lambda: "disconnected" in text_of(status), "the status to change")
        await server.restart_on(port)
        await until(pilot, lambda: "connected as alice" in text_of(status), "reconnection")
