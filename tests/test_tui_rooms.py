"""Rooms in the TUI: a tab per room, the room commands, what happens in a room, and the
tabs back after logging in again."""

from pathlib import Path

from textual.widgets import OptionList

from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.entry import Entry
from chatroom.client.tui.reading import PAGE
from chatroom.client.tui.screens.chat import GROUP
from chatroom.client.tui.screens.panel import Panel
from chatroom.common.messages import FilePush, InvitedPush, MessagePush
from tests.conftest import RunningServer, next_push, refused
from tests.test_tui import chatting, log_in, log_text, make_app, send, until
from tests.test_tui_entry import all_logs
from tests.test_tui_history import MakeServer


async def test_rooms_have_tabs_and_commands(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=["rooms"])
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/create games board games")
        await until(pilot, lambda: screen.tabs.rooms, "the room's tab")
        pane = next(iter(screen.tabs.rooms))
        await until(pilot, lambda: screen.tabs.active == pane, "the tab on screen")
        assert str(screen.tabs.get_tab(pane).label) == "#games"
        await bob.request("room_join", room="games")
        await until(pilot, lambda: "bob joined #games." in log_text(app, pane), "bob's join")
        carol = await server.login("carol")
        await carol.request("room_join", room="games")
        await until(pilot, lambda: "carol" in screen.online, "carol online")
        await carol.close()  # a member, offline
        await until(pilot, lambda: "carol" not in screen.online, "carol gone")
        await server.register("dave")  # not a member
        await send(pilot, "/members")
        said = "#games: 3 members; online: alice, bob; offline: carol"
        await until(pilot, lambda: said in log_text(app, pane), "the members")
        await bob.request("room_leave", room="games")
        await send(pilot, "/members games")
        said = "#games: 2 members; online: alice; offline: carol"
        await until(pilot, lambda: said in log_text(app, pane), "the members, bob gone")
        await bob.request("room_join", room="games")
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
        said = "there is no room 'nowhere': /create nowhere makes it; it is back in the input."
        await until(pilot, lambda: said in all_logs(app), "no room, and how to make it")
        entry = screen.query_one(Entry)
        assert (entry.value, entry.cursor_position) == ("/join nowhere", 13)  # to be mended
        await send(pilot, "/members")  # in the group's tab: the lobby's
        said = "#lobby: 4 members; online: alice, bob; offline: carol, dave"
        await until(pilot, lambda: said in log_text(app), "the lobby's members")
        await send(pilot, "/join LOBBY")  # the lobby is the group's tab: no other opens
        await until(pilot, lambda: "You are in #lobby" in log_text(app), "in the group's tab")
        assert not screen.tabs.rooms and screen.tabs.active == GROUP


async def test_a_message_refused_after_leaving_its_room_is_said_where_the_user_is(
    server: RunningServer,
) -> None:
    """A message typed in a room's tab may still wait in the outbox when /leave (sent at
    once) has closed the tab: its refusal is said in the tab on screen, naming the room,
    and does not open the room's tab again."""
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/create games")
        await until(pilot, lambda: screen.tabs.rooms, "the room's tab")
        await send(pilot, "/leave")
        await until(pilot, lambda: not screen.tabs.rooms, "the tab closed")
        screen.session.queue(None, "one for the road", "games")  # typed before /leave
        await until(pilot, lambda: "Not sent to #games" in log_text(app), "the refusal")
        assert screen.query_one(Entry).value == "one for the road"
        assert not screen.tabs.rooms  # not opened again
        assert screen.tabs.active == GROUP


async def test_an_invite_only_room_is_made_from_the_tui(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=["rooms"])
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/create-private plans who does what")
        said = "You are in #plans: who does what (invite-only: /invite NAME lets someone in)"
        await until(pilot, lambda: said in all_logs(app).replace("\n", " "), "the room")
        assert list(screen.tabs.rooms.values()) == ["plans"]
        assert await refused(bob, "room_join", room="plans") == "forbidden"
        listed = (await bob.request("rooms"))["rooms"]
        assert "plans" not in [room["room"] for room in listed]  # not listed to others
        await send(pilot, "/invite bob")
        assert (await next_push(bob, InvitedPush)) == InvitedPush("plans", "alice")
        assert (await bob.request("room_join", room="plans"))["joined"] is True


async def test_the_rooms_tabs_come_back_at_the_next_login(server: RunningServer) -> None:
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="club")
    await alice.close()
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await until(pilot, lambda: list(screen.tabs.rooms.values()) == ["club"], "club's tab")


async def test_query_and_rooms(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob", features=["rooms"])
    await bob.request("room_create", room="games", topic="chess on Fridays")
    await bob.request("room_create", room="secret", public=False)
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/rooms")
        await until(pilot, lambda: "/join ROOM joins one" in log_text(app), "the list")
        assert "* #games (1 member): chess on Fridays" in log_text(app)
        assert "#lobby (2 members, in it)" in log_text(app)
        assert "secret" not in log_text(app)  # private, and alice is not in it
        await send(pilot, "/query bob")
        await until(pilot, lambda: screen.tabs.active == "dm1", "bob's tab")
        await send(pilot, "/query")
        await until(pilot, lambda: "Usage: /query NAME" in all_logs(app), "the usage")


async def test_search_shows_a_panel_and_enter_jumps_to_the_message(
    make_server: MakeServer,
) -> None:
    server = await make_server(message_rate=1e6, message_burst=10**6)
    await server.register("alice")
    bob = await server.login("bob")
    needle = await bob.broadcast("the needle is here")
    for n in range(PAGE * 3):
        await bob.broadcast(f"hay {n}")
    other = await bob.private("alice", "another needle, privately")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await until(pilot, lambda: f"hay {PAGE * 3 - 1}" in log_text(app), "the history")
        await send(pilot, "/search needle")
        await until(pilot, lambda: isinstance(app.screen, Panel), "the results")
        rows = app.screen.query_one(OptionList)
        assert rows.option_count == 2
        assert app.screen.title_text.startswith("2 messages with needle")  # type: ignore[attr-defined]
        assert "@bob bob: another «needle», privately" in str(rows.get_option_at_index(0).prompt)
        assert "#lobby bob: the «needle» is here" in str(rows.get_option_at_index(1).prompt)
        width = len(str(other.mid))  # the mids in a column, for /delete MID
        assert str(rows.get_option_at_index(1).prompt).startswith(f"{needle.mid:>{width}}  ")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.screen is screen, "the panel to close")
        log = screen.logs[GROUP]
        await until(pilot, lambda: log.shows(needle.mid), "the message loaded")
        line = log.line_of(needle.mid)
        assert line is not None
        await until(pilot, lambda: log.scroll_y == min(line, log.max_scroll_y), "the jump")
        assert "the needle is here" in log.lines[line].text


async def test_a_search_result_in_a_tab_never_shown_is_jumped_to(server: RunningServer) -> None:
    """The tab is put on screen and filled at once: its lines wait for its size, and the
    jump waits for them."""
    await server.register("alice")
    bob = await server.login("bob")
    found = await bob.private("alice", "a needle, privately")
    for n in range(5):
        await bob.private("alice", f"hay {n}")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/search needle")
        await until(pilot, lambda: isinstance(app.screen, Panel), "the results")
        assert app.screen.title_text.startswith("1 message with needle")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen, "the panel to close")
        log = screen.logs["dm1"]
        await until(pilot, lambda: log.line_of(found.mid) is not None, "the message laid out")
        await until(pilot, lambda: "hay 4" in log_text(app, "dm1"), "the rest of the page")
        assert "not loaded" not in log_text(app, "dm1")


async def test_files_shows_the_conversations_files_and_enter_saves_one(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    first.write_bytes(b"first file")
    second.write_bytes(b"second file")
    await bob.send_file(first)
    await bob.send_file(second)
    app = ChatApp("127.0.0.1", server.port, downloads=tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        await send(pilot, "/files")
        await until(pilot, lambda: isinstance(app.screen, Panel), "the list")
        rows = app.screen.query_one(OptionList)
        assert [str(rows.get_option_at_index(i).prompt).split()[2] for i in (0, 1)] == [
            "two.txt",
            "one.txt",
        ]
        await pilot.press("down", "enter")
        saved = tmp_path / "downloads" / "one.txt"
        await until(pilot, lambda: "* Saved" in log_text(app), "the save")
        assert saved.read_bytes() == b"first file"
        await send(pilot, "/query bob")
        await send(pilot, "/files")
        await until(pilot, lambda: "No file was sent" in all_logs(app), "none in private")


async def test_the_new_divider_is_not_put_above_what_the_user_sent(server: RunningServer) -> None:
    """alice's phone says something in a room whose tab the TUI has not filled yet (the
    server moves her marker to it), then bob does: the `new` divider is above bob's."""
    phone = await server.login("alice", features=["rooms"])
    bob = await server.login("bob", features=["rooms"])
    await phone.request("room_create", room="games")
    await bob.request("room_join", room="games")
    seen = await bob.request("broadcast", room="games", text="read already")
    await phone.request("read", room="games", upto=seen["mid"])
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await until(pilot, lambda: screen.tabs.rooms, "the room's tab")
        await phone.request("broadcast", room="games", text="from my phone")
        await bob.request("broadcast", room="games", text="while you were out")
        screen.tabs.active = next(iter(screen.tabs.rooms))
        pane = screen.tabs.active
        await until(pilot, lambda: "while you were out" in log_text(app, pane), "the history")
        lines = log_text(app, pane).splitlines()
        divider = lines.index("── new ──")
        assert "alice: from my phone" in lines[divider - 1]
        assert "bob: while you were out" in lines[divider + 1]


async def test_a_file_sent_from_a_rooms_tab_goes_to_the_room(
    server: RunningServer, tmp_path: Path
) -> None:
    """`/send PATH` sends to the conversation on screen: in a room's tab, the room (not
    the group). `/send PATH NAME` from elsewhere puts the file in NAME's tab after its
    history, once."""
    await server.register("alice")
    bob = await server.login("bob", features=["rooms"])
    await bob.private("alice", "an older private message")
    sketch = tmp_path / "sketch.txt"
    sketch.write_bytes(b"a sketch" * 1000)
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await send(pilot, "/create games")
        await until(pilot, lambda: screen.tabs.rooms, "the room's tab")
        pane = next(iter(screen.tabs.rooms))
        await bob.request("room_join", room="games")
        await until(pilot, lambda: "bob joined #games." in log_text(app, pane), "bob's join")
        await send(pilot, f"/send {sketch}")
        push = await next_push(bob, FilePush)
        assert (push.name, push.room, push.to) == ("sketch.txt", "games", None)
        await until(pilot, lambda: "alice sent the file sketch.txt" in log_text(app, pane), "it")
        assert "sketch.txt" not in log_text(app, GROUP)

        screen.tabs.active = GROUP
        entry = screen.query_one(Entry)
        await until(pilot, lambda: entry.conversation == GROUP, "the group's input")
        await send(pilot, f"/send {sketch} bob")
        push = await next_push(bob, FilePush)
        assert (push.to, push.room) == ("bob", None)
        private = screen.tabs.private_pane("bob")
        screen.tabs.active = private
        await until(pilot, lambda: "sent the file" in log_text(app, private), "the file")
        lines = log_text(app, private).splitlines()
        assert "an older private message" in lines[0]
        assert [n for n, line in enumerate(lines) if "alice sent the file" in line] == [1]


async def test_a_closed_tab_gives_way_to_the_one_shown_before_it(server: RunningServer) -> None:
    """/close, /leave or a /msg to nobody took the person to the group's tab from wherever
    they were: a /msg mistyped in a room's tab left its line in the group's input."""
    await server.register("alice")
    await server.register("bob")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        entry = screen.query_one(Entry)
        await send(pilot, "/query bob")
        await until(pilot, lambda: screen.tabs.active in screen.tabs.partners, "bob's tab")
        bobs = screen.tabs.active
        await send(pilot, "/create games")
        await until(pilot, lambda: screen.tabs.active in screen.tabs.rooms, "the room's tab")
        games = screen.tabs.active
        await send(pilot, "/msg nobdy hi")  # mistyped, in the room's tab
        await until(pilot, lambda: entry.value == "/msg nobdy hi", "the line back")
        assert screen.tabs.active == games and "Not sent to nobdy" in log_text(app, games)
        entry.value = ""
        await send(pilot, "/leave")
        await until(pilot, lambda: screen.tabs.active == bobs, "bob's tab, shown before")
        await send(pilot, "/close")
        await until(pilot, lambda: screen.tabs.active == GROUP, "the group's")
