"""`chatroom-conformance`: grade a server, or referee a client, against docs/protocol.md.

    chatroom-conformance server 127.0.0.1:8888                every level
    chatroom-conformance server 127.0.0.1:9000 --level 3 --junit report.xml
    chatroom-conformance client --port 9999                   serve a client, and judge it

Exit status: 0 when every requirement (or trial) is met, 1 when some are not, 2 when the
command line is wrong or the server cannot be reached.
"""

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from chatroom.client.servers import parse_servers
from chatroom.common.limits import DEFAULT_HOST, DEFAULT_PORT
from chatroom.conformance import checks, referee, report
from chatroom.conformance.requirements import LEVELS, Outcome, check_all
from chatroom.utils.args import EXIT_USAGE, OneLineParser, listening_port, more_than_zero, os_reason

EXIT_UNMET = 1
PROG = "chatroom-conformance"


def parser() -> argparse.ArgumentParser:
    top = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    modes = top.add_subparsers(
        dest="mode", required=True, metavar="{server,client}", parser_class=OneLineParser
    )
    server = modes.add_parser("server", help="check a server against the protocol's requirements")
    server.add_argument("target", metavar="HOST:PORT", help="the server to check")
    server.add_argument("--level", type=int, choices=sorted(LEVELS), default=max(LEVELS),
                        help="check levels 1 to N (default: all): " + "; ".join(
                            f"{n} {what}" for n, what in LEVELS.items()))  # fmt: skip
    server.add_argument("--timeout", type=more_than_zero, default=5.0,
                        help="seconds to wait for each answer (default: 5)")  # fmt: skip
    client = modes.add_parser("client", help="serve a client through a hard network, and judge it")
    client.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    client.add_argument(
        "--port",
        type=listening_port,
        default=DEFAULT_PORT + 1,
        help="port to listen on (0: any free)",
    )
    client.add_argument(
        "--timeout",
        type=more_than_zero,
        default=300.0,
        help="seconds the client has to finish the script (default: 300)",
    )
    for mode in (server, client):
        mode.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
        mode.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for report_file in filter(None, (args.json, args.junit)):
        if not report_file.parent.is_dir():
            return usage_error(f"{report_file}: no such directory to write the report in")
    try:
        if args.mode == "server":
            return asyncio.run(check_server(args))
        return asyncio.run(referee_client(args))
    except KeyboardInterrupt:
        return EXIT_UNMET


async def check_server(args: argparse.Namespace) -> int:
    try:
        (server,) = parse_servers(args.target, DEFAULT_PORT)
    except ValueError as exc:
        return usage_error(f"{exc}" if "," not in args.target else "give one server")
    target = f"{server.host}:{server.port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(server.host, server.port), 10)
        writer.close()
    except TimeoutError:
        return usage_error(f"cannot connect to {target}: no answer within 10 s")
    except OSError as exc:
        return usage_error(f"cannot connect to {target}: {os_reason(exc)}")
    print(f"{PROG}: checking {target}, levels 1 to {args.level}", flush=True)
    shown_level = 0

    def done(outcome: Outcome) -> None:
        nonlocal shown_level
        if outcome.requirement.level != shown_level:
            shown_level = outcome.requirement.level
            print(f"\n{report.heading(shown_level)}")
        print("\n".join(report.outcome_lines(outcome)), flush=True)

    assert checks.REQUIREMENTS  # importing checks registered them
    outcomes = await check_all(server.host, server.port, args.level, args.timeout, done)
    waited = sum(outcome.waited for outcome in outcomes)
    if waited:
        print(f"\n(waited {waited:.0f} s in all for the server's lockouts and rate limits)")
    print(f"\n{report.summary(outcomes)}")
    if not write_reports(args, target, outcomes):
        return EXIT_USAGE
    return 0 if all(outcome.met for outcome in outcomes) else EXIT_UNMET


async def referee_client(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    try:
        outcomes = await referee.referee(args.host, args.port, args.timeout, say)
    except OSError as exc:
        return usage_error(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}")
    print("\nTrials")
    for outcome in outcomes:
        print("\n".join(report.outcome_lines(outcome)))
    print(f"\n{report.summary(outcomes, 'trials survived')}")
    if not write_reports(args, "client", outcomes, lambda level: "client trials"):
        return EXIT_USAGE
    return 0 if all(outcome.met for outcome in outcomes) else EXIT_UNMET


def write_reports(
    args: argparse.Namespace,
    target: str,
    outcomes: list[Outcome],
    suite: Callable[[int], str] = report.heading,
) -> bool:
    """Write the reports asked for; False (and a line saying why) if one cannot be."""
    try:
        if args.json:
            args.json.write_text(report.as_json(target, outcomes))
        if args.junit:
            args.junit.write_text(report.as_junit(target, outcomes, suite))
    except OSError as exc:
        usage_error(f"cannot write the report to {exc.filename}: {os_reason(exc)}")
        return False
    return True


def usage_error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
