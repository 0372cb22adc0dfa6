"""The JSON API at /api/v1/ (django-ninja), for integrators: CRMs, click-to-call, wallboards.

Authentication is a per-tenant API key (`Authorization: Bearer <key>`). Only the key's SHA-256
is stored; a key acts as its service user (`key.user`), whose rights an admin edits like any
user's, so every endpoint is a thin face over telephony.services / telephony.selectors: the
same rights, the same tenant scoping, the same audit as the console.

Every error has one JSON shape, `{"error_id", "message", "details"}`, with a stable `error_id`
(see telephony/errors.py); bodies that are not JSON or miss fields are answered the same way,
and audited when the key is valid.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import ConfigDict

from accounts.models import ApiKey
from accounts.scoping import dangerously_all_tenants, tenant_scope, tenant_scope_for
from telephony import errors, selectors, services
from telephony.models import AuditEntry, AuditResult

log = logging.getLogger(__name__)

# last_used_at is written at most this often per key: not a database write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer sb_…` → the key's service user, or None (401)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token or len(token) > 200:
            return None
        with dangerously_all_tenants():  # the key names its tenant; nothing is known before it
            key = ApiKey.objects.select_related("user").filter(key_hash=ApiKey.hash(token)).first()
            if key is None:
                return None
            user = key.user
            if not key.is_active or not user.is_active or user.tenant_id != key.tenant_id:
                _audit_raw(
                    key.tenant_id,
                    user,
                    "api_auth",
                    AuditResult.DENIED,
                    f"revoked or disabled key {key.prefix}…",
                )
                return None
            now = timezone.now()
            if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
                ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return user


def _audit_raw(tenant_id: Any, actor: Any, operation: str, result: str, message: str) -> None:
    with tenant_scope_for(tenant_id):
        AuditEntry.objects.create(
            tenant_id=tenant_id,
            actor=actor,
            actor_name=str(getattr(actor, "username", ""))[:150],
            operation=operation[:40],
            result=result,
            message=message[:2000],
        )


api = NinjaAPI(
    title="Switchboard API",
    version="1",
    description="Live state, call history and call operations of one tenant. "
    "Authenticate with a per-tenant API key: `Authorization: Bearer <key>`.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)


# --- errors: one shape ---------------------------------------------------------------------------


class ErrorOut(Schema):
    error_id: str
    message: str
    details: dict[str, Any] = {}


ERRORS: dict[int, type[Schema]] = {code: ErrorOut for code in (400, 401, 403, 404, 409, 422, 503, 504)}


def _error(
    request: HttpRequest, status: int, error_id: str, message: str, details: dict[str, Any] | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"error_id": error_id, "message": message, "details": details or {}}, status=status
    )


def _audit_bad_input(request: HttpRequest, message: str) -> None:
    """A bad body from a valid key is an attempt too: audit it under the route's operation."""
    actor = getattr(request, "auth", None)
    tenant_id = getattr(actor, "tenant_id", None)
    match = getattr(request, "resolver_match", None)
    if tenant_id is None or match is None:
        return
    _audit_raw(tenant_id, actor, str(match.url_name or "api")[:40], AuditResult.INVALID, message)


@api.exception_handler(errors.OperationError)
def _operation_error(request: HttpRequest, exc: errors.OperationError) -> HttpResponse:
    return _error(request, exc.status, exc.error_id, exc.message, exc.details)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, errors.Unauthenticated.error_id, errors.Unauthenticated.default_message)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "payload")),
            "problem": e.get("msg", ""),
        }
        for e in exc.errors
    ]
    _audit_bad_input(request, f"invalid input: {problems!r}"[:500])
    return _error(request, 422, errors.InvalidInput.error_id, "The input is not valid.", {"fields": problems})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        _audit_bad_input(request, "body is not JSON")
        return _error(request, 400, errors.BadRequest.error_id, "The request body is not valid JSON.")
    return _error(request, exc.status_code, "http-error", str(exc))


# --- schemas ------------------------------------------------------------------------------------


class In(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OriginateIn(In):
    from_: str | None = Field(
        None,
        alias="from",
        description="Account to call from (extension or alternative number); default: the key user's default account.",
    )
    to: str = Field(
        ...,
        description="Extension, `*`+extension (voicemail), a user's number, or an external number (`+4930…`).",
    )


class PartyIn(In):
    extension: str | None = Field(
        None, description="Whose leg of the call to act on; default: the first one the key may act on."
    )


class TransferIn(PartyIn):
    to: str


class SpyIn(PartyIn):
    mode: Literal["listen", "whisper", "barge"]


class IvrIn(PartyIn):
    ivr: str | None = Field(None, description="Number of the IVR entry; default 7000.")


class UnparkIn(In):
    to: str | None = Field(None, description="Extension that takes the call; default: the key user's.")


class IntercomIn(In):
    to: str = Field(..., description="Extension of the user whose phone answers by itself.")


class QueueMemberIn(In):
    extension: str | None = None


class PauseIn(QueueMemberIn):
    reason: str = Field("", max_length=40)


class DndIn(In):
    on: bool
    extension: str | None = None


class OperationOut(Schema):
    ok: bool
    operation: str
    message: str
    target: str
    destination: str
    pbx: dict[str, Any]


class UserOut(Schema):
    id: str
    name: str
    extension: str
    colour: str
    registered: bool
    dnd: bool


class PartyOut(Schema):
    kind: str
    state: str
    extension: str | None
    user: str | None
    number: str


class CallOut(Schema):
    id: str
    direction: str | None
    queue: str | None
    answered: bool
    held: bool
    parked_at: str | None
    started: float | None
    answered_at: float | None
    parties: list[PartyOut]


class ParkedOut(Schema):
    slot: str
    call: str | None
    parker: str | None
    since: float | None


class QueueMemberOut(Schema):
    extension: str
    paused: bool
    reason: str
    status: str


class QueueCallerOut(Schema):
    call: str | None
    caller: str | None
    since: float | None


class QueueOut(Schema):
    name: str
    waiting: int
    callers: list[QueueCallerOut]
    members: list[QueueMemberOut]


class StateOut(Schema):
    version: int
    users: list[UserOut]
    calls: list[CallOut]
    parking: list[ParkedOut]
    queues: list[QueueOut]


class HistoryOut(Schema):
    id: str
    direction: str
    disposition: str
    caller: str
    callee: str
    queue: str
    started_at: str
    answered_at: str | None
    ended_at: str
    duration_seconds: int
    users: list[str]


class HistoryQuery(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=100000)


# --- reads ---------------------------------------------------------------------------------------


def _extension(body: Any) -> str | None:
    """The optional `extension` of an optional body: which of the caller's legs is meant."""
    return body.extension if body else None


def _run(request: HttpRequest, operation: str, **kwargs: Any) -> dict[str, Any]:
    actor = request.auth  # type: ignore[attr-defined]
    with tenant_scope(actor):
        return services.OPERATIONS[operation](actor=actor, **kwargs).as_dict()


@api.get(
    "/state", response={200: StateOut, **ERRORS}, url_name="state", summary="Live state of the key's tenant"
)
def state(request: HttpRequest) -> Any:
    """Users with their status colour, calls, parked calls and queues, as far as the key may see."""
    actor = request.auth  # type: ignore[attr-defined]
    with tenant_scope(actor):
        return selectors.state_for(actor=actor)


@api.get(
    "/calls/history",
    response={200: list[HistoryOut], **ERRORS},
    url_name="call_history",
    summary="Finished calls",
)
def call_history(request: HttpRequest, query: Query[HistoryQuery]) -> Any:
    actor = request.auth  # type: ignore[attr-defined]
    with tenant_scope(actor):
        return selectors.call_history(actor=actor, limit=query.limit, offset=query.offset)


# --- operations ----------------------------------------------------------------------------------

OPS = {200: OperationOut, **ERRORS}


@api.post("/calls/originate", response=OPS, url_name="call_originate", summary="Click-to-call")
def call_originate(request: HttpRequest, body: OriginateIn) -> Any:
    """Ring the `from` account first; when it answers, dial `to`."""
    return _run(request, "call_originate", from_=body.from_, to=body.to)


@api.post("/calls/{call_id}/hangup", response=OPS, url_name="call_hangup")
def call_hangup(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_hangup", call_id=call_id, extension=_extension(body))


@api.post(
    "/calls/{call_id}/ignore",
    response=OPS,
    url_name="call_ignore",
    summary="Stop a ringing phone; the caller goes on",
)
def call_ignore(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_ignore", call_id=call_id, extension=_extension(body))


@api.post("/calls/{call_id}/transfer", response=OPS, url_name="call_transfer_blind", summary="Blind transfer")
def call_transfer(request: HttpRequest, call_id: str, body: TransferIn) -> Any:
    return _run(request, "call_transfer_blind", call_id=call_id, to=body.to, extension=body.extension)


@api.post("/calls/{call_id}/attended-transfer", response=OPS, url_name="call_transfer_attended_start")
def call_attended_start(request: HttpRequest, call_id: str, body: TransferIn) -> Any:
    return _run(
        request, "call_transfer_attended_start", call_id=call_id, to=body.to, extension=body.extension
    )


@api.post(
    "/calls/{call_id}/attended-transfer/complete", response=OPS, url_name="call_transfer_attended_complete"
)
def call_attended_complete(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(
        request,
        "call_transfer_attended_complete",
        call_id=call_id,
        extension=_extension(body),
    )


@api.post("/calls/{call_id}/attended-transfer/cancel", response=OPS, url_name="call_transfer_attended_cancel")
def call_attended_cancel(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_transfer_attended_cancel", call_id=call_id, extension=_extension(body))


@api.post("/calls/{call_id}/hold", response=OPS, url_name="call_hold")
def call_hold(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_hold", call_id=call_id, extension=_extension(body))


@api.post(
    "/calls/{call_id}/unhold",
    response=OPS,
    url_name="call_unhold",
    summary="Ring the holder's phone back to the call",
)
def call_unhold(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_unhold", call_id=call_id, extension=_extension(body))


@api.post("/calls/{call_id}/park", response=OPS, url_name="call_park")
def call_park(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_park", call_id=call_id, extension=_extension(body))


@api.post("/parking/{slot}/unpark", response=OPS, url_name="call_unpark")
def call_unpark(request: HttpRequest, slot: str, body: UnparkIn | None = None) -> Any:
    return _run(request, "call_unpark", slot=slot, to=body.to if body else None)


@api.post("/calls/{call_id}/pickup", response=OPS, url_name="call_pickup")
def call_pickup(request: HttpRequest, call_id: str, body: PartyIn | None = None) -> Any:
    return _run(request, "call_pickup", call_id=call_id, extension=_extension(body))


@api.post("/intercom", response=OPS, url_name="call_intercom")
def call_intercom(request: HttpRequest, body: IntercomIn) -> Any:
    return _run(request, "call_intercom", to=body.to)


@api.post(
    "/calls/{call_id}/ivr", response=OPS, url_name="call_send_to_ivr", summary="Send the caller to an IVR"
)
def call_send_to_ivr(request: HttpRequest, call_id: str, body: IvrIn | None = None) -> Any:
    return _run(
        request,
        "call_send_to_ivr",
        call_id=call_id,
        ivr=body.ivr if body else None,
        extension=_extension(body),
    )


@api.post("/calls/{call_id}/spy", response=OPS, url_name="call_spy", summary="Listen, whisper or barge")
def call_spy(request: HttpRequest, call_id: str, body: SpyIn) -> Any:
    return _run(request, "call_spy", call_id=call_id, mode=body.mode, extension=body.extension)


@api.post("/queues/{queue}/pause", response=OPS, url_name="queue_pause")
def queue_pause(request: HttpRequest, queue: str, body: PauseIn | None = None) -> Any:
    return _run(
        request,
        "queue_pause",
        queue=queue,
        extension=_extension(body),
        reason=body.reason if body else "",
    )


@api.post("/queues/{queue}/unpause", response=OPS, url_name="queue_unpause")
def queue_unpause(request: HttpRequest, queue: str, body: QueueMemberIn | None = None) -> Any:
    return _run(request, "queue_unpause", queue=queue, extension=_extension(body))


@api.post("/queues/{queue}/login", response=OPS, url_name="queue_login")
def queue_login(request: HttpRequest, queue: str, body: QueueMemberIn | None = None) -> Any:
    return _run(request, "queue_login", queue=queue, extension=_extension(body))


@api.post("/queues/{queue}/logout", response=OPS, url_name="queue_logout")
def queue_logout(request: HttpRequest, queue: str, body: QueueMemberIn | None = None) -> Any:
    return _run(request, "queue_logout", queue=queue, extension=_extension(body))


@api.post("/dnd", response=OPS, url_name="dnd_set", summary="Do-not-disturb on or off")
def dnd_set(request: HttpRequest, body: DndIn) -> Any:
    return _run(request, "dnd_set", on=body.on, extension=body.extension)
