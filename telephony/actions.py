"""AMI actions built from validated values only: the one place that makes dial strings.

Every value that ends up in an AMI header passes a strict grammar here (`fullmatch`, ASCII
only) immediately before the action is built, even when the caller validated it already: this
module is the last gate before the wire, and the injection tests aim at it.

Why so strict:
- `Channel` of Originate is a dial string: `100&PJSIP/x` would ring a second device and
  `Local/...` would run arbitrary dialplan; `,` separates application arguments in `Data`
  (`PJSIP/1003,tt` would add ChanSpy options); a line break would end the header and start a
  new one (a second action in the same frame).
- Unicode digits (`١٠٠١`) match `\\d` in Python but are not digits to Asterisk.
- An AMI line is at most 1,024 bytes on Asterisk; bounded lengths keep every line far below.

An action is `AmiAction(name, headers)`, headers as `(key, value)` pairs in order, ready for
`telephony.tasks.send_action(pbx_id, action.name, action.headers, timeout)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# A live channel as Asterisk names it: technology, resource, and usually "-<sequence>".
# Local channels are refused on purpose: the product never acts on one by name.
CHANNEL_RE = re.compile(r"(?:PJSIP|SIP|IAX2|DAHDI)/[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", re.ASCII)
# A PJSIP endpoint name (the device of a phone), e.g. `1001` or `acme-1001`.
ENDPOINT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,59}", re.ASCII)
# A dialplan extension we dial: digits, `*`, `#`, and one `+` that may follow a short outbound
# prefix (`9+4930…`).
EXTEN_RE = re.compile(r"[0-9]{0,4}\+?[0-9*#]{1,32}", re.ASCII)
CONTEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,79}", re.ASCII)
QUEUE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}", re.ASCII)
LOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}", re.ASCII)
# Free text that reaches the PBX (pause reason, member name, caller-id name): plain words only.
TEXT_RE = re.compile(r"[A-Za-z0-9 ._-]{0,40}", re.ASCII)
SPY_OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}

SpyMode = Literal["listen", "whisper", "barge"]

# Hangup cause 17 (user busy) on a ringing leg: the caller goes on in the dialplan (to
# voicemail), as trace 15 shows; the default cause 16 would end the whole call.
CAUSE_BUSY = 17


class UnsafeValue(ValueError):
    """A value failed its grammar at the last gate. A bug upstream, or an attack: never sent."""


@dataclass(frozen=True)
class AmiAction:
    name: str
    headers: tuple[tuple[str, str], ...]

    def header(self, key: str) -> str | None:
        for k, v in self.headers:
            if k == key:
                return v
        return None


def _check(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeValue(f"unsafe {what}: {value!r:.80}")
    return value


def channel(value: object) -> str:
    return _check(CHANNEL_RE, value, "channel")


def endpoint(value: object) -> str:
    return _check(ENDPOINT_RE, value, "endpoint")


def exten(value: object) -> str:
    return _check(EXTEN_RE, value, "extension")


def context(value: object) -> str:
    return _check(CONTEXT_RE, value, "context")


def text(value: object) -> str:
    return _check(TEXT_RE, value, "text")


def clean_text(value: str, fallback: str) -> str:
    """A display name reduced to what TEXT_RE admits (names are people's, not attackers')."""
    kept = "".join(ch for ch in value if ch.isascii() and (ch.isalnum() or ch in " ._-"))[:40].strip()
    return kept or fallback


def device(endpoint_name: str) -> str:
    """The dial string of one phone: `PJSIP/<endpoint>` (never `&`, never Local)."""
    return f"PJSIP/{endpoint(endpoint_name)}"


def _caller_id(name: str, number: str) -> str:
    return f'"{text(name)}" <{exten(number)}>'


# --- Originate -------------------------------------------------------------------------------


def originate_exten(
    *,
    from_endpoint: str,
    to_context: str,
    to_exten: str,
    caller_name: str,
    caller_number: str,
    variables: dict[str, str] | None = None,
    timeout_ms: int = 30000,
) -> AmiAction:
    """Ring the `from` phone first; when it answers, dial `to_exten` in `to_context` (trace 11)."""
    return _originate(
        device(from_endpoint), to_context, to_exten, caller_name, caller_number, variables, timeout_ms
    )


def originate_local(
    *,
    via_context: str,
    via_exten: str,
    to_context: str,
    to_exten: str,
    caller_name: str,
    caller_number: str,
    variables: dict[str, str] | None = None,
    timeout_ms: int = 30000,
) -> AmiAction:
    """Originate whose first leg is a dialplan number (an alternative number reached outside).

    The Local channel is made here from validated parts only: `Local/<exten>@<context>`.
    """
    channel = f"Local/{exten(via_exten)}@{context(via_context)}"
    return _originate(channel, to_context, to_exten, caller_name, caller_number, variables, timeout_ms)


def _originate(
    channel: str,
    to_context: str,
    to_exten: str,
    caller_name: str,
    caller_number: str,
    variables: dict[str, str] | None,
    timeout_ms: int,
) -> AmiAction:
    """An async Originate of an already validated first leg to a dialplan destination."""
    headers: list[tuple[str, str]] = [
        ("Channel", channel),
        ("Context", context(to_context)),
        ("Exten", exten(to_exten)),
        ("Priority", "1"),
        ("CallerID", _caller_id(caller_name, caller_number)),
        ("Timeout", str(int(timeout_ms))),
        ("Async", "true"),
    ]
    headers.extend(_variables(variables))
    return AmiAction("Originate", tuple(headers))


_VAR_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{0,39}", re.ASCII)


def _variables(variables: dict[str, str] | None) -> list[tuple[str, str]]:
    # One `Variable:` line each (DESIGN: an action line is limited to 1,024 bytes).
    return [
        ("Variable", f"{_check(_VAR_NAME_RE, k, 'variable')}={text(v)}") for k, v in (variables or {}).items()
    ]


def spy(*, spy_endpoint: str, target_channel: str, mode: SpyMode, caller_number: str) -> AmiAction:
    """ChanSpy via Originate (trace 12): the supervisor's phone rings, then spies on the channel.

    Options: q (no beep), E (end when the spied channel hangs up), w = whisper, B = barge.
    """
    if mode not in SPY_OPTIONS:
        raise UnsafeValue(f"unknown spy mode {mode!r:.20}")
    return AmiAction(
        "Originate",
        (
            ("Channel", device(spy_endpoint)),
            ("Application", "ChanSpy"),
            ("Data", f"{channel(target_channel)},{SPY_OPTIONS[mode]}"),
            ("CallerID", _caller_id(mode, caller_number)),
            ("Async", "true"),
            ("Variable", f"SWITCHBOARD_SPY={mode}"),
        ),
    )


def pickup(*, picker_endpoint: str, ringing_endpoint: str, caller_number: str) -> AmiAction:
    """PickupChan via Originate (trace 17): the picker's phone rings, then takes the call."""
    return AmiAction(
        "Originate",
        (
            ("Channel", device(picker_endpoint)),
            ("Application", "PickupChan"),
            ("Data", device(ringing_endpoint)),
            ("CallerID", _caller_id("Pickup", caller_number)),
            ("Async", "true"),
        ),
    )


def unpark(*, to_endpoint: str, lot_context: str, slot: str) -> AmiAction:
    """Ring a phone and connect it to a parking slot (trace 07: Originate to the slot exten)."""
    return AmiAction(
        "Originate",
        (
            ("Channel", device(to_endpoint)),
            ("Context", context(lot_context)),
            ("Exten", exten(slot)),
            ("Priority", "1"),
            ("CallerID", _caller_id("Unpark", slot)),
            ("Async", "true"),
        ),
    )


# --- Channel actions -------------------------------------------------------------------------


def hangup(*, target: str, cause: int | None = None) -> AmiAction:
    headers: list[tuple[str, str]] = [("Channel", channel(target))]
    if cause is not None:
        headers.append(("Cause", str(int(cause))))
    return AmiAction("Hangup", tuple(headers))


def redirect(*, target: str, to_context: str, to_exten: str) -> AmiAction:
    """Send a channel elsewhere in the dialplan (blind transfer, voicemail, IVR: traces 08/14/22)."""
    return AmiAction(
        "Redirect",
        (
            ("Channel", channel(target)),
            ("Context", context(to_context)),
            ("Exten", exten(to_exten)),
            ("Priority", "1"),
        ),
    )


def atxfer(*, transferer: str, to_context: str, to_exten: str) -> AmiAction:
    """Start an attended transfer (trace 10). Completing it is a Hangup of the transferer."""
    return AmiAction(
        "Atxfer",
        (("Channel", channel(transferer)), ("Context", context(to_context)), ("Exten", exten(to_exten))),
    )


def cancel_atxfer(*, transferer: str) -> AmiAction:
    return AmiAction("CancelAtxfer", (("Channel", channel(transferer)),))


def park(*, target: str, timeout_channel: str, lot: str) -> AmiAction:
    """Park a channel (trace 07); when the slot times out it rings `timeout_channel`'s phone."""
    return AmiAction(
        "Park",
        (
            ("Channel", channel(target)),
            ("TimeoutChannel", channel(timeout_channel)),
            ("Parkinglot", _check(LOT_RE, lot, "parking lot")),
        ),
    )


# --- Queues and device state -----------------------------------------------------------------


def queue_pause(*, queue: str, member_endpoint: str, paused: bool, reason: str = "") -> AmiAction:
    headers: list[tuple[str, str]] = [
        ("Queue", _check(QUEUE_RE, queue, "queue")),
        ("Interface", device(member_endpoint)),
        ("Paused", "true" if paused else "false"),
    ]
    if paused and reason:
        headers.append(("Reason", text(reason)))
    return AmiAction("QueuePause", tuple(headers))


def queue_add(*, queue: str, member_endpoint: str, member_name: str, penalty: int = 0) -> AmiAction:
    return AmiAction(
        "QueueAdd",
        (
            ("Queue", _check(QUEUE_RE, queue, "queue")),
            ("Interface", device(member_endpoint)),
            ("MemberName", text(member_name)),
            ("Penalty", str(int(penalty))),
        ),
    )


def queue_remove(*, queue: str, member_endpoint: str) -> AmiAction:
    return AmiAction(
        "QueueRemove", (("Queue", _check(QUEUE_RE, queue, "queue")), ("Interface", device(member_endpoint)))
    )


def dnd(*, endpoint_name: str, on: bool) -> AmiAction:
    """DND mirrored as the custom device state in the phone's hint (trace 16)."""
    return AmiAction(
        "Setvar",
        (
            ("Variable", f"DEVICE_STATE(Custom:DND{endpoint(endpoint_name)})"),
            ("Value", "BUSY" if on else "NOT_INUSE"),
        ),
    )
