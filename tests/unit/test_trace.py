"""`--trace`'s lines: frames followed through chunks of any size, secrets masked."""

import json
import zlib

import msgpack

from chatroom.common.codec import encode
from chatroom.common.trace import TO_CLIENT, TO_SERVER, FrameTrace, describe

LOGIN = {"type": "login", "id": 2, "data": {"username": "alice", "password": "hunter2!"}}
OK = {"type": "ok", "id": 2, "data": {"resume_token": "q3J-secret", "file": b"\x00" * 10}}


def lines_of(feed: list[tuple[str, bytes]], mine: str = TO_CLIENT) -> list[str]:
    lines: list[str] = []
    trace = FrameTrace(lines.append, "127.0.0.1:5000", mine)
    for direction, data in feed:
        (trace.sent if direction == "sent" else trace.received)(data)
    return lines


def test_a_frame_split_into_single_bytes_is_one_line_once_complete() -> None:
    frame = encode(LOGIN)
    lines = lines_of([("received", frame[n : n + 1]) for n in range(len(frame))])
    assert len(lines) == 1
    _, who, arrow, rest = lines[0].split(" ", 3)
    assert (who, arrow) == ("127.0.0.1:5000", TO_SERVER)  # the server received it
    assert rest.startswith(f"{len(frame)} B | 00 00 00 {len(frame) - 4:02x} 83 a4 74 79 70 65")
    assert '"password": "***"' in rest and "hunter2" not in rest
    assert '"username": "alice"' in rest


def test_coalesced_frames_are_a_line_each_and_the_directions_are_kept_apart() -> None:
    lines = lines_of([("received", encode(LOGIN) + encode(LOGIN)[:5]), ("sent", encode(OK))])
    assert [line.split(" ")[2] for line in lines] == [TO_SERVER, TO_CLIENT]
    assert '"resume_token": "***"' in lines[1] and "q3J" not in lines[1]
    assert '"file": "<10 bytes>"' in lines[1]


def test_the_client_s_arrows_point_the_same_way_as_the_server_s() -> None:
    lines = lines_of([("sent", encode(LOGIN)), ("received", encode(OK))], mine=TO_SERVER)
    assert [line.split(" ")[2] for line in lines] == [TO_SERVER, TO_CLIENT]


def test_what_is_not_a_frame_is_said_so_in_one_line() -> None:
    lines = lines_of([("received", b"\xff\xff\xff\xffGET / HTTP/1.1\r\n")])
    assert len(lines) == 1 and "length 4294967295: not a frame" in lines[0]
    body = msgpack.packb([1, 2])
    assert describe(len(body).to_bytes(4, "big") + body).endswith("| [1, 2]")
    assert "not msgpack" in describe(b"\x00\x00\x00\x01\xc1")


def test_a_compressed_reply_is_shown_with_its_data() -> None:
    data = {"messages": [{"text": "x" * 50}] * 40, "token": "no"}
    frame = encode({"type": "ok", "id": 9, "z": zlib.compress(msgpack.packb(data))})
    line = describe(frame)
    assert '"z": "<' in line and '"text": "xxxx' in line and '"token": "***"' in line


def test_characters_that_act_on_a_terminal_are_escaped_and_the_json_means_the_same() -> None:
    """JSON escapes the C0 controls itself, but not DEL, a C1 control (U+009B starts an
    ANSI sequence on many terminals) or a bidi override: the trace writes those as
    `\\uXXXX` too, so the line is safe to show and still decodes to what was sent."""
    text = "\x1b[2J \x9b31m red \u202egnp.exe \x7f é 👍"
    line = describe(encode({"type": "broadcast", "id": 1, "data": {"text": text}}))
    assert not any(char in line for char in "\x1b\x9b\u202e\x7f")
    assert "é 👍" in line  # other text as it is
    assert json.loads(line.split(" | ", 2)[2])["data"]["text"] == text
