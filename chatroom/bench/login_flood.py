"""Does a flood of logins slow the chat down? Private-message latency with and without one.

    python -m chatroom.bench.login_flood [--pairs 10] [--rate 10] [--seconds 10] [--logins 50]
                                         [--json FILE]

PAIRS pairs of logged-in clients exchange private messages, each sender RATE a second;
the latency of each is the time from `private` sent to `message` received (one clock,
one process). First without load, then while LOGINS new connections a second log in with
a valid password at the server's real bcrypt cost (12 unless --bcrypt-cost says
otherwise). bcrypt runs in one worker process a core, beside the event loop: the
scheduler shares the cores between the chat and the logins.
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from chatroom.bench.accounts import PASSWORD, user
from chatroom.bench.spawn import BENCH_FLAGS, start_server
from chatroom.bench.wire import ChatroomLink, open_link
from chatroom.client import ChatClient
from chatroom.common.messages import MessagePush


async def measure(
    pairs: list[tuple[ChatClient, ChatClient]], rate: float, seconds: float
) -> list[float]:
    latencies: list[float] = []

    async def receive(client: ChatClient, expected: int) -> None:
        while expected > 0:
            push = await client.next_push()
            if isinstance(push, MessagePush):
                latencies.append(time.perf_counter() - float(push.text))
                expected -= 1

    async def send(sender: ChatClient, to: str, count: int) -> None:
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            await sender.private(to, repr(time.perf_counter()))

    count = int(rate * seconds)
    start = time.perf_counter()
    receivers = [asyncio.create_task(receive(b, count)) for _, b in pairs]
    await asyncio.gather(*(send(a, f"bob{n}", count) for n, (a, _) in enumerate(pairs)))
    await asyncio.wait_for(asyncio.gather(*receivers), 60)
    return latencies


async def flood(port: int, per_second: float, until: float) -> tuple[int, int]:
    """Open `per_second` connections a second that each log in; returns (started, done)."""
    started = done = 0
    tasks = []

    async def one() -> None:
        nonlocal done
        client = await open_link("chatroom", "127.0.0.1", port)
        assert isinstance(client, ChatroomLink)
        try:
            await client.call("login", username="flooder", password=PASSWORD)
            done += 1
        except (RuntimeError, ConnectionError):
            pass
        finally:
            client.close()

    begin = time.perf_counter()
    while time.perf_counter() < until:
        tasks.append(asyncio.create_task(one()))
        started += 1
        await asyncio.sleep(max(0.0, begin + started / per_second - time.perf_counter()))
    for task in tasks:
        task.cancel()
    return started, done


def figures(latencies: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "messages": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
        "max_ms": round(ms[-1], 2),
    }


def summary(found: dict[str, float]) -> str:
    return (
        f"{found['messages']} messages: p50 {found['p50_ms']:.1f} ms, "
        f"p99 {found['p99_ms']:.1f} ms, max {found['max_ms']:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10, help="messages/s per sender")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--logins", type=float, default=50, help="logins/s in the flood")
    parser.add_argument("--bcrypt-cost", default="12")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        process, port = await start_server(
            Path(scratch), *BENCH_FLAGS, "--bcrypt-cost", args.bcrypt_cost
        )
        try:
            await (await user(port, "flooder")).close()
            pairs = [
                (await user(port, f"alice{n}"), await user(port, f"bob{n}"))
                for n in range(args.pairs)
            ]
            quiet = figures(await measure(pairs, args.rate, args.seconds / 2))
            print(f"no flood:             {summary(quiet)}")
            deadline = time.perf_counter() + args.seconds
            flooding = asyncio.create_task(flood(port, args.logins, deadline))
            loaded = figures(await measure(pairs, args.rate, args.seconds))
            started, done = await flooding
            print(f"{args.logins:.0f} logins/s flood:   {summary(loaded)}")
            print(f"  ({started} logins started, {done} finished during the flood)")
            if args.json:
                found = {
                    "logins_per_s": args.logins, "bcrypt_cost": int(args.bcrypt_cost),
                    "quiet": quiet, "flood": loaded,
                    "logins_started": started, "logins_done": done,
                }  # fmt: skip
                args.json.write_text(json.dumps(found, indent=2))
        finally:
            process.terminate()
            await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
