"""Reconnection's rules, without a server: the backoff schedule and what is retried."""

import itertools

from chatroom.client.reconnect import backoff
from chatroom.client.servers import RETRYABLE
from chatroom.common.errors import ChatError, ErrorCode


def test_backoff_doubles_from_the_first_delay_up_to_the_most() -> None:
    assert list(itertools.islice(backoff(1.0, 2.0, 30.0), 7)) == [1, 2, 4, 8, 16, 30, 30]


def test_backoff_starts_again_from_the_first_delay_each_time_it_is_called() -> None:
    delays = backoff(0.5, 3.0, 10.0)
    assert [next(delays), next(delays)] == [0.5, 1.5]
    assert next(backoff(0.5, 3.0, 10.0)) == 0.5


def test_a_refused_or_timed_out_connection_is_retried_but_a_refusal_by_the_server_is_not() -> None:
    assert isinstance(ConnectionRefusedError(), RETRYABLE)
    assert isinstance(TimeoutError(), RETRYABLE)
    assert not isinstance(ChatError(ErrorCode.BAD_CREDENTIALS, "no"), RETRYABLE)
