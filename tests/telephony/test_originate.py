"""An operation returns its real outcome, and the engine hears of every action the product sends.

Against the simulator over TCP, through the real PbxRunner + Engine (test_operations_env):
- an async Originate returns its OriginateResponse, not "Originate successfully queued"
  (trace 24: an unregistered phone → Failure, Reason 0; trace 11: Success once the phone
  answered), and the services turn a failure into an error;
- PbxRunner.send notes each action to the engine first (engine.note_action, with its
  ActionID): the spy mode of a ChanSpy Originate (trace 12) reaches the live view, and a
  Redirect (no AMI event of its own, trace 08) reaches the call's history.
"""

# ruff: noqa: F811 - pytest fixtures imported from test_operations_env are parameters here
from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import OperationalError

from accounts.models import User
from accounts.scoping import dangerously_all_tenants
from telephony import errors, hosting, services, tasks
from telephony.models import AuditEntry, CallRecord
from telephony.runner import PbxRunner
from tests.factories import *  # noqa: F403 - the personas and tenants are fixtures
from tests.factories import make_account
from tests.telephony.test_operations_env import Background, Pbx, eager_celery, pbx, pbx_auto  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10.0


def runner_of(pbx: Pbx) -> PbxRunner:
    runner = hosting.runner_for(pbx.server.pk)
    assert runner is not None
    return runner


def ringing(pbx: Pbx, ext: str) -> None:
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == ext and c["state"] == "Ringing" for c in pbx.sim.channels()), WAIT
    )


def internal_call(pbx: Pbx, a: str, b: str) -> str:
    """`a` calls `b`, who answers; the call id once the live view shows it answered."""
    pbx.sim.call(a, b)
    ringing(pbx, b)
    pbx.sim.answer(b)
    pbx.sim.wait_until(lambda: b in pbx.sim.bridged_with(a), WAIT)
    call_id = pbx.call_of(a)
    pbx.wait_view(lambda v: v.get("calls", {}).get(call_id, {}).get("answered"), WAIT)
    return call_id


def audit(operation: str) -> list[AuditEntry]:
    with dangerously_all_tenants():
        return list(AuditEntry.objects.filter(operation=operation).order_by("created_at"))


# --- the outcome of an Originate ------------------------------------------------------------------


def test_originate_to_an_unregistered_phone_returns_the_failure(pbx: Pbx) -> None:
    # Trace 24: PJSIP/1006 is not registered; the PBX queues the Originate, then it fails.
    assert not pbx.sim.registered("1006")
    result = runner_of(pbx).send(
        "Originate",
        [
            ("Channel", "PJSIP/1006"),
            ("Context", "internal"),
            ("Exten", "1002"),
            ("Priority", "1"),
            ("Async", "true"),
            ("Timeout", "5000"),
        ],
        timeout=WAIT,
    )
    assert result.response["Message"] == "Originate successfully queued"
    assert not result.ok
    assert result.message.startswith("Originate failed:") and "(Reason 0)" in result.message
    (outcome,) = result.events
    assert (outcome["Event"], outcome["Response"], outcome["Reason"]) == ("OriginateResponse", "Failure", "0")


def test_click_to_call_from_an_unregistered_phone_is_an_error(pbx: Pbx, agent: User) -> None:
    make_account(agent, "1006")
    with pytest.raises(errors.PbxRefused) as refused:
        services.call_originate(actor=agent, from_="1006", to="1003")
    assert refused.value.message == "The phone could not be reached (not registered, busy or did not answer)."
    assert refused.value.details["pbx_message"].startswith("Originate failed:")
    assert pbx.sent("Originate")[-1]["Channel"] == "PJSIP/1006"
    assert [e.result for e in audit("call_originate")] == ["failed"]


def test_click_to_call_the_caller_does_not_answer_is_an_error(pbx: Pbx, agent: User) -> None:
    # The phone rings, then declines (cause 17): OriginateResponse Failure, Reason 5 (busy).
    pending = Background(services.call_originate, actor=agent, to="1003")
    ringing(pbx, "1002")
    pbx.sim.hangup("1002", cause=17)
    with pytest.raises(errors.PbxRefused) as refused:
        pending.join()
    assert refused.value.details["pbx_message"] == "Originate failed: busy (Reason 5)"


def test_click_to_call_returns_success_only_once_the_phone_answered(pbx: Pbx, agent: User) -> None:
    pending = Background(services.call_originate, actor=agent, to="1003")
    ringing(pbx, "1002")
    # "Originate successfully queued" is long in; the phone still rings: no answer yet.
    assert not pending.done.wait(0.5)
    pbx.sim.answer("1002")
    result = pending.join()
    assert result.ok and result.target == "1002" and result.destination == "1003"
    # The outcome came with the answered channel (trace 11: Reason 4, its Uniqueid).
    legs = [c for c in pbx.sim.channels() if c["endpoint"] == "1002"]
    assert (result.pbx["channel"], result.pbx["uniqueid"]) == (legs[0]["name"], legs[0]["uniqueid"])
    assert any(c["state"] == "Up" for c in legs)
    ringing(pbx, "1003")
    pbx.sim.answer("1003")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"1003"}, WAIT)
    assert [e.result for e in audit("call_originate")] == ["ok"]


def test_an_originate_waits_past_the_action_timeout_while_the_phone_rings(
    pbx: Pbx, agent: User, settings: Any
) -> None:
    # The transport's own timeout is short; an Originate may ring for its `Timeout`.
    settings.AMI_ACTION_TIMEOUT = 0.5
    settings.SWITCHBOARD_ORIGINATE_TIMEOUT = 0.5
    pending = Background(services.call_originate, actor=agent, to="1003")
    ringing(pbx, "1002")
    time.sleep(1.0)
    assert not pending.done.is_set()
    pbx.sim.answer("1002")
    assert pending.join().ok


def test_the_link_dropping_while_the_phone_rings_is_not_connected(pbx: Pbx, agent: User) -> None:
    pending = Background(services.call_originate, actor=agent, to="1003")
    ringing(pbx, "1002")
    # The network drops (no hangup, no Shutdown): the PBX's answer can never arrive here.
    for session in list(pbx.sim.server.sessions):
        session.close()
    with pytest.raises(errors.PbxNotConnected):
        pending.join()
    assert [e.result for e in audit("call_originate")] == ["failed"]


# --- the engine hears of the actions sent ---------------------------------------------------------


def test_a_whisper_spy_shows_its_mode_in_the_live_view(
    pbx: Pbx, manager: User, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = runner_of(pbx)
    noted: list[dict[str, Any]] = []
    note_action = runner.engine.note_action  # type: ignore[attr-defined]

    def spy_on_notes(action: dict[str, Any]) -> Any:
        noted.append(dict(action))
        return note_action(action)

    monkeypatch.setattr(runner.engine, "note_action", spy_on_notes)
    call_id = internal_call(pbx, "1002", "1003")
    pending = Background(services.call_spy, actor=manager, call_id=call_id, mode="whisper")
    ringing(pbx, "1001")
    pbx.sim.answer("1001")
    result = pending.join()
    assert result.ok
    # Noted before it was sent, under the ActionID its OriginateResponse came back with.
    (action,) = [a for a in noted if a["Action"] == "Originate"]
    assert action["Application"] == "ChanSpy" and action["Data"].endswith(",qwE")
    assert action["ActionID"].startswith(runner.link.name)
    assert action["Channel"] == "PJSIP/1001"

    def spy(view: dict[str, Any]) -> dict[str, Any] | None:
        # The spyer's leg is a call of its own (its Linkedid), spying on the agent's.
        parties = [p for call in view.get("calls", {}).values() for p in call["parties"]]
        return next((p for p in parties if p.get("kind") == "spy"), None)

    party = pbx.wait_view(spy, WAIT)
    assert (party["endpoint"], party["spy_mode"], party["spying_on"]) == ("1001", "whisper", "1002")
    assert pbx.view()["endpoints"]["1001"]["calls"]


def test_a_redirect_is_in_the_call_history(pbx: Pbx, owner: User) -> None:
    # An outside caller talks to the owner (1000), who transfers them blind to 1002: a Redirect.
    pbx.sim.inbound("5551000", "+15550001111")
    ringing(pbx, "1000")
    pbx.sim.answer("1000")
    pbx.sim.wait_until(lambda: "carrier" in pbx.sim.bridged_with("1000"), WAIT)
    call_id = pbx.call_of("1000")
    pbx.wait_view(lambda v: v.get("calls", {}).get(call_id, {}).get("answered"), WAIT)
    services.call_transfer_blind(actor=owner, call_id=call_id, to="1002")
    assert pbx.sent("Redirect")[-1]["Channel"].startswith("PJSIP/carrier-")
    ringing(pbx, "1002")
    pbx.sim.answer("1002")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"carrier"}, WAIT)
    pbx.sim.hangup("1002")

    def record() -> CallRecord | None:
        try:
            with dangerously_all_tenants():
                return CallRecord.objects.filter(linkedid=call_id).first()
        except OperationalError:  # SQLite: the link thread is writing it right now
            return None

    row = pbx.sim.wait_until(record, WAIT)
    redirects = [t for t in row.transfers if t["kind"] == "redirect"]
    assert [(t["by"], t["to"]) for t in redirects] == [("1000", "1002")]
    assert "1002" in row.parties


def test_actions_without_an_outcome_event_do_not_wait(pbx_auto: Pbx) -> None:
    # Ping: the response is the outcome. A synchronous Originate answers when it is done.
    result = tasks.send_action(pbx_auto.server.pk, "Ping", [], timeout=WAIT)
    assert result["ok"] and result["events"] == []


# --- hosted: a real worker on Redis ----------------------------------------------------------------


@pytest.mark.hosted
def test_click_to_call_through_a_real_worker_waits_for_the_answer(
    hosted: str, pbx: Pbx, agent: User, settings: Any
) -> None:
    """The task's `expires` (queueing) is short; the worker still waits while the phone rings."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    settings.AMI_ACTION_TIMEOUT = 1.0
    app.conf.task_always_eager = False
    with start_worker(
        app, queues=[f"ami.{pbx.server.pk}"], perform_ping_check=False, pool="solo", shutdown_timeout=5
    ):
        pending = Background(services.call_originate, actor=agent, to="1003")
        ringing(pbx, "1002")
        time.sleep(2.0)  # longer than the queueing window
        assert not pending.done.is_set()
        pbx.sim.answer("1002")
        result = pending.join()
    assert result.ok and result.pbx["channel"].startswith("PJSIP/1002-")
