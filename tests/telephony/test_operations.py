"""Every call operation through the service layer, against the simulator over its TCP socket.

Each test drives the simulator like the phones would, runs one service as a persona of the
factories (acme: owner 1000, manager 1001, agent 1002 in Sales; support 1003 in Support), and
asserts the simulator's state changed the way the matching trace shows, the action on the wire,
and the audit row.
"""

# ruff: noqa: F811 - pytest fixtures imported from test_operations_env are parameters here
from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.scoping import dangerously_all_tenants
from telephony import errors, services
from telephony.models import AuditEntry
from tests.factories import *  # noqa: F403 - the personas and tenants are fixtures
from tests.telephony.test_operations_env import (  # noqa: F401
    Background,
    Pbx,
    eager_celery,
    globex_pbx,
    pbx,
    pbx_auto,
)

pytestmark = pytest.mark.django_db(transaction=True)


def audit(operation: str) -> list[AuditEntry]:
    with dangerously_all_tenants():
        return list(AuditEntry.objects.filter(operation=operation).order_by("created_at"))


def grant(user: User, **rights: Any) -> User:
    for field, value in rights.items():
        setattr(user, field, value)
    user.save()
    return user


def outside_call_to(pbx: Pbx, ext: str) -> str:
    """An outside caller rings `ext`, which answers: the call id (traces 04/07/08)."""
    if ext == "1000":
        pbx.sim.inbound("5551000", "+15550001111")
    else:
        pbx.sim.call(ext, "915550001111")
    pbx.sim.wait_until(lambda: any(c["state"] == "Ringing" for c in pbx.sim.channels()), 3)
    pbx.sim.answer(ext if ext == "1000" else "carrier")
    pbx.sim.wait_until(lambda: "carrier" in pbx.sim.bridged_with(ext), 3)
    return answered(pbx, pbx.call_of(ext))


def answered(pbx: Pbx, call_id: str) -> str:
    """Wait until the published live view shows the call answered (the engine lags the PBX)."""
    pbx.wait_view(lambda v: v.get("calls", {}).get(call_id, {}).get("answered"))
    return call_id


def internal_call(pbx: Pbx, a: str, b: str) -> str:
    pbx.sim.call(a, b)
    pbx.sim.wait_until(lambda: any(c["endpoint"] == b for c in pbx.sim.channels()), 3)
    pbx.sim.answer(b)
    pbx.sim.wait_until(lambda: b in pbx.sim.bridged_with(a), 3)
    return answered(pbx, pbx.call_of(a))


# --- originate ------------------------------------------------------------------------------------


def test_originate_rings_my_phone_first_then_the_target(pbx: Pbx, agent: User) -> None:
    # The operation returns once my phone answered (its OriginateResponse).
    pending = Background(services.call_originate, actor=agent, to="1003")
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == "1002" and c["state"] == "Ringing" for c in pbx.sim.channels())
    )
    sent = pbx.sent("Originate")[-1]
    assert sent["Channel"] == "PJSIP/1002" and sent["Exten"] == "1003" and sent["Context"] == "internal"
    pbx.sim.answer("1002")
    result = pending.join()
    assert result.ok and result.target == "1002" and result.destination == "1003"
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == "1003" and c["state"] == "Ringing" for c in pbx.sim.channels())
    )
    pbx.sim.answer("1003")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"1003"})
    assert [e.result for e in audit("call_originate")] == ["ok"]


def test_originate_to_an_external_number_goes_through_the_trunk(pbx_auto: Pbx, agent: User) -> None:
    services.call_originate(actor=agent, to="15550004444")
    assert pbx_auto.sent("Originate")[-1]["Exten"] == "915550004444"  # trace 23
    pbx_auto.sim.wait_until(lambda: pbx_auto.sim.bridged_with("1002") == {"carrier"})


def test_originate_to_a_voicemail_box_does_not_ring(pbx_auto: Pbx, agent: User) -> None:
    services.call_originate(actor=agent, to="*1003")
    assert pbx_auto.sent("Originate")[-1]["Exten"] == "*1003"
    pbx_auto.sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in pbx_auto.sim.channels()))
    assert not any(c["endpoint"] == "1003" for c in pbx_auto.sim.channels())


def test_originate_from_an_account_of_someone_else_is_denied_and_sends_nothing(pbx: Pbx, agent: User) -> None:
    with pytest.raises(errors.PermissionDenied):
        services.call_originate(actor=agent, from_="1001", to="1003")  # the manager's phone
    assert pbx.sent() == []
    assert [e.result for e in audit("call_originate")] == ["denied"]


def test_originate_from_an_unknown_account_is_404(pbx: Pbx, agent: User) -> None:
    with pytest.raises(errors.NoSuchAccount):
        services.call_originate(actor=agent, from_="1999", to="1003")
    assert pbx.sent() == []
    assert audit("call_originate")[0].result == "invalid"


# --- hangup and ignore --------------------------------------------------------------------------


def test_hangup_ends_the_call(pbx: Pbx, agent: User) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    services.call_hangup(actor=agent, call_id=call_id)
    assert pbx.sent("Hangup")[-1]["Channel"].startswith("PJSIP/1002-")
    pbx.sim.wait_until(lambda: not pbx.sim.channels())
    pbx.wait_view(lambda v: call_id not in v.get("calls", {}))


def test_ignore_stops_the_ringing_phone_and_the_caller_goes_to_voicemail(pbx: Pbx, owner: User) -> None:
    pbx.sim.inbound("5551000", "+15550001111")
    call_id = pbx.call_of("1000")
    pbx.wait_view(lambda v: any(p["state"] == "ringing" for p in v["calls"][call_id]["parties"]))
    services.call_ignore(actor=owner, call_id=call_id)
    assert pbx.sent("Hangup")[-1]["Cause"] == "17"  # trace 15
    pbx.sim.wait_until(lambda: not any(c["endpoint"] == "1000" for c in pbx.sim.channels()))
    pbx.sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in pbx.sim.channels()))


def test_ignore_of_an_answered_call_is_not_possible(pbx: Pbx, agent: User) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    with pytest.raises(errors.NotPossible):
        services.call_ignore(actor=agent, call_id=call_id)
    assert pbx.sent() == []


def test_an_ended_call_is_404_and_a_pbx_refusal_gets_a_human_message(pbx: Pbx, agent: User) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    with pytest.raises(errors.NoSuchCall):
        services.call_hangup(actor=agent, call_id="1.2")
    # The PBX ends the call between our look-up and the action: trace 24's "No such channel".
    from telephony import selectors

    call = selectors.call_get(actor=agent, call_id=call_id)
    pbx.sim.hangup("1003")
    pbx.sim.wait_until(lambda: not pbx.sim.channels())
    route = selectors.pbx_route(actor=agent)
    from telephony import actions

    with pytest.raises(errors.PbxRefused) as refused:
        services._send(route, actions.hangup(target=call.parties[0].channel))
    assert refused.value.message == "That call has already ended."
    assert refused.value.details["pbx_message"] == "No such channel"


# --- transfers ------------------------------------------------------------------------------------


def test_blind_transfer_bridges_the_caller_with_the_target(pbx: Pbx, owner: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    services.call_transfer_blind(actor=owner, call_id=call_id, to="1002")
    sent = pbx.sent("Redirect")[-1]
    assert sent["Channel"].startswith("PJSIP/carrier-") and sent["Exten"] == "1002"  # trace 08
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == "1002" and c["state"] == "Ringing" for c in pbx.sim.channels())
    )
    pbx.sim.answer("1002")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"carrier"})


def test_blind_transfer_to_voicemail_rings_nobody(pbx: Pbx, owner: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    services.call_transfer_blind(actor=owner, call_id=call_id, to="*1002")
    assert pbx.sent("Redirect")[-1]["Exten"] == "*1002"  # trace 14
    pbx.sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in pbx.sim.channels()))
    assert not any(c["endpoint"] == "1002" for c in pbx.sim.channels())


def test_attended_transfer_start_and_complete(pbx: Pbx, owner: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    services.call_transfer_attended_start(actor=owner, call_id=call_id, to="1003")
    assert pbx.sent("Atxfer")[-1]["Exten"] == "1003"  # trace 10
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == "1003" and c["state"] == "Ringing" for c in pbx.sim.channels())
    )
    pbx.sim.answer("1003")
    pbx.wait_view(lambda v: any(p["kind"] == "local" for p in v["calls"].get(call_id, {}).get("parties", [])))
    services.call_transfer_attended_complete(actor=owner, call_id=call_id)
    assert pbx.sent("Hangup")[-1]["Channel"].startswith("PJSIP/1000-")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1003") == {"carrier"})


def test_attended_transfer_cancel_returns_to_the_caller(pbx: Pbx, owner: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    services.call_transfer_attended_start(actor=owner, call_id=call_id, to="1003")
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1003" for c in pbx.sim.channels()))
    pbx.sim.answer("1003")
    pbx.wait_view(lambda v: any(p["kind"] == "local" for p in v["calls"].get(call_id, {}).get("parties", [])))
    services.call_transfer_attended_cancel(actor=owner, call_id=call_id)
    assert pbx.sent("CancelAtxfer")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1000") == {"carrier"})
    pbx.sim.wait_until(lambda: not any(c["endpoint"] == "1003" for c in pbx.sim.channels()))


def test_attended_complete_without_a_consultation_is_refused_before_the_pbx(pbx: Pbx, owner: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    with pytest.raises(errors.NotPossible):
        services.call_transfer_attended_complete(actor=owner, call_id=call_id)
    assert pbx.sent() == []
    assert pbx.sim.bridged_with("1000") == {"carrier"}


# --- hold, park ----------------------------------------------------------------------------------


def test_hold_parks_the_far_party_and_unhold_rings_me_back(pbx: Pbx, agent: User) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    services.call_hold(actor=agent, call_id=call_id)
    slot = pbx.sim.wait_until(lambda: next(iter(pbx.sim.parked()), None))
    assert pbx.sim.parked()[slot].startswith("PJSIP/1003-")
    pbx.wait_view(lambda v: slot in v.get("parking", {}))
    pending = Background(services.call_unhold, actor=agent, call_id=call_id)
    pbx.sim.wait_until(
        lambda: any(c["endpoint"] == "1002" and c["state"] == "Ringing" for c in pbx.sim.channels())
    )
    sent = pbx.sent("Originate")[-1]
    assert sent["Channel"] == "PJSIP/1002" and sent["Exten"] == slot  # the unpark path of trace 07
    pbx.sim.answer("1002")
    assert pending.join().ok
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"1003"})


def test_someone_else_cannot_take_my_held_call(pbx: Pbx, agent: User, manager: User) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    services.call_hold(actor=agent, call_id=call_id)
    pbx.wait_view(lambda v: v.get("parking"))
    before = len(pbx.sent())
    with pytest.raises(errors.PermissionDenied):
        services.call_unhold(actor=manager, call_id=call_id)
    assert len(pbx.sent()) == before


def test_park_fills_a_slot_and_unpark_connects_my_phone(pbx: Pbx, owner: User, agent: User) -> None:
    call_id = outside_call_to(pbx, "1000")
    services.call_park(actor=owner, call_id=call_id)
    pbx.sim.wait_until(lambda: pbx.sim.parked())
    assert list(pbx.sim.parked().values())[0].startswith("PJSIP/carrier-")  # trace 07
    slot = pbx.wait_view(lambda v: next(iter(v.get("parking", {})), None))
    pending = Background(services.call_unpark, actor=owner, slot=slot, to="1002")
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1002" for c in pbx.sim.channels()))
    pbx.sim.answer("1002")
    assert pending.join().ok
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"carrier"})
    assert not pbx.sim.parked()


# --- pickup, intercom, IVR, spy ----------------------------------------------------------------


def test_pickup_takes_a_ringing_call_of_my_department(pbx: Pbx, agent: User) -> None:
    grant(agent, can_pickup=True, can_see_calls=True)
    pbx.sim.call("1003", "1001")  # support calls the manager (Sales), who does not answer
    call_id = pbx.call_of("1001")
    pbx.wait_view(lambda v: any(p["state"] == "ringing" for p in v["calls"][call_id]["parties"]))
    pending = Background(services.call_pickup, actor=agent, call_id=call_id)
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1002" for c in pbx.sim.channels()))
    sent = pbx.sent("Originate")[-1]
    assert (sent["Channel"], sent["Application"], sent["Data"]) == ("PJSIP/1002", "PickupChan", "PJSIP/1001")
    pbx.sim.answer("1002")
    assert pending.join().ok
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"1003"})


def test_pickup_without_the_right_is_denied(pbx: Pbx, agent: User) -> None:
    grant(agent, can_see_calls=True)
    pbx.sim.call("1003", "1001")
    call_id = pbx.call_of("1001")
    pbx.wait_view(lambda v: any(p["state"] == "ringing" for p in v["calls"][call_id]["parties"]))
    with pytest.raises(errors.PermissionDenied):
        services.call_pickup(actor=agent, call_id=call_id)
    assert pbx.sent() == []


def test_intercom_originates_into_the_intercom_context(pbx: Pbx, manager: User, agent: User) -> None:
    grant(manager, can_intercom=True)
    pending = Background(services.call_intercom, actor=manager, to="1002")
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1001" for c in pbx.sim.channels()))
    sent = pbx.sent("Originate")[-1]
    assert (sent["Channel"], sent["Context"], sent["Exten"]) == ("PJSIP/1001", "switchboard-intercom", "1002")
    pbx.sim.answer("1001")
    assert pending.join().ok


def test_intercom_callee_answers_by_itself(pbx: Pbx, manager: User, agent: User) -> None:
    grant(manager, can_intercom=True)
    pending = Background(services.call_intercom, actor=manager, to="1002")
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1001" for c in pbx.sim.channels()))
    pbx.sim.answer("1001")
    pending.join()
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1001") == {"1002"})


def test_send_to_ivr_redirects_the_caller_into_the_menu(pbx: Pbx, owner: User) -> None:
    grant(owner, can_control_ivr=True)
    call_id = outside_call_to(pbx, "1000")
    services.call_send_to_ivr(actor=owner, call_id=call_id)
    sent = pbx.sent("Redirect")[-1]
    assert sent["Channel"].startswith("PJSIP/carrier-") and sent["Exten"] == "7000"  # trace 22
    pbx.sim.wait_until(lambda: not any(c["endpoint"] == "1000" for c in pbx.sim.channels()))
    assert any(c["endpoint"] == "carrier" for c in pbx.sim.channels())


@pytest.mark.parametrize(("mode", "options"), [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")])
def test_spy_modes(pbx: Pbx, manager: User, agent: User, mode: str, options: str) -> None:
    call_id = internal_call(pbx, "1002", "1003")
    pending = Background(services.call_spy, actor=manager, call_id=call_id, mode=mode)
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1001" for c in pbx.sim.channels()))
    sent = pbx.sent("Originate")[-1]
    assert sent["Application"] == "ChanSpy" and sent["Data"].endswith("," + options)  # trace 12
    assert sent["Data"].startswith("PJSIP/1002-")
    pbx.sim.answer("1001")
    assert pending.join().ok
    spies = pbx.sim.wait_until(lambda: pbx.sim.spies())
    assert spies[0]["spyee"].startswith("PJSIP/1002-") and spies[0]["mode"] == mode


def test_an_agent_cannot_spy(pbx: Pbx, agent: User, manager: User) -> None:
    call_id = internal_call(pbx, "1001", "1003")
    grant(agent, can_see_calls=True)
    with pytest.raises(errors.PermissionDenied):
        services.call_spy(actor=agent, call_id=call_id, mode="listen")
    assert pbx.sent() == []
    assert audit("call_spy")[0].result == "denied"


# --- queues, DND -------------------------------------------------------------------------------


def test_queue_pause_with_a_reason_and_unpause(pbx: Pbx, support: User) -> None:
    services.queue_pause(actor=support, queue="support", reason="lunch")
    assert pbx.sent("QueuePause")[-1] == {
        **pbx.sent("QueuePause")[-1],
        "Interface": "PJSIP/1003",
        "Paused": "true",
        "Reason": "lunch",
    }
    pbx.sim.wait_until(lambda: pbx.sim.queue_members("support")["1003"]["paused"])
    pbx.wait_view(lambda v: v["queues"]["support"]["members"]["1003"]["paused"])  # shows in QueueStatus
    services.queue_unpause(actor=support, queue="support")
    pbx.sim.wait_until(lambda: not pbx.sim.queue_members("support")["1003"]["paused"])


def test_queue_login_and_logout(pbx: Pbx, agent: User) -> None:
    services.queue_login(actor=agent, queue="support")
    assert pbx.sent("QueueAdd")[-1]["Interface"] == "PJSIP/1002"  # trace 20
    pbx.sim.wait_until(lambda: "1002" in pbx.sim.queue_members("support"))
    pbx.wait_view(lambda v: "1002" in v["queues"]["support"]["members"])
    services.queue_logout(actor=agent, queue="support")
    pbx.sim.wait_until(lambda: "1002" not in pbx.sim.queue_members("support"))


def test_logging_out_a_static_member_gets_the_pbx_refusal(pbx: Pbx, support: User) -> None:
    with pytest.raises(errors.PbxRefused) as refused:
        services.queue_logout(actor=support, queue="support")
    assert "statically" in refused.value.message  # trace 24: "Member not dynamic"
    assert audit("queue_logout")[0].result == "failed"


def test_unknown_queue_is_404(pbx: Pbx, support: User) -> None:
    with pytest.raises(errors.NoSuchQueue):
        services.queue_pause(actor=support, queue="nosuchqueue")
    assert pbx.sent() == []


def test_dnd_on_and_off_mirrors_the_custom_device_state(pbx: Pbx, agent: User) -> None:
    services.dnd_set(actor=agent, on=True)
    assert pbx.sent("Setvar")[-1] == {
        **pbx.sent("Setvar")[-1],
        "Variable": ["DEVICE_STATE(Custom:DND1002)"],
        "Value": "BUSY",
    }
    pbx.sim.wait_until(lambda: pbx.sim.dnd("1002"))
    pbx.wait_view(lambda v: v["endpoints"]["1002"]["dnd"])
    services.dnd_set(actor=agent, on=False)
    pbx.sim.wait_until(lambda: not pbx.sim.dnd("1002"))


# --- PBX down ------------------------------------------------------------------------------------


def test_pbx_not_connected_is_a_clear_error_and_audited(eager_celery: None, agent: User, acme: Any) -> None:
    from tests.factories import make_pbx

    make_pbx("down", tenants=(acme,))  # nobody holds its link
    with pytest.raises(errors.PbxNotConnected):
        services.dnd_set(actor=agent, on=True)
    assert audit("dnd_set")[0].result == "failed"


@pytest.mark.hosted
def test_an_operation_through_a_real_celery_worker_on_redis(hosted: str, pbx: Pbx, agent: User) -> None:
    """The hosted path: the task crosses Redis to a worker consuming the PBX's queue."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.conf.task_always_eager = False
    with start_worker(
        app, queues=[f"ami.{pbx.server.pk}"], perform_ping_check=False, pool="solo", shutdown_timeout=5
    ):
        services.dnd_set(actor=agent, on=True)
    pbx.sim.wait_until(lambda: pbx.sim.dnd("1002"))
