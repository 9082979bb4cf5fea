"""Seeing the wire (`--trace`): one line for every frame a connection sends or receives.

Each line is the frame as docs/protocol.md draws it byte by byte: its length, the hex of
its first bytes (the 4-byte length, then the start of the msgpack body), and the envelope
decoded, with passwords and tokens masked (and characters that would act on the terminal,
such as a C1 control or a bidi override, written as JSON's `\\uXXXX` escapes):

    12:04:31.120 127.0.0.1:50312 -> 54 B | 00 00 00 32 83 a4 74 79 70 65 a5 6c 6f 67 … |
        {"type": "login", "id": 2, "data": {"username": "alice", "password": "***"}}

(one line: it is broken here only to fit).

`->` is towards the server, `<-` towards the client, whichever end traces. A `FrameTrace`
is fed the bytes of one connection as they are read and written, in chunks of any size,
and writes a line each time a frame is complete; it does no I/O of its own (it is given
the function that writes a line).
"""

import json
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import msgpack

from chatroom.common.limits import HEADER_SIZE
from chatroom.common.visible import json_for_terminal

HEX_BYTES = 16
"""How many of a frame's first bytes are shown in hex."""
LONGEST = 64 * 1024 * 1024
"""A length past this is not a frame but noise: it is reported and the stream not followed."""
SECRET_KEYS = ("password", "token")
"""Fields whose values are masked: any key containing one of these words."""
TO_SERVER, TO_CLIENT = "->", "<-"


def masked(value: Any) -> Any:
    """`value` with every field named like a secret replaced by "***"."""
    if isinstance(value, dict):
        return {
            key: "***" if isinstance(key, str) and any(s in key for s in SECRET_KEYS) else
            masked(item)
            for key, item in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def shown(value: Any) -> Any:
    """`value` as JSON can show it: binary as `<N bytes>`, keys as text."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(key): shown(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shown(item) for item in value]
    return value


def unzipped(envelope: Any) -> Any:
    """A compressed reply (`z`: docs/protocol.md, "compress") shown with its `data` too."""
    if isinstance(envelope, dict) and isinstance(envelope.get("z"), bytes):
        try:
            inflater = zlib.decompressobj()
            data = msgpack.unpackb(inflater.decompress(envelope["z"], LONGEST), raw=False)
        except (zlib.error, ValueError, msgpack.UnpackException):
            return envelope
        return envelope | {"data": data}
    return envelope


def describe(frame: bytes) -> str:
    """One complete frame (length prefix and body), as a trace line shows it."""
    head = " ".join(f"{byte:02x}" for byte in frame[:HEX_BYTES])
    more = " …" if len(frame) > HEX_BYTES else ""
    try:
        envelope = msgpack.unpackb(frame[HEADER_SIZE:], raw=False, strict_map_key=False)
        decoded = json.dumps(shown(masked(unzipped(envelope))), ensure_ascii=False)
        decoded = json_for_terminal(decoded)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        decoded = f"(not msgpack: {exc})"
    return f"{len(frame)} B | {head}{more} | {decoded}"


class FrameTrace:
    """Follows one connection's bytes both ways and writes a line per complete frame."""

    def __init__(self, write: Callable[[str], None], who: str, mine: str = TO_CLIENT) -> None:
        """`write` takes each line; `who` names the connection (the peer's address);
        `mine` is the arrow of what this end sends (the server's: `<-`)."""
        self._write = write
        self._who = who
        self._arrows = {True: mine, False: TO_SERVER if mine == TO_CLIENT else TO_CLIENT}
        self._pending = {True: b"", False: b""}
        self._lost = {True: False, False: False}

    def sent(self, data: bytes) -> None:
        self._follow(True, data)

    def received(self, data: bytes) -> None:
        self._follow(False, data)

    def _follow(self, sending: bool, data: bytes) -> None:
        if self._lost[sending]:
            return
        buffer = self._pending[sending] + data
        while len(buffer) >= HEADER_SIZE:
            (length,) = struct.unpack_from(">I", buffer)
            if length > LONGEST:
                self._line(sending, f"length {length}: not a frame; not followed further")
                self._lost[sending] = True
                buffer = b""
                break
            if len(buffer) < HEADER_SIZE + length:
                break
            self._line(sending, describe(buffer[: HEADER_SIZE + length]))
            buffer = buffer[HEADER_SIZE + length :]
        self._pending[sending] = buffer

    def _line(self, sending: bool, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        self._write(f"{stamp} {self._who} {self._arrows[sending]} {text}")
