"""`chatroom-conformance client`: a server that tests a student's client.

The referee runs a real chatroom-server of its own, behind a relay that the student's
client connects to. A person drives the client through a short script (`script`), and
on the way the relay does to the client what TCP and a newer server may do:

    split       the login reply arrives one byte at a time
    coalesce    the three messages waiting at login arrive in one write
    unknown     a push of a type the client does not know, and a reply with a field it
                does not know
    interleave  a push arrives between a request and its reply
    drop        the connection is cut, once

Each trial is survived when the client does the next step of the script: so a word
hidden in the last of the coalesced messages must come back, typed by the person who
read it on the screen.
"""

import asyncio
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatroom.bench.spawn import start_server
from chatroom.common.codec import FrameDecoder, decode_body, encode
from chatroom.common.errors import ChatError
from chatroom.conformance.probe import REPLIES, Probe, Wire
from chatroom.conformance.requirements import Outcome, Requirement

STUDENT, PASSWORD, REFEREE = "student", "practice1", "referee"
WORDS = ["kiwi", "mango", "papaya", "lychee", "quince", "durian", "feijoa", "rambutan"]
BYTE_GAP = 0.001


async def never(run: Any) -> None:
    """Trials are judged by what the client does, not checked by a function."""


TRIALS = [
    Requirement(0, "split", "§1 Framing", "a reply split into single bytes", never),
    Requirement(0, "coalesce", "§1 Framing", "three frames in one write", never),
    Requirement(0, "unknown", "§2 The envelope",
                "a push of an unknown type, and an unknown field in a reply", never),
    Requirement(0, "interleave", "§2 The envelope", "a push between a request and its reply",
                never),
    Requirement(0, "drop", "§4 login, §5 Delivery", "the connection cut once", never),
]  # fmt: skip


def script(host: str, port: int) -> str:
    return f"""\
The referee is listening on {host}:{port}. Connect your client there and:
  1. Log in as "{STUDENT}" with the password "{PASSWORD}" (the account exists).
     Three messages from "{REFEREE}" are waiting for you; the last one holds a word.
  2. Send that word to the group.
  3. Send a private message to "{REFEREE}" (any text). It answers with a second word.
  4. Send the second word to the group. Then the connection drops: connect and log
     in again.
  5. Send "done" to the group. The referee then says which trials your client survived.
"""


class Referee:
    def __init__(self, upstream: int, say: Callable[[str], None]) -> None:
        self.upstream, self.say = upstream, say
        self.first, self.second = secrets.SystemRandom().sample(WORDS, 2)
        self.survived: dict[str, float] = {}
        """Each trial survived, and when."""
        self.tried: dict[str, int] = {}
        """Trials done to the client, and on which connection (numbered from 1)."""
        self.connections = 0
        self.serving: set[asyncio.Future[None]] = set()
        """The task of each client connection open now (`serve`)."""
        self.finished = asyncio.Event()
        self.bot: Probe | None = None

    async def prepare(self) -> None:
        """The two accounts, and the three messages that wait for the student."""
        wire, probes = Wire(), []
        for name in (STUDENT, REFEREE):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream)
            probes.append(Probe(reader, writer, wire, name, 10.0))
            await probes[-1].ok("register", {"username": name, "password": PASSWORD})
        await probes[0].close()
        self.bot = probes[1]
        await self.bot.ok("login", {"username": REFEREE, "password": PASSWORD})
        mail = [
            "Welcome! This message and the next two come in one write. (1 of 3)",
            "Your client must split them itself. (2 of 3)",
            f"The first word is {self.first}: send it to the group. (3 of 3)",
        ]
        for text in mail:
            await self.bot.ok("private", {"to": STUDENT, "text": text})

    def passed(self, trial: str) -> None:
        if trial not in self.survived:
            self.survived[trial] = time.monotonic()
            self.say(f"  survived: {trial}")

    # What the client says (called for every frame it sends).

    def tries(self, trial: str, link: "Link") -> bool:
        """Whether `trial` is still to be done; if so, it is being done now, on `link`."""
        if trial in self.tried:
            return False
        self.tried[trial] = link.number
        return True

    def heard(self, link: "Link", request: dict[Any, Any]) -> None:
        """Judge the trials by a request from the client."""
        for trial in ("split", "unknown"):  # survived when the client goes on
            if self.tried.get(trial) == link.number:
                self.passed(trial)
        said = spoken(request) if request.get("type") == "broadcast" else None
        if said == self.first:
            self.passed("coalesce")
        elif said == self.second and self.tried.get("interleave") == link.number:
            self.passed("interleave")

    async def answer_privately(self) -> None:
        assert self.bot is not None
        text = f"The second word is {self.second}: send it to the group."
        await self.bot.ok("private", {"to": STUDENT, "text": text})


def addressed_to(request: dict[Any, Any] | None, name: str) -> bool:
    data = (request or {}).get("data")
    return isinstance(data, dict) and str(data.get("to", "")).casefold() == name


def spoken(request: dict[Any, Any] | None) -> str | None:
    """The text of a request, as the script compares it (None if it has none)."""
    data = (request or {}).get("data")
    text = data.get("text") if isinstance(data, dict) else None
    return text.strip().lower() if isinstance(text, str) else None


class Link:
    """One connection of the client, relayed to the referee's server with the trials."""

    def __init__(self, referee: Referee, client: asyncio.StreamWriter) -> None:
        referee.connections += 1
        self.referee, self.number, self.client = referee, referee.connections, client
        self.requests: dict[Any, dict[Any, Any]] = {}
        self.waiting: list[bytes] = []
        """Mail of the login replay, held to go in one write."""
        self.expected_mail = 0
        self.held: bytes | None = None
        """The reply held back until the referee's answer has gone before it."""

    async def from_client(self, reader: asyncio.StreamReader, server: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(64 * 1024 * 1024)
        while chunk := await reader.read(65536):
            try:
                for request in decoder.feed(chunk):
                    self.requests[request.get("id")] = request
                    self.referee.heard(self, request)
            except ChatError as error:
                self.referee.say(f"  connection {self.number}: the client sent {error}")
                decoder = FrameDecoder(64 * 1024 * 1024)
            server.write(chunk)
            await server.drain()

    async def from_server(self, reader: asyncio.StreamReader) -> None:
        while True:
            header = await reader.readexactly(4)
            raw = header + await reader.readexactly(int.from_bytes(header, "big"))
            await self.pass_on(decode_body(raw[4:]), raw)

    async def pass_on(self, envelope: dict[Any, Any], raw: bytes) -> None:
        """Relay one frame of the server to the client, doing the trial it is due for."""
        referee, kind, data = self.referee, envelope["type"], envelope.get("data") or {}
        request = self.requests.pop(envelope.get("id"), None) if kind in REPLIES else None
        asked, said = (request or {}).get("type"), spoken(request)
        if asked in ("login", "resume") and kind == "ok":
            await self.logged_in(data, raw)
        elif self.expected_mail and kind in ("message", "file") and data.get("offline"):
            await self.coalesce(raw)
        elif asked == "broadcast" and said == referee.first and referee.tries("unknown", self):
            await self.write(encode({"type": "referee_news", "data": {"note": "skip me"}}))
            await self.write(encode(envelope | {"data": data | {"x_referee": {"new": True}}}))
        elif asked == "private" and addressed_to(request, REFEREE) and self.held is None:
            self.held = raw  # until the referee's answer has gone before it
            asyncio.get_running_loop().create_task(referee.answer_privately())
        elif self.held and kind == "message" and referee.second in str(data.get("text")):
            referee.tries("interleave", self)
            await self.write(encode(envelope | {"data": data | {"x_mood": "curious"}}))
            await self.write(self.held)
            self.held = None
        else:
            await self.write(raw)
            if asked == "broadcast" and said == referee.second and referee.tries("drop", self):
                raise ConnectionAbortedError("the drop trial")
            if asked == "broadcast" and said == "done":
                referee.finished.set()  # once its reply is on its way

    async def logged_in(self, data: dict[Any, Any], raw: bytes) -> None:
        """The first login's reply goes one byte at a time; a login after the drop
        means the client survived it."""
        if self.referee.tried.get("drop", self.number) < self.number:
            self.referee.passed("drop")
        if "split" in self.referee.tried:
            await self.write(raw)
            return
        self.expected_mail = int(data.get("offline") or 0)
        for byte in raw:
            await self.write(bytes([byte]))
            await asyncio.sleep(BYTE_GAP)
        self.referee.tries("split", self)  # survived if the client goes on

    async def coalesce(self, raw: bytes) -> None:
        """The mail waiting at login, held until it is all there, then sent in one write."""
        self.waiting.append(raw)
        if len(self.waiting) == self.expected_mail:
            await self.write(b"".join(self.waiting))
            self.expected_mail, self.waiting = 0, []

    async def write(self, data: bytes) -> None:
        self.client.write(data)
        await self.client.drain()


async def serve(
    referee: Referee, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    link = Link(referee, writer)
    this = asyncio.current_task()
    if this is not None:
        referee.serving.add(this)
        this.add_done_callback(referee.serving.discard)
    host, port, *_ = writer.get_extra_info("peername")
    referee.say(f"  connection {link.number} from {host}:{port}")
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", referee.upstream)
    both = [asyncio.ensure_future(link.from_client(reader, up_writer)),
            asyncio.ensure_future(link.from_server(up_reader))]  # fmt: skip
    try:
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in both:
            task.cancel()
        await asyncio.gather(*both, return_exceptions=True)
        for each in (writer, up_writer):
            each.transport.abort() if referee.tried.get("drop") == link.number else each.close()
        referee.say(f"  connection {link.number} closed")


async def referee(
    host: str, port: int, timeout: float, say: Callable[[str], None]
) -> list[Outcome]:
    """Serve one client on host:port until it says "done" (or `timeout` seconds pass);
    the trials it survived."""
    with tempfile.TemporaryDirectory(prefix="chatroom-referee-") as data_dir:
        process, upstream = await start_server(Path(data_dir), "--bcrypt-cost", "4")
        try:
            judge = Referee(upstream, say)
            await judge.prepare()
            listener = await asyncio.start_server(lambda r, w: serve(judge, r, w), host, port)
            started = time.monotonic()
            say(script(host, listener.sockets[0].getsockname()[1]))
            try:
                await asyncio.wait_for(judge.finished.wait(), timeout)
            except TimeoutError:
                say(f'  no "done" within {timeout:g} s')
            # Not `async with listener`: from Python 3.12 on, a closed server waits for
            # its clients to hang up. Their links end when the server below stops.
            listener.close()
        finally:
            process.terminate()
            await process.wait()
        await asyncio.gather(*judge.serving, return_exceptions=True)  # one that failed is done
    outcomes = []
    for trial in TRIALS:
        when = judge.survived.get(trial.key)
        if when is None:
            outcomes.append(Outcome(trial, False, 0.0, "the client's next step", "it never came"))
        else:
            outcomes.append(Outcome(trial, True, when - started))
    return outcomes
