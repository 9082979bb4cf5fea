"""Measure file upload and download throughput over loopback, and the server's peak RSS.

    python -m chatroom.bench.file_transfer [--sizes 10 100] [--window 16] [--json FILE]

For each size (MiB) it starts a fresh `chatroom-server` process on a free loopback port
with a temporary data dir, uploads a file of random bytes from one client and downloads
it with another, and reads the server's VmHWM (peak resident set) from /proc. A fresh
process per run shows whether the peak grows with the file. Each transfer is timed as a
user waits for it: the upload includes the sender hashing the file and the server's
fsync before its last `ok`; the download includes writing and checking the copy.

After each download it writes a new file of the same size alone, in chunks of the same
size, with nothing else running: the floor under both ways (the server writes each upload
to a new file, the client each download). On a virtual machine whose host backs memory
only when it is touched, copying into pages the kernel has not used lately is far slower
than into pages it has, and a new file is all new pages.
"""

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from chatroom.bench.accounts import user
from chatroom.bench.spawn import BCRYPT_COST, peak_rss_kib, start_server
from chatroom.common.limits import MAX_CHUNK

MiB = 1024 * 1024


async def measure(size_mib: int, window: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        source = scratch / "payload.bin"
        with open(source, "wb") as out:
            for _ in range(size_mib):
                out.write(os.urandom(MiB))
        os.sync()  # let the payload reach the disk now, not during the measurement
        process, port = await start_server(
            scratch / "data",
            "--bcrypt-cost", str(BCRYPT_COST),
            "--max-file-size", str(size_mib * MiB),
            "--file-quota", str(4 * size_mib * MiB),
        )  # fmt: skip
        try:
            idle_rss = peak_rss_kib(process.pid)
            alice = await user(port, "alice")
            bob = await user(port, "bob")
            started = time.perf_counter()
            sent = await alice.send_file(source, "bob", window=window)
            upload = time.perf_counter() - started
            os.sync()
            started = time.perf_counter()
            saved = await bob.download(sent.fid, scratch / "downloads", window=window)
            download = time.perf_counter() - started
            assert saved.stat().st_size == size_mib * MiB
            peak = peak_rss_kib(process.pid)
            write_alone = _write_new_file(scratch / "alone.bin", size_mib * MiB)
            await alice.close()
            await bob.close()
        finally:
            process.terminate()
            await process.wait()
    return {
        "size_mib": size_mib,
        "upload_mb_s": size_mib * MiB / upload / 1e6,
        "download_mb_s": size_mib * MiB / download / 1e6,
        "write_alone_mb_s": size_mib * MiB / write_alone / 1e6,
        "idle_rss_mib": idle_rss / 1024,
        "peak_rss_mib": peak / 1024,
    }


def _write_new_file(path: Path, size: int) -> float:
    """Seconds to write `size` bytes into a new file in chunk-sized writes (no fsync)."""
    chunk = os.urandom(MAX_CHUNK)
    started = time.perf_counter()
    with open(path, "wb") as out:
        for _ in range(size // MAX_CHUNK):
            out.write(chunk)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="MiB")
    parser.add_argument("--window", type=int, default=16, help="chunks in flight")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; medians shown")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    results = []
    print("| file | upload | download | new file alone | server RSS idle | server RSS peak |")
    print("|-----:|-------:|---------:|---------------:|---------------:|----------------:|")
    for size in args.sizes:
        runs = [await measure(size, args.window) for _ in range(args.repeat)]
        r = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        results.append(r)
        print(
            f"| {size} MiB | {r['upload_mb_s']:.0f} MB/s | {r['download_mb_s']:.0f} MB/s"
            f" | {r['write_alone_mb_s']:.0f} MB/s"
            f" | {r['idle_rss_mib']:.1f} MiB | {r['peak_rss_mib']:.1f} MiB |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
