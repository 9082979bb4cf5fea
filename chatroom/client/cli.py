"""`chatroom`: the terminal client, and file transfer and reading from the command line.

    chatroom [--host H] [--port P] [--user U] [--downloads DIR]
                                                         open the TUI on its menu
                                                         (--host a:8888,b:8888: any of them)
    chatroom send [--to USER | --room R] [TEXT...]       a message (TEXT, else standard input)
    chatroom send-file [--to USER | --room R] PATH       upload (to the group without either)
    chatroom get-file FID [--dest DIR]                   download
    chatroom history [--room R | --with U] [--limit N | --all]   oldest to newest
    chatroom search [--room R | --with U] [--limit N] WORD...    newest first

`history` and `search` print one message per line, for pipes (see `transcript`). The
commands log in with `--user` (or $CHATROOM_USER, else the username the app last logged
in with) and $CHATROOM_PASSWORD, asking for whatever is missing. Failures are one line
on standard error and exit code 1 (2 for bad usage), never a traceback. The command line
itself is read as arguments.py says.
"""

import argparse
import asyncio
import contextlib
import os
import ssl
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import NoReturn

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from chatroom.client import asking
from chatroom.client.api import (
    ChatClient,
    ServerList,
    describe_os_error,
    explained,
    parse_servers,
    tls_context,
)
from chatroom.client.arguments import build_parser
from chatroom.client.settings import load as load_settings
from chatroom.client.settings import settings_path
from chatroom.client.transcript import line, recent
from chatroom.common.errors import ChatError
from chatroom.common.limits import LOBBY
from chatroom.common.visible import visible
from chatroom.utils.args import (
    EXIT_USAGE,
    is_utf8,
    os_reason,
)
from chatroom.utils.paths import default_downloads_dir
from chatroom.utils.tracing import TO_STDERR, trace_writer

EXIT_FAILED = 1


def _trace_to(where: str | None, tui: bool) -> Callable[[str], None] | None:
    """Where `--trace` writes, or None; exits in one line (2) if it cannot."""
    if where is None:
        return None
    if where == TO_STDERR and tui:
        _usage_error("--trace -: the terminal app uses the terminal: give a file")
    try:
        return trace_writer(where)
    except OSError as error:
        _usage_error(f"cannot write the trace to {where}: {os_reason(error)}")


def _usage_error(message: str) -> NoReturn:
    """Say `message` in one line and exit as for bad usage."""
    print(f"chatroom: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


class NotOnThisServer(Exception):
    """The server lacks what the command needs: a feature its `hello` does not offer."""


async def _logged_in(args: argparse.Namespace, needs: str | None = None) -> ChatClient:
    """A client logged in as the command's user; first, if the command `needs` a feature
    (rooms, history, search), the server must offer it. A server of the protocol's first
    version offers none: it would take a message with a `room` as one to the group."""
    try:
        user = args.user or asking.username()
        password = os.environ.get("CHATROOM_PASSWORD") or asking.password(user)
    except asking.Unanswered as missing:
        _usage_error(str(missing))
    if not is_utf8(user):  # (typed at the prompt: --user was checked as an argument)
        _usage_error(f"the username is not UTF-8 text: {user!a}")
    if not is_utf8(password):  # in $CHATROOM_PASSWORD, or typed; not shown: a password
        _usage_error("the password is not UTF-8 text")
    tls = tls_context(args.tls, args.cafile)
    # pull: a command reads no pushes, so the server need not replay the mailbox
    client = await ServerList(args.servers, args.trace_to).connect(tls=tls, pull=True)
    try:
        await client.hello("chatroom-cli")  # for the server's limits, and features
        if needs is not None and needs not in client.offered:
            why = (
                "it speaks the protocol's first version"
                if client.first_version
                else "its hello does not offer it"
            )
            raise NotOnThisServer(f"the server has no {needs} ({why})")
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


class LocalFileError(Exception):
    """A file or folder on this machine, not the server, is what failed."""


NETWORK_ERRORS = (ConnectionError, TimeoutError, ssl.SSLError)
"""The OSErrors of the connection; any other during a transfer is a local file's."""


@contextlib.contextmanager
def local_files(what: str) -> Iterator[None]:
    """Make an OSError inside, but the connection's, a `LocalFileError`: "`what`: why"."""
    try:
        yield
    except NETWORK_ERRORS:
        raise
    except OSError as exc:
        raise LocalFileError(f"{what}: {os_reason(exc)}") from None


async def send(args: argparse.Namespace) -> str:
    if args.words:
        text = " ".join(args.words)
    elif sys.stdin.isatty():
        _usage_error("send: give the message's TEXT, or pipe it in")
    else:
        # Bytes that are not UTF-8 become U+FFFD: sent, and seen to be wrong, rather than
        # refused whole. (`echo` ends the text with a line break: not part of it.)
        piped = sys.stdin.buffer.read().decode(errors="replace")
        text = piped.removesuffix("\n")
        if not args.user:  # standard input was the message: nothing left to ask with
            _usage_error("send: with the message piped in, give --user (or $CHATROOM_USER)")
    if not text.strip():
        _usage_error("send: the message is empty")
    client = await _logged_in(args, needs="rooms" if args.room is not None else None)
    try:
        if len(text) > (most := client.limits.max_text):  # said in characters, as typed
            why = f"the message has {len(text):,} characters; the server takes {most:,}"
            raise ChatError("text_too_long", why)
        if args.to is not None:
            sent = await client.private(args.to, text)
        else:
            sent = await client.broadcast(text, room=args.room)
        await client.logout()
    finally:
        await client.close()
    return f"sent to {_where(args)} as message {sent.mid}"


def _where(args: argparse.Namespace) -> str:
    """Where `send` or `send-file` sends, as said when done."""
    return args.to or (f"#{args.room}" if args.room else "the group")


async def send_file(args: argparse.Namespace) -> str:
    if not args.path.is_file():
        raise LocalFileError(f"{args.path} is not a file")
    client = await _logged_in(args, needs="rooms" if args.room is not None else None)
    try:
        with _progress_bar() as bar:
            task = bar.add_task(f"sending {_label(args.path.name)}", total=args.path.stat().st_size)
            with local_files(f"cannot read {args.path}"):
                sent = await client.send_file(
                    args.path,
                    args.to,
                    room=args.room,
                    progress=lambda done, _: bar.update(task, completed=done),
                )
        await client.logout()
    finally:
        await client.close()
    return f"sent {args.path.name} to {_where(args)} as file {sent.fid}"


async def get_file(args: argparse.Namespace) -> str:
    folder = args.dest or args.downloads or default_downloads_dir()
    client = await _logged_in(args)
    try:
        info = await client.file_info(args.fid)
        with _progress_bar() as bar:
            task = bar.add_task(f"receiving {_label(info.name)}", total=info.size)
            with local_files(f"cannot save into {folder}"):
                saved = await client.download(
                    args.fid, folder, progress=lambda done, _: bar.update(task, completed=done)
                )
        await client.logout()
    finally:
        await client.close()
    return f"saved {saved}"


async def history(args: argparse.Namespace) -> str:
    room = args.room if args.room is not None or args.with_user is not None else LOBBY
    client = await _logged_in(args, needs="history")
    try:
        count = None if args.all else args.limit
        messages = await recent(client, room, args.with_user, count)
        await client.logout()
    finally:
        await client.close()
    return "\n".join(line(message) for message in messages)


async def search(args: argparse.Namespace) -> str:
    client = await _logged_in(args, needs="search")
    try:
        query = " ".join(args.words)
        found = await client.search(query, args.room, with_user=args.with_user, limit=args.limit)
        await client.logout()
    finally:
        await client.close()
    return "\n".join(line(hit.push, hit.snippet) for hit in found)


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[None, None, str]]] = {
    "send": send,
    "send-file": send_file,
    "get-file": get_file,
    "history": history,
    "search": search,
}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    path = settings_path()
    settings, problem = load_settings(path)
    if problem:
        print(f"chatroom: {problem}", file=sys.stderr)
    args.host = args.host or settings.host
    args.port = args.port or settings.port
    args.user = args.user or os.environ.get("CHATROOM_USER") or settings.username or None
    try:
        args.servers = parse_servers(args.host, args.port)
    except ValueError as error:  # the settings file's host (a flag's was checked)
        _usage_error(f"{path}: host: {error}")
    args.trace_to = _trace_to(args.trace, tui=args.command is None)
    if args.command is None:
        from chatroom.client.tui.app import ChatApp  # Textual loads only for the TUI
        from chatroom.client.tui.keyboard import tolerate_invalid_utf8

        tolerate_invalid_utf8()
        if args.user:
            settings.username = args.user  # what the login form offers, this time
        ChatApp(
            args.host,
            args.port,
            downloads=args.downloads or default_downloads_dir(),
            tls=tls_context(args.tls, args.cafile),
            settings=settings,
            settings_file=path,
            trace=args.trace_to,
        ).run()
        return
    try:
        output = asyncio.run(COMMANDS[args.command](args))
    except ChatError as error:
        sys.exit(f"chatroom: {error.code}: {explained(error)}")
    except (LocalFileError, NotOnThisServer) as error:
        sys.exit(f"chatroom: {error}")
    except OSError as error:
        servers = ", ".join(map(str, args.servers))
        sys.exit(f"chatroom: {servers}: {describe_os_error(error)}")
    except (KeyboardInterrupt, EOFError):
        sys.exit("chatroom: interrupted")
    if output:
        _print(output)


def _print(output: str) -> None:
    try:
        print(output, flush=True)
    except BrokenPipeError:
        # The reader (`head`, say) has read all it wanted: not a failure. Point standard
        # output at /dev/null so that Python's flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
