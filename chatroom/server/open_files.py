"""Open files: every connection is one (`chatroom.utils.open_files`).

Past the process's limit, accepting a connection fails inside the event loop, where no
`error` can be sent, and so does opening an upload's file: one address's thousand idle
connections would make every user's files fail with `server_error`. So the server raises
its limit as far as `--max-connections` needs, and where the hard limit stops it, lets in
only the connections that leave room for the rest; the others get
`too_many_connections`, as when the server is full.
"""

from chatroom.utils.open_files import UNLIMITED, raise_open_files

SPARE_FILES = 256
"""Descriptors kept for all but the clients' connections: the listening socket, the
database's files (or a PostgreSQL pool's and Redis's connections: at most 10 and 32), the
password workers' pipes, the log, and files being uploaded and downloaded (each open
for one write or read, a few at a time). An idle server on SQLite holds 27."""


def connections_that_fit(wanted: int) -> tuple[int, str | None]:
    """Raise this process's soft limit on open files towards `wanted` connections and
    SPARE_FILES more, as far as the hard limit allows; the connections that then fit,
    and, if that is fewer than `wanted`, a line that says why and what to do."""
    needed = wanted + SPARE_FILES
    soft, hard = raise_open_files(needed)
    if soft == UNLIMITED or soft >= needed:
        return wanted, None
    fit = soft - min(SPARE_FILES, soft // 2)
    why = (
        f"this process may open {soft:,} files (ulimit -n; its hard limit is "
        f"{'unlimited' if hard == UNLIMITED else f'{hard:,}'}), so it takes "
        f"{fit:,} connections at once, not --max-connections {wanted:,}: raise the limit "
        f"(ulimit -Hn as root, or LimitNOFILE= in a systemd unit) to take more"
    )
    return fit, why
