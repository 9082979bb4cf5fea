"""Helpers the benchmark scripts share: a lean raw client (the server process helpers
live in chatroom.bench.spawn, shared with chatroom-bench)."""

import asyncio
import struct
from typing import Any

import msgpack

HEADER = struct.Struct(">I")


class RawClient:
    """One connection that sends requests and reads replies with as little work as it can:
    frames are split by their length prefixes, and only replies are decoded."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.next_id = 0

    @classmethod
    async def open(cls, port: int) -> "RawClient":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, kind: str, **data: Any) -> int:
        self.next_id += 1
        body = msgpack.packb({"type": kind, "id": self.next_id, "data": data})
        self.writer.write(HEADER.pack(len(body)) + body)
        return self.next_id

    async def frame(self) -> bytes:
        (length,) = HEADER.unpack(await self.reader.readexactly(4))
        return await self.reader.readexactly(length)

    async def call(self, kind: str, **data: Any) -> dict[str, Any]:
        """Send a request and return its reply, skipping pushes (undecoded) before it."""
        request_id = self.send(kind, **data)
        while True:
            body = await self.frame()
            # A reply's map starts with "type": "ok"/"error"; a push never has our id.
            envelope = msgpack.unpackb(body)
            if envelope.get("id") == request_id:
                if envelope["type"] != "ok":
                    raise RuntimeError(f"{kind} failed: {envelope['data']}")
                return envelope["data"]

    async def drain_forever(self) -> None:
        """Read and throw away whatever comes, so the server never sees a slow consumer."""
        try:
            while await self.reader.read(1 << 16):
                pass
        except ConnectionError:
            pass

    def close(self) -> None:
        self.writer.close()
