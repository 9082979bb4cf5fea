"""`chatroom`: open the terminal client on its menu."""

import argparse

from chatroom.common.limits import DEFAULT_HOST, DEFAULT_PORT
from chatroom.utils.args import OneLineParser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="chatroom", description="The chatroom terminal client.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="server address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="server port")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from chatroom.client.tui.app import ChatApp  # Textual loads only when the TUI runs

    ChatApp(args.host, args.port).run()
