"""Log set-up shared by the command-line programs."""

import logging


def setup_logging(level: str) -> None:
    """Log lines with a timestamp, level and logger name to standard error."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # aiosqlite logs every statement with its parameters at DEBUG: password hashes, token
    # hashes, private texts. Nothing secret goes into the logs at any level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
