"""A process's limit on open files (`ulimit -n`), raised as far as a program needs.

Linux gives a process a soft limit (often 1,024) that it may raise itself up to a hard
limit (often 524,288 under systemd). Every connection is an open file, so a server or a
load generator of thousands of connections raises its soft limit before it starts.
"""

import resource

UNLIMITED = resource.RLIM_INFINITY


def raise_open_files(needed: int) -> tuple[int, int]:
    """Raise this process's soft limit on open files to `needed`, if it is lower, as far
    as the hard limit allows; the soft and hard limits then (`UNLIMITED` for none)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == UNLIMITED or soft >= needed:
        return soft, hard
    raised = needed if hard == UNLIMITED else min(hard, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    except (ValueError, OSError):  # macOS refuses more than its own ceiling
        return soft, hard
    return raised, hard
