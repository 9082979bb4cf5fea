"""The server's log writer: records from any thread, written a batch at a time."""

import fcntl
import io
import logging
import os
import struct
import termios
import threading
import time

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
    logger.addHandler(QueueToWriter(writer))
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
    logger.addHandler(QueueToWriter(writer))
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


def unread_bytes(pipe: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0" * 4))[0])


def test_a_stream_that_takes_nothing_holds_the_backlog_and_a_count_of_the_rest() -> None:
    reading, writing = os.pipe()
    stream = open(writing, "w")  # noqa: SIM115 (closed below, after the writer stops)
    writer = LogWriter(stream, logging.Formatter("%(name)s: %(message)s"), backlog=1_000)
    logger = logging.Logger("flood")
    logger.addHandler(QueueToWriter(writer))
    writer.start()
    logger.warning("x" * 1_000_000)  # more than the pipe holds: the writer is stuck in it
    deadline = time.monotonic() + 10
    while unread_bytes(reading) < 65_536:  # the pipe's size on Linux
        assert time.monotonic() < deadline, "the writer never filled the pipe"
        time.sleep(0.01)
    for number in range(5_000):
        logger.warning("line %d", number)

    out = bytearray()
    drain = threading.Thread(target=lambda: out.extend(read_to_end(reading)))
    drain.start()
    writer.stop()
    stream.close()
    drain.join(10)
    lines = out.decode().splitlines()
    assert lines[0] == "flood: " + "x" * 1_000_000
    assert lines[1:-1] == [f"flood: line {number}" for number in range(1_000)]
    assert lines[-1] == (
        "chatroom.log: 4000 log lines left out: standard error took nothing while 1000 waited"
    )


def read_to_end(pipe: int) -> bytes:
    chunks = []
    while chunk := os.read(pipe, 1 << 20):
        chunks.append(chunk)
    os.close(pipe)
    return b"".join(chunks)
