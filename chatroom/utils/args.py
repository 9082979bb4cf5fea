"""Command-line parsing shared by the programs: errors as one line, exit code 2."""

import argparse
import os
from typing import NoReturn

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line (argparse adds a usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def os_reason(exc: OSError) -> str:
    """Why an operation failed, for such a line: the system's words for its number,
    `permission denied`, not `[Errno 13] Permission denied: '/the/path'` (asyncio's
    messages add more still). A failed name lookup's number is the resolver's, not the
    system's: its own words, then."""
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    return exc.strerror.lower() if exc.strerror else str(exc)
