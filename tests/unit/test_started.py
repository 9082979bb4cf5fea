"""`Started`: a request's coroutine run at once up to where it waits, and resumed later
on the connection's own task, as a task would run it."""

import asyncio

import pytest

from chatroom.server.started import Started


async def test_it_runs_at_once_up_to_its_first_wait_and_resumes_when_that_is_done() -> None:
    loop = asyncio.get_running_loop()
    commit: asyncio.Future[int] = loop.create_future()
    steps: list[str] = []

    async def request() -> str:
        steps.append("posted")
        mid = await commit
        steps.append("routed")
        return f"ok {mid}"

    started = Started(request())
    assert steps == ["posted"]  # before anything else runs on the loop
    loop.call_soon(commit.set_result, 7)
    assert await started.result() == "ok 7"
    assert steps == ["posted", "routed"]


async def test_a_run_of_requests_all_reach_the_shared_wait_before_any_goes_on() -> None:
    """A hundred pipelined messages are all posted before the first commit, which
    answers every one of them (one group commit)."""
    loop = asyncio.get_running_loop()
    commit: asyncio.Future[None] = loop.create_future()
    order: list[str] = []

    async def request(number: int) -> int:
        order.append(f"post {number}")
        await commit
        order.append(f"reply {number}")
        return number

    run = [Started(request(number)) for number in range(100)]
    assert order == [f"post {n}" for n in range(100)]
    commit.set_result(None)
    assert [await started.result() for started in run] == list(range(100))
    assert order[100:] == [f"reply {n}" for n in range(100)]


async def test_what_it_waits_for_failing_is_raised_inside_it_where_it_can_be_caught() -> None:
    loop = asyncio.get_running_loop()
    commit: asyncio.Future[int] = loop.create_future()

    async def request() -> str:
        try:
            await commit
        except OSError as exc:
            return f"error {exc}"
        return "ok"

    started = Started(request())
    loop.call_soon(commit.set_exception, OSError("disk full"))
    assert await started.result() == "error disk full"


async def test_an_exception_it_does_not_catch_comes_out_of_result() -> None:
    async def request() -> None:
        await asyncio.sleep(0)  # a bare yield: a turn of the loop
        raise ValueError("broken")

    started = Started(request())
    with pytest.raises(ValueError, match="broken"):
        await started.result()


async def test_it_may_wait_several_times_or_never() -> None:
    async def twice() -> float:
        await asyncio.sleep(0.001)
        await asyncio.sleep(0)
        return await asyncio.get_running_loop().run_in_executor(None, lambda: 2.5)

    async def never() -> str:
        return "at once"

    assert await Started(twice()).result() == 2.5
    assert await Started(never()).result() == "at once"


async def test_carry_on_resumes_only_what_no_longer_waits() -> None:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()
    second: asyncio.Future[None] = loop.create_future()
    steps: list[str] = []

    async def request() -> None:
        await first
        steps.append("after the first")
        await second
        steps.append("after the second")

    started = Started(request())
    assert not started.carry_on() and steps == []  # still waiting: nothing happens
    first.set_result(None)
    assert not started.carry_on() and steps == ["after the first"]  # up to the next wait
    second.set_result(None)
    assert started.carry_on() and steps == ["after the first", "after the second"]
    assert await started.result() is None
