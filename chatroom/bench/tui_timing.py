"""How the TUI benchmarks see the screen and time what it shows: the updates the app
would write to a terminal, keys sent as the terminal driver sends them, the garbage
collector's pauses, and the figures' report."""

import asyncio
import gc
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App

from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.conversation import ConversationLog

SAMPLE_TIMEOUT = 5.0
"""Seconds a key may take to show before it counts as lost."""
ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def status_kib(field: str) -> int:
    """A figure of this process from /proc/self/status (VmRSS, VmHWM), in KiB."""
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


class Screen:
    """Sees every update the app would write to the terminal, as the terminal would get
    it, and tells when one shows what is awaited."""

    def __init__(self, app: ChatApp) -> None:
        self.app = app
        self.updates = 0
        self.rendering = 0.0
        """Seconds spent turning updates into escape sequences (as a real driver does)."""
        self.wanted: Callable[[str], bool] | None = None
        self.shown = asyncio.Event()
        self.shown_at = 0.0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            render = getattr(renderable, "render_segments", None)
            if render is None:
                return
            started = time.perf_counter()
            text = ESCAPES.sub("", render(app.console))
            now = time.perf_counter()
            self.updates += 1
            self.rendering += now - started
            if self.wanted is not None and self.wanted(text):
                self.wanted = None
                self.shown_at = now
                self.shown.set()

        setattr(app, "_display", display)  # noqa: B010 (mypy: a method is not assignable)

    async def time(
        self,
        act: Callable[[], None],
        wanted: Callable[[str], bool],
        handled: Callable[[], bool] | None = None,
    ) -> tuple[float, float] | None:
        """Seconds from `act()` to when `handled()` first holds (the app has taken it in,
        not drawn it yet), and to the first update that `wanted`; None if none came."""
        self.shown.clear()
        self.wanted = wanted
        started = time.perf_counter()
        act()
        try:
            async with asyncio.timeout(SAMPLE_TIMEOUT):
                while handled is not None and not handled() and not self.shown.is_set():
                    await asyncio.sleep(0)
                handled_at = time.perf_counter()
                await self.shown.wait()
        except TimeoutError:
            self.wanted = None
            return None
        return min(handled_at, self.shown_at) - started, self.shown_at - started


def send_key(app: App[Any], key: str) -> Callable[[], None]:
    """Sending `key` as the terminal driver does (`App._press_keys` without its waits)."""

    def act() -> None:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        assert app._driver is not None
        app._driver.send_message(event)

    return act


def line_text(log: ConversationLog, y: int) -> str:
    return log.lines[y].text.rstrip() if 0 <= y < len(log.lines) else ""


def spread(samples: list[float]) -> str:
    """p50 / p99 / max of seconds, in ms."""
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    slow = sum(1 for sample in ordered if sample >= 0.05)
    return (
        f"p50 {statistics.median(ordered) * 1000:6.1f}  p99 {p99 * 1000:6.1f}  "
        f"max {ordered[-1] * 1000:6.1f} ms  (n={len(ordered)}, {slow} >= 50 ms)"
    )


class Collections:
    """The garbage collector's pauses, by generation: a full collection walks every
    object the log keeps."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def reset(self) -> None:
        for pauses in self.pauses.values():
            pauses.clear()

    def summary(self, generation: int) -> str:
        pauses = self.pauses[generation]
        if not pauses:
            return "none"
        return (
            f"{len(pauses)}, p50 {statistics.median(pauses) * 1000:.1f} ms, "
            f"max {max(pauses) * 1000:.1f} ms"
        )


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add(self, label: str, value: str) -> None:
        self.rows.append((label, value))
        print(f"  {label:<40} {value}", file=sys.stderr, flush=True)

    def print(self) -> None:
        width = max(len(label) for label, _ in self.rows)
        print()
        for label, value in self.rows:
            print(f"{label:<{width}}  {value}")
