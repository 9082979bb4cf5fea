"""Logins and resumes racing something that must shut a user out (a new password, a ban):
the sessions they open, for a test to check that none outlives it."""

import asyncio
from collections.abc import Awaitable, Callable

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError, ErrorCode
from tests.conftest import PASSWORD, WAIT, RunningServer

LOGINS, RESUMES = 8, 16


async def sessions_racing(
    server: RunningServer, username: str, shut_out: Callable[[], Awaitable[object]]
) -> list[tuple[ChatClient, str]]:
    """Eight clients log in as `username` again and again, and four resume with the token
    of one of those logins, while `shut_out` runs: each stops once it is refused (or sent
    away before its reply), or once it gets in after `shut_out` ended. The sessions they
    opened, each with its resume token (the server needs `login_attempts` raised)."""
    opened: list[tuple[ChatClient, str]] = []
    logged_in, done = asyncio.Event(), asyncio.Event()

    async def keep_entering(enter: Callable[[ChatClient], Awaitable[str]]) -> None:
        while True:
            client = await server.connect()
            try:
                token = await enter(client)
            except ChatError as error:
                await client.close()
                if error.code != ErrorCode.TOO_MANY_ATTEMPTS:
                    return  # shut out: the check saw it
                continue  # too many at once: again
            except ConnectionError:  # in, and sent away before the reply
                return
            opened.append((client, token))
            if len(opened) >= LOGINS:
                logged_in.set()
            if done.is_set():
                return

    async def log_in(client: ChatClient) -> str:
        return (await client.login(username, PASSWORD)).resume_token or ""

    racers = [asyncio.create_task(keep_entering(log_in)) for _ in range(LOGINS)]
    await asyncio.wait_for(logged_in.wait(), WAIT)
    token = opened[0][1]

    async def resume(client: ChatClient) -> str:
        await client.resume(token)
        return token

    racers += [asyncio.create_task(keep_entering(resume)) for _ in range(RESUMES)]
    await shut_out()
    done.set()
    await asyncio.wait_for(asyncio.gather(*racers), WAIT)
    return opened
