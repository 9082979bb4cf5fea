"""Framing: a 4-byte big-endian length, then one msgpack map (the envelope).

`encode` turns an envelope into bytes; `FrameDecoder` is fed bytes in chunks of any size
and hands back the envelopes they complete. Neither touches a socket.
"""

import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import msgpack

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import HEADER_SIZE

_HEADER = struct.Struct(">I")
_per_thread = threading.local()


class Packed:
    """A value already in msgpack, written into a frame as it is rather than packed
    again: for a long value that changes little from one frame to the next (the list of
    who is online, in every login reply), kept packed as it changes."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body


class _PackedInside(Exception):
    """What the packer meets a `Packed` with: its caller packs around it."""


def encode(envelope: dict[str, Any]) -> bytes:
    """One complete frame (length prefix and msgpack body) for `envelope`."""
    body = pack(envelope)
    return _HEADER.pack(len(body)) + body


def pack(value: Any) -> bytes:
    """`value` in msgpack, any `Packed` in its maps and arrays spliced in as it is."""
    try:
        return _packer().pack(value)  # type: ignore[no-any-return]
    except _PackedInside:
        pass
    if isinstance(value, Packed):
        return value.body
    # A map or an array with a Packed somewhere inside: its header, then each item.
    packer = _packer()
    if isinstance(value, dict):
        items = (packer.pack(key) + pack(item) for key, item in value.items())
        return packer.pack_map_header(len(value)) + b"".join(items)  # type: ignore[no-any-return]
    return packer.pack_array_header(len(value)) + b"".join(map(pack, value))  # type: ignore[no-any-return]


def pack_items(values: list[Any]) -> bytes:
    """`values` in msgpack one after another: an array without its header, to be joined
    to others under one header (`array_header`)."""
    return pack(values)[len(array_header(len(values))) :]


def array_header(length: int) -> bytes:
    """The msgpack header of an array of `length` items."""
    return _packer().pack_array_header(length)  # type: ignore[no-any-return]


def _packer() -> msgpack.Packer:
    """This thread's packer. `msgpack.packb` builds a new Packer for every call, which
    costs as much again as the packing; a Packer is not thread-safe, so each thread
    keeps one of its own (after an exception it starts over empty)."""
    try:
        return _per_thread.packer
    except AttributeError:
        _per_thread.packer = msgpack.Packer(use_bin_type=True, default=_refuse)
        return _per_thread.packer


def _refuse(value: object) -> object:
    """What the packer does with a value msgpack has no type for: a `Packed` is for
    `pack` to splice in; anything else is an error, as without this hook."""
    if isinstance(value, Packed):
        raise _PackedInside
    raise TypeError(f"can not serialize {type(value).__name__!r} object")


def decode_body(body: bytes | memoryview) -> dict[Any, Any]:
    """The map inside one frame body; anything else is a fatal `bad_request`."""
    try:
        # unpackb bounds every string, array and map by len(body) on its own, so a small
        # frame cannot make it allocate a large object; nesting depth is bounded too.
        value = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ChatError(
            ErrorCode.BAD_REQUEST, f"body is not valid msgpack: {exc}", fatal=True
        ) from None
    except TypeError:
        # strict_map_key=False lets any key through, so that `data` with an integer key is
        # an ordinary bad_request later; but a map or an array as a key cannot be hashed
        # into a Python dict at all.
        raise ChatError(
            ErrorCode.BAD_REQUEST, "body has a map or an array as a map key", fatal=True
        ) from None
    if not isinstance(value, dict):
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            f"body must be a msgpack map, got {type(value).__name__}",
            fatal=True,
        )
    return value


def compress(envelope: dict[str, Any], least: int = 0) -> dict[str, Any]:
    """The envelope with its `data` map packed and zlib-compressed into `z` (bin); as it
    is if the packed `data` is under `least` bytes (not worth it)."""
    packed = pack(envelope["data"])
    if len(packed) < least:
        return envelope
    return {key: value for key, value in envelope.items() if key != "data"} | {
        "z": zlib.compress(packed)
    }


def expand(envelope: dict[Any, Any], most: int) -> dict[Any, Any]:
    """The envelope with a compressed `z` turned back into `data` (of at most `most`
    bytes, so a small frame cannot inflate into a huge one); any other as it is."""
    z = envelope.get("z")
    if z is None:
        return envelope
    if not isinstance(z, bytes):
        raise ChatError(ErrorCode.BAD_REQUEST, "z must be binary", fatal=True)
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(z, most)
    except zlib.error as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, f"z is not zlib data: {exc}", fatal=True) from None
    if inflater.unconsumed_tail:
        raise ChatError(ErrorCode.FRAME_TOO_LARGE, f"z inflates to over {most} bytes")
    expanded = {key: value for key, value in envelope.items() if key != "z"}
    expanded["data"] = decode_body(body)
    return expanded


class FrameDecoder:
    """Splits a byte stream into envelopes, whatever the chunk boundaries ("sticky packets")."""

    __slots__ = ("_buffer", "max_frame")  # one per connection

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buffer: bytearray | None = None
        """The start of a frame not complete yet (None, not an empty buffer, between
        frames: most connections are between frames, and an empty bytearray is 57 bytes)."""

    def feed(self, chunk: bytes) -> Iterator[dict[Any, Any]]:
        """Add `chunk` and yield every envelope it completes (zero, one or many).

        Raises a fatal `ChatError` for an oversized length, checked as soon as the header
        is complete and before any of the body is kept, or for a body that is not a map.
        """
        held = self._buffer
        buffer: bytes | bytearray = chunk
        if held is not None:
            held += chunk
            buffer = held
        start = 0
        try:
            while len(buffer) - start >= HEADER_SIZE:
                (length,) = _HEADER.unpack_from(buffer, start)
                if length > self.max_frame:
                    raise ChatError(
                        ErrorCode.FRAME_TOO_LARGE,
                        f"frame of {length} bytes is over the limit of {self.max_frame}",
                    )
                end = start + HEADER_SIZE + length
                if len(buffer) < end:
                    break
                # Decoded where it lies, not copied out first (a file chunk is 64 KiB).
                # The view is let go before the envelope is handed on, so the buffer can
                # be cut down (`_keep`) whatever the caller does meanwhile.
                with memoryview(buffer)[start + HEADER_SIZE : end] as body:
                    envelope = decode_body(body)
                start = end
                yield envelope
        finally:
            self._keep(buffer, start)

    def _keep(self, buffer: bytes | bytearray, used: int) -> None:
        """Keep what is left of `buffer` once its first `used` bytes are decoded."""
        if used == len(buffer):
            self._buffer = None
        elif isinstance(buffer, bytearray):
            del buffer[:used]
            self._buffer = buffer
        else:
            self._buffer = bytearray(memoryview(buffer)[used:])

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return 0 if self._buffer is None else len(self._buffer)
