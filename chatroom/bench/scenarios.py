"""The measurements, each written against `Link`, so chatroom and IRC run the same code.

Every scenario is bounded in count and time, talks to loopback only, and returns a flat
dict of figures for the report.
"""

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field

from chatroom.bench.spawn import rss_kib
from chatroom.bench.wire import ChatroomLink, Link, open_link, stamp

PASSWORD = "benchmark password"
TIMEOUT = 120.0
"""Longest any scenario waits for its last delivery."""


@dataclass
class Target:
    protocol: str
    host: str
    port: int
    pid: int | None
    """The server's process, to read its memory (None: memory is not reported)."""
    _batches: itertools.count = field(default_factory=itertools.count)

    async def users(self, prefix: str, count: int, concurrency: int = 50) -> list[Link]:
        """`count` connections, each logged in (and, for IRC, in the channel).

        A connection reset while logging in is tried again (up to 5 times): ngircd's small
        listen backlog drops some of many simultaneous connects, which the client only
        learns of later, as a reset.
        """
        gate = asyncio.Semaphore(concurrency)
        prefix = f"{prefix}{next(self._batches)}_"  # fresh names: no clash with a past run

        async def one(number: int) -> Link:
            async with gate:
                for attempt in range(5):
                    link = await open_link(self.protocol, self.host, self.port)
                    try:
                        await link.log_in(f"{prefix}{number}", PASSWORD)
                        return link
                    except ConnectionError:
                        link.close()
                        if attempt == 4:
                            raise
                raise AssertionError("unreachable")

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def until(condition: object, timeout: float = TIMEOUT) -> None:
    """Poll `condition()` every 5 ms until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


def close_all(links: list[Link]) -> None:
    for link in links:
        link.close()


async def fanout(target: Target, receivers: int, senders: int, messages: int) -> dict:
    """S senders broadcast M messages of 100 bytes each to N receivers."""
    rx = await target.users("rx", receivers)
    tx = await target.users("tx", senders)
    await asyncio.sleep(0.2)  # let presence news of the joins pass before the clock starts
    baseline = sum(link.deliveries for link in rx)
    expected = baseline + receivers * senders * messages
    text = "x" * 100
    started = time.perf_counter()
    for _ in range(messages):
        for link in tx:
            link.group(text)
    await until(lambda: sum(link.deliveries for link in rx) >= expected)
    elapsed = time.perf_counter() - started
    close_all(rx + tx)
    return {
        "receivers": receivers,
        "deliveries": receivers * senders * messages,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(receivers * senders * messages / elapsed),
    }


async def latency(target: Target, pairs: int, rate: float, seconds: float) -> dict:
    """P pairs exchange private messages at RATE messages/s in all, for T seconds."""
    senders = await target.users("from", pairs)
    receivers = await target.users("to", pairs)
    samples: list[float] = []
    for link in receivers:
        link.on_text = lambda text: samples.append(time.perf_counter() - float(text))
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
    }


async def connections(target: Target, count: int) -> dict:
    """K clients connect, log in and stay idle: how long, and how much server memory."""
    before = rss_kib(target.pid) if target.pid else None
    started = time.perf_counter()
    links = await target.users("idle", count)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # presence news settles
    after = rss_kib(target.pid) if target.pid else None
    close_all(links)
    result: dict = {"clients": count, "seconds": round(elapsed, 2)}
    if before is not None and after is not None:
        result["server_rss_mib"] = round(after / 1024, 1)
        result["kib_per_connection"] = round((after - before) / count, 2)
    return result


async def store(target: Target, senders: int, window: int, seconds: float) -> dict:
    """Many senders keep WINDOW private messages each in flight to an offline user: how
    many are stored (each `ok` means committed) per second."""
    sink = (await target.users("sink", 1))[0]
    sink.close()  # offline: what is sent to it is only stored
    links = await target.users("writer", senders)
    started = time.perf_counter()
    end = started + seconds
    sent = [0] * senders

    async def write(number: int, link: Link) -> None:
        assert isinstance(link, ChatroomLink)
        while time.perf_counter() < end:
            while sent[number] - link.sent_ok - link.sent_errors < window:
                link.private(sink.name, "stored message " + "x" * 80)
                sent[number] += 1
            await asyncio.sleep(0.001)

    await asyncio.gather(*(write(n, link) for n, link in enumerate(links)))
    stored = sum(link.sent_ok for link in links)  # type: ignore[attr-defined]
    errors = sum(link.sent_errors for link in links)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    close_all(links)
    return {
        "senders": senders,
        "stored": stored,
        "errors": errors,
        "stored_per_s": round(stored / elapsed),
    }


async def logins(target: Target, concurrency: int, seconds: float, resume: bool) -> dict:
    """Connect, log in (or resume with a token), disconnect, again and again."""
    names = []
    for link in await target.users("login", concurrency):
        names.append(link.name)
        link.close()
    tokens = []
    if resume:
        for name in names:
            fresh = await open_link("chatroom", target.host, target.port)
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
            link = await open_link("chatroom", target.host, target.port)
            assert isinstance(link, ChatroomLink)
            if resume:
                await link.call("resume", token=tokens[number])
            else:
                await link.call("login", username=names[number], password=PASSWORD)
            done += 1
            link.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_s": round(done / elapsed), "count": done}
