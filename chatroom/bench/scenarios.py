"""The measurements, each written against `Link`, so chatroom and IRC run the same code.

Every scenario is bounded in count and time, talks to loopback only, and returns a flat
dict of figures for the report.
"""

import asyncio
import itertools
import secrets
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chatroom.bench.accounts import PASSWORD
from chatroom.bench.spawn import cpu_seconds, rss_kib
from chatroom.bench.wire import PROTOCOLS, ChatroomLink, Link, open_link, stamp
from chatroom.server.hub import presence_window

TIMEOUT = 120.0
"""Longest any scenario waits for its last delivery."""
Figures = dict[str, Any]
"""What one scenario measured, by name: the report's row."""
STORED_TEXT = "stored message " + "x" * 80
"""The text of every message the store scenario sends (and the floors store)."""


@dataclass
class Target:
    protocol: str
    host: str
    port: int
    pid: int | None
    """The server's process, to read its memory (None: memory is not reported)."""
    features: tuple[str, ...] = ()
    """What chatroom clients ask for in `hello` (nothing: as a first-version client)."""
    nodes: tuple[tuple[int, int], ...] = ()
    """Every node of a cluster, (port, pid), when several share the load (`--nodes`):
    users are spread over them in turn. Empty: the one server at `port`."""
    _batches: Iterator[int] = field(default_factory=itertools.count)
    _run: str = field(default_factory=lambda: secrets.token_hex(2))
    """Part of every name: another run against the same server (`--port`) makes others."""

    @property
    def ports(self) -> list[int]:
        return [port for port, _ in self.nodes] or [self.port]

    @property
    def pids(self) -> list[int]:
        return [pid for _, pid in self.nodes] or ([self.pid] if self.pid else [])

    def rss_kib(self) -> int | None:
        """The servers' resident memory, all nodes together (None: not known)."""
        return sum(rss_kib(pid) for pid in self.pids) if self.pids else None

    def cpu_seconds(self) -> float | None:
        return sum(cpu_seconds(pid) for pid in self.pids) if self.pids else None

    async def open(self, number: int = 0) -> Link:
        """A connection to the `number`th node (counting round)."""
        ports = self.ports
        return await open_link(self.protocol, self.host, ports[number % len(ports)])

    @property
    def concurrency(self) -> int:
        """Connections opened at once: ngircd listens with a backlog of 10, and connects
        past it are dropped by the kernel, so IRC gets a narrower door."""
        return 8 if self.protocol == "irc" else 50

    def names(self, prefix: str, count: int) -> list[str]:
        """`count` user names no earlier run has used."""
        batch = next(self._batches)
        return [f"{prefix}{self._run}{batch}_{number}" for number in range(count)]

    async def register(self, names: list[str]) -> None:
        """Create the accounts beforehand (chatroom; IRC has none), so that timing
        `users` measures connecting and logging in, not account creation."""
        if self.protocol != "chatroom":
            return
        gate = asyncio.Semaphore(self.concurrency)

        async def one(name: str) -> None:
            async with gate:
                link = await self.open()
                assert isinstance(link, ChatroomLink)
                await link.call("register", username=name, password=PASSWORD)
                link.close()

        await asyncio.gather(*(one(name) for name in names))

    async def users(self, prefix: str, count: int, node: int = 0, join: bool = True) -> list[Link]:
        """`count` new users, each connected and logged in (for IRC: in the channel), the
        first on node `node`, the next on the next node, and so on."""
        return await self.connect_all(self.names(prefix, count), join=join, node=node)

    async def connect_all(
        self, names: list[str], join: bool = True, node: int = 0, registered: bool = False
    ) -> list[Link]:
        """A connection per name, logged in. A connection refused or reset while logging in
        is tried again (up to 5 times): a busy listener may drop some connects, which the
        client only learns of later."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(number: int, name: str) -> Link:
            async with gate:
                for attempt in range(5):
                    link = None
                    try:
                        link = await self.open(node + number)
                        await link.log_in(
                            name, PASSWORD, join=join, features=self.features, registered=registered
                        )
                        return link
                    except OSError:
                        if link is not None:
                            link.close()
                        if attempt == 4:
                            raise
                raise AssertionError("unreachable")

        return list(await asyncio.gather(*(one(n, name) for n, name in enumerate(names))))


async def presence_told(sessions: int) -> None:
    """Wait until a chatroom server with `sessions` online has told everyone of the last
    arrivals (its presence window, and a margin), so that no presence frame falls into
    what is measured next."""
    await asyncio.sleep(presence_window(sessions) + 0.1)


async def until(condition: object, timeout: float = TIMEOUT) -> None:
    """Poll `condition()` every 5 ms until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


def close_all(links: list[Link]) -> None:
    for link in links:
        link.close()


async def fanout(target: Target, receivers: int, senders: int, messages: int) -> Figures:
    """S senders broadcast M messages of 100 bytes each to N receivers."""
    rx = await target.users("rx", receivers)
    tx = await target.users("tx", senders, join=PROTOCOLS[target.protocol].SENDERS_JOIN)
    await presence_told(receivers + senders)
    for link in rx:
        link.count_only()
    baseline = sum(link.deliveries for link in rx)
    expected = baseline + receivers * senders * messages
    text = "x" * 100
    cpu_before = target.cpu_seconds()
    started = time.perf_counter()
    for _ in range(messages):
        for link in tx:
            link.group(text)
    await until(lambda: sum(link.deliveries for link in rx) >= expected)
    elapsed = time.perf_counter() - started
    close_all(rx + tx)
    deliveries = receivers * senders * messages
    result: Figures = {
        "receivers": receivers,
        "deliveries": deliveries,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(deliveries / elapsed),
    }
    if cpu_before is not None:
        # What the server spent, apart from the load generator on the same cores.
        cpu = target.cpu_seconds() - cpu_before  # type: ignore[operator]
        result["server_cpu_ns_per_delivery"] = round(cpu / deliveries * 1e9)
    return result


async def latency(target: Target, pairs: int, rate: float, seconds: float) -> Figures:
    """P pairs exchange private messages at RATE messages/s in all, for T seconds (over
    several nodes, each pair's two on different nodes). Each pair has written once before
    the clock starts, as people who talk have: a pair's first message also creates their
    conversation, a cost of its own (see `first_latency_ms`)."""
    senders = await target.users("from", pairs)
    receivers = await target.users("to", pairs, node=1)
    samples: list[float] = []
    for link in receivers:
        link.on_text = lambda text: samples.append(time.perf_counter() - float(text))
    for sender, receiver in zip(senders, receivers, strict=True):
        sender.private(receiver.name, stamp())
    await until(lambda: len(samples) >= pairs)
    first = sorted(samples)
    samples.clear()
    per_pair = int(rate * seconds / pairs)
    interval = pairs / rate

    async def send(link: Link, to: str, offset: float) -> None:
        begin = time.perf_counter() + offset
        for n in range(per_pair):
            await asyncio.sleep(max(0.0, begin + n * interval - time.perf_counter()))
            link.private(to, stamp())

    await asyncio.gather(
        *(send(link, receivers[n].name, n * interval / pairs) for n, link in enumerate(senders))
    )
    await until(lambda: len(samples) >= per_pair * pairs, timeout=30)
    close_all(senders + receivers)
    ms = sorted(sample * 1000 for sample in samples)
    return {
        "rate": rate,
        "messages": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[max(0, int(len(ms) * 0.99) - 1)], 2),
        "max_ms": round(ms[-1], 2),
        "first_latency_ms": round(statistics.median(first) * 1000, 2),
    }


async def connections(target: Target, count: int) -> Figures:
    """K clients connect, log in and stay idle: how long, and how much server memory."""
    names = target.names("idle", count)
    await target.register(names)
    before = target.rss_kib()
    started = time.perf_counter()
    # IRC clients stay out of the channel: there, every JOIN is announced to every
    # member, n² lines for n clients. (chatroom users are all in the group; presence is
    # batched.)
    cpu_before, generator_before = target.cpu_seconds(), time.process_time()
    links = await target.connect_all(names, join=False, registered=True)
    elapsed = time.perf_counter() - started
    cpu, generator = target.cpu_seconds(), time.process_time() - generator_before
    await presence_told(count)
    after = target.rss_kib()
    close_all(links)
    result: Figures = {
        "clients": count,
        "seconds": round(elapsed, 2),
        "generator_cpu_ms_per_login": round(generator / count * 1000, 3),
    }
    if cpu is not None and cpu_before is not None:
        result["server_cpu_ms_per_login"] = round((cpu - cpu_before) / count * 1000, 3)
    if before is not None and after is not None:
        result["server_rss_mib"] = round(after / 1024, 1)
        result["kib_per_connection"] = round((after - before) / count, 2)
    return result


async def store(
    target: Target, senders: int, window: int, seconds: float, cids: bool = False
) -> Figures:
    """Many senders keep WINDOW private messages each in flight to an offline user: how
    many are stored (each `ok` means committed) per second. With `cids`, each message
    carries a fresh `cid`, as the client library sends them (one more row each)."""
    sink = (await target.users("sink", 1))[0]
    sink.close()  # offline: what is sent to it is only stored
    links = await target.users("writer", senders)
    cpu_before = target.cpu_seconds()
    started = time.perf_counter()
    end = started + seconds
    sent = [0] * senders

    async def write(number: int, link: Link) -> None:
        assert isinstance(link, ChatroomLink)
        while time.perf_counter() < end:
            while sent[number] - link.sent_ok - link.sent_errors < window:
                cid = f"{number}-{sent[number]}" if cids else None
                link.private(sink.name, STORED_TEXT, cid)
                sent[number] += 1
            await asyncio.sleep(0.001)

    await asyncio.gather(*(write(n, link) for n, link in enumerate(links)))
    stored = sum(link.sent_ok for link in links)  # type: ignore[attr-defined]
    errors = sum(link.sent_errors for link in links)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    close_all(links)
    result: Figures = {
        "senders": senders,
        "stored": stored,
        "errors": errors,
        "stored_per_s": round(stored / elapsed),
    }
    if cpu_before is not None:
        # Steadier than the rate on a shared machine: what each message cost the server.
        cpu = target.cpu_seconds() - cpu_before  # type: ignore[operator]
        result["server_cpu_us_per_message"] = round(cpu / stored * 1e6, 1)
    return result


async def logins(target: Target, concurrency: int, seconds: float, resume: bool) -> Figures:
    """Connect, log in (or resume with a token), disconnect, again and again."""
    names = []
    for link in await target.users("login", concurrency):
        names.append(link.name)
        link.close()
    tokens: list[str] = []
    if resume:
        for name in names:
            fresh = await target.open(len(tokens))
            assert isinstance(fresh, ChatroomLink)
            tokens.append(
                (await fresh.call("login", username=name, password=PASSWORD))["resume_token"]
            )
            fresh.close()
    done = 0
    end = time.perf_counter() + seconds

    async def loop(number: int) -> None:
        nonlocal done
        while time.perf_counter() < end:
            link = await target.open(number)
            assert isinstance(link, ChatroomLink)
            if resume:
                await link.call_unread("resume", token=tokens[number])
            else:
                await link.call_unread("login", username=names[number], password=PASSWORD)
            done += 1
            link.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_s": round(done / elapsed), "count": done}
