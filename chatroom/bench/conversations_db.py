"""The database `chatroom.bench.conversations` measures: millions of messages in rooms.

Made in two steps. The real store opens an empty data dir once, so the schema is the
one every migration builds; then the rows go in by plain `sqlite3`, in big transactions,
with the two triggers on `messages` dropped (each would cost a statement per message) and
their work done in bulk instead: the full-text index is rebuilt once at the end, and
every read marker is computed from the numbering rather than moved message by message.
The server itself never runs with `synchronous = OFF`; only this build does.
"""

import asyncio
import base64
import collections
import hashlib
import itertools
import json
import random
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import bcrypt

from chatroom.bench.accounts import PASSWORD
from chatroom.common.names import username_key
from chatroom.server.store import SqlStore
from chatroom.server.store.schema import SCHEMA_VERSION
from chatroom.server.store.sql import DATABASE_NAME

PARAMS_NAME = "bench-params.json"
"""Written last, beside the database: a data dir without it is an unfinished build."""
BATCH = 200_000
"""Messages per transaction (and per `executemany`)."""
VOCABULARY = 30_000
"""Distinct words; the word of rank r is used with weight 1 / (r + 1) (Zipf)."""
LOBBY_CONV = 1


@dataclass(frozen=True)
class Params:
    messages: int
    users: int
    rooms: int
    rooms_per_user: int
    big_room_members: int
    seed: int
    schema: int = SCHEMA_VERSION
    layout: int = 3
    """Bumped when this module lays the rows out differently: older builds are remade."""


@dataclass
class Built:
    seconds: float
    db_bytes: int
    fts_bytes: int
    reused: bool


def user_name(number: int) -> str:
    return f"user{number}"


def room_name(number: int) -> str:
    """room0 is the big one (`big_room_members` members); room r is conv r + 2."""
    return f"room{number}"


def vocabulary(seed: int) -> list[str]:
    """VOCABULARY distinct made-up words of 2 to 4 syllables, in rank order."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["sh", "ch", "th"]
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    return list(words)


def word_weights() -> list[float]:
    """Cumulative Zipf weights for `random.choices(cum_weights=...)`."""
    return list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))


def word_share(rank: int) -> float:
    """The share of all words that the word of `rank` is (for the report)."""
    weights = word_weights()
    return (weights[rank] - (weights[rank - 1] if rank else 0.0)) / weights[-1]


def memberships(params: Params, rng: random.Random) -> dict[int, list[int]]:
    """The members (user numbers) of each room conv; every user is also in the lobby."""
    members: dict[int, list[int]] = collections.defaultdict(list)
    others = list(range(1, params.rooms))
    for number in range(params.users):
        in_big = number < params.big_room_members
        if in_big:
            members[2].append(number)
        for room in rng.sample(others, min(len(others), params.rooms_per_user - in_big)):
            members[room + 2].append(number)
    return members


def open_params(data_dir: Path) -> tuple[Params, Built] | None:
    """What the database in `data_dir` was made with, and what its build measured."""
    try:
        made = json.loads((data_dir / PARAMS_NAME).read_text())
        built = Built(**made.pop("built"))
        return Params(**made), built
    except (OSError, ValueError, TypeError, KeyError):
        return None


def build(data_dir: Path, params: Params) -> Built:
    """Make the database in `data_dir`, or keep the one there if made with `params`."""
    path = data_dir / DATABASE_NAME
    made = open_params(data_dir)
    if made is not None and made[0] == params and path.exists():
        return Built(made[1].seconds, made[1].db_bytes, made[1].fts_bytes, reused=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (PARAMS_NAME, DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm"):
        (data_dir / name).unlink(missing_ok=True)
    started = time.perf_counter()

    async def make_schema() -> None:
        store = await SqlStore.open(data_dir)
        await store.close()

    asyncio.run(make_schema())
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")  # the build only: no WAL of gigabytes
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -2000000")  # 2 GB: the indexes stay in memory
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
    ).fetchall()
    for name, _ in triggers:
        db.execute(f"DROP TRIGGER {name}")
    rng = random.Random(params.seed)
    members = _fill_rooms_and_users(db, params, rng)
    tails, seqs = _fill_messages(db, params, rng, members)
    _fill_members(db, params, rng, members, tails, seqs)
    for _, sql in triggers:
        db.execute(sql)
    db.close()  # journal_mode OFF leaves nothing behind; the size is the data's
    before_fts = path.stat().st_size
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -2000000")
    db.execute("INSERT INTO messages_text (messages_text) VALUES ('rebuild')")
    db.execute("PRAGMA journal_mode = WAL")  # as the server keeps it
    db.close()
    size = path.stat().st_size
    built = Built(time.perf_counter() - started, size, size - before_fts, reused=False)
    (data_dir / PARAMS_NAME).write_text(json.dumps(asdict(params) | {"built": asdict(built)}))
    return built


def _fill_rooms_and_users(
    db: sqlite3.Connection, params: Params, rng: random.Random
) -> dict[int, list[int]]:
    now = time.time() - 86400 * 365
    hashed = password_hash(PASSWORD)
    db.execute("BEGIN")
    db.executemany(
        """INSERT INTO users (username, username_key, password_hash, acked_upto, created_at)
           VALUES (?, ?, ?, ?, ?)""",
        (
            (user_name(n), username_key(user_name(n)), hashed, params.messages, now)
            for n in range(params.users)
        ),
    )
    db.executemany(
        """INSERT INTO conversations (conv, room, room_key, topic, owner, public, created_at)
           VALUES (?, ?, ?, 'benchmark', ?, 1, ?)""",
        (
            (r + 2, room_name(r), username_key(room_name(r)), user_name(r % params.users), now)
            for r in range(params.rooms)
        ),
    )
    db.execute("COMMIT")
    return memberships(params, rng)


def _fill_messages(
    db: sqlite3.Connection, params: Params, rng: random.Random, members: dict[int, list[int]]
) -> tuple[dict[int, collections.deque[int]], dict[int, int]]:
    """Messages in random rooms (and the lobby), each from one of the room's members;
    returns each conversation's last mids (newest last) and its last seq, to place read
    markers by."""
    words = vocabulary(params.seed)
    weights = word_weights()
    convs = [LOBBY_CONV, *range(2, params.rooms + 2)]
    names = [user_name(n) for n in range(params.users)]
    everyone = list(range(params.users))
    seqs = dict.fromkeys(convs, 0)
    tails = {conv: collections.deque[int](maxlen=200) for conv in convs}
    choices, randint, choice = rng.choices, rng.randint, rng.choice
    ts = time.time() - 86400 * 300
    for start in range(1, params.messages + 1, BATCH):
        rows = []
        for mid in range(start, min(start + BATCH, params.messages + 1)):
            conv = choice(convs)
            seqs[conv] = seq = seqs[conv] + 1
            tails[conv].append(mid)
            sender = names[choice(members.get(conv) or everyone)]
            text = " ".join(choices(words, cum_weights=weights, k=randint(3, 14)))
            rows.append((mid, sender, text, ts + mid * 2.0, conv, seq))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO messages (mid, sender, text, ts, conv, seq) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")
    return tails, seqs


def _fill_members(
    db: sqlite3.Connection,
    params: Params,
    rng: random.Random,
    members: dict[int, list[int]],
    tails: dict[int, collections.deque[int]],
    seqs: dict[int, int],
) -> None:
    """Each member has read up to a message at most 150 behind the newest (or all)."""
    now = time.time() - 86400 * 365
    rows = []
    for conv, numbers in itertools.chain(
        [(LOBBY_CONV, list(range(params.users)))], members.items()
    ):
        tail = list(tails[conv])
        for number in numbers:
            # Two in three members are up to date; the rest are up to 150 behind.
            behind = rng.choice([0, 0, rng.randint(1, 150)])
            read_upto = tail[-behind - 1] if len(tail) > behind else 0
            read_seq = seqs[conv] - behind if read_upto else 0
            rows.append((conv, user_name(number), read_upto, read_seq, now))
    db.execute("BEGIN")
    db.executemany(
        """INSERT INTO members (conv, username, read_upto, read_seq, joined_at)
           VALUES (?, ?, ?, ?, ?)""",
        rows,
    )
    db.execute("COMMIT")


def password_hash(password: str) -> bytes:
    """What the server stores for `password` at bcrypt cost 4 (as chatroom.server.auth
    hashes: bcrypt of the base64 of its SHA-256), made once for every user."""
    prehashed = base64.b64encode(hashlib.sha256(password.encode()).digest())
    return bcrypt.hashpw(prehashed, bcrypt.gensalt(4))


__all__ = [
    "Built",
    "Params",
    "build",
    "open_params",
    "room_name",
    "user_name",
    "vocabulary",
    "word_share",
]
