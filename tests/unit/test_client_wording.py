"""The short reasons shown to a person when a connection fails."""

import errno
import socket
import ssl

from chatroom.client.wording import describe_os_error
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
