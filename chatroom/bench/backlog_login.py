"""Does one user's huge backlog slow everyone else? Private latency while they log in.

    python -m chatroom.bench.backlog_login [--backlog 300000] [--logins 10] [--pairs 5] [--rate 50]

One user ("away") is left with BACKLOG unread group messages. Then PAIRS pairs of
clients exchange private messages (RATE a second per sender) for as long as it takes
"away" to log in LOGINS times in a row (each login looks up the backlog and replays the
newest 1,000). Latency is `private` sent → `message` received. Before the store had
separate read connections, each such login stalled every commit behind its queries.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from chatroom.bench.accounts import PASSWORD, user
from chatroom.bench.spawn import BENCH_FLAGS, start_server
from chatroom.client import ChatClient
from chatroom.common.messages import MessagePush


async def fill(port: int, count: int) -> None:
    sender = await user(port, "loud")
    for start in range(0, count, 2000):
        replies = [
            sender.submit("broadcast", text=f"backlog {n}")
            for n in range(start, min(start + 2000, count))
        ]
        await sender.drain()
        await asyncio.gather(*replies)
    await sender.close()


async def exchange(
    pairs: list[tuple[ChatClient, ChatClient]], rate: float, stop: asyncio.Event
) -> list[float]:
    latencies: list[float] = []

    async def receive(client: ChatClient) -> None:
        async for push in client:
            if isinstance(push, MessagePush) and push.sender.startswith("pa"):
                latencies.append(time.perf_counter() - float(push.text))

    async def send(sender: ChatClient, to: str) -> None:
        n = 0
        start = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            await sender.private(to, repr(time.perf_counter()))
            n += 1

    receivers = [asyncio.create_task(receive(b)) for _, b in pairs]
    await asyncio.gather(*(send(a, f"pb{n}") for n, (a, _) in enumerate(pairs)))
    await asyncio.sleep(0.2)  # the last messages in flight
    for task in receivers:
        task.cancel()
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=300_000)
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        process, port = await start_server(Path(data), *BENCH_FLAGS)
        try:
            away = await user(port, "away")
            await away.close()
            started = time.perf_counter()
            await fill(port, args.backlog)
            print(f"backlog of {args.backlog} made in {time.perf_counter() - started:.1f} s")
            pairs = [
                (await user(port, f"pa{n}"), await user(port, f"pb{n}")) for n in range(args.pairs)
            ]
            for label, logins in (
                ("no logins", 0),
                (f"{args.logins} logins of 'away'", args.logins),
            ):
                stop = asyncio.Event()
                measuring = asyncio.create_task(exchange(pairs, args.rate, stop))
                took = []
                if logins:
                    for _ in range(logins):
                        client = await ChatClient.connect("127.0.0.1", port)
                        begun = time.perf_counter()
                        reply = await client.login("away", PASSWORD)
                        took.append(time.perf_counter() - begun)
                        await client.close()
                    assert reply.offline + reply.skipped == args.backlog
                else:
                    await asyncio.sleep(2)
                stop.set()
                latencies = sorted(await measuring)
                p50 = statistics.median(latencies) * 1000
                p99 = latencies[int(len(latencies) * 0.99)] * 1000
                extra = f", each login {statistics.median(took) * 1000:.0f} ms" if took else ""
                print(
                    f"{label}: {len(latencies)} messages, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                    f"max {latencies[-1] * 1000:.1f} ms{extra}"
                )
        finally:
            process.terminate()
            await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
