"""AMI framing: bytes in, header dicts out. Pure, no I/O; the link, replay and bench share it.

AMI frames are `Key: Value` lines ended by CRLF, a blank line ending the frame. The first line
of a connection is the banner (`Asterisk Call Manager/<version>`), ended by one CRLF only.

Rules kept here, for every consumer:
- Repeated headers are kept, as a list, in order (`ChanVariable`, `Output`, `Variable`, ...);
  a header in MULTI_VALUED is always a list, even when it occurs once.
- Bytes that are not UTF-8 are replaced (U+FFFD), never raised on.
- A frame larger than `max_frame_bytes` is dropped whole (counted in `dropped`), and the parser
  resynchronises on the next blank line; lines without a colon are ignored.
- `wanted_events`, when given, skips events by name before they are decoded at all: the engine
  ignores most of the stream (VarSet alone is about a third), and those frames should cost
  next to nothing. Responses are always parsed.
"""

from __future__ import annotations

from collections.abc import Iterable

Frame = dict[str, "str | list[str]"]

MULTI_VALUED = frozenset(
    {
        "ChanVariable",
        "DestChanVariable",
        "TargetChanVariable",
        "OrigTransfererChanVariable",
        "SecondTransfererChanVariable",
        "TransfereeChanVariable",
        "TransferTargetChanVariable",
        "Output",
        "Variable",
    }
)
BANNER_PREFIX = "Asterisk Call Manager/"
_END = b"\r\n\r\n"


class FrameParser:
    def __init__(
        self, *, wanted_events: Iterable[str] | None = None, max_frame_bytes: int = 256 * 1024
    ) -> None:
        self._buffer = b""
        self._discarding = False
        self.max_frame_bytes = max_frame_bytes
        self.wanted = None if wanted_events is None else frozenset(e.encode() for e in wanted_events)
        self.banner: str | None = None
        self.dropped = 0
        self.skipped = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes read from the socket; return the complete frames they finish, in order."""
        buffer = self._buffer + data if self._buffer else data
        parts = buffer.split(_END)
        rest = parts.pop()
        frames: list[Frame] = []
        append = frames.append
        wanted = self.wanted
        for raw in parts:
            if self._discarding:
                self._discarding = False
                continue
            if len(raw) > self.max_frame_bytes:
                self.dropped += 1
                continue
            if wanted is not None and raw.startswith(b"Event: "):
                end = raw.find(b"\r\n")
                if (raw[7:end] if end >= 0 else raw[7:]) not in wanted:
                    self.skipped += 1
                    continue
            frame = self._parse(raw)
            if frame:
                append(frame)
        if len(rest) > self.max_frame_bytes:
            # No frame end in sight: drop what we have and resync on the next blank line
            # (the first part of a later feed is this frame's tail).
            self.dropped += 1
            self._discarding = True
            rest = b""
        self._buffer = rest
        return frames

    def _parse(self, raw: bytes) -> Frame:
        text = raw.decode("utf-8", "replace")
        frame: Frame = {}
        for line in text.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                if line.startswith(BANNER_PREFIX):
                    self.banner = line[len(BANNER_PREFIX) :].strip()
                    continue
                key, sep, value = line.partition(":")
                if not sep or not key:
                    continue
            if key in frame:
                previous = frame[key]
                if isinstance(previous, list):
                    previous.append(value)
                else:
                    frame[key] = [previous, value]
            elif key in MULTI_VALUED:
                frame[key] = [value]
            else:
                frame[key] = value
        return frame


def encode_action(action: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """One action frame. Callers pass validated values; CR and LF are refused here as well."""
    lines = [f"Action: {action}"]
    for key, value in headers:
        if "\r" in key or "\n" in key or "\r" in value or "\n" in value:
            raise ValueError(f"AMI header {key!r} holds a line break")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_stream(data: bytes, **kwargs: object) -> list[Frame]:
    """Every frame of a whole captured stream (a `.ami` file)."""
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    frames = parser.feed(data)
    if parser._buffer.strip():
        frames.extend(parser.feed(_END))
    return frames
