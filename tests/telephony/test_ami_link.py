"""The AMI link on real TCP sockets against tests/telephony/amiserver.FakeAmi.

Each asterisk-ami defect the link fixes (a–d, see telephony/ami/link.py) has a test here,
and so does every way a PBX can misbehave: silence, garbage, restart, Shutdown, bad secret.
Waits are on conditions with generous limits; nothing asserts how fast anything is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from telephony.ami.errors import ActionFailed, PbxBusy, PbxNotConnected, PbxTimeout
from telephony.ami.framing import Frame
from telephony.ami.link import AmiLink
from tests.telephony.amiserver import FULLY_BOOTED, FakeAmi, encode_frame, list_reply

WAIT = 10.0


class Recorder:
    """Collects what the link reports, with a condition to wait on."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.states: list[tuple[str, str]] = []
        self.ready = 0
        self.cond = threading.Condition()

    def on_frame(self, frame: Frame) -> None:
        with self.cond:
            self.frames.append(frame)
            self.cond.notify_all()

    def on_state(self, status: str, detail: str) -> None:
        with self.cond:
            self.states.append((status, detail))
            self.cond.notify_all()

    def on_ready(self, link: AmiLink) -> None:
        with self.cond:
            self.ready += 1
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def events(self, name: str) -> list[Frame]:
        with self.cond:
            return [f for f in self.frames if f.get("Event") == name]


@pytest.fixture
def server() -> Iterator[FakeAmi]:
    fake = FakeAmi().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_link() -> Iterator[Callable[..., tuple[AmiLink, Recorder]]]:
    links: list[AmiLink] = []

    def make(fake: FakeAmi, secret: str = "secret", **options: Any) -> tuple[AmiLink, Recorder]:
        rec = Recorder()
        options.setdefault("backoff_initial", 0.05)
        options.setdefault("backoff_max", 0.2)
        options.setdefault("ping_interval", 60.0)
        link = AmiLink(
            *fake.address,
            "panel",
            secret,
            name="test",
            on_frame=rec.on_frame,
            on_state=rec.on_state,
            on_ready=rec.on_ready,
            **options,
        )
        links.append(link)
        link.start()
        return link, rec

    yield make
    for link in links:
        link.stop()


def connected(link: AmiLink) -> bool:
    return link.wait_for_state("connected", WAIT)


# --- login and boot ---------------------------------------------------------------------------


def test_login_then_fully_booted_then_ready(make_link: Callable[..., tuple[AmiLink, Recorder]]) -> None:
    fake = FakeAmi(booted=False).start()
    try:
        link, rec = make_link(fake)
        assert fake.wait_for(lambda: fake.logins == 1)
        login = fake.actions_named("Login")[0]
        assert (login["Username"], login["Secret"], login["Events"]) == ("panel", "secret", "on")
        # Logged in but the PBX has not booted: not ready, not connected, sends refused.
        assert link.state == "connecting" and rec.ready == 0
        with pytest.raises(PbxNotConnected):
            link.send("Ping")
        fake.push(FULLY_BOOTED)
        assert connected(link)
        assert rec.ready == 1
        assert link.send("Ping").response["Ping"] == "Pong"
    finally:
        fake.stop()


def test_wrong_secret_is_auth_failed_without_a_tight_loop(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server, secret="wrong", backoff_initial=0.001, backoff_max=0.001, auth_backoff=60)
    assert link.wait_for_state("auth_failed", WAIT)
    assert link.detail == "authentication failed"
    # A tight loop would log in again within the backoff_initial of 1 ms; the long auth
    # backoff keeps it at one attempt while the other link (right secret) gets through.
    other, _ = make_link(server)
    assert connected(other)
    assert server.failed_logins == 1
    assert rec.ready == 0


def test_server_that_accepts_tcp_and_never_answers(
    make_link: Callable[..., tuple[AmiLink, Recorder]],
) -> None:
    mute = FakeAmi(banner=False).start()
    try:
        link, rec = make_link(mute, login_timeout=0.2)
        assert mute.wait_for(lambda: mute.connections >= 3), "the link should keep retrying"
        assert rec.wait_for(
            lambda: any("no reply to Login" in d for s, d in rec.states if s == "disconnected")
        )
        assert link.state != "connected" and rec.ready == 0
    finally:
        mute.stop()


def test_connection_refused_backs_off_and_connects_when_the_pbx_appears(
    make_link: Callable[..., tuple[AmiLink, Recorder]],
) -> None:
    fake = FakeAmi().start()
    fake.stop()  # the port is known but nobody listens
    link, rec = make_link(fake)
    assert rec.wait_for(lambda: sum(1 for s, _ in rec.states if s == "disconnected") >= 2)
    fake.start()
    try:
        assert connected(link)
    finally:
        fake.stop()


# --- defects of asterisk-ami --------------------------------------------------------------


def test_a_idle_link_outlives_the_library_socket_timeout(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    # The library's timeout is also its recv timeout; here it is 0.2 s, and the link then
    # stays idle for five times that. The library's listen thread would be dead by now.
    link, rec = make_link(server, connect_timeout=0.2)
    assert connected(link)
    threading.Event().wait(1.0)  # the scenario: an idle PBX (no events, no pings)
    server.push({"Event": "PeerStatus", "Peer": "PJSIP/1001", "PeerStatus": "Reachable"})
    assert rec.wait_for(lambda: len(rec.events("PeerStatus")) == 1)
    assert link.state == "connected"
    assert (server.connections, server.logins) == (1, 1)


def test_b_concurrent_senders_each_get_their_own_reply(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Echo"] = lambda a: [{"Response": "Success", "ActionID": a["ActionID"], "Echo": a["Value"]}]
    link, _ = make_link(server)
    assert connected(link)
    mismatches: list[tuple[str, Any]] = []

    def worker(n: int) -> None:
        for i in range(60):
            value = f"{n}-{i}"
            result = link.send("Echo", [("Value", value)], timeout=WAIT)
            if result.response.get("Echo") != value:
                mismatches.append((value, result.response))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []
    ids = [a["ActionID"] for a in server.actions_named("Echo")]
    assert len(ids) == 16 * 60 == len(set(ids)), "action ids must be unique across threads"


def test_c_a_large_action_is_written_whole_to_a_slow_reader(
    make_link: Callable[..., tuple[AmiLink, Recorder]],
) -> None:
    fake = FakeAmi(rcvbuf=65536).start()
    fake.script["Big"] = lambda a: [{"Response": "Success", "ActionID": a["ActionID"], "Message": "ok"}]
    try:
        link, _ = make_link(fake)
        assert connected(link)
        # ~10 MB: more than the kernel's socket buffers take in one go (tcp_wmem max is 4 MB)
        variables = [("Variable", f"V{i}={'x' * 500}") for i in range(20000)]
        fake.reading.clear()  # the PBX stops reading: the socket buffers fill up
        results: list[Any] = []
        sender = threading.Thread(target=lambda: results.append(link.send("Big", variables, timeout=30)))
        sender.start()
        fake.reading.set()
        sender.join(30)
        assert results and results[0].ok
        big = fake.actions_named("Big")
        assert len(big) == 1 and len(big[0]["Variable"]) == 20000
        assert big[0]["Variable"][-1] == f"V19999={'x' * 500}"
    finally:
        fake.stop()


def test_d_list_rows_are_collected_and_live_events_pass_through(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    def contacts(action: Frame) -> list[Any]:
        rows = [
            {"ObjectName": f"100{i}", "Endpoint": f"100{i}", "Status": "NonQualified"} for i in range(1, 4)
        ]
        reply = list_reply(action, "ContactList", rows, "ContactListComplete")
        live = {"Event": "DeviceStateChange", "Device": "PJSIP/1005", "State": "INUSE"}
        return reply[:2] + [live] + reply[2:]  # a live event between the rows, as on a busy PBX

    server.script["PJSIPShowContacts"] = contacts
    server.script["DeviceStateList"] = lambda a: list_reply(
        a, "DeviceStateChange", [], "DeviceStateListComplete"
    )
    server.script["UserEvent"] = lambda a: [
        {"Response": "Success", "ActionID": a["ActionID"], "Message": "Event Sent"},
        {"Event": "UserEvent", "UserEvent": a["UserEvent"], "ActionID": a["ActionID"]},
    ]
    link, rec = make_link(server)
    assert connected(link)
    result = link.send("PJSIPShowContacts", timeout=WAIT)
    assert result.ok and result.response["EventList"] == "start"
    assert [row["Endpoint"] for row in result.events] == ["1001", "1002", "1003"]
    assert all(row["Event"] == "ContactList" for row in result.events)
    empty = link.send("DeviceStateList", timeout=WAIT)
    assert empty.ok and empty.events == []
    # A non-list action's event that carries the ActionID (trace 24's UserEvent) is live.
    link.send("UserEvent", [("UserEvent", "SwitchboardMark")], timeout=WAIT)
    assert rec.wait_for(lambda: len(rec.events("UserEvent")) == 1)
    assert [f["Device"] for f in rec.events("DeviceStateChange")] == ["PJSIP/1005"]
    assert rec.events("ContactList") == [] and rec.events("ContactListComplete") == []


def test_repeated_headers_are_kept_as_lists(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Command"] = lambda a: [
        b"Response: Success\r\nActionID: "
        + a["ActionID"].encode()
        + b"\r\nMessage: Command output follows\r\n"
        b"Output: line one\r\nOutput: line two\r\nOutput: line three\r\n\r\n"
    ]
    link, rec = make_link(server)
    assert connected(link)
    result = link.send("Command", [("Command", "core show version")], timeout=WAIT)
    assert result.response["Output"] == ["line one", "line two", "line three"]
    server.push(
        b"Event: Newchannel\r\nChannel: PJSIP/1001-00000001\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n"
    )
    assert rec.wait_for(lambda: len(rec.events("Newchannel")) == 1)
    assert rec.events("Newchannel")[0]["ChanVariable"] == ["A=1", "B=2"]


def test_frames_split_into_single_bytes_are_reassembled(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server)
    assert connected(link)
    for byte in encode_frame({"Event": "Hold", "Channel": "PJSIP/1002-0000000a", "Uniqueid": "1.2"}):
        server.push(bytes([byte]))
    assert rec.wait_for(lambda: len(rec.events("Hold")) == 1)
    assert rec.events("Hold")[0]["Uniqueid"] == "1.2"


# --- bad input --------------------------------------------------------------------------------


def test_garbage_non_utf8_and_oversized_frames_leave_the_link_up(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server, max_frame_bytes=4096)
    assert connected(link)
    server.push(b"\x00\xff\xfe garbage without any colon\r\n\r\n")
    server.push(b"Event: Newexten\r\nAppData: caf\xe9 \xff\r\n\r\n")  # latin-1, not UTF-8
    server.push(b"Event: VarSet\r\nValue: " + b"y" * 100_000 + b"\r\n\r\n")  # oversized
    server.push(b"\r\n\r\n:::\r\n\r\nResponse: Success\r\nActionID: nobody-asked\r\n\r\n")
    server.push({"Event": "Hangup", "Channel": "PJSIP/1001-00000001", "Uniqueid": "9.9"})
    assert rec.wait_for(lambda: len(rec.events("Hangup")) == 1)
    assert rec.events("Newexten")[0]["AppData"] == "caf\ufffd \ufffd"
    assert rec.events("VarSet") == []
    assert link.send("Ping", timeout=WAIT).ok
    assert (server.connections, link.state) == (1, "connected")


def test_a_failing_on_frame_callback_does_not_take_the_link_down(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    rec = Recorder()

    def on_frame(frame: Frame) -> None:
        rec.on_frame(frame)
        if frame.get("Event") == "Boom":
            raise RuntimeError("engine bug")

    link = AmiLink(*server.address, "panel", "secret", name="t", on_frame=on_frame, ping_interval=60)
    link.start()
    try:
        assert connected(link)
        server.push({"Event": "Boom"})
        server.push({"Event": "After"})
        assert rec.wait_for(lambda: len(rec.events("After")) == 1)
        assert link.send("Ping", timeout=WAIT).ok and server.connections == 1
    finally:
        link.stop()


# --- results and errors -----------------------------------------------------------------------


def test_error_response_is_a_result_and_raises_on_demand(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Hangup"] = lambda a: [
        {"Response": "Error", "ActionID": a["ActionID"], "Message": "No such channel"}
    ]
    link, _ = make_link(server)
    assert connected(link)
    result = link.send("Hangup", [("Channel", "PJSIP/1001-deadbeef")], timeout=WAIT)
    assert (result.ok, result.message) == (False, "No such channel")
    with pytest.raises(ActionFailed, match="No such channel"):
        result.raise_for_error()
    assert result.as_dict()["message"] == "No such channel"


def test_no_reply_is_a_timeout_and_the_link_stays(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Slow"] = lambda a: []
    link, _ = make_link(server)
    assert connected(link)
    with pytest.raises(PbxTimeout):
        link.send("Slow", timeout=0.2)
    assert link.send("Ping", timeout=WAIT).ok


def test_a_pending_action_fails_when_the_link_drops(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Slow"] = lambda a: []
    link, _ = make_link(server)
    assert connected(link)
    errors: list[Exception] = []

    def send() -> None:
        try:
            link.send("Slow", timeout=WAIT * 3)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert server.wait_for(lambda: len(server.actions_named("Slow")) == 1)
    server.close_clients()
    sender.join(WAIT)
    assert len(errors) == 1 and type(errors[0]) is PbxNotConnected


def test_the_send_queue_is_bounded(make_link: Callable[..., tuple[AmiLink, Recorder]]) -> None:
    fake = FakeAmi(rcvbuf=4096).start()
    try:
        link, _ = make_link(fake, send_queue_size=4)
        assert connected(link)
        fake.reading.clear()
        chunk = [("Variable", "x" * 1000)] * 500  # 0.5 MB an action: the socket buffers fill fast
        with pytest.raises(PbxBusy, match="send queue full"):
            for _ in range(1000):
                try:
                    link.send("Flood", chunk, timeout=0)
                except PbxTimeout:
                    continue
        fake.reading.set()
    finally:
        fake.stop()


def test_send_before_start_is_not_connected(server: FakeAmi) -> None:
    link = AmiLink(*server.address, "panel", "secret")
    with pytest.raises(PbxNotConnected):
        link.send("Ping")


def test_line_breaks_in_values_are_refused(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, _ = make_link(server)
    assert connected(link)
    with pytest.raises(ValueError):
        link.send("Originate", [("Channel", "PJSIP/1001\r\nAction: Hangup")])
    assert server.actions_named("Originate") == []


# --- losing the PBX ------------------------------------------------------------------------------


def test_reconnects_after_the_server_restarts(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server)
    assert connected(link)
    server.restart()  # same port, like Asterisk coming back
    assert server.wait_for(lambda: server.logins == 2)
    assert rec.wait_for(lambda: rec.ready == 2)
    assert connected(link)
    assert ("disconnected", "PBX closed the connection") in rec.states
    assert link.send("Ping", timeout=WAIT).ok


def test_missing_ping_reply_means_half_open_and_reconnects(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server, ping_interval=0.1, ping_timeout=0.3)
    assert connected(link)
    server.silent = True  # TCP stays open, nothing answers: what a half-open link looks like
    assert rec.wait_for(lambda: any(s == "disconnected" and "no Ping reply" in d for s, d in rec.states))
    server.silent = False
    assert server.wait_for(lambda: server.logins == 2)
    assert connected(link)


def test_shutdown_event_is_a_disconnect(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server)
    assert connected(link)
    # Trace 26a: Shutdown arrives while the socket is still open; the fake keeps it open.
    server.push({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"})
    assert rec.wait_for(lambda: ("disconnected", "PBX shut down") in rec.states)
    assert server.wait_for(lambda: server.logins == 2)
    assert rec.wait_for(lambda: rec.ready == 2)
    assert len(rec.events("Shutdown")) == 1  # the engine sees it too


def test_stop_ends_the_session_and_reports_it(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    link, rec = make_link(server)
    assert connected(link)
    link.stop()
    assert server.wait_for(lambda: not server._clients)
    assert rec.states[-1] == ("disconnected", "stopped")
    with pytest.raises(PbxNotConnected):
        link.send("Ping")


# --- (e) an async Originate's outcome (OriginateResponse) ----------------------------------------

QUEUED = "Originate successfully queued"
ORIGINATE = [("Channel", "PJSIP/1006"), ("Context", "internal"), ("Exten", "1002"), ("Async", "true")]


def queued(action: Frame) -> list[Any]:
    return [{"Response": "Success", "ActionID": action["ActionID"], "Message": QUEUED}]


def originate_response(action_id: str, response: str = "Success", reason: str = "4") -> Frame:
    """As trace 11 (Success, Reason 4) and trace 24 (unregistered phone: Failure, Reason 0)."""
    return {
        "Event": "OriginateResponse",
        "Privilege": "call,all",
        "ActionID": action_id,
        "Response": response,
        "Channel": "PJSIP/1006",
        "Context": "internal",
        "Exten": "1002",
        "Reason": reason,
        "Uniqueid": "1795372374.37" if response == "Success" else "<unknown>",
        "CallerIDNum": "<unknown>",
        "CallerIDName": "<unknown>",
    }


class Sender:
    """`link.send` on a thread of its own, as a Celery task waiting for the phone."""

    def __init__(self, link: AmiLink, *args: Any, **kwargs: Any) -> None:
        self.result: Any = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(link, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, link: AmiLink, args: Any, kwargs: Any) -> None:
        try:
            self.result = link.send(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.error = exc

    def join(self) -> Sender:
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        return self


def sent_originate(server: FakeAmi) -> str:
    assert server.wait_for(lambda: len(server.actions_named("Originate")) == 1)
    return str(server.actions_named("Originate")[0]["ActionID"])


def test_e_an_async_originate_returns_its_originate_response_not_the_queued_reply(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = queued
    link, rec = make_link(server)
    assert connected(link)
    sender = Sender(link, "Originate", ORIGINATE, WAIT, await_event="OriginateResponse")
    action_id = sent_originate(server)
    # The queued reply is in; the phone still rings: nothing is returned yet.
    assert link.send("Ping", timeout=WAIT).ok
    assert sender.thread.is_alive()
    server.push({"Event": "OriginateResponse", "ActionID": "someone-else-1", "Response": "Failure"})
    server.push(originate_response(action_id))
    result = sender.join().result
    assert result.ok and result.message == QUEUED and result.response["Message"] == QUEUED
    assert [e["Event"] for e in result.events] == ["OriginateResponse"]
    assert result.events[0]["Uniqueid"] == "1795372374.37"
    # The engine needs it too: the live stream had it before the caller woke up.
    assert [e["ActionID"] for e in rec.events("OriginateResponse")] == ["someone-else-1", action_id]


def test_e_an_originate_failure_is_the_result(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    # Trace 24: Originate to the unregistered 1006 is queued, then fails with Reason 0.
    server.script["Originate"] = lambda a: [*queued(a), originate_response(a["ActionID"], "Failure", "0")]
    link, _ = make_link(server)
    assert connected(link)
    result = link.send("Originate", ORIGINATE, timeout=WAIT, await_event="OriginateResponse")
    assert not result.ok
    assert (
        result.message
        == "Originate failed: the phone could not be called (not registered or unknown) (Reason 0)"
    )
    assert result.events[0]["Response"] == "Failure"
    with pytest.raises(ActionFailed, match="Originate failed"):
        result.raise_for_error()
    assert result.as_dict()["ok"] is False


def test_e_the_outcome_may_come_before_the_queued_reply(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = lambda a: [originate_response(a["ActionID"], "Failure", "5"), *queued(a)]
    link, _ = make_link(server)
    assert connected(link)
    result = link.send("Originate", ORIGINATE, timeout=WAIT, await_event="OriginateResponse")
    assert (result.ok, result.message) == (False, "Originate failed: busy (Reason 5)")


def test_e_a_refused_originate_does_not_wait_for_an_outcome(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = lambda a: [
        {"Response": "Error", "ActionID": a["ActionID"], "Message": "Extension does not exist."}
    ]
    link, _ = make_link(server)
    assert connected(link)
    result = link.send("Originate", ORIGINATE, timeout=WAIT, await_event="OriginateResponse")
    assert (result.ok, result.message, result.events) == (False, "Extension does not exist.", [])


def test_e_no_outcome_in_time_is_a_timeout(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = queued
    link, _ = make_link(server)
    assert connected(link)
    with pytest.raises(PbxTimeout, match="accepted but no OriginateResponse"):
        link.send("Originate", ORIGINATE, timeout=0.3, await_event="OriginateResponse")
    assert link.send("Ping", timeout=WAIT).ok


def test_e_the_link_dropping_while_the_phone_rings_is_not_connected(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = queued
    link, _ = make_link(server)
    assert connected(link)
    sender = Sender(link, "Originate", ORIGINATE, WAIT * 3, await_event="OriginateResponse")
    sent_originate(server)
    link.send("Ping", timeout=WAIT)  # the queued reply is in before the drop
    server.close_clients()
    assert type(sender.join().error) is PbxNotConnected


def test_e_the_awaited_event_is_kept_by_an_event_filter(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = lambda a: [*queued(a), originate_response(a["ActionID"])]
    server.script["UserEvent"] = lambda a: [
        {"Response": "Success", "ActionID": a["ActionID"], "Message": "Event Sent"},
        {"Event": "OtherResponse", "ActionID": a["ActionID"], "Response": "Success"},
    ]
    link, rec = make_link(server, wanted_events={"Newchannel"})
    assert connected(link)
    assert link.send("Originate", ORIGINATE, timeout=WAIT, await_event="OriginateResponse").ok
    # Any other event name is added to the filter when a request waits for it.
    assert (
        link.send("UserEvent", timeout=WAIT, await_event="OtherResponse").events[0]["Event"]
        == "OtherResponse"
    )
    assert [e["Event"] for e in rec.frames if e.get("Event") != "FullyBooted"] == [
        "OriginateResponse",
        "OtherResponse",
    ]


def test_e_before_send_sees_the_action_id_before_the_pbx_does(
    server: FakeAmi, make_link: Callable[..., tuple[AmiLink, Recorder]]
) -> None:
    server.script["Originate"] = lambda a: [*queued(a), originate_response(a["ActionID"])]
    link, rec = make_link(server)
    assert connected(link)
    seen: list[tuple[str, int]] = []
    result = link.send(
        "Originate",
        ORIGINATE,
        timeout=WAIT,
        await_event="OriginateResponse",
        before_send=lambda action_id: seen.append((action_id, len(server.actions_named("Originate")))),
    )
    assert seen == [(result.events[0]["ActionID"], 0)]
    assert seen[0][0].startswith("test-")
