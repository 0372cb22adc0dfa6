"""Every right of Switchboard, defined once.

Admin (rules' ObjectPermissionsModelAdminMixin), views, templates (`{% has_perm %}`), the
console consumer, the API and Celery tasks all ask `user.has_perm("<name>", obj)` with these
names. No `auth.Permission` rows are ever consulted (accounts/backends.py).

Objects passed as `obj`:
- user-facing rights (presence, calls, operations, recordings): the *target user* whose
  phone, call or recording is concerned;
- admin rights: the model instance (or None for "this kind of object at all"); the tenant
  filter of change lists is accounts/admin.py's job, the object check is here.

Every predicate handles `obj=None` (asked before an object exists, e.g. "show the button?").
"""

from __future__ import annotations

from typing import Any

import rules

from accounts.models import Role

MANAGERS = (Role.MANAGER, Role.OWNER, Role.SYSTEM_OWNER)


def _tenant_of(obj: Any) -> Any:
    return getattr(obj, "tenant_id", None)


# --- who the actor is -----------------------------------------------------------------------


@rules.predicate
def is_system_owner(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and getattr(user, "role", None) == Role.SYSTEM_OWNER


@rules.predicate
def is_owner(user: Any) -> bool:
    """Owner of a tenant (a system owner is not: that is a separate predicate)."""
    return bool(getattr(user, "is_active", False)) and user.role == Role.OWNER and user.tenant_id is not None


@rules.predicate
def is_manager_or_above(user: Any) -> bool:
    """Manager, tenant owner or system owner: the roles that may barge, listen and whisper."""
    return bool(getattr(user, "is_active", False)) and getattr(user, "role", None) in MANAGERS


@rules.predicate
def is_tenant_member(user: Any) -> bool:
    """Active, and of a tenant: a tenant-less user who is not a system owner reaches nothing."""
    return bool(getattr(user, "is_active", False)) and getattr(user, "tenant_id", None) is not None


@rules.predicate
def may_use_admin(user: Any) -> bool:
    return bool(getattr(user, "is_tenant_admin", False))


def _flag(field: str) -> Any:
    @rules.predicate(name=f"has_{field}")
    def has_flag(user: Any) -> bool:
        return bool(getattr(user, field, False))

    return has_flag


has_presence_right = _flag("can_see_presence")
has_calls_right = _flag("can_see_calls")
has_pickup_right = _flag("can_pickup")
has_transfer_right = _flag("can_transfer")
has_park_right = _flag("can_park")
has_intercom_right = _flag("can_intercom")
has_ivr_right = _flag("can_control_ivr")
has_recording_control_right = _flag("can_control_recording")
has_recording_delete_right = _flag("can_delete_recordings")


# --- how the actor relates to the target user ------------------------------------------------


@rules.predicate
def is_self(user: Any, target: Any) -> bool:
    """The target is the actor, who must be active and of a tenant (or a system owner).

    Without that guard an inactive or tenant-less account would still reach its own phone,
    calls and recordings through every `is_self | ...` right.
    """
    return (
        bool(getattr(user, "is_active", False))
        and (getattr(user, "tenant_id", None) is not None or getattr(user, "role", None) == Role.SYSTEM_OWNER)
        and target is not None
        and getattr(user, "pk", None) is not None
        and getattr(target, "pk", None) == user.pk
    )


@rules.predicate
def same_tenant(user: Any, target: Any) -> bool:
    tenant_id = getattr(user, "tenant_id", None)
    return target is not None and tenant_id is not None and _tenant_of(target) == tenant_id


@rules.predicate
def same_department(user: Any, target: Any) -> bool:
    department_id = getattr(user, "department_id", None)
    return (
        target is not None
        and department_id is not None
        and getattr(target, "department_id", None) == department_id
        and _tenant_of(target) == user.tenant_id
    )


@rules.predicate
def target_shows_calls(user: Any, target: Any) -> bool:
    return target is not None and bool(getattr(target, "show_my_calls", False))


@rules.predicate
def target_shares_recordings(user: Any, target: Any) -> bool:
    return target is not None and bool(getattr(target, "show_call_recording", False))


# Department-bound visibility: people see their own department; a tenant owner the whole
# tenant; a system owner every tenant.
in_my_scope = is_system_owner | (is_owner & same_tenant) | (is_tenant_member & same_department)
in_my_tenant = is_system_owner | (is_tenant_member & same_tenant)

# --- view rights ---------------------------------------------------------------------------

view_presence = is_self | (in_my_scope & (has_presence_right | is_manager_or_above))
view_calls = is_self | (in_my_scope & (has_calls_right | is_manager_or_above))
# "Show My Calls": colleagues who see my calls see the number I talk to only if I allow it.
view_call_party = is_self | (view_calls & (target_shows_calls | is_manager_or_above))

# --- operation rights (target = the user whose phone or call is acted on) ---------------------

originate_from = is_self | (is_manager_or_above & in_my_scope)
call_to = view_presence | in_my_tenant
hangup_call = is_self | (is_manager_or_above & view_calls)
hold_call = is_self
pickup_call = has_pickup_right & ~is_self & view_calls
transfer_call = has_transfer_right & (is_self | view_calls)
park_call = has_park_right & (is_self | view_calls)
intercom_to = has_intercom_right & ~is_self & view_presence
control_ivr = has_ivr_right & (is_self | view_calls)
spy_on_call = is_manager_or_above & ~is_self & view_calls  # barge, listen, whisper
manage_queue_member = is_self | (is_manager_or_above & in_my_scope)
set_dnd = is_self | (is_manager_or_above & in_my_scope)

# --- recordings (target = the user the recording belongs to) ----------------------------------

control_recording = has_recording_control_right & (is_self | (is_manager_or_above & in_my_scope))
view_recording = (
    is_self
    | (is_manager_or_above & view_calls)
    | (target_shares_recordings & in_my_tenant & is_manager_or_above)
)
delete_recording = has_recording_delete_right & view_recording

USER_RIGHTS = {
    "accounts.view_presence": view_presence,
    "accounts.view_calls": view_calls,
    "accounts.view_call_party": view_call_party,
    "telephony.originate_from": originate_from,
    "telephony.call_to": call_to,
    "telephony.hangup": hangup_call,
    "telephony.hold": hold_call,
    "telephony.pickup": pickup_call,
    "telephony.transfer": transfer_call,
    "telephony.park": park_call,
    "telephony.intercom": intercom_to,
    "telephony.control_ivr": control_ivr,
    "telephony.spy": spy_on_call,
    "telephony.queue_member": manage_queue_member,
    "telephony.dnd": set_dnd,
    "recordings.control": control_recording,
    "recordings.view": view_recording,
    "recordings.delete": delete_recording,
}
for _name, _predicate in USER_RIGHTS.items():
    rules.add_perm(_name, _predicate)

# --- Django admin ----------------------------------------------------------------------------


@rules.predicate
def obj_in_admin_tenant(user: Any, obj: Any) -> bool:
    """None (the kind of object) passes; an object must be of the tenant owner's tenant."""
    if obj is None or user.role == Role.SYSTEM_OWNER:
        return True
    tenant_id = obj.pk if obj.__class__.__name__ == "Tenant" else _tenant_of(obj)
    return tenant_id is not None and tenant_id == user.tenant_id


tenant_admin = may_use_admin & obj_in_admin_tenant
system_admin = may_use_admin & is_system_owner

ADMIN_MODELS = {
    # model: (who may view, who may add/change/delete)
    "accounts.tenant": (tenant_admin, system_admin),
    "accounts.department": (tenant_admin, tenant_admin),
    "accounts.user": (tenant_admin, tenant_admin),
    "accounts.apikey": (tenant_admin, tenant_admin),
    "telephony.pbxserver": (system_admin, system_admin),
    "telephony.pbxtenant": (system_admin, system_admin),
    "telephony.account": (tenant_admin, tenant_admin),
    "telephony.callrecord": (tenant_admin, rules.always_deny),
    "telephony.auditentry": (tenant_admin, rules.always_deny),
}
for _model, (_view, _edit) in ADMIN_MODELS.items():
    _app, _name = _model.split(".")
    rules.set_perm(_app, may_use_admin)  # module permission: the app shows in the admin index
    rules.add_perm(f"{_app}.view_{_name}", _view)
    for _verb in ("add", "change", "delete"):
        rules.add_perm(f"{_app}.{_verb}_{_name}", _edit)
