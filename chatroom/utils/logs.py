"""Log set-up shared by the command-line programs."""

import atexit
import logging
import queue
import sys
import threading
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LINGER = 0.05
"""Seconds the server's log writer waits, once a line has come, for more to write with it."""
BACKLOG = 10_000
"""Lines the server's log writer keeps waiting at most (some 10 MiB); more are counted and
left out until standard error takes lines again."""


def setup_logging(level: str, background: bool = False) -> None:
    """Log lines with a timestamp, level and logger name to standard error.

    With `background` (the server), a thread of its own writes them (`LogWriter`): the
    event loop only puts each record on a queue, so a slow reader of standard error (a
    full pipe) never stalls every connection. Nor does one that never reads fill the
    memory: past BACKLOG lines waiting, the rest are counted, not kept. What is queued is
    written out when the program exits.
    """
    logging.basicConfig(level=level.upper(), format=FORMAT)
    if background:
        # What FORMAT does not show is not looked up for every record (the logging HOWTO's
        # "Optimization"): the calling function's file and line (a walk up the stack), the
        # thread, and the process (a system call).
        logging._srcfile = None
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        root = logging.getLogger()
        writer = LogWriter(sys.stderr, logging.Formatter(FORMAT))
        root.handlers = [QueueToWriter(writer)]
        writer.start()
        atexit.register(writer.stop)
    # aiosqlite logs every statement with its parameters at DEBUG: password hashes, token
    # hashes, private texts. Nothing secret goes into the logs at any level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


class QueueToWriter(logging.Handler):
    """Hands each record to a `LogWriter` with its message filled in, and does nothing
    else on the caller's thread: the timestamp and the line are made by the writer's
    thread. (logging's own QueueHandler formats the whole line and copies the record
    first, for queues to other processes.)"""

    def __init__(self, writer: "LogWriter") -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Now, not later: an argument changed after the call must not change the line.
            record.msg, record.args = record.getMessage(), None
        except Exception:  # as logging's own handlers do: say so on stderr, carry on
            self.handleError(record)
            return
        self._writer.put(record)


class LogWriter:
    """Writes the log records put on `records` to a stream, from a thread of its own and
    a batch at a time: once a record comes, it waits LINGER for more, then writes them
    all at once. A login storm logs two lines a login; written one by one, each line
    woke the thread and took the interpreter from the event loop and back (a tenth of
    the server's time a login, measured); now that is once every LINGER.

    A stream that takes nothing (a pipe no one reads) holds the thread in its write. The
    records then wait, up to `backlog` of them; those that come after are counted, and
    the count is written as a line of its own once the stream takes lines again."""

    def __init__(
        self, stream: TextIO, formatter: logging.Formatter, backlog: int = BACKLOG
    ) -> None:
        self._records: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        """What to write; None asks the writer to stop, once it has written the rest."""
        self._stream = stream
        self._formatter = formatter
        self._backlog = backlog
        self._left_out = 0
        self._counting = threading.Lock()
        self._thread = threading.Thread(target=self._write_batches, name="log", daemon=True)

    def put(self, record: logging.LogRecord) -> None:
        """Queue `record`, or count it as left out if the backlog is full."""
        if self._records.qsize() < self._backlog:
            self._records.put(record)
        else:
            with self._counting:
                self._left_out += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, and stop."""
        self._records.put(None)
        self._thread.join()

    def _write_batches(self) -> None:
        while True:
            batch = [self._records.get()]
            if batch[0] is not None:
                time.sleep(LINGER)
            while not self._records.empty():
                batch.append(self._records.get())
            with self._counting:
                left_out, self._left_out = self._left_out, 0
            if left_out:
                batch.append(self._left_out_record(left_out))
            lines = [
                self._formatter.format(record) + "\n" for record in batch if record is not None
            ]
            if lines:
                self._stream.write("".join(lines))
                self._stream.flush()
            if None in batch:
                return

    def _left_out_record(self, count: int) -> logging.LogRecord:
        return logging.makeLogRecord(
            {
                "name": "chatroom.log",
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"{count} log lines left out: standard error took nothing while "
                f"{self._backlog} waited",
            }
        )
