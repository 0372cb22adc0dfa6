"""Celery tasks of telephony: thin wrappers, JSON in and out.

Transport: `send_action` routes one AMI action to the process holding that PBX's link
(queue `ami.<pbx_id>`, consumed only by the lease holder; see telephony/hosting.py) and waits
for the answer. Eager in embedded mode, where the link runs in this very process.

An async Originate answers with its OriginateResponse (the phone answered, or why not), which
may take as long as the phone rings: the message's `expires` covers only the queueing (no
holder took it in time), the wait for the result covers the Originate's own `Timeout`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from celery import shared_task
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from telephony.ami.errors import AmiError, PbxBusy, PbxNotConnected, PbxTimeout
from telephony.ami.link import AUTO, awaited_event, originate_seconds

# Error classes a task may report back; anything else surfaces as PbxNotConnected.
_ERRORS: dict[str, type[AmiError]] = {cls.__name__: cls for cls in (PbxNotConnected, PbxTimeout, PbxBusy)}

# Beyond an Originate's own `Timeout`: the PBX reports the failure, then the result travels.
ORIGINATE_MARGIN = 5.0


@shared_task(name="telephony.ami_send", ignore_result=False)
def ami_send(
    pbx_id: str,
    action: str,
    headers: Sequence[Sequence[str]],
    timeout: float,
    await_event: str | None = AUTO,
) -> dict[str, Any]:
    """Send one action on the local link. Errors come back as data, not pickled exceptions.

    `await_event` as PbxRunner.send (default: OriginateResponse for an async Originate).
    """
    from telephony.hosting import runner_for

    runner = runner_for(pbx_id)
    if runner is None:
        return {"error": "PbxNotConnected", "message": "this worker does not hold the PBX link"}
    try:
        return runner.send(
            action, [(str(k), str(v)) for k, v in headers], timeout, await_event=await_event
        ).as_dict()
    except AmiError as exc:
        return {"error": type(exc).__name__, "message": exc.message}


def send_action(
    pbx_id: Any,
    action: str,
    headers: Iterable[Sequence[str]] = (),
    timeout: float | None = None,
    *,
    await_event: str | None = AUTO,
) -> dict[str, Any]:
    """Send an action through the link holder; returns {"response", "events", "ok", "message"}.

    Raises PbxNotConnected when no holder takes the task before it expires (nobody holds the
    link, or the holder just died) and PbxTimeout when the PBX does not answer in time.
    A `Response: Error` is returned with ok=False: the caller turns it into its own error.
    An async Originate (`await_event` AUTO) returns when its OriginateResponse comes: `events`
    holds it, and a Failure is ok=False with "Originate failed: <why> (Reason n)"; it may
    take the Originate's `Timeout` (the phone rings), so the wait is at least that long.
    """
    timeout = float(timeout if timeout is not None else settings.AMI_ACTION_TIMEOUT)
    pairs = [(str(k), str(v)) for k, v in headers]
    if await_event == AUTO:
        await_event = awaited_event(action, pairs)
    # `expires`: a message nobody consumed in time is dropped, so a holder that appears
    # later does not send a stale operation. It covers the queueing only: for an awaited
    # outcome it is the usual action timeout, not the time a phone may ring.
    queueing = timeout if await_event is None else min(timeout, float(settings.AMI_ACTION_TIMEOUT))
    if await_event == "OriginateResponse":
        timeout = max(timeout, originate_seconds(pairs) + ORIGINATE_MARGIN)
    args = (str(pbx_id), action, [list(pair) for pair in pairs], timeout, await_event)
    pending = ami_send.apply_async(args=args, queue=f"ami.{pbx_id}", expires=queueing)
    try:
        # Queueing (at most `queueing`), then the link's own wait (at most `timeout`).
        data = pending.get(timeout=queueing + timeout + 1, disable_sync_subtasks=False)
    except CeleryTimeout:
        raise PbxNotConnected(f"no worker holding PBX {pbx_id} answered within {timeout:g} s") from None
    except TaskRevokedError:  # a worker saw it only after it expired
        raise PbxNotConnected(
            f"no worker holding PBX {pbx_id} took the action within {queueing:g} s"
        ) from None
    finally:
        pending.forget()
    if "error" in data:
        raise _ERRORS.get(data["error"], PbxNotConnected)(data.get("message", ""))
    return data


# --- operations ---


@shared_task(name="telephony.operation")
def run_operation(actor_id: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """One call operation for a user, by id (console or integrations queueing work).

    A thin wrapper (HackSoft style): load the actor, enter their tenant scope, call the one
    service; the service checks the right, audits and sends. Errors come back as data in the
    API's shape, so a caller gets `{"error_id", "message", "details", "status"}`.
    """
    from accounts.models import User
    from accounts.scoping import tenant_scope
    from telephony import errors, services

    actor = User.objects.filter(pk=actor_id, is_active=True).first()
    if actor is None or operation not in services.OPERATIONS:
        return {
            "status": 404,
            "error_id": "not-found",
            "message": "No such user or operation.",
            "details": {},
        }
    with tenant_scope(actor):
        try:
            return services.OPERATIONS[operation](actor=actor, **params).as_dict()
        except errors.OperationError as exc:
            return {"status": exc.status, **exc.as_dict()}
        except TypeError:
            return {
                "status": 422,
                "error_id": "invalid-input",
                "message": "Unknown or missing parameters.",
                "details": {},
            }
