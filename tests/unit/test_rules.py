"""A connection's ordering and timeout rules, fed frames and times: no socket, no clock."""

from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason
from chatroom.server.rules import Deadlines, Outbox


def test_a_reply_goes_ahead_of_the_pushes_held_while_it_ran() -> None:
    outbox = Outbox(most_held=100)
    outbox.push(b"before")
    outbox.hold()
    assert outbox.push(b"live-1") and outbox.push(b"live-2")
    outbox.reply(b"reply")
    outbox.release()
    assert outbox.take() == b"before" + b"reply" + b"live-1" + b"live-2"
    assert outbox.take() == b"" and outbox.queued_bytes == 0


def test_too_much_held_back_is_reported() -> None:
    outbox = Outbox(most_held=10)
    outbox.hold()
    assert outbox.push(b"x" * 10)
    assert not outbox.push(b"y")  # the caller drops the client as a slow consumer


def test_queued_bytes_count_what_waits() -> None:
    outbox = Outbox(most_held=10)
    outbox.reply(b"abc")
    outbox.push(b"de")
    assert outbox.queued_bytes == 5
    outbox.reply(b"fghi")  # counted from where the last count stopped
    assert outbox.queued_bytes == 9 and outbox.queued_bytes == 9
    outbox.take()
    assert outbox.queued_bytes == 0
    outbox.reply(b"j")
    assert outbox.queued_bytes == 1


LIMITS = Limits(login_timeout=30, idle_timeout=90, frame_timeout=10)


def test_before_login_the_login_deadline_wins() -> None:
    deadlines = Deadlines.starting(LIMITS, now=100)
    assert deadlines.next_wait(100, logged_in=False) == (30, ByeReason.LOGIN_TIMEOUT)
    assert deadlines.next_wait(125, logged_in=False) == (5, ByeReason.LOGIN_TIMEOUT)
    assert deadlines.next_wait(125, logged_in=True) == (90, ByeReason.IDLE)


def test_a_begun_frame_must_finish_however_it_dribbles() -> None:
    deadlines = Deadlines.starting(LIMITS, now=0)
    deadlines.read(now=50, buffered_before=3, buffered_after=3)  # half a frame
    assert deadlines.next_wait(55, logged_in=True) == (5, ByeReason.FRAME_TIMEOUT)
    deadlines.read(now=58, buffered_before=4, buffered_after=4)  # one more byte: no reprieve
    assert deadlines.next_wait(59, logged_in=True) == (1, ByeReason.FRAME_TIMEOUT)


def test_a_finished_frame_starts_the_next_ones_clock() -> None:
    deadlines = Deadlines.starting(LIMITS, now=0)
    deadlines.read(now=50, buffered_before=3, buffered_after=3)
    deadlines.read(now=58, buffered_before=20, buffered_after=2)  # a frame ended, one began
    assert deadlines.next_wait(58, logged_in=True) == (10, ByeReason.FRAME_TIMEOUT)
    deadlines.read(now=59, buffered_before=12, buffered_after=0)  # nothing pending
    assert deadlines.next_wait(59, logged_in=True) == (90, ByeReason.IDLE)
