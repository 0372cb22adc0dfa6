"""Hostile destinations and channel names never reach an AMI frame.

Property-based (hypothesis): well over 10,000 generated values in total — dial-string tricks
(`100&PJSIP/x`, `1001,tt`, `Local/…`), line breaks, unicode digits, 5,000-character strings —
are pushed through every slot of every action builder and through the destination grammar.
Each either is refused (UnsafeValue / InvalidDestination) or comes out as a frame whose headers
are exactly the expected ones, with values in the safe alphabet.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony import actions, errors, services
from telephony.ami.framing import FrameParser, encode_action

ATTACKS = [
    "100&PJSIP/x",
    "1001,tt",
    "1001\r\nAction: Originate",
    "1001\nChannel: PJSIP/9",
    "Local/1001@internal",
    "Local/100@from-internal/n",
    "PJSIP/1001&PJSIP/1002",
    "PJSIP/1001-0000001,qBE",
    "PJSIP/1001)",
    "PJSIP/1001|x",
    "${SHELL(rm -rf /)}",
    "1001;2",
    "١٠٠١",  # Arabic-Indic digits
    "１００１",  # fullwidth digits
    "1001\x00",
    "+",
    "",
    " 1001",
    "1001 ",
    "9" * 5000,
    "PJSIP/" + "a" * 5000,
    "*1002,u",
    "#",
]

hostile = st.one_of(
    st.sampled_from(ATTACKS),
    st.text(max_size=60),
    st.text(alphabet="0123456789+*#&,;|/\r\n()$ ", max_size=40),
    st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=12),
    st.builds(lambda a, b: a + b, st.sampled_from(ATTACKS), st.text(max_size=20)),
    st.text(alphabet="0123456789", min_size=4990, max_size=5010),
)

SAFE_VALUE = re.compile(r'[A-Za-z0-9 ._\-/*#+=<>"(),:@]*', re.ASCII)
# The only Local channel the product makes: a validated number in a validated context.
OUR_LOCAL = re.compile(r"Local/[0-9]{0,4}\+?[0-9*#]{1,32}@[A-Za-z][A-Za-z0-9_-]*", re.ASCII)


def _frame(action: actions.AmiAction) -> dict[str, str | list[str]]:
    data = encode_action(action.name, list(action.headers))
    frames = FrameParser().feed(data)
    assert len(frames) == 1, "one action must be exactly one frame"
    return frames[0]


def _assert_clean(action: actions.AmiAction) -> None:
    frame = _frame(action)
    assert frame["Action"] == action.name
    expected_keys = {"Action"} | {k for k, _ in action.headers}
    assert set(frame) == expected_keys, "no header may be smuggled in"
    for key, value in action.headers:
        assert SAFE_VALUE.fullmatch(value), f"{key}: {value!r}"
        assert len(value) < 300
    channel = action.header("Channel")
    if channel is not None:
        assert "&" not in channel and "," not in channel
        assert actions.CHANNEL_RE.fullmatch(channel) or OUR_LOCAL.fullmatch(channel)


# Every builder, with the hostile value in each of its slots (the others valid).
BUILDERS = {
    "originate_exten": lambda v: actions.originate_exten(
        from_endpoint=v,
        to_context="internal",
        to_exten="1002",
        caller_name="Console call",
        caller_number="1002",
    ),
    "originate_exten.to": lambda v: actions.originate_exten(
        from_endpoint="1001",
        to_context="internal",
        to_exten=v,
        caller_name="Console call",
        caller_number="1002",
    ),
    "originate_exten.context": lambda v: actions.originate_exten(
        from_endpoint="1001", to_context=v, to_exten="1002", caller_name="x", caller_number="1002"
    ),
    "originate_local.via": lambda v: actions.originate_local(
        via_context="internal",
        via_exten=v,
        to_context="internal",
        to_exten="1002",
        caller_name="x",
        caller_number="1",
    ),
    "spy.target": lambda v: actions.spy(
        spy_endpoint="1005", target_channel=v, mode="listen", caller_number="1005"
    ),
    "spy.spy": lambda v: actions.spy(
        spy_endpoint=v, target_channel="PJSIP/1003-00000026", mode="barge", caller_number="1005"
    ),
    "pickup": lambda v: actions.pickup(picker_endpoint="1002", ringing_endpoint=v, caller_number="1002"),
    "unpark.slot": lambda v: actions.unpark(to_endpoint="1002", lot_context="internal", slot=v),
    "hangup": lambda v: actions.hangup(target=v),
    "redirect.channel": lambda v: actions.redirect(target=v, to_context="internal", to_exten="1002"),
    "redirect.exten": lambda v: actions.redirect(
        target="PJSIP/carrier-0000001a", to_context="internal", to_exten=v
    ),
    "atxfer": lambda v: actions.atxfer(transferer="PJSIP/1001-00000021", to_context="internal", to_exten=v),
    "cancel_atxfer": lambda v: actions.cancel_atxfer(transferer=v),
    "park": lambda v: actions.park(target=v, timeout_channel="PJSIP/1001-0000003f", lot="default"),
    "queue_pause.reason": lambda v: actions.queue_pause(
        queue="support", member_endpoint="1003", paused=True, reason=v
    ),
    "queue_pause.queue": lambda v: actions.queue_pause(queue=v, member_endpoint="1003", paused=True),
    "queue_add.name": lambda v: actions.queue_add(queue="support", member_endpoint="1005", member_name=v),
    "queue_remove": lambda v: actions.queue_remove(queue="support", member_endpoint=v),
    "dnd": lambda v: actions.dnd(endpoint_name=v, on=True),
}


@settings(max_examples=10_000, deadline=None)
@given(builder=st.sampled_from(sorted(BUILDERS)), value=hostile)
def test_no_hostile_value_reaches_a_frame(builder: str, value: str) -> None:
    try:
        action = BUILDERS[builder](value)
    except actions.UnsafeValue:
        return
    _assert_clean(action)
    # What passed is in the safe grammar, so it is one of the plain shapes, never an attack.
    assert "\n" not in value and "\r" not in value and "&" not in value and "," not in value
    assert not value.startswith("Local/")
    assert value.isascii()


@pytest.mark.parametrize("attack", ATTACKS)
def test_known_attacks_are_refused_as_channels_and_extensions(attack: str) -> None:
    with pytest.raises(actions.UnsafeValue):
        actions.hangup(target=attack)
    if not re.fullmatch(r"[0-9]{1,34}|#|\*1002", attack):
        with pytest.raises(actions.UnsafeValue):
            actions.redirect(target="PJSIP/carrier-0000001a", to_context="internal", to_exten=attack)


def test_the_valid_shapes_of_the_traces_still_build() -> None:
    """The gate is not a wall: the exact actions of traces 07–23 pass it unchanged."""
    assert actions.park(
        target="PJSIP/carrier-0000003e", timeout_channel="PJSIP/1001-0000003f", lot="default"
    ).headers == (
        ("Channel", "PJSIP/carrier-0000003e"),
        ("TimeoutChannel", "PJSIP/1001-0000003f"),
        ("Parkinglot", "default"),
    )
    spy = actions.spy(
        spy_endpoint="1005", target_channel="PJSIP/1003-00000026", mode="whisper", caller_number="1005"
    )
    assert spy.header("Data") == "PJSIP/1003-00000026,qwE"
    assert spy.header("CallerID") == '"whisper" <1005>'
    assert (
        actions.redirect(target="PJSIP/carrier-0000002d", to_context="internal", to_exten="*1002").header(
            "Exten"
        )
        == "*1002"
    )
    assert (
        actions.pickup(picker_endpoint="1002", ringing_endpoint="1001", caller_number="1002").header("Data")
        == "PJSIP/1001"
    )
    assert actions.dnd(endpoint_name="1002", on=True).headers == (
        ("Variable", "DEVICE_STATE(Custom:DND1002)"),
        ("Value", "BUSY"),
    )
    assert actions.hangup(target="PJSIP/1001-00000030", cause=actions.CAUSE_BUSY).header("Cause") == "17"


# --- the destination grammar, with the database (known accounts) ----------------------------------


@pytest.fixture
def actor(db: None) -> object:
    from tests.factories import make_tenant, make_user

    tenant = make_tenant("Acme Ltd", "acme")
    return make_user("alice", tenant=tenant, extension="1001")


@settings(max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
def test_destination_grammar_refuses_hostile_input(actor: object, value: str) -> None:
    try:
        dest = services.resolve_destination(actor=actor, raw=value)
    except errors.InvalidDestination:
        return
    # Anything accepted dials cleanly.
    _assert_clean(
        actions.redirect(target="PJSIP/carrier-0000001a", to_context="internal", to_exten=dest.exten)
    )
    assert re.fullmatch(r"\+?[0-9*#]{1,32}", value, re.ASCII)


def test_destination_kinds(actor: object) -> None:
    resolve = services.resolve_destination
    assert resolve(actor=actor, raw="1001").kind == "extension"
    assert resolve(actor=actor, raw="*1001") == services.Destination(
        "voicemail", "*1001", resolve(actor=actor, raw="1001").user
    )
    assert resolve(actor=actor, raw="+4930123456") == services.Destination("external", "9+4930123456")
    assert resolve(actor=actor, raw="15550004444") == services.Destination("external", "915550004444")
    assert resolve(actor=actor, raw="8000") == services.Destination("dialplan", "8000")
    for bad in ("100&PJSIP/x", "1001,tt", "١٠٠١", "Local/1001@internal", "9" * 5000, "", "1001\n"):
        with pytest.raises(errors.InvalidDestination):
            resolve(actor=actor, raw=bad)
