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
