"""What the client tells a person when a connection fails: short reasons in plain words,
shared by the command line and the TUI."""

import ssl

from chatroom.utils.args import os_reason


def describe_os_error(error: BaseException) -> str:
    """A short reason for a connection failure, without Python's decorations."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return os_reason(error)
    return str(error) or type(error).__name__
