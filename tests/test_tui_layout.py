"""The chat screen: logs that wrap to their width and hold a scrolled view, alerts, and
the settings that shape them."""

import gc
from pathlib import Path

from chatroom.client.settings import Settings, load
from chatroom.client.tui import collector
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.conversation import REFLOW_CHUNK, ConversationLog
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.client.tui.screens.login import LoginScreen
from chatroom.client.tui.tabs import GROUP
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, RunningServer
from tests.test_tui import chatting, log_text, make_app, send, type_in, until

LONG = " ".join(f"word{n}" for n in range(60))  # about 400 characters


def line_saying(log: ConversationLog, text: str) -> int:
    return next(y for y, strip in enumerate(log.lines) if text in strip.text)


def widest_row(app, pane: str) -> int:
    return max(len(row) for row in log_text(app, pane).splitlines())


def test_a_message_written_before_the_log_is_laid_out_is_known_to_be_shown() -> None:
    """A tab opened by `/msg` gets its history before it is laid out, the sent message
    in it; the message's `ok`, held meanwhile, must not write it a second time."""
    log = ConversationLog()  # not on screen yet: RichLog holds what is written
    sent = MessagePush(7, "alice", "bob", "first words", 0.0)
    assert log.write_item(sent, "alice")
    assert log.shows(7)
    assert not log.write_item(sent, "alice")


async def test_a_hidden_tab_wraps_to_the_width_it_gets_and_reflows_on_resize(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        await bob.private("alice", LONG)  # its tab opens, hidden behind the group's
        await until(pilot, lambda: screen.partners, "the private tab")
        pane = next(iter(screen.partners))
        await pilot.press("ctrl+n")
        await until(pilot, lambda: "word59" in log_text(app, pane), "the message")
        log = screen.logs[pane]
        narrow = widest_row(app, pane)
        assert log.size.width - 12 <= narrow <= log.size.width  # not 20 columns
        await pilot.resize_terminal(160, 30)
        await until(pilot, lambda: widest_row(app, pane) > narrow + 40, "the reflow")
        assert "word59" in log_text(app, pane)
        rows = log_text(app, pane).splitlines()
        await pilot.resize_terminal(60, 20)
        await until(pilot, lambda: len(log_text(app, pane).splitlines()) > len(rows), "narrower")
        assert max(len(row) for row in log_text(app, pane).splitlines()) <= log.size.width


async def test_a_tab_written_to_while_hidden_wraps_to_its_width_when_shown_again(
    server: RunningServer,
) -> None:
    """A private tab opened with /query, left before anything was written in it, had a
    size but no width to wrap to: a message that came while it was hidden was wrapped to
    20 columns, and stayed so once shown, its size unchanged (seen in tmux at 130x40)."""
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        await send(pilot, "/query bob")
        await until(pilot, lambda: screen.tabs.active in screen.partners, "bob's tab")
        pane = screen.tabs.active
        log = screen.logs[pane]
        await until(pilot, lambda: log.loaded and log.size.width, "its empty history, shown")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen.tabs.active == GROUP, "the group's tab")
        await bob.private("alice", LONG)
        await until(pilot, lambda: "word59" in log_text(app, pane), "the message, hidden")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: screen.tabs.active == pane, "bob's tab again")
        await until(pilot, lambda: widest_row(app, pane) > log.size.width - 12, "rewrapped")
        assert widest_row(app, pane) <= log.size.width


async def test_a_resize_wraps_every_entry_again_in_chunks_keeping_the_view(
    server: RunningServer,
) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        log = screen.logs["room"]
        entries = 3 * REFLOW_CHUNK + 10
        for n in range(entries):
            log.write_message(0, "bob", f"{n:03} {LONG}", mine=False, private=False)
        await until(pilot, lambda: f"{entries - 1:03} word0" in log_text(app), "the entries")
        await pilot.pause()  # the scrolls to the end that the writes queued
        top = line_saying(log, "005 word0")
        log.scroll_to(y=top, animate=False, immediate=True)
        await until(pilot, lambda: log.scroll_y == top, "the view on entry 5")
        narrow = len(log.lines)
        await pilot.resize_terminal(160, 30)
        await until(pilot, lambda: len(log.lines) < narrow * 2 // 3, "every entry rewrapped")
        assert widest_row(app, "room") > 100
        # Entry 5 is in the last chunk rewrapped, the oldest: the view is on it still.
        assert log.scroll_y == line_saying(log, "005 word0") < top


async def test_reading_further_up_holds_the_view_and_counts_what_comes_below(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        log = screen.logs["room"]
        for n in range(40):
            await bob.broadcast(f"filler {n}")
        await until(pilot, lambda: "filler 39" in log_text(app), "the filler")
        await until(pilot, lambda: log.is_vertical_scroll_end, "the view at the end")
        await pilot.press("pageup")  # the input keeps the keyboard; the log scrolls
        await until(pilot, lambda: not log.is_vertical_scroll_end, "the view scrolled up")
        held = log.scroll_y
        for n in range(3):
            await bob.broadcast(f"later {n}")
        await until(pilot, lambda: "later 2" in log_text(app), "the later messages")
        assert log.scroll_y == held and log.unseen == 3
        assert log.border_subtitle == "▼ 3 new below (PgDn)"
        await pilot.press("pagedown", "pagedown", "pagedown")
        await until(pilot, lambda: log.unseen == 0, "the marker to clear")
        assert log.is_vertical_scroll_end and not log.border_subtitle
        await bob.broadcast("live again")
        await until(pilot, lambda: "live again" in log_text(app), "a live message")
        await until(pilot, lambda: log.is_vertical_scroll_end, "the view following")


async def test_a_private_message_or_a_mention_rings_and_every_tab_counts(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        await bob.broadcast("nothing for alice here")
        await until(pilot, lambda: "nothing for alice" in log_text(app), "a plain message")
        assert rings == [None]  # "alice" is in it: a mention
        await bob.broadcast("just chatting")
        await until(pilot, lambda: "just chatting" in log_text(app), "another")
        assert len(rings) == 1  # no mention, no bell
        await bob.private("alice", "psst")
        await until(pilot, lambda: screen.partners, "the private tab")
        await until(pilot, lambda: len(rings) == 2, "the bell for a private message")
        await until(pilot, lambda: app.terminal_title == "chatroom (1 for you)", "the title")
        pane = next(iter(screen.partners))
        await pilot.press("ctrl+n")  # to the private tab: the group's count starts
        await until(pilot, lambda: screen.unread[pane] == 0, "the private tab read")
        await until(pilot, lambda: app.terminal_title == "chatroom", "the title back")
        await bob.broadcast("while you were in the private tab")
        tabs = screen.query_one("#conversations")
        await until(pilot, lambda: screen.unread["room"] == 1, "the group's count")
        assert str(tabs.get_tab("room").label) == "# group (1)"
        await pilot.press("ctrl+n")
        await until(pilot, lambda: screen.unread["room"] == 0, "the group read")


async def test_the_settings_fill_the_login_form_and_can_silence_the_bell(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    path = tmp_path / "settings.toml"
    app = ChatApp(
        "127.0.0.1",
        server.port,
        settings=Settings(username="someone", bell=False),
        settings_file=path,
    )
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen is app.menu, "the menu")
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login form")
        assert app.screen.query_one("#username").value == "someone"
        await type_in(pilot, "#username", "alice")
        await type_in(pilot, "#password", PASSWORD)
        await pilot.click(".form-submit")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat")
        await bob.private("alice", "psst")
        await until(pilot, lambda: app.screen.partners, "the private tab")
        assert rings == []
    assert load(path)[0].username == "alice"  # remembered for next time


async def test_a_settings_file_with_a_problem_is_not_overwritten_at_login(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    path = tmp_path / "settings.toml"
    path.write_text('username = "alice"\nbel = false\n')  # a typo, being mended by hand
    app = ChatApp("127.0.0.1", server.port, settings=load(path)[0], settings_file=path)
    async with chatting(app) as (pilot, _):
        said = f"{path} has a problem: your username is not saved in it"
        await until(pilot, lambda: any(n.message == said for n in app._notifications), "said")
    assert path.read_text() == 'username = "alice"\nbel = false\n'


async def test_full_garbage_collections_wait_for_the_user_to_be_idle(
    server: RunningServer,
) -> None:
    before = gc.get_threshold()
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        assert gc.get_threshold()[2] == collector.WALK_AFTER  # Python's own walks are rare
        for _ in range(collector.WALK_EVERY):  # as if objects had lived a while
            gc.collect(1)
        assert gc.get_count()[2] >= collector.WALK_EVERY
        await until(pilot, lambda: gc.get_count()[2] == 0, "a full walk while idle")
    assert gc.get_threshold() == before


async def test_pageup_while_lines_are_still_coming_is_not_undone(server: RunningServer) -> None:
    """Lines written just before a PageUp scroll to the end only once laid out; the view
    must stay where PageUp took it (seen in CI as a flake of the test above)."""
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app) as (pilot, screen):
        log = screen.logs["room"]
        for n in range(60):
            log.write(f"line {n}")
        await until(pilot, lambda: log.is_vertical_scroll_end and log.max_scroll_y > 0, "the end")
        for n in range(20):
            log.write(f"more {n}")  # their scroll to the end waits for the next refresh
        log.scroll_by_keys("page_up")
        await pilot.pause(0.1)
        assert not log.is_vertical_scroll_end
