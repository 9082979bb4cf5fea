"""Log set-up shared by the command-line programs."""

import atexit
import logging
import logging.handlers
import queue

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str, background: bool = False) -> None:
    """Log lines with a timestamp, level and logger name to standard error.

    With `background` (the server), a thread of its own writes them: the event loop only
    puts each record on a queue, so a slow reader of standard error (a full pipe) never
    stalls every connection, and a login storm's log lines cost the loop no system calls.
    What is queued is written out when the program exits.
    """
    logging.basicConfig(level=level.upper(), format=FORMAT)
    if background:
        root = logging.getLogger()
        writers = root.handlers[:]
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        root.handlers = [logging.handlers.QueueHandler(records)]
        listener = logging.handlers.QueueListener(records, *writers, respect_handler_level=True)
        listener.start()
        atexit.register(listener.stop)
    # aiosqlite logs every statement with its parameters at DEBUG: password hashes, token
    # hashes, private texts. Nothing secret goes into the logs at any level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
