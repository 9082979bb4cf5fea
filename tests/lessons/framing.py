"""Lesson 1, reference solution: read one frame, however TCP cut the bytes."""

import socket
import struct


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    """Exactly `count` bytes: recv() may return fewer, so ask again until they are all in."""
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> bytes:
    """One frame's body: 4 bytes of big-endian length, then that many bytes."""
    (length,) = struct.unpack(">I", recv_exactly(sock, 4))
    return recv_exactly(sock, length)


def frame(body: bytes) -> bytes:
    """The bytes that send `body` as one frame."""
    return struct.pack(">I", len(body)) + body
