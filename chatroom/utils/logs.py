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


def setup_logging(level: str, background: bool = False) -> None:
    """Log lines with a timestamp, level and logger name to standard error.

    With `background` (the server), a thread of its own writes them (`LogWriter`): the
    event loop only puts each record on a queue, so a slow reader of standard error (a
    full pipe) never stalls every connection. What is queued is written out when the
    program exits.
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
        root.handlers = [QueueToWriter(writer.records)]
        writer.start()
        atexit.register(writer.stop)
    # aiosqlite logs every statement with its parameters at DEBUG: password hashes, token
    # hashes, private texts. Nothing secret goes into the logs at any level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


class QueueToWriter(logging.Handler):
    """Puts each record on a `LogWriter`'s queue with its message filled in, and does
    nothing else on the caller's thread: the timestamp and the line are made by the
    writer's thread. (logging's own QueueHandler formats the whole line and copies the
    record first, for queues to other processes.)"""

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord | None]) -> None:
        super().__init__()
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Now, not later: an argument changed after the call must not change the line.
            record.msg, record.args = record.getMessage(), None
        except Exception:  # as logging's own handlers do: say so on stderr, carry on
            self.handleError(record)
            return
        self._records.put(record)


class LogWriter:
    """Writes the log records put on `records` to a stream, from a thread of its own and
    a batch at a time: once a record comes, it waits LINGER for more, then writes them
    all at once. A login storm logs two lines a login; written one by one, each line
    woke the thread and took the interpreter from the event loop and back (a tenth of
    the server's time a login, measured); now that is once every LINGER."""

    def __init__(self, stream: TextIO, formatter: logging.Formatter) -> None:
        self.records: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        """What to write; None asks the writer to stop, once it has written the rest."""
        self._stream = stream
        self._formatter = formatter
        self._thread = threading.Thread(target=self._write_batches, name="log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, and stop."""
        self.records.put(None)
        self._thread.join()

    def _write_batches(self) -> None:
        while True:
            batch = [self.records.get()]
            if batch[0] is not None:
                time.sleep(LINGER)
            while not self.records.empty():
                batch.append(self.records.get())
            lines = [
                self._formatter.format(record) + "\n" for record in batch if record is not None
            ]
            if lines:
                self._stream.write("".join(lines))
                self._stream.flush()
            if None in batch:
                return
