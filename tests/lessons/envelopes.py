"""Lesson 2, reference solution: envelopes in msgpack, requests matched to their replies.

A reader thread reads every frame. Replies (`ok`, `error`) go to the request waiting for
them, found by `id`; everything else is a push, handed to `on_push`. So a push that comes
between a request and its reply is never mistaken for the reply.
"""

import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

import msgpack

from tests.lessons.framing import frame, read_frame


class Refused(Exception):
    """An `error` reply: its `code` (docs/protocol.md section 10) and message."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data.get("message", data.get("code")))
        self.code = data.get("code")


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        on_push: Callable[[str, dict[str, Any]], None],
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.sock = socket.create_connection((host, port))
        self.on_push, self.on_close = on_push, on_close
        self.next_id = 1
        self.replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self.read_forever, daemon=True).start()

    def request(self, kind: str, **data: Any) -> dict[str, Any]:
        """Send a request; wait for its reply; the reply's data, or Refused."""
        return self.wait(self.submit(kind, **data))

    def submit(self, kind: str, **data: Any) -> "queue.Queue[dict[str, Any]]":
        """Send a request without waiting: `wait` on what this returns for its reply.
        Several may be in flight; their replies come in the order they were sent."""
        with self.lock:
            request_id, self.next_id = self.next_id, self.next_id + 1
            waiting = self.replies[request_id] = queue.Queue()
            body = msgpack.packb({"type": kind, "id": request_id, "data": data})
            self.sock.sendall(frame(body))
        return waiting

    def wait(self, waiting: "queue.Queue[dict[str, Any]]") -> dict[str, Any]:
        reply = waiting.get(timeout=30)
        if reply["type"] == "error":
            raise Refused(reply["data"])
        return reply.get("data") or {}

    def send(self, kind: str, **data: Any) -> None:
        """Send a request without waiting for its reply (the reader thread, which must
        not wait for itself, acks this way)."""
        with self.lock:
            request_id, self.next_id = self.next_id, self.next_id + 1
            self.sock.sendall(frame(msgpack.packb({"type": kind, "id": request_id, "data": data})))

    def read_forever(self) -> None:
        try:
            while True:
                envelope = msgpack.unpackb(read_frame(self.sock))
                kind, data = envelope.get("type"), envelope.get("data") or {}
                if kind in ("ok", "error"):
                    waiting = self.replies.pop(envelope.get("id"), None)
                    if waiting is not None:  # None: the reply to a `send`, not waited for
                        waiting.put(envelope)
                else:
                    self.on_push(kind, data)  # unknown types too: the handler skips them
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for waiting in list(self.replies.values()):  # nobody waits for ever
                waiting.put({"type": "error", "data": {"code": "connection_lost"}})
            self.on_close()

    def close(self) -> None:
        self.sock.close()
