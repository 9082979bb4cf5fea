"""The short reasons shown to a person when a connection fails."""

import errno
import ssl

from chatroom.client.wording import describe_os_error


def test_a_refused_connection_says_so_in_plain_words() -> None:
    assert describe_os_error(ConnectionRefusedError(errno.ECONNREFUSED, "Refused")) == (
        "connection refused"
    )


def test_a_timeout_reads_timed_out() -> None:
    assert describe_os_error(TimeoutError()) == "timed out"


def test_other_os_errors_show_their_reason_in_lower_case() -> None:
    error = OSError(errno.EHOSTUNREACH, "No route to host")
    assert describe_os_error(error) == "no route to host"


def test_an_untrusted_certificate_names_what_failed_to_verify() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    assert describe_os_error(error) == "TLS certificate not trusted (self-signed certificate)"


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    assert describe_os_error(ValueError()) == "ValueError"
