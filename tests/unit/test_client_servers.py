"""`--host a:8888,b:8888`: reading a list of servers, and trying them in turn (against
sockets that refuse: real ports nothing listens on)."""

import pytest

from chatroom.client.servers import Server, ServerList, parse_servers
from tests.engines import free_port


def test_servers_are_read_with_or_without_a_port() -> None:
    assert parse_servers("a:1, b ,[::1]:3,[fe80::2],10.0.0.4:5", 8888) == [
        Server("a", 1),
        Server("b", 8888),
        Server("::1", 3),
        Server("fe80::2", 8888),
        Server("10.0.0.4", 5),
    ]
    assert parse_servers("::1", 7) == [Server("::1", 7)]  # a bare IPv6 address has no port
    assert [str(s) for s in parse_servers("[::1]:3,a:1", 0)] == ["[::1]:3", "a:1"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a,,b", "a server name is missing between commas"),
        ("a:0", "the port from 1 to 65535"),
        ("a:99999", "the port from 1 to 65535"),
        ("a:http", "the port from 1 to 65535"),
        (":80", "give HOST or HOST:PORT"),
        ("[::1", "write an IPv6 address as [ADDRESS]:PORT"),
        ("[::1]80", "write an IPv6 address as [ADDRESS]:PORT"),
    ],
)
def test_a_bad_list_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[")):
        parse_servers(text, 8888)


async def test_when_none_answers_each_is_tried_once_and_the_last_failure_raised() -> None:
    servers = ServerList([Server("127.0.0.1", free_port()), Server("127.0.0.1", free_port())])
    with pytest.raises(ConnectionRefusedError):
        await servers.connect(timeout=2.0)
    assert servers.current == servers.servers[0]  # nothing connected: still the first
