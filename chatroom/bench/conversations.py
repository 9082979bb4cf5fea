"""Conversations at size: history, unread counts, search and room fan-out over millions.

    python -m chatroom.bench.conversations [--messages 10000000] [--users 2000] [--rooms 1000]

Builds (or reuses, when made with the same parameters) a database of MESSAGES messages in
ROOMS rooms and the lobby (see `conversations_db`), starts the real server on it, and
times over the wire, from one logged-in member of ~100 rooms: pages of history at random
depths, the `rooms` list and the login reply (both carry unread counts), and searches
for common, middling and rare words, with and without a room. Then the big room's
members all log in and one of them writes into it, and into the lobby, in turn. Last,
with the server stopped, the same SQL runs on a read-only `sqlite3` connection, so the
report can say how much of each time is the query and how much the server and the wire.
"""

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from chatroom.bench.accounts import PASSWORD
from chatroom.bench.conversations_db import (
    Params,
    build,
    room_name,
    user_name,
    vocabulary,
    word_share,
)
from chatroom.bench.scenarios import Target, until
from chatroom.bench.spawn import BENCH_FLAGS, cpu_seconds, start_server
from chatroom.bench.wire import ChatroomLink, open_link
from chatroom.common.limits import INTEGER_MAX
from chatroom.server.store.conversations import HISTORY_SQL, READ_STATES_SQL
from chatroom.server.store.search import search_match, search_sql
from chatroom.server.store.sql import DATABASE_NAME

PROBE = user_name(0)
"""The user whose requests are timed: a member of the big room and of ~99 others."""
TICKS_TO_TIME = 10
"""Clock ticks of server CPU (10 ms each, usually) below which a per-delivery figure is
mostly rounding: a short fan-out is reported as too little to time."""
WORDS = {"common": [0, 1, 3, 10, 30], "middling": [300, 1000, 3000], "rare": [10000, 29999]}
"""Search words by their rank in the vocabulary (0: the most used)."""


def ms(seconds: list[float]) -> str:
    """p50 and p99 of `seconds`, in milliseconds."""
    return f"p50 {statistics.median(seconds) * 1000:.2f} ms, p99 {p99(seconds) * 1000:.2f} ms"


def p99(seconds: list[float]) -> float:
    values = sorted(seconds)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def verdict(seconds: float, target_ms: float) -> str:
    return f"{'✔' if seconds * 1000 < target_ms else '✘'} target < {target_ms:g} ms"


Figures = dict[str, float]
"""What `--json` writes: each timed request's p50 and p99 in ms (`history_p99_ms`, …),
and the fan-outs' deliveries per second."""


def keep(figures: Figures, name: str, seconds: list[float]) -> None:
    figures[f"{name}_p50_ms"] = round(statistics.median(seconds) * 1000, 2)
    figures[f"{name}_p99_ms"] = round(p99(seconds) * 1000, 2)


async def timed(times: list[float], request: Awaitable[Any]) -> Any:
    began = time.perf_counter()
    reply = await request
    times.append(time.perf_counter() - began)
    return reply


class Plan:
    """The requests to time, drawn once and made both over the wire and in SQL."""

    def __init__(self, db: sqlite3.Connection, args: argparse.Namespace) -> None:
        rng = random.Random(args.seed + 1)
        self.rooms = [
            conv
            for (conv,) in db.execute(
                "SELECT conv FROM members WHERE username = ? AND conv != 1", (PROBE,)
            )
        ]
        ((newest,),) = db.execute("SELECT MAX(mid) FROM messages")
        # One page in ten is the newest; the rest start anywhere, most of them deep.
        self.pages = [
            (rng.choice(self.rooms), rng.choice([newest + 1, *[rng.randint(1, newest)] * 9]))
            for _ in range(args.pages)
        ]
        words = vocabulary(args.seed)
        self.searches: list[tuple[str, str, int | None]] = []
        for kind, ranks in WORDS.items():
            for n in range(args.searches):
                query = words[ranks[n % len(ranks)]]
                room = rng.choice(self.rooms) if n % 2 else None
                self.searches.append((kind + (" in a room" if room else ""), query, room))
        for n in range(args.searches):  # two words: a common one and a middling one
            query = f"{words[WORDS['common'][n % 5]]} {words[WORDS['middling'][n % 3]]}"
            self.searches.append(("two words", query, None))


async def over_the_wire(port: int, plan: Plan, args: argparse.Namespace, figures: Figures) -> None:
    logins: list[float] = []
    for _ in range(args.logins):
        link = await open_link("chatroom", "127.0.0.1", port)
        assert isinstance(link, ChatroomLink)
        reply = await timed(logins, link.call("login", username=PROBE, password=PASSWORD))
        link.close()
    print(
        f"login reply ({len(reply['conversations'])} conversations with unread counts, "
        f"bcrypt cost 4 included): {ms(logins)} ({len(logins)} logins)"
    )
    token = reply["resume_token"]
    resumes: list[float] = []
    for _ in range(args.logins):
        link = await open_link("chatroom", "127.0.0.1", port)
        assert isinstance(link, ChatroomLink)
        reply = await timed(resumes, link.call("resume", token=token))
        link.close()
    print(
        f"resume reply ({len(reply['conversations'])} conversations with unread counts, "
        f"no bcrypt): {ms(resumes)} ({len(resumes)} resumes) {verdict(p99(resumes), 5)}"
    )
    keep(figures, "resume", resumes)
    figures["resume_conversations"] = len(reply["conversations"])
    link = await open_link("chatroom", "127.0.0.1", port)
    assert isinstance(link, ChatroomLink)
    await link.call("login", username=PROBE, password=PASSWORD)
    times: list[float] = []
    for _ in range(args.logins):
        listed = await timed(times, link.call("rooms"))
    joined = sum(1 for room in listed["rooms"] if room["joined"])
    print(
        f"rooms ({len(listed['rooms'])} rooms listed, {joined} joined, unread for each): "
        f"{ms(times)} ({len(times)} requests) {verdict(p99(times), 5)}"
    )
    keep(figures, "rooms", times)
    figures["rooms_listed"] = len(listed["rooms"])
    times = []
    for conv, before in plan.pages:
        page = await timed(
            times, link.call("history", room=room_name(conv - 2), before=before, limit=100)
        )
        assert len(page["messages"]) <= 100
    print(f"history page of 100: {ms(times)} ({len(times)} pages) {verdict(p99(times), 5)}")
    keep(figures, "history", times)
    searched = await search_times(
        lambda query, conv: link.call(
            "search", query=query, **({"room": room_name(conv - 2)} if conv else {})
        ),
        plan,
        "search",
    )
    keep(figures, "search", searched)
    link.close()


async def search_times(
    ask: Callable[[str, int | None], Awaitable[Any]], plan: Plan, label: str
) -> list[float]:
    """Time every search of the plan, print them by kind, and return all the times."""
    by_kind: dict[str, list[float]] = {}
    for kind, query, conv in plan.searches:
        await timed(by_kind.setdefault(kind, []), ask(query, conv))
    everything = [t for times in by_kind.values() for t in times]
    print(f"{label}, all {len(everything)}: {ms(everything)} {verdict(p99(everything), 50)}")
    for kind, times in by_kind.items():
        print(f"  {label}, {kind}: {ms(times)}")
    return everything


async def fanout(port: int, pid: int, members: int, messages: int, figures: Figures) -> None:
    """The big room's members all online; one writes MESSAGES into the room and as many
    into the lobby (where the same members are the ones online): room then lobby, then
    lobby then room, twice, after a tenth as many into each untimed. The figures are
    each place's deliveries over its time in all four rounds.

    The order matters: the first writes into a fresh server were the slowest (the room
    2.99 M deliveries/s first and 3.72 last, the lobby 3.29 and 3.50 between, in one run
    of 2,000 a round), and the room had always gone first."""
    # `pull`: no replay of their backlogs at login (up to 1,000 messages each, which
    # would still be streaming to them during the first round).
    target = Target("chatroom", "127.0.0.1", port, pid, features=("rooms", "pull"))
    links = await target.connect_all([user_name(n) for n in range(members)])
    sender, receivers = links[-1], links[:-1]
    assert isinstance(sender, ChatroomLink)
    await asyncio.sleep(0.5)
    text = "x" * 100
    totals: dict[str, list[float]] = {"room": [0, 0.0], "lobby": [0, 0.0]}
    places = {"room": room_name(0), "lobby": None}

    async def write(room: str | None, count: int) -> None:
        expected = sum(link.deliveries for link in receivers) + len(receivers) * count
        for _ in range(count):
            if room is None:
                sender.group(text)
            else:
                sender.send("broadcast", text=text, room=room)
        await until(lambda: sum(r.deliveries for r in receivers) >= expected)

    for room in places.values():
        await write(room, max(1, messages // 10))  # warm-up, untimed
    for order in (("room", "lobby"), ("lobby", "room")) * 2:
        for where in order:
            cpu = cpu_seconds(pid)
            started = time.perf_counter()
            await write(places[where], messages)
            elapsed = time.perf_counter() - started
            deliveries = len(receivers) * messages
            cpu = cpu_seconds(pid) - cpu
            totals[where][0] += deliveries
            totals[where][1] += elapsed
            ticks = round(cpu * os.sysconf("SC_CLK_TCK"))
            per_delivery = (
                f"{cpu / deliveries * 1e6:.2f} µs per delivery"
                if ticks >= TICKS_TO_TIME
                else f"too little to time ({ticks} clock ticks in all)"
            )
            print(
                f"fan-out into the {where} ({len(receivers)} members online, {messages} "
                f"messages): {deliveries / elapsed:,.0f} deliveries/s, server CPU {per_delivery}"
            )
    # PROBE has read it all, as the database was built: a later run on it times the same
    # login and resume, not a backlog of these replayed to each connection behind them.
    probe = links[0]
    assert isinstance(probe, ChatroomLink)
    await probe.call("ack", upto=INTEGER_MAX)  # up to the newest message
    for link in links:
        link.close()
    for where, (delivered, took) in totals.items():
        figures[f"{where}_fanout_per_s"] = round(delivered / took)
    figures["fanout_members_online"] = len(receivers)


def in_sql(path: Path, plan: Plan, figures: Figures) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    times: list[float] = []
    for conv, before in plan.pages:
        began = time.perf_counter()
        db.execute(HISTORY_SQL, (conv, before, 101)).fetchall()
        times.append(time.perf_counter() - began)
    print(f"SQL alone, history page of 100: {ms(times)}")
    keep(figures, "sql_history", times)
    times = []
    for _ in range(200):
        began = time.perf_counter()
        rows = db.execute(READ_STATES_SQL, {"me": PROBE}).fetchall()
        times.append(time.perf_counter() - began)
    print(f"SQL alone, read states of {len(rows)} conversations: {ms(times)}")
    keep(figures, "sql_read_states", times)

    async def ask(query: str, conv: int | None) -> None:
        db.execute(
            search_sql(conv is not None),
            {"query": search_match(query, conv), "me": PROBE, "conv": conv, "limit": 20},
        ).fetchall()

    keep(figures, "sql_search", asyncio.run(search_times(ask, plan, "SQL alone, search")))
    for in_room in (False, True):
        plan_rows = db.execute("EXPLAIN QUERY PLAN " + search_sql(in_room), {
            "query": "x", "me": PROBE, "conv": 2, "limit": 20,
        }).fetchall()  # fmt: skip
        steps = "; ".join(row[-1] for row in plan_rows)
        print(f"  query plan of search{' in a room' if in_room else ''}: {steps}")
    db.close()


async def serve_and_measure(
    data_dir: Path, plan: Plan, args: argparse.Namespace, figures: Figures
) -> None:
    began = time.perf_counter()
    process, port = await start_server(data_dir, *BENCH_FLAGS, timeout=3600)
    print(f"server up in {time.perf_counter() - began:.1f} s (it checks every page first)")
    try:
        await over_the_wire(port, plan, args, figures)
        await fanout(port, process.pid, args.big_room, args.fanout_messages, figures)
    finally:
        process.terminate()
        await process.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(tempfile.gettempdir()) / "chatroom-bench-conversations"
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="kept for reuse")
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--rooms-per-user", type=int, default=100)
    parser.add_argument("--big-room", type=int, default=1000, help="members of room r0")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--pages", type=int, default=2000, help="history pages timed")
    parser.add_argument("--logins", type=int, default=200, help="logins and `rooms` timed")
    parser.add_argument("--searches", type=int, default=100, help="per kind of word")
    parser.add_argument("--fanout-messages", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    params = Params(
        args.messages, args.users, args.rooms, args.rooms_per_user, args.big_room, args.seed
    )
    built = build(args.data_dir, params)
    path = args.data_dir / DATABASE_NAME
    per = built.db_bytes / args.messages
    how = f"built in {built.seconds:.1f} s" + (" (reused)" if built.reused else "")
    print(
        f"database: {args.messages:,} messages, {args.rooms} rooms, {args.users} users, "
        f"{how}: {built.db_bytes / 2**20:,.0f} MiB, {per:.0f} bytes per message"
        + f" (the full-text index {built.fts_bytes / args.messages:.0f} of them)"
    )
    for kind, ranks in WORDS.items():
        shares = ", ".join(f"{word_share(rank) * 100:.3g}%" for rank in ranks)
        print(f"  {kind} words: each is this share of all words: {shares}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        plan = Plan(db, args)
    figures: Figures = {"messages": args.messages, "bytes_per_message": round(per)}
    asyncio.run(serve_and_measure(args.data_dir, plan, args, figures))
    in_sql(path, plan, figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
