"""Errors of the AMI link, one shape for every caller (services, tasks, the API).

Each carries a stable `error_id` and an HTTP-ish `status`, in the wazo-calld manner, so the
console and the API can turn any of them into the same toast / JSON body without knowing
where it came from.
"""

from __future__ import annotations

from typing import Any


class AmiError(Exception):
    """Base of every link error."""

    error_id = "pbx-error"
    status = 502

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class PbxNotConnected(AmiError):
    """No link is up (not logged in, reconnecting, auth failed, or no holder answered)."""

    error_id = "pbx-not-connected"
    status = 503


class PbxTimeout(AmiError):
    """The action was written but the PBX did not answer (or finish its list) in time."""

    error_id = "pbx-timeout"
    status = 504


class PbxBusy(PbxNotConnected):
    """The link's send queue is full: the PBX is not reading, so refuse instead of piling up.

    A subclass of PbxNotConnected because for a caller it means the same thing: not now.
    """

    error_id = "pbx-busy"


class ActionFailed(AmiError):
    """The PBX answered `Response: Error` (trace 24: no such channel, unknown queue, ...)."""

    error_id = "pbx-action-failed"
    status = 409


class AuthenticationFailed(AmiError):
    """Login refused (trace 25). The link backs off for a long time instead of hammering."""

    error_id = "pbx-auth-failed"
    status = 503
