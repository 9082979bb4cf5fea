"""Rooms in the TUI: a tab per room, the room commands, what happens in a room, and the
tabs back after logging in again."""

from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.common.messages import MessagePush
from tests.conftest import RunningServer, next_push
from tests.test_tui import log_in, log_text, make_app, send, until
from tests.test_tui_entry import all_logs


async def test_rooms_have_tabs_and_commands(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=["rooms"])
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await send(pilot, "/create games board games")
        await until(pilot, lambda: screen.tabs.rooms, "the room's tab")
        pane = next(iter(screen.tabs.rooms))
        await until(pilot, lambda: screen.tabs.active == pane, "the tab on screen")
        assert str(screen.tabs.get_tab(pane).label) == "#games"
        await bob.request("room_join", room="games")
        await until(pilot, lambda: "bob joined #games." in log_text(app, pane), "bob's join")
        await send(pilot, "hello games")
        got = await next_push(bob, MessagePush, room="games")
        assert got.text == "hello games"
        await bob.request("broadcast", room="games", text="hi from bob")
        await until(pilot, lambda: "bob: hi from bob" in log_text(app, pane), "bob's message")
        assert "hi from bob" not in log_text(app)  # not in the group's tab
        await send(pilot, "/topic chess tonight")
        await until(pilot, lambda: "is now: chess tonight" in all_logs(app), "the topic")
        await send(pilot, "/invite nobody")
        await until(pilot, lambda: "there is no user 'nobody'" in all_logs(app), "the refusal")
        await send(pilot, "/leave")
        await until(pilot, lambda: not screen.tabs.rooms, "the tab closed")
        await send(pilot, "/join nowhere")
        await until(pilot, lambda: "there is no room 'nowhere'" in all_logs(app), "no room")


async def test_the_rooms_tabs_come_back_at_the_next_login(server: RunningServer) -> None:
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="club")
    await alice.close()
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await until(pilot, lambda: list(screen.tabs.rooms.values()) == ["club"], "club's tab")
