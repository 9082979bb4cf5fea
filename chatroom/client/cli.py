"""`chatroom`: the terminal client, and file transfer from the command line.

    chatroom [--host H] [--port P] [--downloads DIR]     open the TUI on its menu
    chatroom send-file [--to USER] PATH                  upload (to the group without --to)
    chatroom get-file FID [--dest DIR]                   download

The file commands log in with `--user` (or $CHATROOM_USER) and $CHATROOM_PASSWORD, asking
for whatever is missing. Failures are one line on standard error and exit code 1 (2 for
bad usage), never a traceback.
"""

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from chatroom.client.api import ChatClient, describe_os_error, tls_context
from chatroom.client.visible import visible
from chatroom.common.errors import ChatError
from chatroom.common.limits import DEFAULT_HOST, DEFAULT_PORT
from chatroom.utils.args import OneLineParser
from chatroom.utils.paths import default_downloads_dir

EXIT_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="chatroom", description="The chatroom terminal client.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="server address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="server port")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument(
        "--cafile", type=Path, default=None, help="trust this CA certificate (PEM); implies --tls"
    )
    parser.add_argument(
        "--downloads",
        type=Path,
        default=None,
        help="where received files are saved (default: a chatroom folder in your downloads)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    send = commands.add_parser("send-file", help="upload a file to a user or the group")
    send.add_argument("path", type=Path, metavar="PATH")
    send.add_argument("--to", default=None, help="recipient (default: the group)")
    get = commands.add_parser("get-file", help="download a file by its id")
    get.add_argument("fid", type=int, metavar="FID")
    get.add_argument("--dest", type=Path, default=None, help="folder to save into")
    for command in (send, get):
        command.add_argument("--user", default=os.environ.get("CHATROOM_USER"), help="username")
    return parser


async def _logged_in(args: argparse.Namespace) -> ChatClient:
    user = args.user or input("Username: ")
    password = os.environ.get("CHATROOM_PASSWORD") or getpass.getpass(f"Password for {user}: ")
    client = await ChatClient.connect(args.host, args.port, tls=tls_context(args.tls, args.cafile))
    try:
        await client.hello("chatroom-cli")  # for the server's limits, such as max_chunk
        await client.login(user, password)
    except BaseException:
        await client.close()
        raise
    return client


def _progress_bar() -> Progress:
    """A transfer's progress; its description is Rich markup, so file names go through
    `_label` first."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=False,
    )


def _label(name: str) -> str:
    """A file name for a progress bar: its control characters as escapes, its brackets not
    read as markup."""
    return escape(visible(name))


async def send_file(args: argparse.Namespace) -> str:
    if not args.path.is_file():
        raise FileNotFoundError(f"{args.path} is not a file")
    client = await _logged_in(args)
    try:
        with _progress_bar() as bar:
            task = bar.add_task(f"sending {_label(args.path.name)}", total=args.path.stat().st_size)
            sent = await client.send_file(
                args.path, args.to, progress=lambda done, _: bar.update(task, completed=done)
            )
        await client.logout()
    finally:
        await client.close()
    return f"sent {args.path.name} to {args.to or 'the group'} as file {sent.fid}"


async def get_file(args: argparse.Namespace) -> str:
    client = await _logged_in(args)
    try:
        info = await client.file_info(args.fid)
        with _progress_bar() as bar:
            task = bar.add_task(f"receiving {_label(info.name)}", total=info.size)
            saved = await client.download(
                args.fid,
                args.dest or args.downloads or default_downloads_dir(),
                progress=lambda done, _: bar.update(task, completed=done),
            )
        await client.logout()
    finally:
        await client.close()
    return f"saved {saved}"


COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[str]]] = {
    "send-file": send_file,
    "get-file": get_file,
}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command is None:
        from chatroom.client.tui.app import ChatApp  # Textual loads only for the TUI

        ChatApp(
            args.host,
            args.port,
            downloads=args.downloads or default_downloads_dir(),
            tls=tls_context(args.tls, args.cafile),
        ).run()
        return
    try:
        print(asyncio.run(COMMANDS[args.command](args)))
    except ChatError as error:
        sys.exit(f"chatroom: {error.code}: {error.message}")
    except FileNotFoundError as error:
        sys.exit(f"chatroom: {error}")
    except OSError as error:
        sys.exit(f"chatroom: {args.host}:{args.port}: {describe_os_error(error)}")
    except (KeyboardInterrupt, EOFError):
        sys.exit("chatroom: interrupted")
