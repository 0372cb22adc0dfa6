from __future__ import annotations

import random
from pathlib import Path

import pytest

from telephony.ami.framing import FrameParser, encode_action, parse_stream

TRACES = Path(__file__).resolve().parents[3] / "shared" / "ami-traces"


def feed_in_chunks(parser: FrameParser, data: bytes, rng: random.Random) -> list[dict]:
    frames, at = [], 0
    while at < len(data):
        size = rng.randint(1, 700)
        frames.extend(parser.feed(data[at : at + size]))
        at += size
    return frames


@pytest.mark.parametrize("trace", sorted(TRACES.glob("*.ami")), ids=lambda p: p.stem)
def test_chunking_never_changes_the_frames(trace: Path) -> None:
    data = trace.read_bytes()
    whole = parse_stream(data)
    chunked = feed_in_chunks(FrameParser(), data, random.Random(trace.stem))
    assert chunked == whole[: len(chunked)]
    assert len(whole) - len(chunked) <= 1  # a last frame without its blank line waits for more bytes


def test_banner_is_read_and_is_not_a_header() -> None:
    parser = FrameParser()
    frames = parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert parser.banner == "11.0.0"
    assert frames == [{"Response": "Success", "ActionID": "1"}]


def test_repeated_headers_are_kept_in_order_and_multi_valued_ones_are_always_lists() -> None:
    frames = FrameParser().feed(
        b"Event: Newchannel\r\nChanVariable: A=1\r\n\r\n"
        b"Response: Follows\r\nOutput: one\r\nOutput: two\r\nOutput: three\r\n\r\n"
        b"Event: X\r\nFoo: 1\r\nFoo: 2\r\n\r\n"
    )
    assert frames[0]["ChanVariable"] == ["A=1"]
    assert frames[1]["Output"] == ["one", "two", "three"]
    assert frames[2]["Foo"] == ["1", "2"]


def test_values_keep_colons_and_empty_values() -> None:
    (frame,) = FrameParser().feed(b"Event: X\r\nUri: sip:1001@127.0.0.1:5110\r\nRegServer: \r\nBare:\r\n\r\n")
    assert frame == {"Event": "X", "Uri": "sip:1001@127.0.0.1:5110", "RegServer": "", "Bare": ""}


def test_non_utf8_and_garbage_do_not_raise() -> None:
    parser = FrameParser()
    frames = parser.feed(
        b"Event: X\r\nName: caf\xe9\xff\r\n\r\n\x00\x01garbage without colon\r\n\r\nEvent: Y\r\n\r\n"
    )
    assert frames[0]["Name"] == "caf\ufffd\ufffd"
    assert frames[-1] == {"Event": "Y"}
    assert len(frames) == 2


def test_an_oversized_frame_is_dropped_and_the_parser_resynchronises() -> None:
    parser = FrameParser(max_frame_bytes=1024)
    assert parser.feed(b"Event: Huge\r\nData: " + b"x" * 5000) == []
    assert parser.dropped == 1
    frames = parser.feed(b"x" * 100 + b"\r\n\r\nEvent: Next\r\n\r\n")
    assert frames == [{"Event": "Next"}]
    big = b"Event: Huge\r\nData: " + b"y" * 2000 + b"\r\n\r\nEvent: After\r\n\r\n"
    assert FrameParser(max_frame_bytes=1024).feed(big) == [{"Event": "After"}]


def test_frames_before_an_oversized_tail_in_the_same_read_are_kept() -> None:
    parser = FrameParser(max_frame_bytes=1024)
    frames = parser.feed(b"Event: Kept\r\n\r\nEvent: Huge\r\nData: " + b"z" * 5000)
    assert frames == [{"Event": "Kept"}]
    assert parser.feed(b"zzz\r\n\r\nEvent: After\r\n\r\n") == [{"Event": "After"}]


def test_unwanted_events_are_skipped_but_responses_never_are() -> None:
    parser = FrameParser(wanted_events={"Hangup"})
    frames = parser.feed(
        b"Event: VarSet\r\nVariable: x\r\n\r\nEvent: Hangup\r\nChannel: a\r\n\r\nResponse: Success\r\n\r\n"
    )
    assert frames == [{"Event": "Hangup", "Channel": "a"}, {"Response": "Success"}]
    assert parser.skipped == 1


@pytest.mark.parametrize("value", ["1001\r\nAction: Originate", "x\ny", "\r"])
def test_encode_action_refuses_line_breaks(value: str) -> None:
    with pytest.raises(ValueError):
        encode_action("Hangup", [("Channel", value)])


def test_encode_action_frames_one_action() -> None:
    assert encode_action("Ping", [("ActionID", "7")]) == b"Action: Ping\r\nActionID: 7\r\n\r\n"
