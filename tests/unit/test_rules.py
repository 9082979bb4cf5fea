"""A connection's ordering and timeout rules, fed frames and times: no socket, no clock."""

from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason
from chatroom.server.rules import Outbox, frame_deadline, next_wait


def test_a_reply_goes_ahead_of_the_pushes_held_while_it_ran() -> None:
    outbox = Outbox()
    outbox.push(b"before", most_held=100)
    outbox.hold()
    assert outbox.push(b"live-1", most_held=100) and outbox.push(b"live-2", most_held=100)
    outbox.reply(b"reply")
    outbox.release()
    assert outbox.take() == b"before" + b"reply" + b"live-1" + b"live-2"
    assert outbox.take() == b"" and outbox.queued_bytes == 0


def test_too_much_held_back_is_reported() -> None:
    outbox = Outbox()
    outbox.hold()
    assert outbox.push(b"x" * 10, most_held=10)
    assert not outbox.push(b"y", most_held=10)  # the caller drops the client as a slow consumer


def test_queued_bytes_count_what_waits() -> None:
    outbox = Outbox()
    outbox.reply(b"abc")
    outbox.push(b"de", most_held=10)
    assert outbox.queued_bytes == 5
    outbox.reply(b"fghi")  # counted from where the last count stopped
    assert outbox.queued_bytes == 9 and outbox.queued_bytes == 9
    outbox.take()
    assert outbox.queued_bytes == 0
    outbox.reply(b"j")
    assert outbox.queued_bytes == 1


LIMITS = Limits(login_timeout=30, idle_timeout=90, frame_timeout=10)
INFINITY = float("inf")


def test_before_login_the_login_deadline_wins() -> None:
    login_by = 100 + LIMITS.login_timeout
    assert next_wait(LIMITS, 100, login_by, None) == (30, ByeReason.LOGIN_TIMEOUT)
    assert next_wait(LIMITS, 125, login_by, None) == (5, ByeReason.LOGIN_TIMEOUT)
    assert next_wait(LIMITS, 125, INFINITY, None) == (90, ByeReason.IDLE)  # logged in


def test_a_begun_frame_must_finish_however_it_dribbles() -> None:
    frame_by = frame_deadline(LIMITS, 50, None, buffered_before=3, buffered_after=3)  # half
    assert next_wait(LIMITS, 55, INFINITY, frame_by) == (5, ByeReason.FRAME_TIMEOUT)
    frame_by = frame_deadline(LIMITS, 58, frame_by, 4, 4)  # one more byte: no reprieve
    assert next_wait(LIMITS, 59, INFINITY, frame_by) == (1, ByeReason.FRAME_TIMEOUT)


def test_a_finished_frame_starts_the_next_ones_clock() -> None:
    frame_by = frame_deadline(LIMITS, 50, None, buffered_before=3, buffered_after=3)
    frame_by = frame_deadline(LIMITS, 58, frame_by, 20, 2)  # a frame ended, one began
    assert next_wait(LIMITS, 58, INFINITY, frame_by) == (10, ByeReason.FRAME_TIMEOUT)
    frame_by = frame_deadline(LIMITS, 59, frame_by, 12, 0)  # nothing pending
    assert frame_by is None
    assert next_wait(LIMITS, 59, INFINITY, frame_by) == (90, ByeReason.IDLE)
