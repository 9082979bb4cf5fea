"""The app in a real pseudo-terminal, as `chatroom` runs it: what reaches it as bytes."""

import asyncio
import fcntl
import os
import re
import signal
import struct
import sys
import termios

from tests.conftest import PASSWORD, WAIT, RunningServer

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-_])")
"""Terminal control sequences, to read what the screen says between them."""


class Terminal:
    """`chatroom` on the far side of a pty of 80 x 24: keys written, the screen read."""

    def __init__(self, port: int, *flags: str) -> None:
        self.port = port
        self.flags = flags
        self.master = -1
        self.process: asyncio.subprocess.Process | None = None
        self.screen = b""

    async def __aenter__(self) -> "Terminal":
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from chatroom.utils.programs import client; client()",
                "--port", str(self.port), *self.flags, stdin=slave, stdout=slave, stderr=slave,
                env=os.environ | {"TERM": "xterm-256color", "CHATROOM_SETTINGS": os.devnull},
                start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(slave)
        os.set_blocking(self.master, False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        os.close(self.master)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    async def shows(self, text: str, timeout: float = WAIT * 4) -> None:
        """Wait until `text` has been drawn (control sequences aside)."""
        async with asyncio.timeout(timeout):
            while text.encode() not in ESCAPES.sub(b"", self.screen):
                try:
                    self.screen += os.read(self.master, 65536)
                except BlockingIOError:
                    await asyncio.sleep(0.02)  # polling the pty: nothing to await on it


async def test_a_byte_that_is_not_utf8_does_not_stop_the_keyboard(
    server: RunningServer,
) -> None:
    """A terminal set to Latin-1 sends "é" as 0xE9. Textual's input thread died on it
    (a traceback on the screen, and no key taken after it): now it is U+FFFD."""
    async with Terminal(server.port) as terminal:
        await terminal.shows("Choose (1-3)")
        terminal.screen = b""
        terminal.type(b"\xe9\xff")
        terminal.type(b"1")  # taken: the login form opens
        await terminal.shows("Password")
        assert b"UnicodeDecodeError" not in terminal.screen


async def test_user_fills_in_the_login_form(server: RunningServer) -> None:
    await server.register("carol")
    async with Terminal(server.port, "--user", "carol") as terminal:
        await terminal.shows("Choose (1-3)")
        terminal.type(b"1")
        await terminal.shows("Password")
        terminal.type(PASSWORD.encode() + b"\r")  # the password only: the name is there
        await terminal.shows("Logged in as carol")
