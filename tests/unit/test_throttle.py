"""Rate limits and login lockouts with a clock the test moves: no sleeping."""

import pytest

from chatroom.common.errors import ChatError
from chatroom.server.throttle import AddressRate, LoginThrottle, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(action) -> ChatError:
    with pytest.raises(ChatError) as caught:
        action()
    return caught.value


def test_a_bucket_allows_its_burst_then_one_per_interval() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    for _ in range(3):
        bucket.take()
    error = refused(bucket.take)
    assert error.code == "rate_limited" and error.extra["retry_after"] == 0.5
    clock.now += 0.5
    bucket.take()
    assert refused(bucket.take).code == "rate_limited"


def test_registrations_are_counted_per_address() -> None:
    clock = FakeClock()
    rate = AddressRate(rate=0.1, burst=2, clock=clock)
    rate.take("10.0.0.1", "registrations")
    rate.take("10.0.0.1", "registrations")
    assert refused(lambda: rate.take("10.0.0.1", "registrations")).extra["retry_after"] == 10
    rate.take("10.0.0.2", "registrations")  # another address has its own bucket
    clock.now += 10
    rate.take("10.0.0.1", "registrations")


def fail(throttle: LoginThrottle, name: str = "user:alice", address: str = "ip:1") -> None:
    with throttle.attempt(name, address) as attempt:
        attempt.failed()


def test_lockouts_double_after_the_free_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free=2, longest=8, clock=clock)
    fail(throttle)
    fail(throttle)
    fail(throttle)  # the third: locked for 1 s
    assert refused(lambda: fail(throttle)).extra["retry_after"] == 1
    clock.now += 1
    fail(throttle)  # the fourth: 2 s
    assert refused(lambda: fail(throttle)).extra["retry_after"] == 2
    for _ in range(5):
        clock.now += 8
        fail(throttle)
    assert refused(lambda: fail(throttle)).extra["retry_after"] == 8  # never past longest


def test_attempts_in_flight_count_before_they_are_judged() -> None:
    throttle = LoginThrottle(free=2, longest=300, clock=FakeClock())
    with throttle.attempt("user:alice", "ip:1"), throttle.attempt("user:alice", "ip:2"):
        # Two are being checked: a third on the same name must wait, from any address.
        error = refused(lambda: throttle.attempt("user:alice", "ip:3").__enter__())
        assert error.code == "too_many_attempts"
        with throttle.attempt("user:bob", "ip:1"):
            pass  # another name is not held up


def test_a_success_forgets_the_names_failures_not_the_addresss() -> None:
    throttle = LoginThrottle(free=2, longest=300, clock=FakeClock())
    fail(throttle)
    fail(throttle)
    with throttle.attempt("user:alice", "ip:1") as attempt:
        attempt.succeeded("user:alice")
    assert throttle.failures("user:alice") == 0
    assert throttle.failures("ip:1") == 2


def test_failures_are_forgotten_after_quiet_time() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free=1, longest=300, forget=900, clock=clock)
    fail(throttle)
    fail(throttle)
    clock.now += 901
    with throttle.attempt("user:alice", "ip:1"):
        pass
    assert throttle.failures("user:alice") == 0
