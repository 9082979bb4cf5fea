"""The status line at the top of the chat screen: connected or not, and what waits."""

import time

from textual.timer import Timer
from textual.widgets import Static

from chatroom.client.tui.session import ChatSession
from chatroom.common.visible import visible


class StatusLine(Static):
    def __init__(self, session: ChatSession) -> None:
        super().__init__("", id="status", markup=False)
        self.session = session
        self.retry_at = 0.0
        self.countdown: Timer | None = None
        """Ticks while a reconnection is awaited, to count down to it."""

    def show(self) -> None:
        outbox = self.session.outbox
        waiting = f" · {len(outbox)} waiting to send" if outbox else ""
        if self.session.linked.is_set():
            self.update(f"● connected as {visible(self.session.me)}{waiting}")
            self.set_class(False, "offline")
            return
        seconds = max(0, round(self.retry_at - time.monotonic()))
        retry = f"reconnecting in {seconds} s" if seconds else "reconnecting..."
        self.update(f"○ disconnected — {retry}{waiting}")
        self.set_class(True, "offline")

    def reconnecting(self, delay: float) -> None:
        self.retry_at = time.monotonic() + delay
        if self.countdown is None:
            self.countdown = self.set_interval(0.5, self.show)
        self.show()

    def reconnected(self) -> bool:
        """Stop counting down; whether a reconnection was awaited."""
        if self.countdown is None:
            return False
        self.countdown.stop()
        self.countdown = None
        return True

    def failed(self, message: str) -> None:
        self.reconnected()
        self.update(f"disconnected: {visible(message)}")
