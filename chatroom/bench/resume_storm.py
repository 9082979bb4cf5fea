"""How long thousands of clients take to get back after a server restart, with `resume`.

    python -m chatroom.bench.resume_storm [--clients 5000] [--concurrency 500]

Registers CLIENTS users (bcrypt cost 4 and no rate limits, only to make the set-up
quick), logs each in once to get a resume token, restarts the server on the same data
dir, then reconnects every client at once (at most CONCURRENCY connecting at a time) with
`resume`, and reports the time from the first connect to the last `ok`. Each client stays
connected and reads what it is sent (presence of the others coming back), as a real one
would.
"""

import argparse
import asyncio
import signal
import tempfile
import time
from pathlib import Path

from chatroom.bench.accounts import PASSWORD
from chatroom.bench.spawn import BENCH_FLAGS, rss_kib, start_server
from chatroom.bench.wire import ChatroomLink, open_link


async def set_up(port: int, count: int, concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> str:
        async with gate:
            client = await open_chatroom(port)
            name = f"user{number}"
            await client.call("register", username=name, password=PASSWORD)
            token: str = (await client.call("login", username=name, password=PASSWORD))[
                "resume_token"
            ]
            client.close()  # dropped, not logged out: the token stays valid
            return token

    return await asyncio.gather(*(one(n) for n in range(count)))


async def open_chatroom(port: int) -> ChatroomLink:
    link = await open_link("chatroom", "127.0.0.1", port)
    assert isinstance(link, ChatroomLink)
    return link


async def storm(port: int, tokens: list[str], concurrency: int) -> tuple[float, list[ChatroomLink]]:
    gate = asyncio.Semaphore(concurrency)
    clients: list[ChatroomLink] = []

    async def one(token: str) -> None:
        async with gate:
            client = await open_chatroom(port)
            await client.call("resume", token=token)  # it goes on reading what it is sent
        clients.append(client)

    started = time.perf_counter()
    await asyncio.gather(*(one(token) for token in tokens))
    return time.perf_counter() - started, clients


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        process, port = await start_server(data, *BENCH_FLAGS)
        try:
            started = time.perf_counter()
            tokens = await set_up(port, args.clients, 50)
            print(f"set-up: {args.clients} users registered and logged in once "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()

        process, port = await start_server(data, *BENCH_FLAGS)
        try:
            seconds, clients = await storm(port, tokens, args.concurrency)
            print(f"resume: {args.clients} clients back in {seconds:.2f} s "
                  f"({args.clients / seconds:.0f} resumes/s); server RSS "
                  f"{rss_kib(process.pid) / 1024:.0f} MiB")  # fmt: skip
            for client in clients:
                client.close()
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
