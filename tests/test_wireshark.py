"""The Wireshark dissector (contrib/wireshark/chatroom.lua), run by tshark on a capture of
real traffic that the test makes itself: a client and the server talk through a proxy
that keeps every byte, and the bytes are written out as TCP segments of a pcap file."""

import asyncio
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from chatroom.client import ChatClient
from tests.conftest import PASSWORD, RunningServer
from tests.engines import missing

LUA = Path(__file__).parent.parent / "contrib" / "wireshark" / "chatroom.lua"
SEGMENT = 1400
"""Bytes of payload per TCP segment: a longer frame is cut, as on a real network."""
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 8888)

pytestmark = pytest.mark.sqlite_only  # the store does not matter here


async def recorded_conversation(server_port: int) -> list[tuple[bool, bytes]]:
    """A real client's session through a proxy: every chunk, and whether it went to the
    server."""
    chunks: list[tuple[bool, bytes]] = []

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up: bool) -> None:
        while data := await reader.read(65536):
            chunks.append((up, data))
            writer.write(data)
            await writer.drain()
        writer.close()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", server_port)
        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    proxy = await asyncio.start_server(accept, "127.0.0.1", 0)
    client = await ChatClient.connect("127.0.0.1", proxy.sockets[0].getsockname()[1])
    await client.hello("wireshark-test")
    await client.register("alice", PASSWORD)
    await client.login("alice", PASSWORD)
    await client.request("broadcast", text="long " + "x" * 3000)  # over two segments
    await client.request("ping")
    await client.close()
    proxy.close()
    await proxy.wait_closed()
    return chunks


def pcap(chunks: list[tuple[bool, bytes]]) -> bytes:
    """The chunks as a pcap capture: Ethernet, IPv4 and TCP headers around each segment
    (checksums left 0: Wireshark does not check them by default), after a handshake."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    seq = {True: 1000, False: 5000}
    clock = 0

    def packet(up: bool, flags: int, payload: bytes = b"") -> None:
        nonlocal clock
        (src, sport), (dst, dport) = (CLIENT, SERVER) if up else (SERVER, CLIENT)
        tcp = struct.pack(
            ">HHIIBBHHH", sport, dport, seq[up], seq[not up], 5 << 4, flags, 65535, 0, 0
        )
        ip = struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
            bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))),
        )  # fmt: skip
        frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
        frame += ip + tcp + payload
        clock += 1000
        out.append(struct.pack("<IIII", 0, clock, len(frame), len(frame)) + frame)
        seq[up] += len(payload) + (1 if flags & 0x02 else 0)

    packet(True, 0x02)  # SYN
    packet(False, 0x12)  # SYN, ACK
    packet(True, 0x10)  # ACK
    for up, data in chunks:
        for start in range(0, len(data), SEGMENT):
            packet(up, 0x18, data[start : start + SEGMENT])  # PSH, ACK
    return b"".join(out)


def tshark(capture: Path, *args: str) -> str:
    binary = shutil.which("tshark")
    assert binary is not None
    command = [binary, "-r", str(capture), "-X", f"lua_script:{LUA}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


async def test_tshark_shows_the_frames_of_a_real_conversation(
    server: RunningServer, tmp_path: Path
) -> None:
    if shutil.which("tshark") is None:
        missing("tshark", "tshark")
    capture = tmp_path / "chat.pcap"
    capture.write_bytes(pcap(await recorded_conversation(server.port)))
    types = tshark(capture, "-T", "fields", "-e", "chatroom.type", "-E", "occurrence=a")
    seen = [kind for line in types.split() for kind in line.split(",") if kind]
    assert seen == ["hello", "ok", "register", "ok", "login", "ok", "broadcast", "ok", "ping", "ok"]
    everything = tshark(capture, "-V")
    assert "Lua Error" not in everything and "Malformed" not in everything
    detail = tshark(capture, "-V", "-Y", 'chatroom.type == "login"')
    assert 'username: "alice"' in detail and "Length: " in detail and "Id: 3" in detail
    summary = tshark(capture)  # the Info column names each frame's type
    assert " register" in summary and " broadcast" in summary
    long = tshark(capture, "-V", "-Y", 'chatroom.type == "broadcast"')
    assert 'text: "long xxxxxxxx' in long  # put back together from two segments
    assert "Reassembled TCP" in long or "reassembled" in long.lower()
