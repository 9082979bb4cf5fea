"""The TUI reads its history from the server: older pages on scrolling up, what came
while it was disconnected after a reconnection, read markers both ways."""

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from chatroom.client.tui import conversation, reading
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.reading import PAGE
from chatroom.client.tui.screens.chat import GROUP, ChatScreen
from chatroom.common.limits import LOBBY
from chatroom.common.messages import ReadPush
from tests.conftest import RunningServer, next_push
from tests.relay import Relay
from tests.test_tui import app_through_a_relay, log_in, log_text, make_app, send, until

MakeServer = Callable[..., Awaitable[RunningServer]]


def chat_screen(app: object) -> ChatScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ChatScreen)
    return screen


async def cut_off(pilot: Pilot, app: ChatApp, relay: Relay) -> None:
    """Cut the app's connection at the relay, which refuses it until `relay.refusing` is
    False, and wait until the app has seen it go."""
    relay.cut()
    await until(pilot, lambda: not chat_screen(app).session.linked.is_set(), "the disconnection")


def said(app: object, pane_id: str = GROUP) -> list[str]:
    """The texts of bob's messages in a tab, top to bottom."""
    return [
        line.split("bob: ", 1)[1]
        for line in log_text(app, pane_id).splitlines()  # type: ignore[arg-type]
        if "bob: " in line
    ]


async def test_scrolling_past_the_top_loads_older_history(make_server: MakeServer) -> None:
    server = await make_server(message_rate=1e6, message_burst=10**6)
    await server.register("alice")
    bob = await server.login("bob")
    count = PAGE * 2 + 20
    for n in range(count):
        await bob.broadcast(f"number {n}")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        await until(pilot, lambda: f"number {count - 1}" in said(app), "the newest page")
        assert said(app) == [f"number {n}" for n in range(count - PAGE, count)]
        log = chat_screen(app).shown_log()
        for _ in range(100):  # far more PageUps than it takes
            if said(app)[0] == "number 0":
                break
            await pilot.press("pageup")
            await until(pilot, lambda: not chat_screen(app).reading.loading, "the page")
        assert said(app) == [f"number {n}" for n in range(count)]
        assert not log.more_before
        # alice never read any of it: `new` is above the first, on the page loaded last.
        lines = log_text(app).splitlines()
        assert lines.count("── new ──") == 1
        assert "bob: number 0" in lines[lines.index("── new ──") + 1]
        # Reading the older page, the view stays where it was: not thrown to the end.
        assert not log.is_vertical_scroll_end


async def test_after_a_reconnection_a_tab_catches_up_on_what_came_meanwhile(
    server: RunningServer,
) -> None:
    bob = await server.login("bob")
    async with app_through_a_relay(server) as (pilot, app, relay):
        await bob.broadcast("before the cut")
        await until(pilot, lambda: "before the cut" in said(app), "the first message")
        await cut_off(pilot, app, relay)
        for n in range(3):
            await bob.broadcast(f"while cut {n}")
        await bob.private("alice", "private while cut")
        relay.refusing = False
        await until(pilot, lambda: "Reconnected." in log_text(app), "the reconnection")
        await until(pilot, lambda: "while cut 2" in said(app), "the catch-up")
        assert said(app) == ["before the cut", "while cut 0", "while cut 1", "while cut 2"]
        tab = app.screen.query_one(TabbedContent).get_tab("dm1")
        assert str(tab.label) == "@bob (1)"


async def test_a_tab_opened_while_disconnected_loads_its_history_once_reconnected(
    server: RunningServer,
) -> None:
    bob = await server.login("bob")
    async with app_through_a_relay(server) as (pilot, app, relay):
        await cut_off(pilot, app, relay)
        await bob.private("alice", "private while cut")
        await send(pilot, "/query bob")
        said_offline = "History not loaded: not connected; it loads once reconnected."
        shown = lambda: log_text(app, "dm1").replace("\n", " ")  # noqa: E731 (rows joined)
        await until(pilot, lambda: said_offline in shown(), "the notice")
        relay.refusing = False
        await until(pilot, lambda: said(app, "dm1") == ["private while cut"], "the history")


async def test_reading_on_another_device_clears_the_badge_and_back(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        await bob.private("alice", "hello there")
        tabs = app.screen.query_one(TabbedContent)
        await until(pilot, lambda: chat_screen(app).unread.get("dm1") == 1, "the badge")
        assert str(tabs.get_tab("dm1").label) == "@bob (1)"
        phone = await server.login("alice", features=["read"])
        reply = await phone.request("read", **{"with": "bob"}, upto=2**31)
        assert reply["unread"] == 0
        await until(pilot, lambda: chat_screen(app).unread["dm1"] == 0, "the badge to clear")
        assert str(tabs.get_tab("dm1").label) == "@bob"
        # The group, read here (on screen, at its end), is read on the phone.
        sent = await bob.broadcast("in the group")
        await until(pilot, lambda: "in the group" in said(app), "the group message")
        read = await next_push(phone, ReadPush, room=LOBBY)
        assert (read.upto, read.unread) == (sent.mid, 0)


async def test_after_a_long_disconnection_a_tab_starts_again_from_the_newest(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "CATCH_UP", 30)
    server = await make_server(message_rate=1e6, message_burst=10**6)
    bob = await server.login("bob")
    async with app_through_a_relay(server) as (pilot, app, relay):
        await bob.broadcast("before the cut")
        await until(pilot, lambda: "before the cut" in said(app), "the first message")
        await cut_off(pilot, app, relay)
        for n in range(PAGE + 30):
            await bob.broadcast(f"while cut {n}")
        relay.refusing = False
        await until(pilot, lambda: "Over 30 messages came" in log_text(app), "the restart")
        assert said(app) == [f"while cut {n}" for n in range(30, PAGE + 30)]
        log = chat_screen(app).logs[GROUP]
        assert log.more_before  # scrolling up brings the rest


async def test_a_log_is_a_window_on_the_conversation(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However long the conversation, a tab holds at most WINDOW entries: reading back
    lets the newest go (the end brings them back), new messages let the oldest go."""
    monkeypatch.setattr(conversation, "WINDOW", 60)
    monkeypatch.setattr(conversation, "TRIM", 6)
    server = await make_server(message_rate=1e6, message_burst=10**6)
    await server.register("alice")
    bob = await server.login("bob")
    for n in range(150):
        await bob.broadcast(f"number {n}")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        await until(pilot, lambda: "number 149" in said(app), "the newest page")
        log = chat_screen(app).logs[GROUP]
        for _ in range(100):
            if log.detached:
                break
            await pilot.press("pageup")
            await until(pilot, lambda: not chat_screen(app).reading.loading, "a page")
        assert log.detached
        assert said(app)[0] == "number 50" and "number 149" not in said(app)
        assert len(log.lines) <= 60
        await bob.broadcast("while reading back")
        await until(pilot, lambda: log.unseen == 1, "the count below")
        assert "while reading back" not in said(app)
        await pilot.press("ctrl+end")
        await until(pilot, lambda: "while reading back" in said(app), "the newest again")
        assert not log.detached and said(app)[-2:] == ["number 149", "while reading back"]
        for n in range(40):
            await bob.broadcast(f"more {n}")
        await until(pilot, lambda: "more 39" in said(app), "the live messages")
        assert len(said(app)) <= 66 and log.more_before
        await until(pilot, lambda: log.is_vertical_scroll_end, "the view at the end")
