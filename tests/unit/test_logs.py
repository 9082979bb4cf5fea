"""The server's log writer: records from any thread, written a batch at a time."""

import io
import logging
import logging.handlers
import threading

from chatroom.utils.logs import LogWriter, QueueToWriter


class CountedWrites(io.StringIO):
    """A stream that counts the writes it is given."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_logged_at_once_from_many_threads_are_all_written_in_order_in_few_writes() -> None:
    stream = CountedWrites()
    writer = LogWriter(stream, logging.Formatter("%(threadName)s %(message)s"))
    logger = logging.Logger("many")
    logger.addHandler(logging.handlers.QueueHandler(writer.records))
    writer.start()
    start = threading.Barrier(4)

    def log_lines() -> None:
        start.wait()
        for number in range(500):
            logger.warning("line %d", number)

    threads = [threading.Thread(target=log_lines, name=f"t{n}") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.warning("the last, just before the writer stops")
    writer.stop()  # writes what is queued first

    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 * 500 + 1 and lines[-1].endswith("just before the writer stops")
    for n in range(4):
        assert [line for line in lines if line.startswith(f"t{n} ")] == [
            f"t{n} line {number}" for number in range(500)
        ]
    assert stream.writes < 100  # batched: 2,001 lines, one write per batch


def test_a_line_says_what_its_arguments_were_when_it_was_logged_not_when_written() -> None:
    stream = CountedWrites()
    writer = LogWriter(stream, logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.Logger("queued")
    logger.addHandler(QueueToWriter(writer.records))
    who = ["alice"]
    logger.warning("online: %s", who)  # queued, not yet written
    who.append("bob")
    logger.error("%d online", len(who))
    writer.start()
    writer.stop()
    assert stream.getvalue().splitlines() == [
        "WARNING queued: online: ['alice']",
        "ERROR queued: 2 online",
    ]
