"""The bot printed in docs/library.md works, word for word, against a real server."""

import asyncio
import os
import sys
from pathlib import Path

from chatroom.client import ChatClient
from chatroom.common.messages import MessagePush
from tests.conftest import WAIT, RunningServer, documented_program, next_push

DOC = Path(__file__).parent.parent / "docs" / "library.md"
BOT_PASSWORD = "botpassword1"


def echo_bot_source() -> str:
    return documented_program(DOC, "echo_bot.py")


async def answer_to(alice: ChatClient, text: str) -> MessagePush:
    """Send `text` to the bot privately; its answer."""
    await alice.private("echo", text)
    return await next_push(alice, MessagePush, sender="echo", text=f"you said: {text}")


async def test_the_documented_bot_answers_each_message_once_across_a_restart(
    server: RunningServer, tmp_path: Path
) -> None:
    """It answers what came while it was away, then what comes, and carries on by itself
    after the server restarts. A message an earlier run answered but did not ack comes
    again, and its answer is not sent twice (the cid)."""
    script = tmp_path / "echo_bot.py"
    script.write_text(echo_bot_source())
    await server.register("echo", BOT_PASSWORD)
    alice = await server.login("alice")
    away = await alice.private("echo", "sent while you were away")
    earlier_run = await server.login("echo", BOT_PASSWORD)  # answers, dies before its ack
    await next_push(earlier_run, MessagePush, mid=away.mid)
    await earlier_run.private("alice", "you said: sent while you were away", cid=f"echo-{away.mid}")
    await earlier_run.close()
    bot = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "127.0.0.1", str(server.port),
        env={**os.environ, "BOT_PASSWORD": BOT_PASSWORD},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert bot.stdout is not None
        first = await asyncio.wait_for(bot.stdout.readline(), WAIT)
        assert first == b"logged in; 1 came while I was away\n"  # the one not acked
        await answer_to(alice, "and now?")
        await server.restart()  # the bot's connection ends; it connects again
        alice = await server.login("alice")
        await answer_to(alice, "after the restart")
    finally:
        bot.kill()
        out, err = await asyncio.wait_for(bot.communicate(), WAIT)
    assert b"Traceback" not in err, err.decode()
    lines = out.decode().splitlines()
    assert any(line.startswith("logged in; ") for line in lines), lines  # after the restart
    answers = [
        item.text
        async for page in alice.history(with_user="echo")
        for item in page
        if item.sender == "echo"
    ]
    assert sorted(answers) == [
        "you said: after the restart",
        "you said: and now?",
        "you said: sent while you were away",
    ]


async def test_the_documented_bot_says_what_is_missing_in_one_line(
    server: RunningServer, tmp_path: Path
) -> None:
    script = tmp_path / "echo_bot.py"
    script.write_text(echo_bot_source())
    await server.register("echo", BOT_PASSWORD)
    for env, said in [
        ({}, "echo_bot: set BOT_PASSWORD"),
        ({"BOT_PASSWORD": "not its password"}, "echo_bot: bad_credentials: "),
    ]:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, str(script), "127.0.0.1", str(server.port),
            env={**{k: v for k, v in os.environ.items() if k != "BOT_PASSWORD"}, **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(bot.communicate(), WAIT)
        assert bot.returncode == 1
        assert len(err.decode().splitlines()) == 1 and err.decode().startswith(said), err
