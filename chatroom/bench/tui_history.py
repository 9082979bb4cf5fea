"""Is the TUI still quick and small with a long history loaded? Keypress to screen, RSS.

    python -m chatroom.bench.tui_history [--messages 100000] [--keys 200] [--page 200]

A server (its own process, so the RSS measured here is the client's alone) holds MESSAGES
lobby messages from 20 users, built straight into its database as
`chatroom.bench.conversations_db` does: 3 to 14 made-up words each (14 to 121
characters, 57 on average). The real `ChatApp` runs headless (120 x 40), logs in, and
pages the whole lobby history into the group tab with `Reading.older`, PAGE messages a
request (the client asks for `chatroom.client.tui.reading.PAGE`, 50, when scrolled; this
raises it to make fewer requests). The log keeps a window of `conversation.WINDOW`
entries of it (3,000): what is paged past that is let go.

Then KEYS samples of each:

- a printable key typed into the input;
- PageDown / PageUp in the loaded log (sweeping down and back up, clear of both ends);
- a few terminal resizes between 120 and 100 columns (the log wraps its lines again).

Each is timed from just before the key event goes to the app, the way the terminal
driver sends it, until the first screen update that shows its effect: the headless
driver writes nothing, so every update the app would write is rendered here to the
escape sequences a terminal would get (that cost counted), and searched (escapes
stripped) for the new text: the input's last characters, the log's new top line. For a
typed key, the time until the input's value has it (handled, not drawn yet) is shown too.
(Not `pilot.press` and `pilot.pause()`: each waits for the process to be idle, sleeping
20 ms at least, so they time the harness more than the app.)

RSS is this process's (VmRSS, and the peak, VmHWM). The pauses of full garbage
collections are counted too: each walks every object the log keeps (its Strips, and
the caches each Strip carries), and one landing in a sample is its outlier.
"""

import argparse
import asyncio
import cProfile
import gc
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from textual import events
from textual.geometry import Size
from textual.pilot import Pilot
from textual.widgets import Input

from chatroom.bench import conversations_db
from chatroom.bench.accounts import PASSWORD
from chatroom.bench.spawn import BENCH_FLAGS, start_server
from chatroom.bench.tui_timing import (
    Collections,
    Report,
    Screen,
    line_text,
    mib,
    send_key,
    spread,
    status_kib,
)
from chatroom.client.api import backoff
from chatroom.client.tui import reading
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.client.tui.screens.login import LoginScreen
from chatroom.client.tui.screens.menu import MenuScreen
from chatroom.client.tui.tabs import GROUP
from chatroom.common.limits import PAGE_MAX

USER = conversations_db.user_name(0)
"""Who logs in (every user of the built database has the benchmark password)."""
SIZE = (120, 40)
NARROW = 100
RESIZES = 8
TYPING_GAP = 0.02
"""Seconds between samples: the app settles (cursor blink, idle) as between keystrokes."""
LETTERS = "abcdefghijklmnopqrstuvwxyz"
"""Typed in turn: no run of them is in the log's made-up words (consonant, vowel, ...)."""


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    try:
        async with asyncio.timeout(60):
            while not condition():
                await pilot.pause(0.02)
    except TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


async def log_in(pilot: Pilot[None]) -> ChatScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
    await pilot.press("1")
    await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login form")
    app.screen.query_one("#username", Input).value = USER
    app.screen.query_one("#password", Input).value = PASSWORD
    await pilot.click(".form-submit")
    await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat screen")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def load_history(
    view: Screen, screen: ChatScreen, log: ConversationLog, report: Report, limit: int
) -> int:
    """Pages the lobby's history into the log until none is left (or `limit` messages
    have been paged); returns how many messages were paged."""
    started = time.perf_counter()
    pages = 0
    paged = len([mid for mid in log._mids if mid])
    while log.more_before and paged < limit:
        before = log.oldest_mid
        await screen.reading.older(log, screen.me, wait=True)
        await view.time(lambda: None, lambda _text: True)  # the page is on screen
        pages += 1
        if log.oldest_mid == before:
            raise RuntimeError("a page of history did not come")
        paged += sum(1 for entry in log._entries if 0 < getattr(entry, "mid", 0) < before)
    seconds = time.perf_counter() - started
    report.add("history paged in", f"{paged:,} messages, {pages} pages of {reading.PAGE}")
    report.add("loading time", f"{seconds:.2f} s ({seconds / max(pages, 1) * 1000:.1f} ms/page)")
    report.add("log holds", f"{len(log._entries):,} entries, {len(log.lines):,} lines")
    return paged


async def time_typing(
    pilot: Pilot[None], view: Screen, entry: Input, keys: int, report: Report
) -> None:
    app = pilot.app
    handled: list[float] = []
    shown: list[float] = []
    lost = 0
    for n in range(keys):
        if n % 60 == 0:
            entry.value = ""
            await pilot.pause()
        key = LETTERS[n % len(LETTERS)]
        value = entry.value + key

        def drawn(text: str, tail: str = value[-6:]) -> bool:
            return tail in text

        def taken(value: str = value) -> bool:
            return entry.value == value

        took = await view.time(send_key(app, key), drawn, taken)
        if took is None:
            lost += 1
        else:
            handled.append(took[0])
            shown.append(took[1])
        await asyncio.sleep(TYPING_GAP)
    report.add("keypress -> input value changed", spread(handled))
    report.add("keypress -> on screen", spread(shown) + lost_note(lost))
    entry.value = ""
    await pilot.pause()


def lost_note(lost: int) -> str:
    return f", {lost} never shown" if lost else ""


async def time_scrolling(
    pilot: Pilot[None], view: Screen, log: ConversationLog, keys: int, report: Report
) -> None:
    """PageDown from the top to near the end, PageUp back to near the top, and so on:
    neither end is reached (past the top or the end, the log would fetch)."""
    app = pilot.app
    log.scroll_to(y=0, animate=False, immediate=True)
    await pilot.pause()
    height = log.scrollable_content_region.height
    bottom = log.max_scroll_y - 2 * height
    if bottom <= 2 * height:
        report.add("scrolling", "the log is too short to page through")
        return
    down: list[float] = []
    up: list[float] = []
    going = "pagedown"
    lost = 0
    for _ in range(keys):
        if going == "pagedown" and log.scroll_y >= bottom:
            going = "pageup"
        elif going == "pageup" and log.scroll_y <= 2 * height:
            going = "pagedown"
        y0 = log.scroll_y

        def moved(text: str, y0: float = y0) -> bool:
            y = round(log.scroll_y)
            return y != y0 and bool(line_text(log, y)) and line_text(log, y) in text

        took = await view.time(send_key(app, going), moved)
        if took is None:
            lost += 1
        else:
            (down if going == "pagedown" else up).append(took[1])
        await asyncio.sleep(TYPING_GAP)
    report.add("PageDown -> screen", spread(down) + lost_note(lost))
    report.add("PageUp -> screen", spread(up))


async def time_resizing(
    pilot: Pilot[None], view: Screen, log: ConversationLog, entry: Input, report: Report
) -> None:
    """Terminal resizes: to the first update after the log has wrapped its newest chunk
    again, a key typed then to the screen, and the whole reflow to its end."""
    app = pilot.app
    chunks: list[float] = []
    reflow = log._reflow

    def timed_reflow() -> None:
        started = time.perf_counter()
        reflow()
        chunks.append(time.perf_counter() - started)

    setattr(log, "_reflow", timed_reflow)  # noqa: B010
    first: list[float] = []
    typed: list[float] = []
    whole: list[float] = []
    entry.value = ""
    for n in range(RESIZES):
        size = Size(NARROW if n % 2 == 0 else SIZE[0], SIZE[1])
        count = len(chunks)

        def resize(size: Size = size) -> None:
            app._driver._size = size  # type: ignore[union-attr]  # the headless driver's
            app.post_message(events.Resize(size, size))

        def reflowed_since(_text: str, count: int = count) -> bool:
            return len(chunks) > count

        started = time.perf_counter()
        took = await view.time(resize, reflowed_since)
        if took is not None:
            first.append(took[1])
        key = LETTERS[n % len(LETTERS)]
        value = entry.value + key

        def drawn(text: str, tail: str = value[-6:]) -> bool:
            return tail in text

        took = await view.time(send_key(app, key), drawn)
        if took is not None:
            typed.append(took[1])
        await until(pilot, lambda: not log._reflowing, "the reflow's end")
        whole.append(time.perf_counter() - started)
        await pilot.pause(0.1)
    setattr(log, "_reflow", reflow)  # noqa: B010
    entry.value = ""
    report.add("resize -> newest chunk rewrapped on screen", spread(first))
    report.add("  a key typed then -> on screen", spread(typed))
    report.add("  resize -> whole log rewrapped", spread(whole))
    report.add("  each ConversationLog._reflow chunk", spread(chunks))


async def drive(port: int, args: argparse.Namespace, downloads: Path, report: Report) -> None:
    reading.PAGE = args.page
    app = ChatApp(
        "127.0.0.1", port, reconnect_delays=lambda: backoff(0.05, 2, 0.2), downloads=downloads
    )
    gc.collect()
    report.add("RSS before the app", mib(status_kib("VmRSS")))
    async with app.run_test(size=SIZE) as pilot:
        view = Screen(app)
        screen = await log_in(pilot)
        log = screen.logs[GROUP]
        await until(pilot, lambda: log.loaded, "the first page")
        await pilot.pause()
        report.add("RSS logged in, first page", mib(status_kib("VmRSS")))
        if args.tracemalloc:
            tracemalloc.start(8)
        collections = Collections()
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        await load_history(view, screen, log, report, args.messages)
        if profile:
            profile.disable()
        report.add("full GC pauses while loading", collections.summary(2))
        gc.collect()
        report.add("objects the GC tracks", f"{len(gc.get_objects()):,}")
        report.add("RSS history loaded", mib(status_kib("VmRSS")))
        report.add("peak RSS (VmHWM) so far", mib(status_kib("VmHWM")))
        if args.tracemalloc:
            show_tracemalloc()
        if profile:
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        entry = screen.query_one("#entry", Input)
        entry.focus()
        await pilot.pause()
        collections.reset()
        await time_typing(pilot, view, entry, args.keys, report)
        await time_scrolling(pilot, view, log, args.keys, report)
        await time_resizing(pilot, view, log, entry, report)
        report.add("full GC pauses while measuring", collections.summary(2))
        report.add("screen updates rendered", f"{view.updates:,} ({view.rendering:.2f} s)")
        report.add("RSS at the end", mib(status_kib("VmRSS")))
        report.add("peak RSS (VmHWM)", mib(status_kib("VmHWM")))
        await app.action_quit()


def show_tracemalloc() -> None:
    snapshot = tracemalloc.take_snapshot()
    traced, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"tracemalloc: {traced / 2**20:.1f} MiB traced, {peak / 2**20:.1f} MiB peak; top:")
    for stat in snapshot.statistics("lineno")[:15]:
        print(f"  {stat.size / 2**20:7.2f} MiB {stat.count:9,}  {stat.traceback[0]}")


def build(data_dir: Path, messages: int) -> conversations_db.Built:
    params = conversations_db.Params(
        messages=messages, users=20, rooms=0, rooms_per_user=0, big_room_members=0, seed=1
    )
    return conversations_db.build(data_dir, params)


async def built(data_dir: Path, messages: int, report: Report) -> None:
    """The database, made in a process of its own: this one's RSS stays the client's."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        made = await asyncio.get_running_loop().run_in_executor(pool, build, data_dir, messages)
    how = "reused" if made.reused else f"built in {made.seconds:.1f} s"
    report.add("database", f"{messages:,} lobby messages, {made.db_bytes / 2**20:.0f} MiB, {how}")


async def run(args: argparse.Namespace) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="tui-history-") as scratch:
        data_dir = args.data_dir or Path(scratch) / "data"
        await built(data_dir, args.messages, report)
        server, port = await start_server(data_dir, *BENCH_FLAGS, timeout=120)
        try:
            async with asyncio.timeout(args.timeout):
                await drive(port, args, Path(scratch) / "downloads", report)
        finally:
            server.terminate()
            await server.wait()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatroom.bench.tui_history",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--messages", type=int, default=100_000, help="lobby messages")
    parser.add_argument("--keys", type=int, default=200, help="samples of each key")
    parser.add_argument(
        "--page", type=int, default=200, help="messages per history request (client: 50)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the server's database here (reused if it fits)"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds, all in all")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace allocations while loading"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the loading")
    args = parser.parse_args(argv)
    if not 1 <= args.page <= PAGE_MAX:
        parser.error(f"--page: 1 to {PAGE_MAX} (what the server gives at most)")
    print(f"pid {os.getpid()}", file=sys.stderr)
    asyncio.run(run(args)).print()


if __name__ == "__main__":
    main()
