"""The sans-I/O codec, byte by byte: no sockets involved."""

import struct

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatroom.common.codec import FrameDecoder, Packed, compress, encode, expand
from chatroom.common.envelope import Request
from chatroom.common.errors import ChatError, ErrorCode


def test_ping_frame_is_length_prefix_then_msgpack_map() -> None:
    frame = encode({"type": "ping", "id": 1})
    # 0x0000000f = 15 bytes of body; 0x82 = map of 2; 0xa4 "type"; 0xa4 "ping"; 0xa2 "id"; 0x01
    assert frame.hex(" ") == "00 00 00 0f 82 a4 74 79 70 65 a4 70 69 6e 67 a2 69 64 01"


def test_binary_payloads_are_msgpack_bin_and_text_is_str() -> None:
    body = encode({"data": b"\x00\x01", "text": "é"})[4:]
    assert msgpack.unpackb(body) == {"data": b"\x00\x01", "text": "é"}
    assert b"\xc4\x02\x00\x01" in body  # bin 8, length 2
    assert b"\xa2\xc3\xa9" in body  # fixstr of 2 UTF-8 bytes


def test_a_value_already_packed_is_spliced_in_where_it_stands() -> None:
    names = Packed(msgpack.packb(["alice", "bob"]))
    envelope = {"type": "ok", "id": 3, "data": {"online": names, "rooms": [{"who": names}, 1]}}
    expected = {
        "type": "ok",
        "id": 3,
        "data": {"online": ["alice", "bob"], "rooms": [{"who": ["alice", "bob"]}, 1]},
    }
    assert msgpack.unpackb(encode(envelope)[4:]) == expected
    assert expand(compress(envelope), 1 << 20) == expected  # a compressed reply too
    assert encode({"type": "ok"}) == encode({"type": "ok"})  # the packer starts over clean
    with pytest.raises(TypeError):
        encode({"type": "ok", "data": {"x": object()}})  # anything else is still an error


envelopes = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.text(max_size=12),
            "id": st.integers(min_value=0, max_value=2**40),
            "data": st.dictionaries(
                st.text(max_size=8), st.text() | st.binary() | st.integers(-(2**63), 2**64 - 1)
            ),
        }
    ),
    max_size=6,
)


@given(envelopes, st.data())
def test_any_split_of_the_stream_decodes_to_the_same_envelopes(messages, data) -> None:
    stream = b"".join(encode(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = FrameDecoder(max_frame=1 << 20)
    decoded = [envelope for chunk in chunks for envelope in decoder.feed(chunk)]
    assert decoded == messages
    assert decoder.buffered == 0


def test_oversized_length_is_refused_from_the_header_alone() -> None:
    decoder = FrameDecoder(max_frame=100)
    with pytest.raises(ChatError) as caught:
        list(decoder.feed(struct.pack(">I", 101)))
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE
    assert caught.value.fatal


def test_frame_at_the_limit_is_accepted() -> None:
    body = msgpack.packb({"type": "x", "data": {"t": "a" * 80}})
    decoder = FrameDecoder(max_frame=len(body))
    assert list(decoder.feed(struct.pack(">I", len(body)) + body)) == [msgpack.unpackb(body)]


@pytest.mark.parametrize(
    "body",
    [
        msgpack.packb([1, 2, 3]),
        msgpack.packb("type"),
        b"",
        b"\xc1",  # never used in msgpack
        msgpack.packb({"type": "ping"}) + b"\x00",  # trailing bytes after the map
        msgpack.packb({"type": "x"})[:-1],  # truncated inside the body
        b"\x81\x81\x01\x02\x03",  # {{1: 2}: 3}, a map as a key: Python cannot hash it
        b"\x81\x92\x01\x02\x03",  # {[1, 2]: 3}, an array as a key
    ],
)
def test_a_body_that_is_not_exactly_one_map_is_a_fatal_bad_request(body: bytes) -> None:
    with pytest.raises(ChatError) as caught:
        list(FrameDecoder(max_frame=1024).feed(struct.pack(">I", len(body)) + body))
    assert caught.value.code == ErrorCode.BAD_REQUEST
    assert caught.value.fatal


@pytest.mark.parametrize("body", [b"\xc1", msgpack.packb({"type": "x"})[:-1], msgpack.packb([1])])
def test_a_bad_body_that_arrived_in_pieces_is_still_a_fatal_bad_request(body: bytes) -> None:
    # A frame that arrives in pieces is gathered in a buffer of the decoder's own, decoded
    # where it lies; the decoder must let go of that buffer, even on the way out with an
    # error, to cut it down afterwards (else a BufferError, not the protocol's error).
    decoder = FrameDecoder(max_frame=1024)
    stream = encode({"type": "ping"}) + struct.pack(">I", len(body)) + body
    assert list(decoder.feed(stream[:7])) == []
    with pytest.raises(ChatError) as caught:
        list(decoder.feed(stream[7:]))
    assert caught.value.code == ErrorCode.BAD_REQUEST


def test_a_small_frame_cannot_declare_a_huge_array() -> None:
    # array32 header claiming 2**32-1 elements in a 5-byte body: refused, not allocated
    body = msgpack.packb({"type": "x", "data": {}})[:-1] + b"\xdd\xff\xff\xff\xff"
    with pytest.raises(ChatError):
        list(FrameDecoder(max_frame=1024).feed(struct.pack(">I", len(body)) + body))


def test_frames_before_a_bad_one_are_still_delivered() -> None:
    decoder = FrameDecoder(max_frame=1024)
    stream = encode({"type": "ping"}) + struct.pack(">I", 5000)
    seen = []
    with pytest.raises(ChatError):
        for envelope in decoder.feed(stream):
            seen.append(envelope)
    assert seen == [{"type": "ping"}]


@pytest.mark.parametrize(
    "envelope",
    [{"type": 5}, {"data": {}}, {"type": "ping", "id": "7"}, {"type": "ping", "data": [1]}],
)
def test_envelope_fields_of_the_wrong_type_are_a_bad_request(envelope: dict) -> None:
    with pytest.raises(ChatError) as caught:
        Request.from_envelope(envelope)
    assert caught.value.code == ErrorCode.BAD_REQUEST
    assert not caught.value.fatal
