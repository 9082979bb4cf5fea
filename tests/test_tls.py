"""TLS: the server with a certificate, clients that verify it, and what fails when not."""

import asyncio
import signal
import ssl
import sys
from pathlib import Path

import pytest
import trustme

from chatroom.client import ChatClient
from chatroom.client.api import describe_os_error, tls_context
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, WAIT, next_push, run_server, spawn_server
from tests.test_tui import log_in


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_tls(ca: trustme.CA, tmp_path: Path) -> ssl.SSLContext:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return tls_context(True, cafile)


async def test_clients_chat_over_tls(make_server, server_tls, client_tls) -> None:
    server = await make_server(tls=server_tls)
    server.client_tls = client_tls
    alice = await server.login("alice")
    bob = await server.login("bob")
    sent = await alice.private("bob", "encrypted on the wire")
    assert (await next_push(bob, MessagePush)).mid == sent.mid
    assert alice._writer.get_extra_info("ssl_object").version().startswith("TLS")


async def test_an_untrusted_certificate_is_refused_with_a_clear_reason(
    make_server, server_tls
) -> None:
    server = await make_server(tls=server_tls)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        await ChatClient.connect("127.0.0.1", server.port, tls=tls_context(True))
    assert describe_os_error(caught.value).startswith("TLS certificate not trusted")


async def test_a_plain_client_gets_nowhere_with_a_tls_server(make_server, server_tls) -> None:
    server = await make_server(tls=server_tls)
    plain = await ChatClient.connect("127.0.0.1", server.port)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(plain.ping(), WAIT)


async def test_the_tui_logs_in_over_tls(make_server, server_tls, client_tls) -> None:
    server = await make_server(tls=server_tls)
    server.client_tls = client_tls
    await server.register("alice")
    app = ChatApp("127.0.0.1", server.port, tls=client_tls)
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        assert isinstance(app.screen, ChatScreen)


async def test_server_flags_and_client_flags(ca: trustme.CA, tmp_path: Path) -> None:
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    server = await spawn_server(
        tmp_path / "data", "--tls-cert", str(cert_file), "--tls-key", str(key_file)
    )
    try:
        assert "(TLS)" in server.log[-1]
        client = await ChatClient.connect("127.0.0.1", server.port, tls=tls_context(True, ca_file))
        await client.register("alice", PASSWORD)
        await client.close()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatroom.client", "--port", str(server.port),
            "--cafile", str(ca_file), "get-file", "--user", "alice", "1",
            stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env={"CHATROOM_PASSWORD": PASSWORD, "PATH": ""},
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), WAIT)
        # It got as far as asking for the file: TLS and login worked.
        assert err.decode().strip() == "chatroom: no_such_file: there is no file 1"
    finally:
        await server.stop(signal.SIGTERM)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (
            ["--tls-cert", "missing.pem", "--tls-key", "missing.pem"],
            "cannot use the TLS certificate",
        ),
    ],
)
async def test_bad_tls_flags_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    process = await run_server("--port", "0", "--data-dir", str(tmp_path), *args, cwd=tmp_path)
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    lines = err.decode().splitlines()
    assert process.returncode == 2 and len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize(
    ("cert", "key", "why"),
    [
        ("cert.pem", "other-key.pem", "the key is not the certificate's"),
        ("key.pem", "cert.pem", "give a certificate and its private key, each in PEM (-----BEGIN"),
        ("cert.pem", "missing.pem", "no such file or directory"),
    ],
)
async def test_a_certificate_and_key_that_do_not_go_together_say_why(
    ca: trustme.CA, tmp_path: Path, cert: str, key: str, why: str
) -> None:
    """In words, not OpenSSL's "[SSL] PEM lib (_ssl.c:3905)"."""
    issued, other = ca.issue_cert("localhost"), ca.issue_cert("other")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "other-key.pem"))
    process = await run_server(
        "--port", "0", "--data-dir", str(tmp_path), "--tls-cert", cert, "--tls-key", key,
        cwd=tmp_path,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), WAIT)
    said = f"chatroom-server: error: cannot use the TLS certificate {cert} and key {key}: {why}"
    assert process.returncode == 2 and err.decode().startswith(said), err
    assert len(err.decode().splitlines()) == 1
