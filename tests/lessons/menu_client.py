"""Lessons 3, 4 and 5, reference solution: the classic menu client, with acks and files.

    python -m tests.lessons.menu_client HOST PORT      (from the repository's root)

1 Login / 2 Register / 3 Quit; once logged in, a line is said to the group,
`/msg NAME TEXT` is private, `/users` shows who is online, `/send NAME PATH` sends a
file (lesson 5), `/get FID PATH` saves one, `/quit` leaves. Messages are printed as they
come and acked once printed; a lost connection is logged in again before the next line
is sent.
"""

import hashlib
import sys
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from tests.lessons.envelopes import Connection, Refused

CHUNK = 65536  # max_chunk in the hello reply: this is its default
WINDOW = 16
MENU = "\n  1 Login\n  2 Register\n  3 Quit\nChoose (1-3): "


class MenuClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.seen: set[int] = set()
        self.sha256: dict[int, str] = {}  # fid -> sha256, from the file pushes
        self.connection = Connection(host, port, self.show, self.lost)
        self.credentials: tuple[str, str] | None = None
        self.quitting = False

    def show(self, kind: str, data: dict[str, Any]) -> None:
        """Print a push (called by the reader thread); ack what was printed."""
        if kind in ("message", "file"):
            if data["mid"] in self.seen:  # it may come twice: live, then from the mailbox
                return
            self.seen.add(data["mid"])
            where = "to the group" if data.get("to") is None else "to you"
            if kind == "file":
                self.sha256[data["fid"]] = data["sha256"]
            what = data.get("text") if kind == "message" else f"file {data['fid']}: {data['name']}"
            print(f"[{data.get('from')} {where}] {what}", flush=True)
            self.connection.send("ack", upto=data["mid"])
        elif kind == "presence":
            print(f"* {data.get('username')} is {'online' if data.get('online') else 'offline'}")
        elif kind == "bye":
            print(f"* the server says goodbye ({data.get('reason')})", flush=True)
        # Anything else is news this client does not know: skip it.

    def lost(self) -> None:
        if not self.quitting:
            print("* the connection is lost; the next line logs in again", flush=True)

    def menu(self) -> bool:
        """Until logged in; False to quit."""
        while True:
            choice = input(MENU).strip()
            if choice == "3":
                return False
            if choice not in ("1", "2"):
                continue
            name, password = input("Username: ").strip(), input("Password: ")
            try:
                if choice == "2":
                    self.connection.request("register", username=name, password=password)
                    print(f"Registered {name}. Now log in.")
                    continue
                self.log_in(name, password)
                return True
            except Refused as refused:
                print(f"Refused: {refused} ({refused.code})")

    def log_in(self, name: str, password: str) -> None:
        reply = self.connection.request("login", username=name, password=password)
        self.credentials = (name, password)
        print(
            f"Logged in as {reply['username']}. Online: {', '.join(reply['online'])}. "
            f"{reply['offline']} messages waited for you.",
            flush=True,
        )

    def chat(self) -> None:
        for line in sys.stdin:
            line = line.rstrip("\n")
            if line == "/quit":
                return
            # A `cid` makes sending again safe: if the connection dropped after the server
            # stored the message, the second try is answered without storing it twice.
            cid = uuid.uuid4().hex
            for _ in range(2):  # once more after a lost connection
                try:
                    if self.connection.closed.is_set():
                        self.log_in_again()
                    self.say(line, cid)
                    break
                except Refused as refused:
                    if refused.code != "connection_lost":
                        print(f"Refused: {refused} ({refused.code})", flush=True)
                        break
                except OSError:
                    pass

    def log_in_again(self) -> None:
        self.connection = Connection(self.host, self.port, self.show, self.lost)
        assert self.credentials is not None
        self.log_in(*self.credentials)

    def say(self, line: str, cid: str) -> None:
        if line == "/users":
            print("Online:", ", ".join(self.connection.request("users")["online"]), flush=True)
        elif line.startswith("/msg ") and len(line.split(" ", 2)) == 3:
            _, to, text = line.split(" ", 2)
            self.connection.request("private", to=to, text=text, cid=cid)
        elif line.startswith(("/send ", "/get ")) and len(line.split(" ", 2)) == 3:
            _, who_or_fid, path = line.split(" ", 2)
            if line.startswith("/send "):
                self.send_file(who_or_fid, Path(path))
            else:
                self.get_file(int(who_or_fid), Path(path))
        elif line.strip():
            self.connection.request("broadcast", text=line, cid=cid)

    def send_file(self, to: str, path: Path) -> None:
        """Announce, then send chunks, WINDOW of them in flight (replies come in order)."""
        content = path.read_bytes()
        sha256 = hashlib.sha256(content).hexdigest()
        put = self.connection.request(
            "file_put", to=to, name=path.name, size=len(content), sha256=sha256
        )
        in_flight: deque[Any] = deque()
        last = put  # a file of 0 bytes is complete at once
        for offset in range(put["offset"], len(content), CHUNK):
            piece = content[offset : offset + CHUNK]
            in_flight.append(
                self.connection.submit("file_chunk", fid=put["fid"], offset=offset, data=piece)
            )
            if len(in_flight) == WINDOW:
                last = self.connection.wait(in_flight.popleft())
        while in_flight:
            last = self.connection.wait(in_flight.popleft())
        print(f"Sent {path.name}: {len(content)} bytes, file {put['fid']}.", flush=True)
        assert last.get("complete"), last

    def get_file(self, fid: int, path: Path) -> None:
        content, eof = b"", False
        while not eof:
            got = self.connection.request("file_get", fid=fid, offset=len(content), length=CHUNK)
            content, eof = content + got["data"], got["eof"]
        path.write_bytes(content)
        checked = hashlib.sha256(content).hexdigest() == self.sha256.get(fid)
        print(
            f"Saved {path}: {len(content)} bytes, sha256 {'checked' if checked else 'unknown'}.",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        sys.exit("usage: python -m tests.lessons.menu_client HOST PORT")
    try:
        client = MenuClient(sys.argv[1], int(sys.argv[2]))
    except OSError as error:
        sys.exit(f"cannot connect to {sys.argv[1]}:{sys.argv[2]}: {error.strerror or error}")
    try:
        if client.menu():
            client.chat()
    except (EOFError, KeyboardInterrupt):
        pass
    client.quitting = True
    client.connection.close()
