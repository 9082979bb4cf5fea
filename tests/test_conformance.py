"""`chatroom-conformance server`: every requirement is met by chatroom-server, and each
fault a student makes fails exactly the requirements it breaks.

The faulty servers are the lessons' minimal server (tests/lessons/minimal_server.py),
which meets levels 1 to 5 as it is, started with one fault switched on.
"""

import asyncio
import contextlib
import json
import signal
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import msgpack
import pytest

from chatroom.common.codec import encode
from chatroom.conformance import checks, requirements
from chatroom.conformance.requirements import Outcome, check_all
from tests.conftest import MinimalServer, RunningServer, spawn_server

FAULTS = {
    "one-recv": {"framing.split", "framing.coalesced", "framing.large", "pipeline.order",
                 "limits.rate"},
    "forget-mail": {"offline.private", "offline.group", "offline.order", "ack.removes",
                    "ack.unacked_again", "file.offline"},
    "echo": {"broadcast.not_echoed"},
    "out-of-order": {"pipeline.order"},
}  # fmt: skip
"""What each fault breaks: a server that takes one read for one frame cannot read what
comes split, stuck together or larger than a read; one that keeps no mail has none to
replay; one that echoes sends the sender its own broadcast; one that answers pipelined
requests last first answers them out of order."""
TIMEOUT = 3.0


async def conformance(*args: str) -> tuple[int, str, str]:
    """Run the console script: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        "chatroom-conformance", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def unmet(port: int, level: int) -> set[str]:
    outcomes: list[Outcome] = []
    await check_all("127.0.0.1", port, level, TIMEOUT, outcomes.append)
    assert len(outcomes) == sum(each.level <= level for each in checks.REQUIREMENTS)
    return {outcome.requirement.key for outcome in outcomes if not outcome.met}


async def test_chatroom_server_meets_every_requirement(server: RunningServer) -> None:
    assert await unmet(server.port, level=6) == set()


async def test_the_minimal_server_of_the_lessons_meets_levels_1_to_5(
    minimal_server: MinimalServer,
) -> None:
    assert await unmet(await minimal_server(), level=5) == set()


@pytest.mark.parametrize("fault", FAULTS)
async def test_each_fault_fails_exactly_what_it_breaks(
    minimal_server: MinimalServer, fault: str
) -> None:
    assert await unmet(await minimal_server(fault), level=5) == FAULTS[fault]


async def test_the_command_grades_a_server_with_default_limits(tmp_path: Path) -> None:
    """The console script, against a chatroom-server process with its default limits
    (20 registrations per address at once): exit 0, the summary, JSON and JUnit."""
    server = await spawn_server(tmp_path / "data")
    try:
        code, out, err = await conformance(
            "server", f"127.0.0.1:{server.port}",
            "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
        )  # fmt: skip
    finally:
        await server.stop(signal.SIGTERM)
    total = len(checks.REQUIREMENTS)
    assert (code, err) == (0, ""), out
    assert out.rstrip().endswith(f"{total}/{total} requirements met")
    assert "  pass  1.1 framing.reply:" in out and "(§1 Framing)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["met"], report["total"]) == (total, total)
    junit = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == (str(total), "0")
    assert [suite.get("name", "")[:7] for suite in junit] == [f"Level {n}" for n in range(1, 7)]


async def test_a_failure_shows_the_requirement_its_section_and_the_frames(
    minimal_server: MinimalServer, tmp_path: Path
) -> None:
    port = await minimal_server("echo")
    code, out, _ = await conformance(
        "server", f"127.0.0.1:{port}", "--level", "2", "--junit", str(tmp_path / "r.xml")
    )
    assert code == 1
    failure = out[out.index("  FAIL") :].splitlines()
    assert failure[0].startswith("  FAIL  2.6 broadcast.not_echoed:")
    assert failure[0].endswith("(§4 broadcast)")
    assert failure[1:3] == [
        "        expected: no push of alice's own broadcast to alice",
        "        got:      a message push of it",
    ]
    # The frames, both ways, as the length, the first bytes in hex and the envelope.
    echoed = [line for line in failure if "<- " in line and '"text": "said once' in line]
    assert echoed and " | 00 00 00 " in echoed[0] and '"type": "message"' in echoed[0]
    assert out.rstrip().endswith("26/27 requirements met")
    junit = ElementTree.parse(tmp_path / "r.xml").getroot()
    failed = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name", "").split(":")[0] for case in failed] == ["2.6 broadcast.not_echoed"]


async def test_a_server_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    server = await spawn_server(tmp_path / "data")
    port = server.port
    await server.stop(signal.SIGTERM)
    code, out, err = await conformance("server", f"127.0.0.1:{port}")
    assert (code, out) == (2, "")
    assert err.startswith(f"chatroom-conformance: error: cannot connect to 127.0.0.1:{port}")
    assert len(err.splitlines()) == 1
    code, _, err = await conformance("server", "127.0.0.1:99999")
    assert code == 2 and len(err.splitlines()) == 1 and "port" in err
    code, _, err = await conformance("server", f"127.0.0.1:{port}", "--timeout", "-1")
    assert (code, err) == (
        2,
        "chatroom-conformance server: error: argument --timeout: "
        "must be a number more than 0, not -1\n",
    )  # was a traceback


async def test_a_report_that_cannot_be_written_is_exit_2_after_the_results(
    server: RunningServer, tmp_path: Path
) -> None:
    unwritable = tmp_path / "report.json"
    unwritable.mkdir()  # a folder where the file should go
    code, out, err = await conformance(
        "server", f"127.0.0.1:{server.port}", "--level", "1", "--json", str(unwritable)
    )
    assert "requirements met" in out  # the results are shown all the same
    assert (code, err) == (2, f"chatroom-conformance: error: cannot write the report to "
                              f"{unwritable}: is a directory\n")  # fmt: skip


async def test_a_server_that_says_ok_to_everything_fails_without_breaking_the_checker() -> None:
    """Replies without the fields a requirement reads are failures, not a traceback."""

    async def yes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                length = int.from_bytes(await reader.readexactly(4), "big")
                request = msgpack.unpackb(await reader.readexactly(length))
                writer.write(encode({"type": "ok", "id": request.get("id"), "data": {}}))
        writer.close()

    listener = await asyncio.start_server(yes, "127.0.0.1", 0)
    async with listener:
        outcomes: list[Outcome] = []
        port = listener.sockets[0].getsockname()[1]
        await check_all("127.0.0.1", port, 2, 0.3, outcomes.append)
    met = {outcome.requirement.key for outcome in outcomes if outcome.met}
    assert met <= {"framing.reply", "envelope.id", "envelope.no_id", "register.ok"}
    crashed = [outcome for outcome in outcomes if outcome.got.startswith(("KeyError", "TypeError"))]
    assert crashed, "no requirement read a field the server left out"
    assert all(outcome.expected for outcome in crashed)


async def test_checking_one_server_again_and_again_is_not_locked_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chatroom-server locks an address out after 5 failed logins; each run fails some on
    purpose. On loopback each run connects from an address of its own; elsewhere (here:
    forced onto 127.0.0.1) the checker waits as long as the server's retry_after says."""
    server = await spawn_server(tmp_path / "data")
    try:
        for _ in range(3):
            assert await unmet(server.port, level=6) == set()
        monkeypatch.setattr(requirements, "is_ipv4_loopback", lambda host: False)
        waits = []
        for _ in range(3):
            outcomes: list[Outcome] = []
            await check_all("127.0.0.1", server.port, 1, TIMEOUT, outcomes.append)
            assert [outcome.requirement.key for outcome in outcomes if not outcome.met] == []
            waits.append(sum(outcome.waited for outcome in outcomes))
    finally:
        await server.stop(signal.SIGTERM)
    assert waits[0] == 0 and waits[-1] > 0  # 2 failures a run: the 6th is locked out
