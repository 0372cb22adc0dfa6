"""Errors of call operations, in one shape for every client (API, console, tasks).

Each error carries an HTTP status, a stable `error_id` clients can switch on, a human message
and details (wazo-calld style). `audit_result` says how the attempt is recorded in the audit
log: a refused right is "denied", input that names nothing of the actor's is "invalid", and a
PBX that is down or says no is "failed".

"Not found" and "not yours" are the same error on purpose: another tenant's call, or a call
the actor may not see, must be indistinguishable from a call that does not exist.
"""

from __future__ import annotations

from typing import Any


class OperationError(Exception):
    status: int = 400
    error_id: str = "bad-request"
    default_message: str = "The request cannot be carried out."
    audit_result: str = "invalid"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class BadRequest(OperationError):
    status = 400
    error_id = "bad-request"
    default_message = "The request body is not valid JSON of the expected shape."


class Unauthenticated(OperationError):
    status = 401
    error_id = "unauthenticated"
    default_message = "A valid API key is required (Authorization: Bearer <key>)."
    audit_result = "denied"


class PermissionDenied(OperationError):
    status = 403
    error_id = "permission-denied"
    default_message = "You are not allowed to do that."
    audit_result = "denied"


class NotFound(OperationError):
    status = 404
    error_id = "not-found"
    default_message = "No such object."


class NoSuchCall(NotFound):
    error_id = "no-such-call"
    default_message = "No such call (it may have ended)."


class NoSuchUser(NotFound):
    error_id = "no-such-user"
    default_message = "No such user."


class NoSuchAccount(NotFound):
    error_id = "no-such-account"
    default_message = "No such account."


class NoSuchQueue(NotFound):
    error_id = "no-such-queue"
    default_message = "No such queue."


class NoSuchParkedCall(NotFound):
    error_id = "no-such-parked-call"
    default_message = "No call is parked there."


class InvalidInput(OperationError):
    status = 422
    error_id = "invalid-input"
    default_message = "The input is not valid."


class InvalidDestination(InvalidInput):
    error_id = "invalid-destination"
    default_message = "That is not a number or account that can be dialled."


class NotPossible(OperationError):
    """The call is not in a state that allows the operation (e.g. ignore on an answered call)."""

    status = 409
    error_id = "not-possible"
    default_message = "That is not possible for this call right now."


class PbxNotConnected(OperationError):
    status = 503
    error_id = "pbx-not-connected"
    default_message = "The PBX is not connected; nothing was done."
    audit_result = "failed"


class PbxTimeout(OperationError):
    status = 504
    error_id = "pbx-timeout"
    default_message = "The PBX did not answer in time; the operation may or may not have happened."
    audit_result = "failed"


class PbxRefused(OperationError):
    """The PBX answered `Response: Error` (or an OriginateResponse Failure)."""

    status = 409
    error_id = "pbx-refused"
    default_message = "The PBX refused the operation."
    audit_result = "failed"


# Asterisk's own words (trace 24) → what a person should read. Matched by prefix.
PBX_MESSAGES: tuple[tuple[str, str], ...] = (
    ("No such channel", "That call has already ended."),
    ("Channel does not exist", "That call has already ended."),
    ("Channel specified does not exist", "That call has already ended."),
    ("Member not dynamic", "That member is configured statically on the PBX and cannot be logged out."),
    ("Interface not found", "That phone is not a member of the queue."),
    ("Unable to add interface: Already there", "That phone is already logged in to the queue."),
    ("Unable to remove interface: Not there", "That phone is not logged in to the queue."),
    ("Invalid/unknown command", "The PBX does not support this operation."),
    ("Originate failed", "The phone could not be reached (not registered, busy or did not answer)."),
)


def pbx_refusal(raw_message: str, **details: Any) -> PbxRefused:
    """A PbxRefused with a human message for Asterisk's text; the raw text stays in details."""
    text = raw_message.strip()
    for prefix, human in PBX_MESSAGES:
        if text.startswith(prefix):
            return PbxRefused(human, pbx_message=text, **details)
    return PbxRefused(f"The PBX refused the operation: {text}" if text else None, pbx_message=text, **details)
