"""`chatroom-bench` runs every scenario end to end on a tiny scale and reports sane figures.

Timings are not asserted (the benchmark is the check); counts and shapes are.
"""

import asyncio
import json
import sys
from pathlib import Path

from tests.conftest import WAIT


async def test_every_scenario_runs_and_reports(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.bench",
        "--receivers", "5,20", "--messages", "5", "--pairs", "2", "--rate", "40",
        "--seconds", "0.5", "--clients", "30", "--store-senders", "2", "--window", "5",
        "--json", str(report),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), WAIT * 12)
    assert process.returncode == 0, err.decode()[-2000:]
    results = {r["scenario"]: r for r in json.loads(report.read_text())["results"]}
    assert results["fanout N=5"]["deliveries"] == 25
    assert results["fanout N=20"]["deliveries"] == 100
    assert results["latency 40/s"]["messages"] == 20
    assert results["latency 40/s"]["p50_ms"] <= results["latency 40/s"]["p99_ms"]
    assert results["connections K=30"]["clients"] == 30
    assert results["connections K=30"]["kib_per_connection"] > 0
    assert results["store"]["stored"] > 0 and results["store"]["errors"] == 0
    assert results["store-cid"]["stored"] > 0 and results["store-cid"]["errors"] == 0
    assert results["logins"]["count"] > 0 and results["resumes"]["count"] > 0
    assert "| fanout N=20 |" in out.decode()


async def test_conversations_at_a_tiny_size_reports_every_figure(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.bench.conversations", "--data-dir", str(tmp_path),
        "--messages", "3000", "--users", "40", "--rooms", "12", "--rooms-per-user", "4",
        "--big-room", "20", "--pages", "30", "--logins", "5", "--searches", "3",
        "--fanout-messages", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), WAIT * 4)
    assert process.returncode == 0, err.decode()[-2000:]
    report = out.decode()
    assert "database: 3,000 messages, 12 rooms, 40 users, built in" in report
    assert "bytes per message (the full-text index" in report
    assert "login reply (5 conversations with unread counts" in report  # lobby + 4 rooms
    for line in ("rooms (", "history page of 100: p50", "search, all 12: p50"):
        assert line in report and "target <" in report.split(line)[1].splitlines()[0]
    assert "search, rare in a room: p50" in report
    assert report.count("fan-out into the room (19 members online, 3 messages)") == 2
    assert report.count("fan-out into the lobby (19 members online, 3 messages)") == 2
    assert "SQL alone, history page of 100: p50" in report
    assert "SQL alone, read states of 5 conversations" in report
    assert "query plan of search in a room: " in report
