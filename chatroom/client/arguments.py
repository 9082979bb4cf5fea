"""The command line of `chatroom`: the app's flags, and each command's (see cli.py)."""

import argparse
from pathlib import Path

from chatroom.client.api import parse_servers
from chatroom.common.limits import DEFAULT_HOST, DEFAULT_PORT, SEARCH_DEFAULT, SEARCH_MAX
from chatroom.utils.args import OneLineParser, count, port, utf8_text

HISTORY_DEFAULT = 50
"""Messages `chatroom history` prints without --limit: a screenful or two."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="chatroom", description="The chatroom terminal client.")
    _shared_flags(parser)
    parser.add_argument(
        "--downloads",
        type=Path,
        default=None,
        help="where received files are saved (default: a chatroom folder in your downloads)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    say = commands.add_parser("send", help="send a message to a user, a room or the group")
    say.add_argument(
        "words",
        nargs="*",
        type=utf8_text,
        metavar="TEXT",
        help="the message (default: standard input, piped)",
    )
    send = commands.add_parser("send-file", help="upload a file to a user, a room or the group")
    send.add_argument("path", type=Path, metavar="PATH")
    for command in (say, send):
        where = command.add_mutually_exclusive_group()
        where.add_argument(
            "--to", type=utf8_text, default=None, help="recipient (default: the group)"
        )
        where.add_argument("--room", type=utf8_text, default=None, help="a room you are in")
    get = commands.add_parser("get-file", help="download a file by its id")
    get.add_argument("fid", type=count, metavar="FID")
    get.add_argument("--dest", type=Path, default=None, help="folder to save into")
    history = commands.add_parser("history", help="print a conversation, one message a line")
    how_many = history.add_mutually_exclusive_group()
    how_many.add_argument(
        "--limit", type=count, default=HISTORY_DEFAULT, help="the newest N (default: 50)"
    )
    how_many.add_argument("--all", action="store_true", help="every message, back to the first")
    search = commands.add_parser("search", help="print the messages with every word, newest first")
    search.add_argument("words", nargs="+", type=utf8_text, metavar="WORD")
    search.add_argument(
        "--limit", type=count, default=SEARCH_DEFAULT, help=f"at most N (up to {SEARCH_MAX})"
    )
    for command in (history, search):
        named = command.add_mutually_exclusive_group()
        named.add_argument(
            "--room", type=utf8_text, default=None, help="a room you are in (history: the lobby)"
        )
        named.add_argument(
            "--with", dest="with_user", type=utf8_text, default=None, help="a private conversation"
        )
    for command in (say, send, get, history, search):
        _shared_flags(command, after_command=True)
    return parser


def _shared_flags(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """Who logs in, and where the server is: before the command (`chatroom --port 9
    history`) or after it (`chatroom history --port 9`). After it, a flag not given leaves
    the one before it be."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    parser.add_argument(
        "--user",
        type=utf8_text,
        default=default(None),
        help="who logs in (default: $CHATROOM_USER, else the settings file's username: the "
        "app's last login); the app's login form offers it",
    )
    parser.add_argument(
        "--host",
        type=_servers,
        default=default(None),
        help="server address, or several nodes of one chatroom tried in turn "
        f"(a:8888,b:8888,c) (default: the settings file's, else {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=port,
        default=default(None),
        help=f"server port (default: the settings file's, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--tls", action="store_true", default=default(False), help="connect with TLS"
    )
    parser.add_argument(
        "--trace",
        metavar="FILE",
        default=default(None),
        help="write every frame in and out to FILE, one per line (- for standard error, "
        "for the commands: the terminal app needs it)",
    )
    parser.add_argument(
        "--cafile",
        type=Path,
        default=default(None),
        help="trust this CA certificate (PEM); implies --tls",
    )


def _servers(text: str) -> str:
    try:
        parse_servers(utf8_text(text), DEFAULT_PORT)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text
