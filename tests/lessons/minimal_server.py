"""Lessons 4 and 5, reference solution: a minimal chatroom server, in memory.

What a student writes after docs/lessons/4-offline-mail.md and 5-files.md: accounts,
login, the online list, group and private messages, offline mail with acks, and files in
chunks, with asyncio and msgpack only. `chatroom-conformance server --level 5` passes it
completely (tests/test_conformance.py checks that).

It can also be started with one of the faults students really make, to show that the
conformance checker catches each one and nothing else:

    one-recv       treats whatever one read returns as exactly one frame
    forget-mail    delivers messages live only: nothing waits for a user who is offline
    echo           sends a group message back to its sender too
    out-of-order   answers requests that arrive together last one first

    python minimal_server.py PORT [FAULT]
"""

import asyncio
import contextlib
import hashlib
import struct
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import msgpack

MAX_FRAME = 1024 * 1024
MAX_TEXT = 4096
MAX_CHUNK = 65536
MAX_FILE = 100 * 1024 * 1024
RATE, BURST = 20.0, 40
REPLAY_LIMIT = 1000
LIMITS = {"max_frame": MAX_FRAME, "max_text": MAX_TEXT, "max_chunk": MAX_CHUNK,
          "max_file_size": MAX_FILE, "message_rate": RATE, "message_burst": BURST,
          "replay_limit": REPLAY_LIMIT}  # fmt: skip


class Refused(Exception):
    """A request refused with an error `code` (docs/protocol.md section 10)."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.extra = code, extra


@dataclass
class Upload:
    fid: int
    sender: str
    to: str | None
    name: str
    size: int
    sha256: str
    data: bytearray = field(default_factory=bytearray)
    mid: int | None = None


@dataclass
class Client:
    writer: asyncio.StreamWriter
    user: str | None = None
    after_reply: list[dict[str, Any]] = field(default_factory=list)
    """Pushes that must follow the reply being made (a login's mail, a logout's bye)."""
    leaving: bool = False
    """Close the connection once the replies are written (after logout)."""
    tokens: float = BURST
    refilled: float = field(default_factory=time.monotonic)

    def send(self, envelope: dict[str, Any]) -> None:
        body = msgpack.packb(envelope)
        self.writer.write(struct.pack(">I", len(body)) + body)

    def spend(self) -> None:
        """One message from the rate limit's bucket, or `rate_limited`."""
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens < 1:
            raise Refused("rate_limited", "slow down", retry_after=(1 - self.tokens) / RATE)
        self.tokens -= 1


def text(data: dict[Any, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise Refused("bad_request", f"{key} must be a string")
    return value


def username(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused("bad_request", "a username is a string")
    name = unicodedata.normalize("NFKC", value)
    if not 3 <= len(name) <= 32 or not all(c.isalnum() or c in "_-." for c in name):
        raise Refused("invalid_username", "3 to 32 letters, digits, _ - .")
    return name


class Server:
    def __init__(self, fault: str = "") -> None:
        self.fault = fault
        self.accounts: dict[str, tuple[str, str]] = {}  # casefolded -> (name, password)
        self.acked: dict[str, int] = {}  # name -> the highest mid it acked
        self.messages: list[dict[str, Any]] = []  # every message and file push, by mid
        self.online: dict[str, list[Client]] = {}
        self.uploads: dict[int, Upload] = {}
        self.serving: dict[asyncio.StreamWriter, Any] = {}  # connection -> the task serving it

    # The connection: frames in, replies out, in order.

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client, buffer = Client(writer), b""
        self.serving[writer] = asyncio.current_task()
        try:
            while chunk := await reader.read(65536):
                if self.fault == "one-recv":  # the fault: one read taken for one whole frame
                    self.split_frames(chunk[:4])  # (its length is still checked)
                    batch = [self.decode(chunk[4:])]
                else:
                    batch, buffer = self.split_frames(buffer + chunk)
                answered = [(self.answer(client, request), client.after_reply) for request in batch]
                client.after_reply = []
                if self.fault == "out-of-order":
                    answered.reverse()
                for reply, pushes in answered:
                    for envelope in [reply, *pushes]:
                        client.send(envelope)
                await writer.drain()
                if client.leaving:
                    break
        except Refused as refused:  # about the byte stream itself: say so, and close
            client.send({"type": "error", "id": None, "data": {"code": refused.code}})
        except ConnectionError:
            pass
        finally:
            self.leave(client)
            del self.serving[writer]
            writer.close()

    async def hang_up(self) -> None:
        """Close every connection, and wait until each `serve` has seen its end and left."""
        serving = list(self.serving.values())
        for writer in self.serving:
            writer.close()
        await asyncio.gather(*serving)

    def split_frames(self, buffer: bytes) -> tuple[list[dict[Any, Any]], bytes]:
        """The frames complete in `buffer` (sticky packets: zero, one or many), and the
        bytes left over, the start of the next."""
        frames = []
        while len(buffer) >= 4:
            (length,) = struct.unpack(">I", buffer[:4])
            if length > MAX_FRAME:
                raise Refused("frame_too_large", "frame too large")
            if len(buffer) < 4 + length:
                break
            frames.append(self.decode(buffer[4 : 4 + length]))
            buffer = buffer[4 + length :]
        return frames, buffer

    def decode(self, body: bytes) -> dict[Any, Any]:
        try:
            envelope = msgpack.unpackb(body)
        except (ValueError, msgpack.UnpackException):
            raise Refused("bad_request", "not msgpack") from None
        if not isinstance(envelope, dict):
            raise Refused("bad_request", "not a map")
        return envelope

    def answer(self, client: Client, request: dict[Any, Any]) -> dict[str, Any]:
        kind, data = request.get("type"), request.get("data") or {}
        reply: dict[str, Any] = {"type": "ok", "id": request.get("id"), "data": {}}
        try:
            handler = getattr(self, f"on_{kind}", None) if isinstance(kind, str) else None
            if handler is None:
                raise Refused("unknown_type", f"no request {kind!r}")
            if client.user is None and kind not in ("hello", "register", "login", "ping"):
                raise Refused("not_logged_in", "log in first")
            reply["data"] = handler(client, data) or {}
        except Refused as refused:
            reply["type"] = "error"
            reply["data"] = {"code": refused.code, "message": str(refused), **refused.extra}
        return reply

    # Sessions.

    def on_ping(self, client: Client, data: dict[Any, Any]) -> None:
        pass

    def on_hello(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        if data.get("version") != 1:
            raise Refused("unsupported_version", "this server speaks version 1")
        return {"version": 1, "server": "minimal/1", "limits": LIMITS}

    def on_register(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        name, password = username(data.get("username")), text(data, "password")
        if client.user:
            raise Refused("already_logged_in", "log out first")
        if len(password) < 8:
            raise Refused("weak_password", "at least 8 characters")
        if name.casefold() in self.accounts:
            raise Refused("username_taken", f"{name} is taken")
        self.accounts[name.casefold()] = (name, password)
        self.acked[name] = len(self.messages)  # a newcomer gets no history
        return {"username": name}

    def on_login(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        name, password = self.accounts.get(text(data, "username").casefold(), ("", None))
        if client.user:
            raise Refused("already_logged_in", "already logged in")
        if password != text(data, "password"):
            raise Refused("bad_credentials", "wrong username or password")
        if name not in self.online:
            self.tell_others(name, {"type": "presence", "data": {"username": name, "online": True}})
        self.online.setdefault(name, []).append(client)
        client.user = name
        mailbox = [] if self.fault == "forget-mail" else self.mailbox(name)
        replay = mailbox[-REPLAY_LIMIT:]
        client.after_reply = [{"type": push["type"], "data": push["data"] | {"offline": True}}
                              for push in replay]  # fmt: skip
        return {"username": name, "online": sorted(self.online), "offline": len(replay),
                "skipped": len(mailbox) - len(replay)}  # fmt: skip

    def on_logout(self, client: Client, data: dict[Any, Any]) -> None:
        client.after_reply = [{"type": "bye", "data": {"reason": "logout"}}]
        client.leaving = True

    def leave(self, client: Client) -> None:
        sessions = self.online.get(client.user or "", [])
        if client in sessions:
            sessions.remove(client)
            if not sessions:
                del self.online[client.user or ""]
                push = {"username": client.user, "online": False}
                self.tell_others(client.user, {"type": "presence", "data": push})

    def tell_others(self, name: str | None, push: dict[str, Any]) -> None:
        for user, sessions in self.online.items():
            if user != name:
                for session in sessions:
                    session.send(push)

    # Messages, and the mail that waits.

    def on_users(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        return {"online": sorted(self.online)}

    def on_broadcast(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        message = self.store(client, "message", None, {"text": checked_text(data)})
        everyone = [user for user in self.online if user != client.user or self.fault == "echo"]
        self.deliver(everyone, message)
        return {"mid": message["data"]["mid"], "ts": message["data"]["ts"]}

    def on_private(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        to = self.recipient(data)
        message = self.store(client, "message", to, {"text": checked_text(data)})
        self.deliver([to], message)
        return {"mid": message["data"]["mid"], "ts": message["data"]["ts"],
                "delivered": to in self.online}  # fmt: skip

    def on_ack(self, client: Client, data: dict[Any, Any]) -> None:
        upto = data.get("upto")
        if not isinstance(upto, int):
            raise Refused("bad_request", "upto must be an integer")
        name = client.user or ""
        self.acked[name] = max(self.acked[name], min(upto, len(self.messages)))

    def recipient(self, data: dict[Any, Any]) -> str:
        account = self.accounts.get(username(data.get("to")).casefold())
        if account is None:
            raise Refused("no_such_user", "there is no such user")
        return account[0]

    def store(
        self, client: Client, kind: str, to: str | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        client.spend()
        data = {"mid": len(self.messages) + 1, "from": client.user, "to": to,
                "room": None if to else "lobby", "ts": time.time(), **fields}  # fmt: skip
        message = {"type": kind, "data": data}
        self.messages.append(message)
        return message

    def deliver(self, users: list[str], message: dict[str, Any]) -> None:
        live = {"type": message["type"], "data": message["data"] | {"offline": False}}
        for user in users:
            for session in self.online.get(user, []):
                session.send(live)

    def mailbox(self, name: str) -> list[dict[str, Any]]:
        return [message for message in self.messages[self.acked[name]:]
                if message["data"]["to"] == name
                or (message["data"]["to"] is None and message["data"]["from"] != name)]  # fmt: skip

    # Files: announced, sent in chunks, then pushed like a message.

    def on_file_put(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        to = None if data.get("to") is None else self.recipient(data)
        size, sha256, name = data.get("size"), text(data, "sha256"), text(data, "name")
        if not isinstance(size, int) or size < 0:
            raise Refused("bad_request", "size must be a positive integer")
        if size > MAX_FILE:
            raise Refused("file_too_large", "too large", max_file_size=MAX_FILE)
        for upload in self.uploads.values():  # the same file again: resume it
            same = (upload.sender, upload.to, upload.size, upload.sha256)
            if same == (client.user, to, size, sha256) and upload.mid is None:
                return {"fid": upload.fid, "offset": len(upload.data)}
        client.spend()
        fid = len(self.uploads) + 1
        self.uploads[fid] = Upload(
            fid, client.user or "", to, name.rsplit("/", 1)[-1], size, sha256
        )
        return {"fid": fid, "offset": 0}

    def on_file_chunk(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        upload, offset, chunk = (
            self.uploads.get(data.get("fid")),
            data.get("offset"),
            data.get("data"),
        )  # type: ignore[arg-type]
        if upload is None or upload.sender != client.user or upload.mid is not None:
            raise Refused("no_such_file", "no upload of yours with that fid")
        if not isinstance(chunk, bytes) or len(chunk) > MAX_CHUNK:
            raise Refused("bad_request", "data must be bin of at most max_chunk bytes")
        if offset != len(upload.data) or offset + len(chunk) > upload.size:
            raise Refused("bad_request", "wrong offset", received=len(upload.data))
        upload.data += chunk
        if len(upload.data) < upload.size:
            return {"received": len(upload.data)}
        if hashlib.sha256(upload.data).hexdigest() != upload.sha256:
            del self.uploads[upload.fid]
            raise Refused("checksum_mismatch", "the bytes do not match the sha256")
        fields = {
            "fid": upload.fid,
            "name": upload.name,
            "size": upload.size,
            "sha256": upload.sha256,
        }
        message = self.store(client, "file", upload.to, fields)
        upload.mid = message["data"]["mid"]
        self.deliver(
            [upload.to] if upload.to else [u for u in self.online if u != client.user], message
        )
        return {"received": upload.size, "complete": True, "mid": upload.mid,
                "delivered": upload.to in self.online}  # fmt: skip

    def on_file_get(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        upload, offset, length = self.finished(client, data), data.get("offset"), data.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) \
                or not 0 <= offset <= upload.size or not 0 < length <= MAX_CHUNK:  # fmt: skip
            raise Refused("bad_request", "offset or length out of range")
        piece = bytes(upload.data[offset : offset + length])
        return {"data": piece, "offset": offset, "eof": offset + len(piece) >= upload.size}

    def on_file_info(self, client: Client, data: dict[Any, Any]) -> dict[str, Any]:
        upload = self.finished(client, data)
        return {"fid": upload.fid, "mid": upload.mid, "from": upload.sender, "to": upload.to,
                "name": upload.name, "size": upload.size, "sha256": upload.sha256}  # fmt: skip

    def finished(self, client: Client, data: dict[Any, Any]) -> Upload:
        """The finished file that `data` names, if `client` may have it."""
        upload = self.uploads.get(data.get("fid"))  # type: ignore[arg-type]
        if upload is None or upload.mid is None:
            raise Refused("no_such_file", "no such file")
        if upload.to is not None and client.user not in (upload.sender, upload.to):
            raise Refused("forbidden", "not your file")
        return upload


def checked_text(data: dict[Any, Any]) -> str:
    value = text(data, "text")
    if not value.strip():
        raise Refused("empty_text", "say something")
    if len(value) > MAX_TEXT:
        raise Refused("text_too_long", f"at most {MAX_TEXT} characters")
    return value


async def main(port: int, fault: str = "") -> None:
    server = Server(fault)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", port)
    print(f"listening on {listener.sockets[0].getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()  # serve until Ctrl+C
    finally:
        # Not `async with listener` or `serve_forever()`: once closed, from Python 3.12
        # on, they wait for every client to hang up. The server hangs up on them.
        listener.close()
        await server.hang_up()


FAULTS = ("one-recv", "forget-mail", "echo", "out-of-order")

if __name__ == "__main__":
    port, *fault = sys.argv[1:] or [""]
    if not port.isdigit() or len(fault) > 1 or not set(fault) <= set(FAULTS):
        sys.exit(f"usage: python minimal_server.py PORT [{' | '.join(FAULTS)}]")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(port), *fault))
