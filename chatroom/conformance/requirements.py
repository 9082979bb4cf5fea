"""What a requirement is, and the run that checks them one after another.

A requirement is one sentence of docs/protocol.md turned into an async function that
talks to the server and raises `Unmet` if the server does otherwise. Each is registered
with `@requirement(level, key, section, says)`; levels follow the classroom exercise:

    1  framing, hello, register and login        4  files
    2  the online list, group and private chat   5  robustness: split, coalesced and
    3  offline mail and acks                        pipelined frames, bad input, limits
                                                 6  the additions: rooms, history, ...

A `Run` gives every requirement fresh connections and the accounts it asks for, and keeps
the frames they exchange, so a failure shows them.
"""

import asyncio
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatroom.conformance.probe import Probe, Unmet, Wire, shown

LEVELS = {
    1: "framing, hello, register and login",
    2: "the online list, group and private chat",
    3: "offline mail and acks",
    4: "files",
    5: "robustness: split, coalesced and pipelined frames, bad input, limits",
    6: "the additions: rooms, history, search, read markers, resume, cid",
}
DEFAULT_LIMITS = {"max_frame": 1_048_576, "max_text": 4096, "max_chunk": 65_536,
                  "max_file_size": 104_857_600, "message_burst": 40}  # fmt: skip
"""docs/protocol.md section 11's defaults, for a server that does not answer `hello`."""
REQUIREMENT_TIME = 60.0
"""Seconds one requirement may take in all, whatever the server does."""
PASSWORD = "conformance-8"

Check = Callable[["Run"], Awaitable[None]]


def is_ipv4_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


def own_loopback_address() -> str:
    """A random address of 127.0.0.0/8 other than 127.0.0.1."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@dataclass(frozen=True)
class Requirement:
    level: int
    key: str
    section: str
    """Where docs/protocol.md says it: "§1 Framing"."""
    says: str
    check: Check

    @property
    def number(self) -> str:
        """`level.n`: the n-th requirement of its level ("" for a referee's trial)."""
        same_level = [each for each in REQUIREMENTS if each.level == self.level]
        return f"{self.level}.{same_level.index(self) + 1}" if self in same_level else ""

    @property
    def label(self) -> str:
        return f"{self.number} {self.key}".strip()


REQUIREMENTS: list[Requirement] = []
"""Every requirement, in the order they are checked (chatroom.conformance.checks fills it)."""


def requirement(level: int, key: str, section: str, says: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        REQUIREMENTS.append(Requirement(level, key, section, says, check))
        return check

    return register


@dataclass
class Outcome:
    requirement: Requirement
    met: bool
    seconds: float
    expected: str = ""
    got: str = ""
    frames: list[str] = field(default_factory=list)
    waited: float = 0.0
    """Of `seconds`, those spent waiting as the server asked (`retry_after`)."""


class Run:
    """The server under test, and what the requirements share: its limits, and accounts
    named `ROLE_TAG` (TAG is new for every run, so a run never meets an earlier one's)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.tag = secrets.token_hex(3)
        self.limits: dict[str, Any] = dict(DEFAULT_LIMITS)
        self.wire = Wire()
        self._accounts: dict[str, str] = {}
        self._probes: list[Probe] = []
        self._made = 0
        self.source: str | None = None
        """The address connections come from: on loopback, one of the run's own, so the
        logins it fails on purpose do not count against the next run (a server's lockout
        counts them per address)."""

    def limit(self, name: str) -> int:
        value = self.limits.get(name, DEFAULT_LIMITS[name])
        return int(value) if isinstance(value, int | float) else DEFAULT_LIMITS[name]

    async def connect(self, who: str = "client") -> Probe:
        local = (self.source, 0) if self.source else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, local_addr=local), self.timeout
        )
        probe = Probe(reader, writer, self.wire, who, self.timeout)
        self._probes.append(probe)
        return probe

    def name(self, role: str) -> str:
        return f"{role}_{self.tag}"

    async def register(self, role: str) -> str:
        """A new account (`role` plus a number, if it is taken by this run); its name."""
        self._made += 1
        name = self.name(f"{role}{self._made}")
        probe = await self.connect(f"[{role}]")
        reply = await probe.request("register", {"username": name, "password": PASSWORD})
        if reply["type"] != "ok":
            raise Unmet("ok to 'register' of a new name", shown(reply))
        await probe.close()
        return str((reply.get("data") or {}).get("username", name))

    async def account(self, role: str) -> str:
        """The run's account for `role` (alice, bob, ...), registered on first use."""
        if role not in self._accounts:
            self._accounts[role] = await self.register(role)
        return self._accounts[role]

    async def login(
        self, name: str, features: list[str] | None = None
    ) -> tuple[Probe, dict[Any, Any]]:
        """A connection logged in as `name`, and the data of its login reply."""
        probe = await self.connect(name.rsplit("_", 1)[0])
        if features is not None:
            await probe.ok("hello", {"version": 1, "features": features})
        return probe, await probe.ok("login", {"username": name, "password": PASSWORD})

    async def user(self, role: str) -> Probe:
        """The `role` account, logged in on a new connection."""
        probe, _ = await self.login(await self.account(role))
        return probe

    async def close_all(self) -> None:
        probes, self._probes = self._probes, []
        await asyncio.gather(*(probe.close() for probe in probes))

    async def check(self, requirement: Requirement) -> Outcome:
        """Check one requirement on connections of its own."""
        self.wire = Wire()
        started = time.monotonic()
        expected = got = ""
        try:
            async with asyncio.timeout(REQUIREMENT_TIME):
                await requirement.check(self)
        except Unmet as unmet:
            expected, got = unmet.expected, unmet.got
        except TimeoutError:
            expected, got = "an answer", f"still waiting after {REQUIREMENT_TIME:g} s"
        except (ConnectionError, OSError) as exc:
            expected, got = "the connection to stay open", str(exc) or type(exc).__name__
        except Exception as exc:  # a reply without a field the requirement reads, say
            expected, got = "a reply with the fields docs/protocol.md gives it", repr(exc)
        finally:
            await self.close_all()
        seconds, waited = time.monotonic() - started, self.wire.waited
        if not expected:
            return Outcome(requirement, True, seconds, waited=waited)
        return Outcome(requirement, False, seconds, expected, got, self.wire.lines, waited)

    async def learn_limits(self) -> None:
        """The server's limits from `hello`, if it gives them (else the defaults); and,
        for a server on this machine, an address of the run's own to connect from."""
        self.source = own_loopback_address() if is_ipv4_loopback(self.host) else None
        try:
            probe = await self.connect()
        except OSError:  # that address cannot be bound here (macOS has 127.0.0.1 alone)
            self.source = None
            probe = await self.connect()
        try:
            reply = await probe.request("hello", {"version": 1})
            limits = (reply.get("data") or {}).get("limits")
            if reply["type"] == "ok" and isinstance(limits, dict):
                self.limits.update(limits)
        except (Unmet, ConnectionError):
            pass
        finally:
            await self.close_all()


async def check_all(
    host: str, port: int, level: int, timeout: float, done: Callable[[Outcome], None]
) -> list[Outcome]:
    """Every requirement of levels 1 to `level`, in order; `done` hears each outcome.
    (Import chatroom.conformance.checks first: it registers them.)"""
    run = Run(host, port, timeout)
    await run.learn_limits()
    outcomes = []
    for each in REQUIREMENTS:
        if each.level <= level:
            outcome = await run.check(each)
            done(outcome)
            outcomes.append(outcome)
    return outcomes
