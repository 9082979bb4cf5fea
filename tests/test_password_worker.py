"""bcrypt in worker processes: answers matched to their requests however many ask at
once, a worker killed mid-check, a server killed with its worker running."""

import asyncio
import os
import signal
from pathlib import Path

import pytest

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.server.auth import AHEAD, MOST_WORKERS, PasswordHasher, bcrypt_workers
from tests.conftest import PASSWORD, WAIT, RunningServer, spawn_server


async def test_each_answer_goes_to_its_own_request_when_many_ask_at_once() -> None:
    hasher = PasswordHasher(cost=4, workers=2)
    try:
        hashes = [await hasher.hash(f"password {n}") for n in range(2)]
        # 60 checks at once, right and wrong in a pattern, over both workers; every
        # fifth given up while waiting (as when a client hangs up mid-login).
        asked = [(n % 3 == 0, n % 2) for n in range(60)]
        checks = [
            asyncio.create_task(hasher.verify(f"password {w if right else 1 - w}", hashes[w]))
            for right, w in asked
        ]
        async with asyncio.timeout(WAIT):
            while hasher.running < len(checks):
                await asyncio.sleep(0)  # until every check is asked (some still waiting)
        for check in checks[::5]:
            check.cancel()
        answers = await asyncio.gather(*checks, return_exceptions=True)
        for n, ((right, _), answer) in enumerate(zip(asked, answers, strict=True)):
            if n % 5 == 0:
                assert isinstance(answer, asyncio.CancelledError)
            else:
                assert answer is right, n
        assert len(hasher.pids) == 2
        assert await hasher.verify("password 0", hashes[0])  # and it goes on answering
    finally:
        await hasher.close()


async def test_a_login_is_answered_when_its_password_worker_is_killed(make_server) -> None:
    server: RunningServer = await make_server(bcrypt_cost=12)  # ~270 ms a check here
    await server.register("slow")
    passwords = server.server.services.passwords
    killed = passwords.pids
    slow = await server.connect()
    login = asyncio.create_task(slow.login("slow", PASSWORD))
    async with asyncio.timeout(WAIT):
        while not passwords.running:
            await asyncio.sleep(0.001)  # until the check is with a worker
    for pid in killed:  # the one checking, whichever it is
        os.kill(pid, signal.SIGKILL)
    assert (await asyncio.wait_for(login, WAIT)).username == "slow"
    assert passwords.pids and not set(passwords.pids) & set(killed)
    wrong = await server.connect()  # and the new worker tells a wrong password apart
    with pytest.raises(ChatError) as caught:
        await wrong.login("slow", "not the password")
    assert caught.value.code == ErrorCode.BAD_CREDENTIALS


async def test_many_checks_are_answered_when_every_worker_is_killed_under_them() -> None:
    hasher = PasswordHasher(cost=10, workers=2)  # ~70 ms a check: killed mid-queue
    try:
        right = await hasher.hash("right")
        checks = [
            asyncio.create_task(hasher.verify("right" if n % 2 else "wrong", right))
            for n in range(20)
        ]
        async with asyncio.timeout(WAIT):
            while hasher.running < len(checks):
                await asyncio.sleep(0)  # until every check is with a worker
        killed = hasher.pids
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        answers = await asyncio.wait_for(asyncio.gather(*checks), WAIT)
        assert answers == [n % 2 == 1 for n in range(20)]
        assert len(hasher.pids) == 2 and not set(hasher.pids) & set(killed)
    finally:
        await hasher.close()


async def test_a_check_given_up_before_a_worker_is_free_is_never_hashed() -> None:
    """A flood of logins whose clients hang up must not keep the workers busy (nor keep a
    stopping server waiting) with checks nobody waits for."""
    hasher = PasswordHasher(cost=8, workers=1)  # ~17 ms a check
    try:
        right = await hasher.hash("right")
        handed = hasher.handed
        checks = [asyncio.create_task(hasher.verify("right", right)) for _ in range(AHEAD + 8)]
        async with asyncio.timeout(WAIT):
            while hasher.running < len(checks):
                await asyncio.sleep(0)
        assert hasher.handed - handed == AHEAD  # the rest wait their turn here
        for check in checks[AHEAD:]:
            check.cancel()
        assert await hasher.verify("wrong", right) is False
        assert await asyncio.gather(*checks[:AHEAD]) == [True] * AHEAD
        assert hasher.handed - handed == AHEAD + 1  # the eight given up were never sent
        assert all(check.cancelled() for check in checks[AHEAD:])
    finally:
        await hasher.close()


async def test_a_server_killed_outright_leaves_no_password_worker(tmp_path: Path) -> None:
    server = await spawn_server(tmp_path)
    client = await ChatClient.connect("127.0.0.1", server.port)
    await client.register("alice", PASSWORD)
    await client.login("alice", PASSWORD)  # the worker is running now
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == bcrypt_workers()
    server.process.kill()
    assert await server.process.wait() == -signal.SIGKILL
    # The worker shared the server's standard error: it ends only once the worker is gone.
    assert server.process.stderr is not None
    await asyncio.wait_for(server.process.stderr.read(), WAIT)
    await client.close()


async def test_new_hashes_wait_their_turn_unless_more_at_once_are_allowed() -> None:
    """The server lets one new-password hash at a time through (a registration flood must
    not queue ahead of logins); chatroom-admin, creating a class, hashes on every core."""
    for at_once in (1, 2):
        hasher = PasswordHasher(cost=10, workers=2, new_at_once=at_once)  # ~70 ms a hash
        try:
            hashing = [asyncio.create_task(hasher.hash(f"password {n}")) for n in range(2)]
            most = 0
            async with asyncio.timeout(WAIT):
                while not all(task.done() for task in hashing):
                    most = max(most, hasher.running)
                    await asyncio.sleep(0)  # a turn of the loop: look again
            assert most == at_once
            assert await hasher.verify("password 1", hashing[1].result())
        finally:
            await hasher.close()


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (64, MOST_WORKERS)])
async def test_one_worker_a_core_up_to_a_bound(
    cores: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a big machine, not 64 interpreters of 12 MB each for the passwords."""
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    hasher = PasswordHasher(cost=4)
    try:
        await hasher.start()
        assert len(hasher.pids) == workers
        assert await hasher.verify("right", await hasher.hash("right"))
    finally:
        await hasher.close()
