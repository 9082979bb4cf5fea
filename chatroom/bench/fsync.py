"""How long this disk takes to make a small write durable: the floor under every stored
message's latency (the server answers `ok` only after its commit's fsync).

    python -m chatroom.bench.fsync [--dir DIR] [--count 500] [--json FILE]

Appends 200 bytes and calls fdatasync, COUNT times, in a file under DIR (default: the
temporary directory, where chatroom-bench's server keeps its data), as SQLite's WAL does
at each commit.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def measure(directory: Path, count: int) -> dict[str, float]:
    samples = []
    with tempfile.NamedTemporaryFile(dir=directory) as scratch:
        for _ in range(count):
            scratch.write(b"x" * 200)
            scratch.flush()
            started = time.perf_counter()
            os.fdatasync(scratch.fileno())
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "count": count,
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[max(0, int(count * 0.99) - 1)], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = measure(args.dir, args.count)
    print(f"fdatasync of 200 bytes: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
