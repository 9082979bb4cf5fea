"""One connection of the checker, and the exception that says a requirement is not met.

A `Probe` reads frames the way docs/protocol.md section 1 says every reader must: 4 bytes
of length, then exactly that many bytes, whatever the server's writes looked like. Every
frame it sends or receives goes into the `Wire` of its requirement, so that a failure
can show what was said, byte by byte.
"""

import asyncio
import contextlib
import struct
from collections.abc import Callable
from typing import Any

import msgpack

from chatroom.common.codec import encode
from chatroom.common.limits import HEADER_SIZE
from chatroom.common.trace import TO_CLIENT, TO_SERVER, describe

REPLIES = ("ok", "error")
PATIENT = ("register", "login", "resume")
"""Requests sent again when the server says when (`retry_after`)."""
WAIT_MOST = 40.0
"""Seconds one requirement waits for the server's lockouts and rate limits, in all."""
LONGEST_FRAME = 64 * 1024 * 1024
"""A length over this from a server is taken for garbage, not waited for."""


class Unmet(Exception):
    """The server did not do what the requirement says: what was expected, what came."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}; got {got}")
        self.expected = expected
        self.got = got


class Wire:
    """Every frame of one requirement's connections, in the order they passed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.waited = 0.0
        """Seconds spent waiting for the server's `retry_after`."""

    def record(self, who: str, arrow: str, frame: bytes) -> None:
        self.lines.append(f"{who} {arrow} {describe(frame)}")


def shown(envelope: dict[Any, Any] | None) -> str:
    """An envelope (or its absence) as a failure message names it."""
    if envelope is None:
        return "nothing"
    kind, data = envelope.get("type"), envelope.get("data") or {}
    if kind == "error":
        return f"error {data.get('code')!r} (id {envelope.get('id')!r})"
    if kind == "ok":
        return f"ok (id {envelope.get('id')!r}) {summary(data)}"
    return f"{kind!r} push {summary(data)}"


def summary(data: Any, most: int = 160) -> str:
    text = repr({key: f"<{len(v)} bytes>" if isinstance(v, bytes) else v for key, v in data.items()}
                if isinstance(data, dict) else data)  # fmt: skip
    return text if len(text) <= most else text[: most - 1] + "…"


class Probe:
    """A connection to the server under test, as the name `who` (for the frame log)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wire: Wire,
        who: str,
        timeout: float,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.wire, self.who, self.timeout = wire, who, timeout
        self.pushes: list[dict[Any, Any]] = []
        """Pushes read while waiting for something else, oldest first, not yet taken."""
        self._next_id = 1

    # Writing.

    async def send(self, envelope: dict[str, Any]) -> None:
        await self.send_bytes(encode(envelope))

    async def send_bytes(self, data: bytes) -> None:
        """Bytes as they are (any number of frames, or part of one), in one write."""
        self._record_sent(data)
        self.writer.write(data)
        await self.writer.drain()

    def _record_sent(self, data: bytes) -> None:
        """Log the frames in `data`; bytes that are not a whole frame are logged as such."""
        while len(data) >= HEADER_SIZE:
            (length,) = struct.unpack_from(">I", data)
            if len(data) < HEADER_SIZE + length:
                break
            self.wire.record(self.who, TO_SERVER, data[: HEADER_SIZE + length])
            data = data[HEADER_SIZE + length :]
        if data:
            start = data[:16].hex(" ") + (" …" if len(data) > 16 else "")
            self.wire.lines.append(
                f"{self.who} {TO_SERVER} {len(data)} B, not a whole frame: {start}"
            )

    def envelope(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request with the next id of this connection."""
        request: dict[str, Any] = {"type": kind, "id": self._next_id, "data": data or {}}
        self._next_id += 1
        return request

    # Reading.

    async def frame(self, timeout: float | None = None) -> dict[Any, Any]:
        """The next frame from the server. Unmet if it is not a msgpack map, or if
        nothing comes within the timeout; ConnectionError when the server closed."""
        try:
            async with asyncio.timeout(timeout or self.timeout):
                return await self._read()
        except TimeoutError:
            raise Unmet("a frame", f"nothing within {timeout or self.timeout:g} s") from None

    async def _read(self) -> dict[Any, Any]:
        try:
            header = await self.reader.readexactly(HEADER_SIZE)
            (length,) = struct.unpack(">I", header)
            if length > LONGEST_FRAME:
                raise Unmet("a 4-byte length, then a frame", f"a length of {length} bytes")
            body = await self.reader.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError(
                f"the server closed the connection{' mid-frame' if exc.partial else ''}"
            ) from None
        self.wire.record(self.who, TO_CLIENT, header + body)
        try:
            envelope = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise Unmet(
                "a frame body of one msgpack map", f"bytes msgpack rejects: {exc}"
            ) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
            raise Unmet("an envelope: a map with a str `type`", repr(envelope)[:120])
        return envelope

    async def reply(self, request_id: Any = None, timeout: float | None = None) -> dict[Any, Any]:
        """The next reply (`ok` or `error`); pushes before it are kept in `pushes`.
        Unmet if its id is not `request_id`."""
        while True:
            envelope = await self.frame(timeout)
            if envelope["type"] not in REPLIES:
                self.pushes.append(envelope)
                continue
            if envelope.get("id") != request_id:
                raise Unmet(f"the reply to request id {request_id!r}", shown(envelope))
            return envelope

    async def request(self, kind: str, data: dict[str, Any] | None = None) -> dict[Any, Any]:
        """Send a request and return its reply, `ok` or `error`. An account request the
        server asks to wait (a lockout, the pace of registrations) is sent again after
        `retry_after`, up to WAIT_MOST seconds, so that checking a server twice in a row
        is not refused for the failures the first run made on purpose."""
        while True:
            request = self.envelope(kind, data)
            await self.send(request)
            reply = await self.reply(request["id"])
            error = reply.get("data") or {}
            retry = error.get("retry_after")
            if (
                kind not in PATIENT
                or error.get("code") not in ("too_many_attempts", "rate_limited")
                or not isinstance(retry, int | float)
                or self.wire.waited + retry > WAIT_MOST
            ):
                return reply
            self.wire.waited += retry
            await asyncio.sleep(retry)

    async def ok(self, kind: str, data: dict[str, Any] | None = None) -> dict[Any, Any]:
        """The `data` of the `ok` to this request; Unmet if it is refused."""
        reply = await self.request(kind, data)
        if reply["type"] != "ok":
            raise Unmet(f"ok to {kind!r}", shown(reply))
        return dict(reply.get("data") or {})

    async def refused(
        self, kind: str, data: dict[str, Any] | None, code: str, why: str = ""
    ) -> dict[Any, Any]:
        """The `data` of the error to this request; Unmet unless its code is `code`."""
        reply = await self.request(kind, data)
        error = reply.get("data") or {}
        if reply["type"] != "error" or error.get("code") != code:
            raise Unmet(f"error {code!r} to {kind!r}{why}", shown(reply))
        return dict(error)

    async def push(
        self, kind: str | tuple[str, ...],
        matching: Callable[[dict[Any, Any]], bool] = lambda data: True,
        timeout: float | None = None, what: str = "",
    ) -> dict[Any, Any]:  # fmt: skip
        """The `data` of the first push of type `kind` (or one of the types) for which
        `matching` holds, kept or arriving; the others stay kept. Unmet after the timeout."""
        kinds = (kind,) if isinstance(kind, str) else kind
        for index, envelope in enumerate(self.pushes):
            if envelope["type"] in kinds and matching(envelope.get("data") or {}):
                return dict(self.pushes.pop(index).get("data") or {})
        seen = len(self.pushes)
        try:
            async with asyncio.timeout(timeout or self.timeout):
                while True:
                    envelope = await self._read()
                    data = envelope.get("data") or {}
                    if envelope["type"] in kinds and matching(data):
                        return dict(data)
                    self.pushes.append(envelope)
        except TimeoutError:
            others = ", ".join(shown(push) for push in self.pushes[seen:][-3:]) or "no push"
            raise Unmet(
                f"a {' or '.join(map(repr, kinds))} push {what}".strip(),
                f"{others} within {timeout or self.timeout:g} s",
            ) from None

    async def closed(self, timeout: float | None = None) -> bool:
        """Whether the server closes the connection within the timeout (frames before
        that are kept in `pushes`)."""
        try:
            async with asyncio.timeout(timeout or self.timeout):
                while True:
                    self.pushes.append(await self._read())
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1)
