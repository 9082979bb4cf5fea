"""The short reasons shown to a person when a connection fails or a request is refused."""

import errno
import socket
import ssl
import time

from chatroom.client.wording import describe_os_error, explained
from chatroom.common.errors import ChatError
from chatroom.utils.args import os_reason


def test_a_refused_connection_says_so_in_plain_words() -> None:
    assert describe_os_error(ConnectionRefusedError(errno.ECONNREFUSED, "Refused")) == (
        "connection refused"
    )


def test_a_timeout_reads_timed_out() -> None:
    assert describe_os_error(TimeoutError()) == "timed out"


def test_other_os_errors_show_their_reason_in_lower_case() -> None:
    error = OSError(errno.EHOSTUNREACH, "No route to host")
    assert describe_os_error(error) == "no route to host"


def test_a_failed_name_lookup_shows_its_own_reason() -> None:
    """Its errno (-2) is the resolver's, not the system's: `unknown error -2` would say
    nothing."""
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert describe_os_error(error) == "name or service not known"
    assert os_reason(error) == "name or service not known"


def test_an_os_error_without_a_message_is_worded_by_its_number() -> None:
    assert os_reason(PermissionError(errno.EACCES, "")) == "permission denied"


def test_an_untrusted_certificate_names_what_failed_to_verify() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    assert describe_os_error(error) == "TLS certificate not trusted (self-signed certificate)"


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    assert describe_os_error(ValueError()) == "ValueError"


def test_a_refusal_says_when_it_ends_if_the_server_says() -> None:
    soon = time.time() + 600
    muted = ChatError("muted", "you are muted", until=soon)
    assert (
        explained(muted) == f"you are muted (until {time.strftime('%H:%M', time.localtime(soon))})"
    )
    later = time.time() + 3 * 86400  # another day: the date too
    banned = ChatError("banned", "you are banned", until=later)
    assert explained(banned).endswith(
        f"(until {time.strftime('%Y-%m-%d %H:%M', time.localtime(later))})"
    )
    assert explained(ChatError("rate_limited", "too fast", retry_after=0.2)) == (
        "too fast (try again in 1 s)"
    )
    assert explained(ChatError("too_many_attempts", "wait", retry_after=7.5)) == (
        "wait (try again in 8 s)"
    )
    assert explained(ChatError("banned", "you are banned", until=None)) == "you are banned"
    for hostile in [float("nan"), float("inf"), -5, 1e300, True, "soon", [1]]:
        assert explained(ChatError("muted", "muted", until=hostile)) == "muted"
        assert explained(ChatError("rate_limited", "slow", retry_after=hostile)) == "slow"
