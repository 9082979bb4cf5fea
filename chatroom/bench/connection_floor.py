"""The floor for memory per idle connection in an asyncio server, whatever it does.

    python -m chatroom.bench.connection_floor [--clients 10000] [--json FILE]

Starts a server process whose protocol object holds nothing (`asyncio.Protocol` with
empty `__slots__`), connects CLIENTS sockets to it from this process, and prints how
much the server's resident memory grew per connection: the socket object, asyncio's
transport, the selector's key and read callback. No chatroom server can hold less per
connection on this Python; what it holds above this is its sessions.
"""

import argparse
import asyncio
import json
import socket

from chatroom.bench.spawn import rss_kib, script_server

SERVER = """
import asyncio, sys

class Nothing(asyncio.Protocol):
    __slots__ = ()

async def main():
    server = await asyncio.get_running_loop().create_server(Nothing, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""


async def measure(count: int) -> float:
    """KiB of server memory per idle connection, over `count` connections."""
    with script_server(SERVER) as (pid, port):
        before = rss_kib(pid)
        sockets = []
        for number in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port)))
            if number % 500 == 499:
                await asyncio.sleep(0.05)  # let the server accept them
        await asyncio.sleep(1)
        after = rss_kib(pid)
        for sock in sockets:
            sock.close()
        return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chatroom.bench.connection_floor")
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--json", help="also write the figure to this file")
    args = parser.parse_args()
    kib = asyncio.run(measure(args.clients))
    print(f"{kib:.2f} KiB of server memory per idle connection ({args.clients} connections)")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"clients": args.clients, "kib_per_connection": round(kib, 2)}, file)


if __name__ == "__main__":
    main()
